"""What federation needs from the node it runs in: its name, database and key files.

Federation reads the node through this protocol (the node's Keystore and Node satisfy it)
rather than importing the node package, so the capability stays below the composition layer."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine


class NodeKeys(Protocol):
    @property
    def cert_file(self) -> Path: ...

    @property
    def key_file(self) -> Path: ...

    def signing_key(self) -> Ed25519PrivateKey: ...

    def data_key(self) -> bytes: ...

    def public_key_pem(self) -> str: ...

    def certificate_pem(self) -> str: ...

    def ca_certificate_pem(self) -> str: ...

    def certificate_fingerprint(self) -> str: ...

    def certificate_expires(self) -> datetime: ...


class NodeLike(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def home(self) -> Path: ...

    @property
    def engine(self) -> Engine: ...

    @property
    def keys(self) -> NodeKeys: ...
