"""Attachments: labelled by what the bytes are, capped in size, encrypted on disk, checked against
the signed hash on download."""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi.testclient import TestClient

from polex.api.app import create_app
from polex.messaging import settings
from polex.messaging.attachments import sniff
from polex.node.home import Node

# The start of a Windows PE executable (DOS header), dressed up as a PDF.
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 512


def test_disguised_executable_is_labelled_by_its_sniffed_type(post, make_actor, client) -> None:
    anna = make_actor("anna", "DE-BKA")
    pierre = make_actor("pierre", "FR-DCPJ", country="FR")
    upload = post.upload(anna, "invoice.pdf", EXE, "application/pdf")
    assert upload.status_code == 201, upload.text
    meta = upload.json()
    assert meta["content_type"] == "application/x-msdownload"
    assert meta["declared_type"] == "application/pdf"
    assert meta["executable"] is True and meta["type_mismatch"] is True
    assert meta["sha256"] == hashlib.sha256(EXE).hexdigest()

    sent = post.send(anna, to=["FR-DCPJ"], attachments=[meta["id"]]).json()
    (attached,) = post.read(pierre, sent["id"]).json()["attachments"]
    assert attached["content_type"] == "application/x-msdownload" and attached["executable"]
    download = client.get(
        f"/api/v1/messages/{sent['id']}/attachments/{meta['sha256']}", headers=pierre.headers
    )
    assert download.status_code == 200
    assert download.content == EXE
    assert download.headers["content-type"] == "application/x-msdownload"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-disposition"].startswith("attachment;")


def test_sniffing_does_not_trust_names_or_claims() -> None:
    assert sniff(b"%PDF-1.7\n...") == "application/pdf"
    assert sniff(b"\x7fELF\x02\x01\x01" + b"\x00" * 64) == "application/x-executable"
    assert sniff(b"#!/bin/sh\nrm -rf /\n") == "text/x-script"
    assert sniff("Bericht über den Vorfall".encode()) == "text/plain"
    assert sniff(b"\x00\x01\x02garbage") == "application/octet-stream"


def test_oversized_upload_gets_413(node: Node, make_actor, tmp_path: Path) -> None:
    with (node.home / "polex.toml").open("a", encoding="utf-8") as fh:
        fh.write("\n[messaging]\nattachment_max_bytes = 1000\n")
    anna = make_actor("anna", "DE-BKA")
    with TestClient(create_app(node)) as client:
        files = {"file": ("big.bin", b"x" * 1001, "application/octet-stream")}
        over = client.post("/api/v1/attachments", files=files, headers=anna.headers)
        assert over.status_code == 413
        assert over.json()["detail"][0]["field"] == "file"
        files = {"file": ("ok.bin", b"x" * 1000, "application/octet-stream")}
        at_cap = client.post("/api/v1/attachments", files=files, headers=anna.headers)
        assert at_cap.status_code == 201, at_cap.text
        # far over the cap: refused on the Content-Length alone
        files = {"file": ("huge.bin", b"x" * 200_000, "application/octet-stream")}
        assert (
            client.post("/api/v1/attachments", files=files, headers=anna.headers).status_code == 413
        )


def test_default_cap_is_50_mb_and_configurable(tmp_path: Path, monkeypatch) -> None:
    assert settings.load(tmp_path).attachment_max_bytes == 50 * 1024 * 1024
    monkeypatch.setenv("POLEX_ATTACHMENT_MAX_BYTES", "2048")
    assert settings.load(tmp_path).attachment_max_bytes == 2048


def test_blobs_are_encrypted_and_checked_on_download(post, make_actor, node, client) -> None:
    anna = make_actor("anna", "DE-BKA")
    pierre = make_actor("pierre", "FR-DCPJ", country="FR")
    text = b"Witness statement: the blue van, plate B-XY 123."
    meta = post.upload(anna, "statement.txt", text, "text/plain").json()
    assert meta["content_type"] == "text/plain" and not meta["executable"]
    blob = node.home / "attachments" / meta["sha256"][:2] / meta["sha256"]
    assert b"blue van" not in blob.read_bytes()
    sent = post.send(anna, to=["FR-DCPJ"], attachments=[meta["id"]]).json()
    url = f"/api/v1/messages/{sent['id']}/attachments/{meta['sha256']}"
    raw = bytearray(blob.read_bytes())
    raw[-1] ^= 0x01
    blob.write_bytes(bytes(raw))
    tampered = client.get(url, headers=pierre.headers)
    assert tampered.status_code == 409
    assert "integrity check" in tampered.json()["detail"][0]["message"]


def test_an_upload_is_attached_only_by_its_agency(post, make_actor) -> None:
    anna = make_actor("anna", "DE-BKA")
    pierre = make_actor("pierre", "FR-DCPJ", country="FR")
    theirs = post.upload(anna, "a.txt", b"hello", "text/plain").json()["id"]
    refused = post.send(pierre, to=["DE-BKA"], attachments=[theirs])
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["field"] == "attachments[0]"
    assert post.upload(anna, "x", b"", "text/plain").status_code == 201
    assert (
        post.client.post(
            "/api/v1/attachments", data={"other": "1"}, headers=anna.headers
        ).status_code
        == 422
    )
