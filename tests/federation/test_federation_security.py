"""The federation port refuses everyone but a linked partner speaking for itself, once.

Node B calls node A (the parametrised node, so nonces are checked on both backends): without a
client certificate, with another node's certificate, with a certificate A's partner CA issued to
someone else, with a user token, and with signed requests that are replayed, altered, stale or
meant for another node."""

from __future__ import annotations

import datetime as dt
import ssl
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fedkit import Pair

from polex.access import accounts
from polex.federation.client import PartnerClient
from polex.federation.relay import ping
from polex.federation.signing import remember_nonce, sign_request
from polex.federation.tls import client_context
from polex.node.home import Node, init_node
from polex.store import agencies

PING = "/federation/v1/ping"
SEARCH = "/federation/v1/search"


@dataclass(frozen=True)
class Files:
    cert_file: Path
    key_file: Path


def b_to_a(pair: Pair) -> PartnerClient:
    link = pair.b.fed.link(pair.a.node.name)
    assert link is not None
    return pair.b.fed.clients.for_link(link)


def signed(pair: Pair, method: str, path: str, body: bytes = b"", **kw: object) -> dict[str, str]:
    key = pair.b.node.keys.signing_key()
    return sign_request(key, method, path, "NODE-B", pair.a.node.name, body, **kw)  # type: ignore[arg-type]


def raw_client(pair: Pair, context: ssl.SSLContext) -> httpx.Client:
    return httpx.Client(
        base_url=f"https://127.0.0.1:{pair.a.port}", verify=context, trust_env=False, timeout=5
    )


def a_trusting_context(pair: Pair) -> ssl.SSLContext:
    """A TLS 1.3 client context that trusts A's CA but presents no certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.load_verify_locations(cadata=pair.a.node.keys.ca_certificate_pem())
    return context


def test_the_linked_partner_gets_through(pair: Pair) -> None:
    link = pair.b.fed.link(pair.a.node.name)
    assert link is not None and ping(pair.b.fed, link)
    answer = b_to_a(pair).request("GET", PING)
    assert answer.status_code == 200 and answer.json()["partner"] == "NODE-B"


def test_a_client_without_a_certificate_is_refused(pair: Pair) -> None:
    context = a_trusting_context(pair)
    with raw_client(pair, context) as client, pytest.raises(httpx.HTTPError, match="certificate"):
        client.get(PING, headers=signed(pair, "GET", PING))


def test_a_certificate_of_an_unlinked_node_is_refused(pair: Pair, tmp_path: Path) -> None:
    stranger: Node = init_node(tmp_path / "node-c", "NODE-C")
    context = client_context(
        stranger.keys,
        pair.a.node.keys.ca_certificate_pem(),
        pair.a.node.keys.certificate_fingerprint(),
    )
    with raw_client(pair, context) as client, pytest.raises(httpx.HTTPError, match="unknown ca"):
        client.get(PING)
    stranger.engine.dispose()


def test_the_client_refuses_a_server_that_is_not_the_pinned_partner(pair: Pair) -> None:
    a = pair.a.node.keys
    context = client_context(pair.b.node.keys, a.ca_certificate_pem(), "0" * 64)
    with raw_client(pair, context) as client, pytest.raises(httpx.HTTPError, match="not pinned"):
        client.get(PING, headers=signed(pair, "GET", PING))


def test_a_certificate_the_partner_ca_issued_to_another_key_is_refused(
    pair: Pair, tmp_path: Path
) -> None:
    """Chains to B's CA and even names NODE-B, but is not the certificate pinned for B."""
    keys = pair.b.node.keys
    ca_key = serialization.load_pem_private_key(keys.ca_key_file.read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    ca = x509.load_pem_x509_certificate(keys.ca_cert_file.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "NODE-B")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    files = Files(tmp_path / "rogue.pem", tmp_path / "rogue.key")
    files.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = a_trusting_context(pair)
    context.load_cert_chain(files.cert_file, files.key_file)
    with raw_client(pair, context) as client, pytest.raises(httpx.HTTPError):
        client.get(PING, headers=signed(pair, "GET", PING))


def test_a_replayed_request_is_refused(pair: Pair) -> None:
    http = b_to_a(pair).http
    headers = signed(pair, "GET", PING)
    assert http.get(PING, headers=headers).status_code == 200
    again = http.get(PING, headers=headers)
    assert again.status_code == 401 and again.json()["rule"] == "signature.replay"


def test_a_nonce_another_worker_saw_is_refused(pair: Pair) -> None:
    """Nonces live in the database: what one worker accepted, every other one refuses."""
    headers = signed(pair, "GET", PING)
    remember_nonce(pair.a.node.engine, "NODE-B", headers["x-polex-nonce"])
    answer = b_to_a(pair).http.get(PING, headers=headers)
    assert answer.status_code == 401 and answer.json()["rule"] == "signature.replay"


def test_an_altered_request_is_refused(pair: Pair) -> None:
    http = b_to_a(pair).http
    body = b'{"query": {"q": "Ivan Petrov", "purpose": "check"}}'
    headers = signed(pair, "POST", SEARCH, body)
    altered = http.post(SEARCH, content=body.replace(b"Ivan", b"Olga"), headers=headers)
    assert altered.status_code == 401 and altered.json()["rule"] == "signature.invalid"
    moved = http.get(PING, headers=signed(pair, "POST", SEARCH, b""))
    assert moved.status_code == 401 and moved.json()["rule"] == "signature.invalid"


def test_a_stale_request_is_refused(pair: Pair) -> None:
    old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    answer = b_to_a(pair).http.get(PING, headers=signed(pair, "GET", PING, now=old))
    assert answer.status_code == 401 and answer.json()["rule"] == "signature.stale"


def test_a_request_signed_for_another_node_is_refused(pair: Pair) -> None:
    key = pair.b.node.keys.signing_key()
    headers = sign_request(key, "GET", PING, "NODE-B", "NODE-C", b"")
    answer = b_to_a(pair).http.get(PING, headers=headers)
    assert answer.status_code == 401 and answer.json()["rule"] == "signature.invalid"


def test_a_partner_cannot_speak_as_another_node(pair: Pair) -> None:
    key = pair.b.node.keys.signing_key()
    headers = sign_request(key, "GET", PING, "NODE-C", pair.a.node.name, b"")
    answer = b_to_a(pair).http.get(PING, headers=headers)
    assert answer.status_code == 403 and answer.json()["rule"] == "link.node_mismatch"


def test_a_user_token_on_the_federation_port_is_refused(pair: Pair) -> None:
    with pair.a.node.engine.begin() as conn:
        agencies.add(conn, "DE-BKA", "BKA", "DE")
        token = accounts.add_user(conn, "anna", "DE-BKA", "admin").token
    http = b_to_a(pair).http
    with_token = {**signed(pair, "GET", PING), "authorization": f"Bearer {token}"}
    answer = http.get(PING, headers=with_token)
    assert answer.status_code == 401 and answer.json()["rule"] == "federation.no_user_tokens"
    api = http.get("/api/v1/records", headers={"authorization": f"Bearer {token}"})
    assert api.status_code in (401, 404)
