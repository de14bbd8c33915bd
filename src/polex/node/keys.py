"""The node's keystore: files under HOME/keys, never in the database.

- signing key (Ed25519): signs messages, federation requests and audit checkpoints;
- data key (AES-256): encrypts message bodies and attachments at rest;
- CA and node certificate: the node's own CA for mutual TLS with pinned partners."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.x509.oid import NameOID

CERT_DAYS = 825


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _pem_key(key: Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common_name: str, node: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"polex node {node}"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _make_ca(node: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    name = _name(f"{node} CA", node)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CERT_DAYS * 2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _make_node_cert(
    node: str, ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    san = x509.SubjectAlternativeName(
        [
            x509.DNSName(node),
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(node, node))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(san, critical=False)
        .add_extension(
            x509.ExtendedKeyUsage(
                [x509.ExtendedKeyUsageOID.SERVER_AUTH, x509.ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


@dataclass(frozen=True)
class Keystore:
    """Paths and loaders for the node's key material."""

    path: Path

    @property
    def signing_key_file(self) -> Path:
        return self.path / "signing.pem"

    @property
    def data_key_file(self) -> Path:
        return self.path / "data.key"

    @property
    def ca_cert_file(self) -> Path:
        return self.path / "ca.pem"

    @property
    def ca_key_file(self) -> Path:
        return self.path / "ca.key"

    @property
    def cert_file(self) -> Path:
        return self.path / "node.pem"

    @property
    def key_file(self) -> Path:
        return self.path / "node.key"

    def create(self, node: str) -> None:
        """Generate every key of a new node; refuses to overwrite existing keys."""
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write_private(self.signing_key_file, _pem_key(Ed25519PrivateKey.generate()))
        _write_private(self.data_key_file, os.urandom(32))
        ca_key, ca_cert = _make_ca(node)
        _write_private(self.ca_key_file, _pem_key(ca_key))
        self.ca_cert_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        key, cert = _make_node_cert(node, ca_key, ca_cert)
        _write_private(self.key_file, _pem_key(key))
        self.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    def signing_key(self) -> Ed25519PrivateKey:
        key = serialization.load_pem_private_key(self.signing_key_file.read_bytes(), None)
        assert isinstance(key, Ed25519PrivateKey)
        return key

    def verify_key(self) -> Ed25519PublicKey:
        return self.signing_key().public_key()

    def public_key_pem(self) -> str:
        return (
            self.verify_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def data_key(self) -> bytes:
        return self.data_key_file.read_bytes()

    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_file.read_bytes())

    def certificate_fingerprint(self) -> str:
        return hashlib.sha256(
            self.certificate().public_bytes(serialization.Encoding.DER)
        ).hexdigest()

    def certificate_expires(self) -> dt.datetime:
        """When the node certificate stops being valid: partners refuse it from then on."""
        return self.certificate().not_valid_after_utc

    def ca_certificate_pem(self) -> str:
        return self.ca_cert_file.read_text(encoding="ascii")

    def certificate_pem(self) -> str:
        return self.cert_file.read_text(encoding="ascii")
