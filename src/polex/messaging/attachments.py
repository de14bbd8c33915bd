"""Attachments: size cap, content sniffing, and encrypted content-addressed blobs.

Blobs live in files under HOME/attachments/ab/abcd… (the SHA-256 of the plaintext), not in the
database: a 50 MB file would otherwise sit in the same table pages, WAL and backups as the
message headers the hot paths read, and PostgreSQL and SQLite both handle large values badly
under concurrency. Content addressing makes a retried upload or a forwarded message store the
bytes once. A blob is written (temp file, fsync, rename) before the row that names it commits,
so a committed message never points at a missing blob; a crash can only leave an unreferenced
blob behind. Each blob is AES-GCM encrypted with the node's data key and its own nonce, its
SHA-256 as associated data; the SHA-256 itself is in the signed message, so reads check the
chain message signature -> hash -> blob."""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import filetype
from sqlalchemy import Connection, insert, select

from polex.access.principal import Principal
from polex.audit import log as audit
from polex.messaging.crypto import NONCE_BYTES, CryptoError, NodeCrypto
from polex.messaging.errors import Invalid, TooLarge
from polex.messaging.model import AttachmentMeta
from polex.messaging.tables import message_attachments
from polex.store.metadata import utcnow

SNIFF_BYTES = 8192
CHUNK = 1024 * 1024

# Content that runs when opened: labelled so readers are warned, whatever the file claims to be.
EXECUTABLE_TYPES = frozenset(
    {
        "application/x-msdownload",
        "application/x-executable",
        "application/x-mach-binary",
        "application/wasm",
        "application/x-google-chrome-extension",
        "text/x-script",
    }
)
MACHO_MAGIC = (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe")


def sniff(data: bytes) -> str:
    """The content type the bytes themselves show; the client's claim is kept only as a label."""
    head = data[:SNIFF_BYTES]
    kind = filetype.guess(head) if head else None
    if kind is not None:
        return str(kind.mime)
    if head.startswith(MACHO_MAGIC):
        return "application/x-mach-binary"
    if head.startswith(b"#!"):
        return "text/x-script"
    if not head or b"\x00" in head:
        return "application/octet-stream"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain"


def is_executable(content_type: str) -> bool:
    return content_type in EXECUTABLE_TYPES


def clean_filename(name: str | None) -> str:
    """A display name only (files are stored by hash): no path, no control characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(
        c for c in unicodedata.normalize("NFC", base) if unicodedata.category(c)[0] != "C"
    )
    base = base.strip().lstrip(".")
    return base[:255] or "attachment"


def read_capped(stream: BinaryIO, limit: int) -> bytes:
    """Read an upload, refusing it as soon as it passes the cap instead of after it is stored."""
    buf = bytearray()
    while chunk := stream.read(CHUNK):
        buf += chunk
        if len(buf) > limit:
            raise too_large(limit)
    return bytes(buf)


def too_large(limit: int) -> TooLarge:
    return TooLarge(
        "file",
        "attachment.max_size",
        f"file: larger than the limit of {limit} bytes per attachment",
    )


def _associated(sha256: str) -> bytes:
    return f"polex-attachment:{sha256}".encode()


@dataclass(frozen=True)
class BlobStore:
    root: Path
    crypto: NodeCrypto

    def path(self, sha256: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise ValueError(f"sha256: {sha256!r} is not a hex SHA-256")
        return self.root / sha256[:2] / sha256

    def put(self, sha256: str, data: bytes) -> None:
        """Store ``data`` under its hash unless an intact copy is already there."""
        path = self.path(sha256)
        if path.exists():
            try:
                self.get(sha256)
                return
            except CryptoError:
                pass  # a damaged copy: replace it with the good bytes we hold
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        nonce, ciphertext = self.crypto.encrypt(data, _associated(sha256))
        tmp = path.with_name(f".{sha256}.{uuid.uuid4().hex}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(nonce)
            fh.write(ciphertext)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def get(self, sha256: str) -> bytes:
        """The plaintext, after checking both the GCM tag and the hash it is filed under."""
        try:
            raw = self.path(sha256).read_bytes()
        except FileNotFoundError as exc:
            raise CryptoError(f"attachment {sha256} is missing from the blob store") from exc
        data = self.crypto.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _associated(sha256))
        if hashlib.sha256(data).hexdigest() != sha256:
            raise CryptoError(f"attachment {sha256} does not match its hash")
        return data


@dataclass(frozen=True)
class Upload:
    id: str
    meta: AttachmentMeta

    @property
    def executable(self) -> bool:
        return is_executable(self.meta.content_type)


def stage(
    conn: Connection,
    blobs: BlobStore,
    principal: Principal,
    filename: str | None,
    declared_type: str | None,
    data: bytes,
    limit: int,
) -> Upload:
    """Keep an uploaded file for the principal's agency to attach to a message it sends."""
    if len(data) > limit:
        raise too_large(limit)
    sha256 = hashlib.sha256(data).hexdigest()
    blobs.put(sha256, data)
    declared = (declared_type or "").split(";")[0].strip().lower()[:127] or None
    meta = AttachmentMeta(
        sha256=sha256,
        filename=clean_filename(filename),
        content_type=sniff(data),
        declared_type=declared,
        size=len(data),
    )
    upload = Upload(id=str(uuid.uuid4()), meta=meta)
    conn.execute(
        insert(message_attachments).values(
            id=upload.id,
            agency=principal.agency,
            uploaded_by=principal.actor,
            created_at=utcnow(),
            **meta.document(),
        )
    )
    audit.append(
        conn,
        actor=principal.actor,
        agency=principal.agency,
        action="message.attachment_upload",
        target=upload.id,
        details={"sha256": sha256, "size": meta.size, "content_type": meta.content_type},
    )
    return upload


def staged(conn: Connection, agency: str, ids: list[str]) -> list[AttachmentMeta]:
    """The uploads ``ids`` of ``agency``, in the order given; another agency's upload is
    refused as if it did not exist."""
    if not ids:
        return []
    rows = {
        r.id: r
        for r in conn.execute(
            select(message_attachments).where(
                message_attachments.c.id.in_(ids), message_attachments.c.agency == agency
            )
        ).all()
    }
    metas = []
    for i, upload_id in enumerate(ids):
        row = rows.get(upload_id)
        if row is None:
            raise Invalid(
                f"attachments[{i}]",
                "attachment.unknown",
                f"attachments[{i}]: no upload {upload_id} of agency {agency}",
            )
        metas.append(
            AttachmentMeta(
                sha256=row.sha256,
                filename=row.filename,
                content_type=row.content_type,
                declared_type=row.declared_type,
                size=row.size,
            )
        )
    return metas
