"""The one policy decision point: what a principal may see of a record, and may do.

Every read path (record read, search, match, graph, export, messages, federation) asks
``record_view`` / ``record_views`` (or ``decide`` for the reasons and H3 conditions) and shapes
its answer by the View it gets back. The rules themselves are Cedar policies under policies/,
readable by a data protection officer; this module only states the facts of a request.

Decisions are cached by the attributes they depend on (the principal's agency, country, role
and node; the envelope's owner, database, handling code, status, lists; the use and grant):
search results repeat the same few envelopes, and Cedar costs far more per request than a
dictionary lookup."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from polex.access.cedar import ENGINE, Outcome, Request, entity
from polex.access.grants import GRANTS, READING_ROLES
from polex.access.principal import Principal
from polex.model.envelope import Envelope, Handling

__all__ = [
    "READING_ROLES",
    "Decision",
    "PolicyRefused",
    "Use",
    "View",
    "check_search",
    "decide",
    "decide_many",
    "may_pass_on",
    "may_pass_on_record",
    "may_purge",
    "may_read_audit",
    "may_read_message",
    "may_review",
    "may_search",
    "may_verify_audit",
    "record_view",
    "record_views",
]


class View(StrEnum):
    full = "full"  # the record as it is
    hit = "hit"  # only that a record exists and whom to contact (hit/no-hit)
    none = "none"  # not even that


class Use(StrEnum):
    """What the information will be used for (handling codes H0 and H1 depend on it)."""

    crime = "crime"  # to prevent and combat crime: searches, cases, analysis
    judicial = "judicial"  # as evidence in judicial proceedings
    administrative = "administrative"  # e.g. a visa or residence decision


@dataclass(frozen=True)
class Decision:
    view: View
    # the rules that decided (Cedar policy ids): permits for a full view, else the forbids
    reasons: tuple[str, ...]
    # H3: the owner's own conditions, for every reader who learns of the record
    conditions: str | None = None


class PolicyRefused(PermissionError):
    """An action the policy refuses, named by field and rule like every other error."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        self.field = field
        self.rule = rule
        self.message = message
        super().__init__(message)


# Caller-side caches of Cedar outcomes, keyed by every attribute a decision depends on.
CACHE_LIMIT = 100_000
_cache: dict[tuple[Any, ...], Any] = {}

PRINCIPAL_ID = "principal"
NODE = ("Node", "node")


_plain = str.__str__  # a StrEnum member's value as a plain str, without Enum's Python code


def _remember(key: tuple[Any, ...], value: Any) -> None:
    if len(_cache) >= CACHE_LIMIT:
        _cache.clear()
    _cache[key] = value


def clear_cache() -> None:
    """Forget every cached decision (after the policy files are reloaded)."""
    _cache.clear()


def _names(principal: Principal) -> list[str]:
    qualified = f"{principal.agency}@{principal.node}".upper()
    if principal.partner:
        return [qualified, f"@{principal.node}".upper()]
    return [principal.agency, qualified]


def _principal_key(principal: Principal) -> tuple[Any, ...]:
    role = _plain(principal.role)
    return (principal.agency, principal.country, role, principal.node, principal.partner)


def _user(principal: Principal) -> dict[str, Any]:
    return entity(
        "User",
        PRINCIPAL_ID,
        {
            "agency": principal.agency,
            "country": principal.country,
            "role": str(principal.role),
            "node": principal.node,
            "partner": principal.partner,
            "names": _names(principal),
            "databases": sorted(GRANTS[principal.role]),
        },
    )


_RECORD_FIELDS = (
    "owner",
    "database",
    "handling",
    "status",
    "overdue",
    "case_bound",
    "allow_agencies",
    "deny_agencies",
    "allow_countries",
    "deny_countries",
    "passing_permitted",
)


def _record_key(envelope: Envelope, today: date) -> tuple[Any, ...]:
    # read through __dict__ and str.__str__: this runs for every search hit
    e = envelope.__dict__
    r = e["restrictions"].__dict__
    review_at = e["review_at"]
    return (
        e["owner"],
        _plain(e["database"]),
        _plain(e["handling"]),
        _plain(e["status"]),
        review_at is not None and review_at < today,
        e["case_ref"] is not None,
        tuple(r["allow_agencies"]),
        tuple(r["deny_agencies"]),
        tuple(r["allow_countries"]),
        tuple(r["deny_countries"]),
        tuple(r["passing_permitted"]),
    )


def _record_attrs(key: tuple[Any, ...]) -> dict[str, Any]:
    return {
        name: list(value) if isinstance(value, tuple) else value
        for name, value in zip(_RECORD_FIELDS, key, strict=True)
    }


def _grant(principal: Principal, envelope: Envelope, sharing: Mapping[str, str] | None) -> str:
    """The partner link's grant for the record's database; without a link's grant at hand a
    partner gets the hit, as Europol's EIS shares."""
    if not principal.partner:
        return "local"
    if sharing is None:
        return "hit"
    mode = sharing.get(str(envelope.database))
    return str(mode) if mode is not None else "none"


def _view(read: Outcome, locate: Outcome) -> tuple[View, tuple[str, ...]]:
    if read.allowed and locate.allowed:
        return View.full, read.reasons
    if locate.allowed:
        return View.hit, read.reasons or locate.reasons
    return View.none, locate.reasons or ("default.deny",)


def decide_many(
    principal: Principal,
    envelopes: Sequence[Envelope],
    today: date | None = None,
    *,
    use: Use = Use.crime,
    sharing: Mapping[str, str] | None = None,
) -> list[Decision]:
    """The decision for each envelope, in order, Cedar asked once for the unseen ones.

    ``sharing`` is the partner link's grant (database -> "full" | "hit") when ``principal`` is
    a partner node's user; the case references of ``principal`` decide need-to-know."""
    today = today or date.today()
    pkey = _principal_key(principal)
    use_value = _plain(use)
    case_refs = principal.case_refs
    keys: list[tuple[Any, ...]] = []
    found: list[Decision | None] = []
    unseen: dict[tuple[Any, ...], None] = {}
    for envelope in envelopes:
        case_ref = envelope.case_ref
        in_case = case_ref is not None and case_ref in case_refs
        context = (use_value, _grant(principal, envelope, sharing), in_case)
        key = ("record", pkey, _record_key(envelope, today), context)
        known = _cache.get(key)
        keys.append(key)
        found.append(known)
        if known is None:
            unseen[key] = None
    fresh = dict(zip(unseen, _evaluate_records(principal, list(unseen)), strict=True))
    decisions = []
    for envelope, key, known in zip(envelopes, keys, found, strict=True):
        decision = known or fresh[key]
        conditions = envelope.restrictions.conditions
        if conditions is not None and decision.view != View.none:
            decision = Decision(decision.view, decision.reasons, conditions)
        decisions.append(decision)
    return decisions


def _evaluate_records(principal: Principal, keys: list[tuple[Any, ...]]) -> list[Decision]:
    if not keys:
        return []
    entities = [_user(principal)]
    requests = []
    for i, (_, _, rkey, (use, grant, in_case)) in enumerate(keys):
        rid = f"r{i}"
        entities.append(entity("Record", rid, _record_attrs(rkey)))
        context = {"use": use, "grant": grant, "in_case": in_case}
        for action in ("read", "locate"):
            requests.append(Request(PRINCIPAL_ID, action, ("Record", rid), context))
    outcomes = ENGINE.decide(requests, entities)
    results = []
    for i, key in enumerate(keys):
        view, reasons = _view(outcomes[2 * i], outcomes[2 * i + 1])
        decision = Decision(view, reasons)
        _remember(key, decision)
        results.append(decision)
    return results


def decide(
    principal: Principal,
    envelope: Envelope,
    today: date | None = None,
    *,
    use: Use = Use.crime,
    sharing: Mapping[str, str] | None = None,
) -> Decision:
    return decide_many(principal, [envelope], today, use=use, sharing=sharing)[0]


def record_view(
    principal: Principal,
    envelope: Envelope,
    today: date | None = None,
    *,
    use: Use = Use.crime,
    sharing: Mapping[str, str] | None = None,
) -> View:
    return decide(principal, envelope, today, use=use, sharing=sharing).view


def record_views(
    principal: Principal,
    envelopes: Sequence[Envelope],
    today: date | None = None,
    *,
    use: Use = Use.crime,
    sharing: Mapping[str, str] | None = None,
) -> list[View]:
    """``record_view`` for a list of results (search hits, match candidates)."""
    return [d.view for d in decide_many(principal, envelopes, today, use=use, sharing=sharing)]


def _frozen(values: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(
        (k, tuple(v) if isinstance(v, list | set | frozenset) else v)
        for k, v in sorted(values.items())
    )


def _ask(
    principal: Principal,
    action: str,
    resource: tuple[str, dict[str, Any]] | None,
    context: dict[str, Any],
) -> Outcome:
    """One cached Cedar decision about a Message, a Record or the Node."""
    attrs = resource[1] if resource else {}
    key = (action, _principal_key(principal), _frozen(attrs), _frozen(context))
    cached: Outcome | None = _cache.get(key)
    if cached is not None:
        return cached
    entities = [_user(principal), entity(*NODE, {})]
    target = NODE
    if resource is not None:
        target = (resource[0], "target")
        entities.append(entity(resource[0], "target", resource[1]))
    outcome = ENGINE.decide([Request(PRINCIPAL_ID, action, target, context)], entities)[0]
    _remember(key, outcome)
    return outcome


def may_read_message(principal: Principal, parties: Collection[str]) -> bool:
    """A message is read by users of the agencies party to it (``parties``: agency codes on the
    principal's node — sender, recipients, members of the case workspace it was posted in).
    An admin or a DPO reads no message by their role."""
    message = {"sender": "", "handling": "", "parties": sorted(parties), "passing_permitted": []}
    return _ask(principal, "read_message", ("Message", message), {}).allowed


def may_pass_on(
    principal: Principal, owner: str, handling: Handling, permitted: Collection[str]
) -> bool:
    """Forwarding a message: H2 information is not passed on without its owner's permission —
    the sending agency (``owner``) passes its own on; another agency only if the sender
    recorded permission for it (``permitted``)."""
    message = {
        "sender": owner,
        "handling": str(handling),
        "parties": [],
        "passing_permitted": sorted(permitted),
    }
    return _ask(principal, "forward", ("Message", message), {}).allowed


def may_pass_on_record(
    principal: Principal, envelope: Envelope, to: str, today: date | None = None
) -> bool:
    """Whether the principal may pass the record on to ``to`` (``AGENCY`` of this node, or
    ``AGENCY@NODE``) — in a message, a forward or to a partner node."""
    local = principal.local_node or principal.node
    agency, _, node = to.strip().partition("@")
    agency, node = agency.upper(), node or local
    if node.casefold() == local.casefold():
        to_names = [agency, f"{agency}@{local}".upper()]
        to_owner = agency == envelope.owner
    else:
        to_names = [f"{agency}@{node}".upper(), f"@{node}".upper()]
        to_owner = False
    attrs = _record_attrs(_record_key(envelope, today or date.today()))
    context = {"to_names": to_names, "to_owner": to_owner}
    return _ask(principal, "pass_on", ("Record", attrs), context).allowed


def may_search(principal: Principal, purpose: str | None) -> bool:
    return _ask(principal, "search", None, {"purpose": (purpose or "").strip()}).allowed


def check_search(principal: Principal, purpose: str | None) -> None:
    """Refuse a search without a stated purpose, or by a role that reads no records."""
    if not (purpose or "").strip():
        raise PolicyRefused("purpose", "search.purpose", "purpose: say why the search is made")
    if not may_search(principal, purpose):
        raise PolicyRefused("role", "search", f"role: {principal.role} does not search records")


def may_read_audit(principal: Principal) -> bool:
    return _ask(principal, "read_audit", None, {}).allowed


def may_verify_audit(principal: Principal) -> bool:
    return _ask(principal, "verify_audit", None, {}).allowed


def _record_action(
    action: str,
    principal: Principal,
    envelope: Envelope,
    compliance_unit: bool,
    today: date | None,
) -> bool:
    attrs = _record_attrs(_record_key(envelope, today or date.today()))
    return _ask(principal, action, ("Record", attrs), {"compliance_unit": compliance_unit}).allowed


def may_review(
    principal: Principal, envelope: Envelope, compliance_unit: bool, today: date | None = None
) -> bool:
    """Approve or reject: a supervisor of the owner agency or of the node's compliance unit."""
    return _record_action("review", principal, envelope, compliance_unit, today)


def may_purge(
    principal: Principal, envelope: Envelope, compliance_unit: bool, today: date | None = None
) -> bool:
    """Purge: a supervisor of the owner agency; the compliance unit once the record is overdue."""
    return _record_action("purge", principal, envelope, compliance_unit, today)
