"""Link offers and their acceptance: how two operators agree on a link.

An offer is a JSON file the offering node signs: its name, the endpoint of its federation port,
its CA and node certificates (the node certificate is what the partner pins), its Ed25519 key
(which signs every request and message it sends), and what it will share. The signature proves
the file is whole and made by the holder of that key; that the key is the right node's is what
the operators settle out of band, e.g. by reading the fingerprint to each other.

Accepting stores the partner as a link, with the grant this node gives it in return. Each side
accepts the other's offer; until both have, requests one way are refused by the other."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.x509.oid import NameOID
from sqlalchemy import Connection, insert, select, update

from polex.audit import log as audit
from polex.federation import links
from polex.federation.errors import LinkError
from polex.federation.identity import NodeLike
from polex.federation.sharing import Sharing, default_sharing
from polex.federation.signing import document_signed_by, sign_document
from polex.federation.tables import federation_links, federation_offers
from polex.store.metadata import utcnow

KIND = "polex-link-offer"
VERSION = 1


def check_endpoint(endpoint: str) -> str:
    parts = urlsplit(endpoint.strip())
    if parts.scheme != "https" or not parts.hostname or parts.path not in ("", "/"):
        raise LinkError(
            "endpoint", "endpoint.format", "endpoint: https://HOST:PORT of the federation port"
        )
    try:
        port = parts.port
    except ValueError as exc:
        raise LinkError("endpoint", "endpoint.port", "endpoint: port is not a number") from exc
    if port is None:
        raise LinkError("endpoint", "endpoint.port", "endpoint: the port must be given")
    return f"https://{parts.netloc}"


def make_offer(node: NodeLike, endpoint: str, shares: Sharing | None = None) -> dict[str, Any]:
    """A signed offer; recorded, so that this node's grant to whoever accepts it is known when
    it accepts their offer in return."""
    endpoint = check_endpoint(endpoint)
    shares = shares or default_sharing()
    keys = node.keys
    document: dict[str, Any] = {
        "polex": KIND,
        "v": VERSION,
        "id": str(uuid.uuid4()),
        "node": node.name,
        "endpoint": endpoint,
        "ca_cert": keys.ca_certificate_pem(),
        "cert": keys.certificate_pem(),
        "fingerprint": keys.certificate_fingerprint(),
        "signing_key": keys.public_key_pem(),
        "shares": shares.to_json(),
        "created_at": utcnow().isoformat(timespec="seconds"),
    }
    with node.engine.begin() as conn:
        conn.execute(
            insert(federation_offers).values(
                id=document["id"],
                endpoint=endpoint,
                shares=shares.to_json(),
                created_at=utcnow(),
            )
        )
    return {**document, "signature": sign_document(keys.signing_key(), document)}


def _load(text: str | bytes) -> dict[str, Any]:
    try:
        offer = json.loads(text)
    except ValueError as exc:
        raise LinkError("offer", "offer.json", "offer: not JSON") from exc
    if not isinstance(offer, dict) or offer.get("polex") != KIND:
        raise LinkError("offer", "offer.kind", "offer: not a polex link offer")
    if offer.get("v") != VERSION:
        raise LinkError("v", "offer.version", f"v: this node reads offers of version {VERSION}")
    for name in ("id", "node", "endpoint", "ca_cert", "cert", "fingerprint", "signing_key"):
        if not isinstance(offer.get(name), str) or not offer[name]:
            raise LinkError(name, "offer.required", f"{name}: required")
    if not isinstance(offer.get("signature"), str):
        raise LinkError("signature", "offer.required", "signature: required")
    return offer


def _signing_key(pem: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError as exc:
        raise LinkError("signing_key", "offer.key", "signing_key: not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise LinkError("signing_key", "offer.key", "signing_key: must be an Ed25519 key")
    return key


def _certificates(offer: dict[str, Any]) -> x509.Certificate:
    """The node certificate, checked against the CA and the fingerprint the offer states."""
    try:
        ca = x509.load_pem_x509_certificate(offer["ca_cert"].encode())
        cert = x509.load_pem_x509_certificate(offer["cert"].encode())
    except ValueError as exc:
        raise LinkError("cert", "offer.certificate", "cert: not a PEM certificate") from exc
    der = cert.public_bytes(serialization.Encoding.DER)
    if hashlib.sha256(der).hexdigest() != offer["fingerprint"].lower():
        raise LinkError(
            "fingerprint", "offer.fingerprint", "fingerprint: is not the certificate's SHA-256"
        )
    try:
        constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
        cert.verify_directly_issued_by(ca)
    except (x509.ExtensionNotFound, ValueError, TypeError, InvalidSignature) as exc:
        raise LinkError("cert", "offer.chain", "cert: not issued by the CA in the offer") from exc
    if not constraints.ca:
        raise LinkError("ca_cert", "offer.ca", "ca_cert: is not a CA certificate")
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names or names[0].value != offer["node"]:
        raise LinkError("cert", "offer.subject", f"cert: not issued to node {offer['node']}")
    now = datetime.now(UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise LinkError("cert", "offer.expired", "cert: not valid now")
    return cert


def read_offer(text: str | bytes) -> dict[str, Any]:
    """A parsed offer whose signature, certificates and endpoint all check out."""
    offer = _load(text)
    key = _signing_key(offer["signing_key"])
    document = {k: v for k, v in offer.items() if k != "signature"}
    if not document_signed_by(key, document, offer["signature"]):
        raise LinkError("signature", "offer.signature", "signature: the offer was altered")
    _certificates(offer)
    offer["endpoint"] = check_endpoint(offer["endpoint"])
    try:
        offer["shares"] = Sharing.model_validate(offer.get("shares") or {}).to_json()
    except ValueError as exc:
        raise LinkError("shares", "offer.shares", f"shares: {exc}") from exc
    return offer


def _latest_grant(conn: Connection) -> Sharing:
    row = conn.execute(
        select(federation_offers.c.shares).order_by(federation_offers.c.created_at.desc()).limit(1)
    ).first()
    return Sharing.model_validate(row.shares) if row else default_sharing()


def accept_offer(
    conn: Connection,
    local_node: str,
    text: str | bytes,
    actor: str,
    ours: Sharing | None = None,
) -> links.Link:
    """Store (or renew, e.g. after the partner's certificate changed) the link an offer proposes.

    ``ours``: what this node grants the partner; by default what its latest offer declared."""
    offer = read_offer(text)
    partner = offer["node"]
    if partner.casefold() == local_node.casefold():
        raise LinkError("node", "link.self", "node: a node does not link to itself")
    fingerprint = offer["fingerprint"].lower()
    other = links.by_fingerprint(conn, fingerprint)
    if other is not None and other.node != partner:
        raise LinkError(
            "fingerprint", "link.fingerprint_taken", f"fingerprint: already pinned for {other.node}"
        )
    grant = ours or _latest_grant(conn)
    existing = links.get(conn, partner)
    values = {
        "endpoint": offer["endpoint"],
        "ca_cert": offer["ca_cert"],
        "cert": offer["cert"],
        "fingerprint": fingerprint,
        "signing_key": offer["signing_key"],
        "ours": grant.to_json(),
        "theirs": offer["shares"],
        "offer": offer,
        "accepted_at": utcnow(),
        "accepted_by": actor,
    }
    if existing is None:
        conn.execute(insert(federation_links).values(node=partner, **values))
    else:
        conn.execute(
            update(federation_links).where(federation_links.c.node == partner).values(**values)
        )
    audit.append(
        conn,
        actor=actor,
        action="link.accept" if existing is None else "link.renew",
        target=partner,
        details={
            "endpoint": offer["endpoint"],
            "fingerprint": fingerprint,
            "ours": grant.to_json(),
            "theirs": offer["shares"],
            "offer": offer["id"],
        },
    )
    return links.require(conn, partner)
