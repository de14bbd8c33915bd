"""One test per Cedar rule, each with a case the rule decides and one it leaves alone, so that
a changed policy file fails here first. Pure decisions: no database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest

from polex.access import policy
from polex.access.cedar import ENGINE
from polex.access.grants import GRANTS, READING_ROLES, load
from polex.access.policy import Use, View
from polex.access.principal import Principal, Role, partner_principal
from polex.model.envelope import Envelope, Handling, Restrictions

TODAY = date(2026, 6, 1)
NODE = "NCB-DE"


def user(
    agency: str = "DE-BKA", role: Role = Role.officer, country: str = "DE", **kw: Any
) -> Principal:
    return Principal(1, "anna", agency, country, role, NODE, **kw)


PARTNER = partner_principal(NODE, "EUROPOL", "EU-EC3", "NL", "eve")


def env(**kw: Any) -> Envelope:
    restrictions = Restrictions(**kw.pop("restrictions", {}))
    values: dict[str, Any] = {
        "database": "intelligence",
        "owner": "FR-DCPJ",
        "review_at": date(2030, 1, 1),
        "restrictions": restrictions,
    }
    values.update(kw)
    return Envelope(**values)


@dataclass(frozen=True)
class Case:
    rule: str
    what: str
    principal: Principal
    envelope: Envelope
    expected: View
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.rule}: {self.what}"


VIEW_CASES = [
    Case(
        "owner",
        "own agency reads its pending record",
        user("FR-DCPJ"),
        env(status="pending"),
        View.full,
    ),
    Case(
        "owner",
        "a partner with the owner's code is not the owner",
        partner_principal(NODE, "X", "FR-DCPJ", "FR", "u"),
        env(status="pending"),
        View.none,
    ),
    Case("shared", "another agency of the node reads an approved record", user(), env(), View.full),
    Case("shared", "not for a partner node's user", PARTNER, env(), View.hit),
    Case(
        "partner.hit",
        "partner learns of a hit where the link shares hits",
        PARTNER,
        env(),
        View.hit,
        {"sharing": {"intelligence": "hit"}},
    ),
    Case(
        "partner.hit",
        "nothing in a database the link does not share",
        PARTNER,
        env(),
        View.none,
        {"sharing": {"vehicles": "full"}},
    ),
    Case(
        "partner.full",
        "partner reads where the link shares in full",
        PARTNER,
        env(),
        View.full,
        {"sharing": {"intelligence": "full"}},
    ),
    Case(
        "partner.full",
        "only the hit where the link shares hits",
        PARTNER,
        env(),
        View.hit,
        {"sharing": {"intelligence": "hit"}},
    ),
    Case(
        "grant",
        "analyst reads no missing persons",
        user(role=Role.analyst),
        env(database="missing_persons"),
        View.none,
    ),
    Case("grant", "analyst reads intelligence", user(role=Role.analyst), env(), View.full),
    Case(
        "grant",
        "DPO reads no record, not even its own agency's",
        user("FR-DCPJ", Role.dpo),
        env(),
        View.none,
    ),
    Case("grant", "admin reads no record", user(role=Role.admin), env(), View.none),
    Case(
        "deny.agency",
        "a denied agency learns nothing",
        user(),
        env(restrictions={"deny_agencies": ["DE-BKA"]}),
        View.none,
    ),
    Case(
        "deny.agency",
        "a partner denied by @NODE learns nothing",
        PARTNER,
        env(restrictions={"deny_agencies": ["@EUROPOL"]}),
        View.none,
    ),
    Case(
        "deny.agency",
        "other agencies are not affected",
        user("IT-DCSA"),
        env(restrictions={"deny_agencies": ["DE-BKA"]}),
        View.full,
    ),
    Case(
        "deny.agency",
        "the owner's own users never denied",
        user("FR-DCPJ"),
        env(restrictions={"deny_agencies": ["FR-DCPJ"]}),
        View.full,
    ),
    Case(
        "deny.country",
        "an agency of a denied country learns nothing",
        user(),
        env(restrictions={"deny_countries": ["DE"]}),
        View.none,
    ),
    Case(
        "deny.country",
        "other countries are not affected",
        user(),
        env(restrictions={"deny_countries": ["RU"]}),
        View.full,
    ),
    Case(
        "allow.agency",
        "outside the allow-list: the hit",
        user(),
        env(restrictions={"allow_agencies": ["IT-DCSA"]}),
        View.hit,
    ),
    Case(
        "allow.agency",
        "on the allow-list: in full",
        user(),
        env(restrictions={"allow_agencies": ["DE-BKA"]}),
        View.full,
    ),
    Case(
        "allow.agency",
        "AGENCY@NODE names a partner's agency",
        PARTNER,
        env(restrictions={"allow_agencies": ["EU-EC3@EUROPOL"]}),
        View.full,
        {"sharing": {"intelligence": "full"}},
    ),
    Case(
        "allow.country",
        "outside the country allow-list: the hit",
        user(),
        env(restrictions={"allow_countries": ["FR", "IT"]}),
        View.hit,
    ),
    Case(
        "allow.country",
        "on the country allow-list: in full",
        user(),
        env(restrictions={"allow_countries": ["DE"]}),
        View.full,
    ),
    Case(
        "review.not_approved",
        "pending: not shared at all",
        user(),
        env(status="pending"),
        View.none,
    ),
    Case(
        "review.not_approved",
        "rejected: not shared at all",
        user(),
        env(status="rejected"),
        View.none,
    ),
    Case("review.not_approved", "approved: shared", user(), env(status="approved"), View.full),
    Case(
        "review.overdue",
        "past the review date: only the hit",
        user(),
        env(review_at=date(2026, 5, 31)),
        View.hit,
    ),
    Case(
        "review.overdue",
        "on the review date: still shared",
        user(),
        env(review_at=TODAY),
        View.full,
    ),
    Case(
        "review.overdue",
        "the owner reads its overdue record",
        user("FR-DCPJ"),
        env(review_at=date(2020, 1, 1)),
        View.full,
    ),
    Case(
        "handling.crime_only",
        "administrative use: only the hit",
        user(),
        env(),
        View.hit,
        {"use": Use.administrative},
    ),
    Case(
        "handling.crime_only",
        "judicial use of H0: in full",
        user(),
        env(),
        View.full,
        {"use": Use.judicial},
    ),
    Case(
        "handling.crime_only",
        "the owner uses its own data as it likes",
        user("FR-DCPJ"),
        env(),
        View.full,
        {"use": Use.administrative},
    ),
    Case(
        "handling.h1_judicial",
        "H1 for judicial proceedings: the hit, ask the owner",
        user(),
        env(handling="H1"),
        View.hit,
        {"use": Use.judicial},
    ),
    Case(
        "handling.h1_judicial", "H1 to combat crime: in full", user(), env(handling="H1"), View.full
    ),
    Case(
        "handling.h2_partner",
        "H2 never reaches a partner node",
        PARTNER,
        env(handling="H2"),
        View.none,
        {"sharing": {"intelligence": "full"}},
    ),
    Case(
        "handling.h2_partner",
        "unless the owner permitted that node",
        PARTNER,
        env(handling="H2", restrictions={"passing_permitted": ["@EUROPOL"]}),
        View.full,
        {"sharing": {"intelligence": "full"}},
    ),
    Case(
        "handling.h2_partner",
        "H2 is read by the node's other agencies",
        user(),
        env(handling="H2"),
        View.full,
    ),
    Case(
        "need_to_know",
        "case-bound intelligence, not in the case: the hit",
        user(),
        env(case_ref="OP-RHINE"),
        View.hit,
    ),
    Case(
        "need_to_know",
        "a member of the case's workspace reads it",
        user(case_refs=frozenset({"OP-RHINE"})),
        env(case_ref="OP-RHINE"),
        View.full,
    ),
    Case(
        "need_to_know",
        "case references outside intelligence bind nothing",
        user(),
        env(database="wanted_persons", case_ref="OP-RHINE"),
        View.full,
    ),
]


@pytest.mark.parametrize("case", VIEW_CASES, ids=str)
def test_view_rule(case: Case) -> None:
    decision = policy.decide(case.principal, case.envelope, TODAY, **case.kwargs)
    assert decision.view == case.expected
    if case.expected != View.full and case.rule not in (
        "owner",
        "shared",
        "partner.hit",
        "partner.full",
    ):
        assert case.rule in decision.reasons


def test_h3_conditions_travel_with_the_record() -> None:
    conditions = "Do not contact the subject; inform FR-DCPJ before any action."
    h3 = env(handling=Handling.H3, restrictions={"conditions": conditions})
    assert policy.decide(user(), h3, TODAY).conditions == conditions
    restricted = env(
        handling=Handling.H3, restrictions={"conditions": conditions, "allow_agencies": ["X-Y"]}
    )
    assert policy.decide(user(), restricted, TODAY).conditions == conditions
    denied = env(
        handling=Handling.H3, restrictions={"conditions": conditions, "deny_countries": ["DE"]}
    )
    decision = policy.decide(user(), denied, TODAY)
    assert decision.view == View.none and decision.conditions is None


def test_batch_decisions_match_single_ones() -> None:
    envelopes = [c.envelope for c in VIEW_CASES if not c.kwargs and c.principal == user()]
    policy.clear_cache()
    batch = policy.record_views(user(), envelopes, TODAY)
    policy.clear_cache()
    assert batch == [policy.record_view(user(), e, TODAY) for e in envelopes]


PASS_CASES = [
    (
        "pass_on.not_h2",
        "an H1 record is passed on by a reader",
        user(),
        env(handling="H1"),
        "IT-DCSA",
        True,
    ),
    (
        "pass_on.not_h2",
        "an H2 record is not, without permission",
        user(),
        env(handling="H2"),
        "IT-DCSA",
        False,
    ),
    (
        "pass_on.owner",
        "the owner passes its H2 record on",
        user("FR-DCPJ"),
        env(handling="H2"),
        "IT-DCSA",
        True,
    ),
    (
        "pass_on.permitted",
        "a permitted agency passes H2 on",
        user(),
        env(handling="H2", restrictions={"passing_permitted": ["DE-BKA"]}),
        "IT-DCSA",
        True,
    ),
    (
        "pass_on.permitted",
        "to a partner node, too",
        user(),
        env(handling="H2", restrictions={"passing_permitted": ["DE-BKA"]}),
        "EU-EC3@EUROPOL",
        True,
    ),
    ("pass_on.to_owner", "H2 goes back to its owner", user(), env(handling="H2"), "FR-DCPJ", True),
    (
        "pass_on.to_owner",
        "an agency of that code on another node is not the owner",
        user(),
        env(handling="H2"),
        "FR-DCPJ@OTHER",
        False,
    ),
    ("pass_on.reader", "a DPO passes nothing on", user(role=Role.dpo), env(), "IT-DCSA", False),
    (
        "pass_on.reader",
        "an analyst passes no missing person on",
        user(role=Role.analyst),
        env(database="missing_persons"),
        "IT-DCSA",
        False,
    ),
    ("pass_on.reader", "a partner's user passes nothing on here", PARTNER, env(), "IT-DCSA", False),
    (
        "pass_on.denied_recipient",
        "never to an agency the owner denies",
        user(),
        env(restrictions={"deny_agencies": ["IT-DCSA"]}),
        "IT-DCSA",
        False,
    ),
    (
        "pass_on.denied_recipient",
        "nor to a denied partner node",
        user(),
        env(restrictions={"deny_agencies": ["@EUROPOL"]}),
        "EU-EC3@EUROPOL",
        False,
    ),
]


@pytest.mark.parametrize(
    ("rule", "what", "principal", "envelope", "to", "expected"),
    PASS_CASES,
    ids=[f"{c[0]}: {c[1]}" for c in PASS_CASES],
)
def test_pass_on_rule(
    rule: str, what: str, principal: Principal, envelope: Envelope, to: str, expected: bool
) -> None:
    assert policy.may_pass_on_record(principal, envelope, to, TODAY) is expected


FORWARD_CASES = [
    ("forward.not_h2", user(), "FR-DCPJ", Handling.H1, [], True),
    ("forward.not_h2", user(), "FR-DCPJ", Handling.H2, [], False),
    ("forward.sender", user("FR-DCPJ"), "FR-DCPJ", Handling.H2, [], True),
    ("forward.permitted", user(), "FR-DCPJ", Handling.H2, ["DE-BKA"], True),
    ("forward.permitted", user(), "FR-DCPJ", Handling.H2, ["IT-DCSA"], False),
    ("forward.reader", user(role=Role.admin), "FR-DCPJ", Handling.H0, [], False),
    ("forward.reader", user(role=Role.dpo), "DE-BKA", Handling.H0, [], False),
]


@pytest.mark.parametrize(
    ("rule", "principal", "owner", "handling", "permitted", "expected"), FORWARD_CASES
)
def test_forward_rule(
    rule: str,
    principal: Principal,
    owner: str,
    handling: Handling,
    permitted: list[str],
    expected: bool,
) -> None:
    assert policy.may_pass_on(principal, owner, handling, permitted) is expected


@pytest.mark.parametrize(
    ("rule", "principal", "parties", "expected"),
    [
        ("message.party", user(), ["DE-BKA", "FR-DCPJ"], True),
        ("message.party", user(), ["FR-DCPJ", "IT-DCSA"], False),
        ("message.reader", user(role=Role.dpo), ["DE-BKA"], False),
        ("message.reader", user(role=Role.admin), ["DE-BKA"], False),
        ("message.reader", user(role=Role.analyst), ["DE-BKA"], True),
    ],
)
def test_message_rule(rule: str, principal: Principal, parties: list[str], expected: bool) -> None:
    assert policy.may_read_message(principal, parties) is expected


@pytest.mark.parametrize(
    ("rule", "principal", "purpose", "expected"),
    [
        ("search", user(), "border check of a traveller", True),
        ("search", PARTNER, "joint operation", True),
        ("search", user(role=Role.dpo), "curiosity", False),
        ("search.purpose", user(), "", False),
        ("search.purpose", user(), "   ", False),
    ],
)
def test_search_rule(rule: str, principal: Principal, purpose: str, expected: bool) -> None:
    assert policy.may_search(principal, purpose) is expected


def test_search_refusals_name_field_and_rule() -> None:
    with pytest.raises(policy.PolicyRefused) as missing:
        policy.check_search(user(), None)
    assert (missing.value.field, missing.value.rule) == ("purpose", "search.purpose")
    with pytest.raises(policy.PolicyRefused) as role:
        policy.check_search(user(role=Role.admin), "looking around")
    assert (role.value.field, role.value.rule) == ("role", "search")
    policy.check_search(user(), "border check")


@pytest.mark.parametrize(
    ("rule", "principal", "read", "verify"),
    [
        ("audit.dpo", user(role=Role.dpo), True, True),
        ("audit.dpo", user(role=Role.supervisor), False, False),
        ("audit.dpo", partner_principal(NODE, "X", "A", "FR", "u", Role.dpo), False, False),
        ("audit.admin_verify", user(role=Role.admin), False, True),
    ],
)
def test_audit_rule(rule: str, principal: Principal, read: bool, verify: bool) -> None:
    assert policy.may_read_audit(principal) is read
    assert policy.may_verify_audit(principal) is verify


@pytest.mark.parametrize(
    ("rule", "principal", "envelope", "compliance", "review", "purge"),
    [
        (
            "review.owner_supervisor",
            user("FR-DCPJ", Role.supervisor),
            env(status="pending"),
            False,
            True,
            True,
        ),
        (
            "review.owner_supervisor",
            user("FR-DCPJ", Role.officer),
            env(status="pending"),
            False,
            False,
            False,
        ),
        (
            "review.owner_supervisor",
            user("DE-BKA", Role.supervisor),
            env(status="pending"),
            False,
            False,
            False,
        ),
        (
            "review.compliance_unit",
            user("DE-BKA", Role.supervisor),
            env(status="pending"),
            True,
            True,
            False,
        ),
        (
            "review.compliance_unit",
            user("DE-BKA", Role.officer),
            env(status="pending"),
            True,
            False,
            False,
        ),
        (
            "purge.compliance_unit_overdue",
            user("DE-BKA", Role.supervisor),
            env(review_at=date(2025, 1, 1)),
            True,
            True,
            True,
        ),
        (
            "purge.compliance_unit_overdue",
            user("DE-BKA", Role.supervisor),
            env(review_at=date(2025, 1, 1)),
            False,
            False,
            False,
        ),
    ],
)
def test_review_rule(
    rule: str, principal: Principal, envelope: Envelope, compliance: bool, review: bool, purge: bool
) -> None:
    assert policy.may_review(principal, envelope, compliance, TODAY) is review
    assert policy.may_purge(principal, envelope, compliance, TODAY) is purge


def test_every_rule_has_its_tests() -> None:
    """A rule added to the policy files without a test here fails this test."""
    tested = (
        {c.rule for c in VIEW_CASES} | {c[0] for c in PASS_CASES} | {c[0] for c in FORWARD_CASES}
    )
    tested |= {"message.party", "message.reader", "search", "search.purpose", "audit.dpo"}
    tested |= {"audit.admin_verify", "review.owner_supervisor", "review.compliance_unit"}
    tested |= {"purge.compliance_unit_overdue"}
    ids = ENGINE.ids()
    assert len(ids) == len(set(ids)), "every policy has its own @id"
    assert set(ids) == tested


def test_grants_are_data_and_reading_roles_follow_them() -> None:
    assert load() == GRANTS
    assert {Role.officer, Role.analyst, Role.supervisor} == READING_ROLES
    assert GRANTS[Role.dpo] == GRANTS[Role.admin] == frozenset()
    assert "missing_persons" not in GRANTS[Role.analyst]


def test_grants_file_refuses_unknown_names(tmp_path: Any) -> None:
    from polex.access.grants import GrantsError

    bad = tmp_path / "grants.yaml"
    bad.write_text("officer: [wanted_persons, gossip]\n")
    with pytest.raises(GrantsError, match="gossip"):
        load(bad)
    bad.write_text("officer: [wanted_persons]\n")
    with pytest.raises(GrantsError, match="not listed"):
        load(bad)
