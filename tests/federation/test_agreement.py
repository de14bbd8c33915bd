"""Link offers: signed by the offering node, checked whole before anything is pinned."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from polex.audit.log import chain
from polex.audit.tables import audit_log
from polex.federation import agreement, links
from polex.federation.errors import LinkError
from polex.federation.sharing import Mode, Sharing, default_sharing, parse_shares
from polex.federation.signing import sign_document
from polex.model.envelope import Database
from polex.node.home import Node, init_node

ENDPOINT = "https://127.0.0.1:8401"


@pytest.fixture
def other(tmp_path: Path) -> Iterator[Node]:
    node = init_node(tmp_path / "node-b", "NODE-B")
    yield node
    node.engine.dispose()


def resigned(offer: dict[str, Any], by: Node, **changes: Any) -> str:
    """The offer with ``changes``, signed again by ``by`` (a forger holding a real key)."""
    document = {k: v for k, v in offer.items() if k != "signature"} | changes
    return json.dumps({**document, "signature": sign_document(by.keys.signing_key(), document)})


def accept(node: Node, text: str, ours: Sharing | None = None) -> links.Link:
    with node.engine.begin() as conn:
        return agreement.accept_offer(conn, node.name, text, "operator", ours)


def rule_of(node: Node, text: str) -> str:
    with pytest.raises(LinkError) as refused:
        accept(node, text)
    return refused.value.rule


def test_an_accepted_offer_pins_the_partner_and_records_both_grants(
    node: Node, other: Node
) -> None:
    theirs = Sharing(databases={Database.vehicles: Mode.full})
    offer = agreement.make_offer(other, ENDPOINT + "/", theirs)
    assert offer["fingerprint"] == other.keys.certificate_fingerprint()
    ours = parse_shares(["travel_documents=full", "intelligence=hit"])
    link = accept(node, json.dumps(offer), ours)
    assert link.node == "NODE-B" and link.endpoint == ENDPOINT
    assert link.fingerprint == other.keys.certificate_fingerprint()
    assert link.theirs == theirs and link.ours == ours
    assert link.signing_key.public_bytes_raw() == other.keys.verify_key().public_bytes_raw()
    with node.engine.begin() as conn:
        chain(conn)
        actions = conn.execute(select(audit_log.c.action, audit_log.c.target)).all()
    assert ("link.accept", "NODE-B") in actions

    renewed = accept(node, json.dumps(offer))
    assert renewed.ours == default_sharing()  # node has issued no offer of its own yet
    with node.engine.begin() as conn:
        chain(conn)
        actions = conn.execute(select(audit_log.c.action)).scalars().all()
    assert "link.renew" in actions


def test_by_default_a_node_grants_what_its_own_latest_offer_declared(
    node: Node, other: Node
) -> None:
    declared = Sharing(databases={Database.firearms: Mode.full}, crossmatch=False)
    agreement.make_offer(node, ENDPOINT, declared)
    link = accept(node, json.dumps(agreement.make_offer(other, ENDPOINT)))
    assert link.ours == declared


def test_an_altered_offer_is_refused(node: Node, other: Node) -> None:
    offer = agreement.make_offer(other, ENDPOINT)
    assert rule_of(node, json.dumps({**offer, "endpoint": "https://evil:1"})) == "offer.signature"
    assert rule_of(node, json.dumps({**offer, "signature": "AAAA"})) == "offer.signature"
    assert rule_of(node, "not json") == "offer.json"
    assert rule_of(node, json.dumps({"polex": "something"})) == "offer.kind"


def test_certificates_must_match_the_fingerprint_the_ca_and_the_node(
    node: Node, other: Node, tmp_path: Path
) -> None:
    offer = agreement.make_offer(other, ENDPOINT)
    third = init_node(tmp_path / "node-c", "NODE-C")
    assert rule_of(node, resigned(offer, other, fingerprint="ab" * 32)) == "offer.fingerprint"
    foreign_ca = third.keys.ca_certificate_pem()
    assert rule_of(node, resigned(offer, other, ca_cert=foreign_ca)) == "offer.chain"
    assert rule_of(node, resigned(offer, other, node="NODE-Z")) == "offer.subject"
    third.engine.dispose()


def test_a_node_does_not_link_to_itself_nor_pin_one_certificate_twice(
    node: Node, other: Node
) -> None:
    assert rule_of(node, json.dumps(agreement.make_offer(node, ENDPOINT))) == "link.self"
    offer = agreement.make_offer(other, ENDPOINT)
    accept(node, json.dumps(offer))
    assert rule_of(node, resigned(offer, other, node="node-b")) == "offer.subject"


def test_endpoints_and_shares_are_checked() -> None:
    for bad in ("http://host:1", "https://host", "https://host:1/path", "https://host:x"):
        with pytest.raises(LinkError):
            agreement.check_endpoint(bad)
    assert parse_shares([]) == default_sharing()
    assert parse_shares(["all=full"]).mode("vehicles") == Mode.full
    assert parse_shares(["vehicles"]).mode("vehicles") == Mode.hit
    assert parse_shares(["vehicles=full"]).mode("firearms") is None
    for bad in (["cars=full"], ["vehicles=some"]):
        with pytest.raises(ValueError, match="share"):
            parse_shares(bad)
