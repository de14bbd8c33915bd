"""Signatures and encryption at rest, with the node's keys (files, never the database).

- Ed25519 over the canonical JSON of a message document: the sending node signs; the receiving
  node checks on receipt and seals its stored copy with its own key, which every read checks.
- AES-256-GCM with a fresh 96-bit nonce per message; the associated data binds the ciphertext to
  its message id (or an attachment to its SHA-256), so a ciphertext moved to another row fails."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class KeySource(Protocol):
    """The node keystore's two loaders messaging needs."""

    def signing_key(self) -> Ed25519PrivateKey: ...

    def data_key(self) -> bytes: ...


class CryptoError(Exception):
    """A signature or ciphertext does not check out; the text says which."""


def canonical_bytes(document: dict[str, Any]) -> bytes:
    """One byte string per document: sorted keys, no spaces, UTF-8, no floats in our documents."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


@dataclass(frozen=True)
class NodeCrypto:
    """The node's keys, loaded once per process instead of once per message."""

    signing_key: Ed25519PrivateKey
    verify_key: Ed25519PublicKey
    aead: AESGCM

    @classmethod
    def of(cls, keys: KeySource) -> NodeCrypto:
        signing_key = keys.signing_key()
        return cls(
            signing_key=signing_key,
            verify_key=signing_key.public_key(),
            aead=AESGCM(keys.data_key()),
        )

    def sign(self, document: dict[str, Any]) -> bytes:
        return self.signing_key.sign(canonical_bytes(document))

    def verify(
        self,
        document: dict[str, Any],
        signature: bytes,
        key: Ed25519PublicKey | None = None,
    ) -> None:
        """Raise CryptoError unless ``signature`` is ``key``'s (default: ours) over the document."""
        try:
            (key or self.verify_key).verify(signature, canonical_bytes(document))
        except InvalidSignature as exc:
            raise CryptoError("signature invalid") from exc

    def encrypt(self, plaintext: bytes, associated: bytes) -> tuple[bytes, bytes]:
        nonce = os.urandom(NONCE_BYTES)
        return nonce, self.aead.encrypt(nonce, plaintext, associated)

    def decrypt(self, nonce: bytes, ciphertext: bytes, associated: bytes) -> bytes:
        try:
            return self.aead.decrypt(nonce, ciphertext, associated)
        except InvalidTag as exc:
            raise CryptoError(
                "encrypted content fails authentication (altered or misplaced)"
            ) from exc
