"""Signatures and encryption at rest: a byte changed in the database or on disk is caught on the
next read, refused with a clear error and written to the audit trail."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select, update

from polex.audit.log import chain
from polex.audit.tables import audit_log
from polex.messaging.crypto import CryptoError, NodeCrypto, canonical_bytes
from polex.messaging.tables import message_deliveries, messages
from polex.node.home import Node


def _flip_one_byte(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def test_a_changed_ciphertext_byte_is_refused_and_audited(post, make_actor, node: Node) -> None:
    anna = make_actor("anna", "DE-BKA")
    pierre = make_actor("pierre", "FR-DCPJ", country="FR")
    mid = post.send(anna, to=["FR-DCPJ"], subject="Tamper target").json()["id"]
    with node.engine.begin() as conn:
        content = conn.execute(select(messages.c.content).where(messages.c.id == mid)).scalar_one()
        conn.execute(
            update(messages)
            .where(messages.c.id == mid)
            .values(content=_flip_one_byte(bytes(content), 5))
        )
    answer = post.read(pierre, mid)
    assert answer.status_code == 409
    assert answer.json()["message_id"] == mid
    issue = answer.json()["detail"][0]
    assert issue["rule"] == "message.integrity"
    assert issue["message"].startswith(f"message {mid} failed its integrity check")
    with node.engine.begin() as conn:
        chain(conn)
        entry = conn.execute(
            select(audit_log).where(audit_log.c.action == "message.integrity_failure")
        ).one()
    assert entry.target == mid and entry.actor == "pierre@FR-DCPJ"

    listed = post.box(pierre).json()["items"]
    assert listed[0]["id"] == mid
    assert listed[0]["subject"] is None  # withheld, not shown altered
    assert "integrity check" in listed[0]["integrity_error"]
    assert post.ack(pierre, mid).status_code == 409


def test_a_changed_header_byte_breaks_the_signature(post, make_actor, node: Node) -> None:
    anna = make_actor("anna", "DE-BKA")
    pierre = make_actor("pierre", "FR-DCPJ", country="FR")
    mid = post.send(anna, to=["FR-DCPJ"], case_ref="OP-RHINE").json()["id"]
    with node.engine.begin() as conn:
        conn.execute(update(messages).where(messages.c.id == mid).values(case_ref="OP-RHINF"))
    answer = post.read(pierre, mid)
    assert answer.status_code == 409
    assert answer.json()["detail"][0]["message"].endswith("signature invalid")


def test_content_moved_to_another_row_does_not_decrypt(post, make_actor, node: Node) -> None:
    anna = make_actor("anna", "DE-BKA")
    make_actor("pierre", "FR-DCPJ", country="FR")
    one = post.send(anna, to=["FR-DCPJ"], subject="one").json()["id"]
    two = post.send(anna, to=["FR-DCPJ"], subject="two").json()["id"]
    with node.engine.begin() as conn:
        row = conn.execute(select(messages.c.nonce, messages.c.content).where(messages.c.id == one))
        nonce, content = row.one()
        conn.execute(
            update(messages).where(messages.c.id == two).values(nonce=nonce, content=content)
        )
    answer = post.read(anna, two)
    assert answer.status_code == 409
    assert "encrypted content fails authentication" in answer.json()["detail"][0]["message"]
    assert post.read(anna, one).status_code == 200


def test_bodies_are_not_stored_in_clear(post, make_actor, node: Node) -> None:
    anna = make_actor("anna", "DE-BKA")
    make_actor("pierre", "FR-DCPJ", country="FR")
    mid = post.send(anna, to=["FR-DCPJ"], subject="Codeword", body="Ivan Petrov crossed").json()[
        "id"
    ]
    with node.engine.connect() as conn:
        row = conn.execute(select(messages).where(messages.c.id == mid)).one()
    stored = repr(tuple(row))
    assert "Ivan Petrov" not in stored and "Codeword" not in stored
    assert b"Ivan Petrov" not in bytes(row.content)


def test_signature_covers_the_canonical_document(node: Node) -> None:
    crypto = NodeCrypto.of(node.keys)
    doc = {"id": "x", "body": "Straße", "to": ["A@N"]}
    signature = crypto.sign(doc)
    crypto.verify({"to": ["A@N"], "body": "Straße", "id": "x"}, signature)  # key order is free
    assert canonical_bytes(doc) == '{"body":"Straße","id":"x","to":["A@N"]}'.encode()
    with pytest.raises(CryptoError, match="signature invalid"):
        crypto.verify({**doc, "to": ["B@N"]}, signature)
    nonce, sealed = crypto.encrypt(b"secret", b"id-1")
    assert crypto.decrypt(nonce, sealed, b"id-1") == b"secret"
    with pytest.raises(CryptoError):
        crypto.decrypt(nonce, sealed, b"id-2")


def test_a_forged_delivery_row_opens_no_message(post, make_actor, node: Node) -> None:
    anna = make_actor("anna", "DE-BKA")
    make_actor("pierre", "FR-DCPJ", country="FR")
    jan = make_actor("jan", "NL-KLPD", country="NL")
    mid = post.send(anna, to=["FR-DCPJ"], subject="Only for France").json()["id"]
    with node.engine.begin() as conn:
        row = conn.execute(
            select(message_deliveries).where(message_deliveries.c.message_id == mid)
        ).one()
        forged = {**row._mapping, "recipient": "NL-KLPD@TEST-NODE", "agency": "NL-KLPD"}
        conn.execute(insert(message_deliveries).values(**forged))
    assert post.read(jan, mid).status_code == 404
    (line,) = post.box(jan).json()["items"]
    assert line["subject"] is None and "not sent to this agency" in line["integrity_error"]
