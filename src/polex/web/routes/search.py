"""One search box over every database, with the purpose asked before every search.

Full hits are grouped by database with their score and why they matched; a hit the owner
shares only as a hit says so and whom to contact, nothing more."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from polex.api.links import federation_for
from polex.federation import fedsearch
from polex.model.envelope import Database
from polex.search.engine import SearchQuery, search
from polex.search.views import hit_json
from polex.store import db
from polex.web import purpose
from polex.web.deps import FormDep, ReaderDep, web_of, web_router
from polex.web.render import page

router = web_router()
FIELDS = (
    "q", "name", "birth_date", "nationality", "gender", "identifiers", "purpose", "case_ref",
    "federated",
)  # fmt: skip


@dataclass
class Results:
    groups: list[tuple[Database, list[dict[str, Any]]]] = field(default_factory=list)
    restricted: list[dict[str, Any]] = field(default_factory=list)
    partners: list[dict[str, Any]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(hits) for _, hits in self.groups) + len(self.restricted)


def group(hits: list[dict[str, Any]], partners: list[dict[str, Any]] | None = None) -> Results:
    """Full hits by database (in the databases' own order), restricted hits apart; hits come
    as the API gives them, from this node or, in a federated search, from partners too."""
    by_db: dict[str, list[dict[str, Any]]] = {}
    results = Results(partners=partners or [])
    for hit in hits:
        if hit.get("restricted"):
            results.restricted.append(hit)
        else:
            by_db.setdefault(str(hit.get("database")), []).append(hit)
    results.groups = [(db, by_db[db.value]) for db in Database if db.value in by_db]
    return results


def _page(
    request: Request,
    values: dict[str, str],
    *,
    selected: list[str],
    errors: dict[str, list[str]] | None = None,
    results: Results | None = None,
    status: int = 200,
) -> HTMLResponse:
    folded = any(values.get(k) for k in ("name", "birth_date", "nationality", "gender"))
    return page(
        request,
        "search.html",
        title="Search",
        section="search",
        status=status,
        values=values,
        errors=errors or {},
        results=results,
        databases=list(Database),
        selected=selected,
        open_fields=folded or bool(selected) or bool(values.get("identifiers")),
    )


@router.get("/search")
def search_form(
    request: Request, principal: ReaderDep, case_ref: str | None = None
) -> HTMLResponse:
    web = web_of(request)
    remembered = purpose.load(request, web.settings, web.secret)
    case = remembered.case_ref if case_ref is None else case_ref.strip()
    values = dict.fromkeys(FIELDS, "") | {
        "case_ref": case,
        "purpose": remembered.for_case(case) or "",
    }
    return _page(request, values, selected=[])


@router.post("/search")
def run_search(request: Request, principal: ReaderDep, data: FormDep) -> HTMLResponse:
    web = web_of(request)
    values = {k: str(data.get(k) or "").strip() for k in FIELDS}
    values["federated"] = "1" if data.get("federated") == "1" else ""
    selected = [str(v) for v in data.getlist("databases")]
    try:
        query = SearchQuery(
            q=values["q"] or None,
            name=values["name"] or None,
            birth_date=values["birth_date"] or None,
            nationality=values["nationality"] or None,
            gender=values["gender"] or None,
            identifiers=[i.strip() for i in values["identifiers"].split(";") if i.strip()],
            databases=[Database(d) for d in selected if d in Database.__members__] or None,
            purpose=values["purpose"],
            case_ref=values["case_ref"] or None,
            federated=data.get("federated") == "1",
        )
    except ValidationError as exc:
        errors: dict[str, list[str]] = {}
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "q"
            text = str(err["msg"]).removeprefix("Value error, ")
            if name == "purpose" and not values["purpose"]:
                text = "say why the search is made (e.g. border check, case number)"
            errors.setdefault(name, []).append(f"{name}: {text}")
        return _page(request, values, selected=selected, errors=errors, status=422)
    if not any([query.q, query.name, query.birth_date, query.identifiers]):
        errors = {"q": ["q: type a name, a document or vehicle number, or a birth date"]}
        return _page(request, values, selected=selected, errors=errors, status=422)

    def local() -> list[dict[str, Any]]:
        with db.reading(), web.node.engine.begin() as conn:
            return [hit_json(h, web.node.name) for h in search(conn, principal, query)]

    if query.federated:
        merged = fedsearch.search(federation_for(request.app), principal, query, local)
        results = group(merged["hits"], merged["partners"])
    else:
        results = group(local())
    remembered = purpose.load(request, web.settings, web.secret)
    remembered.remember(query.case_ref, query.purpose)
    purpose.save(request, web.settings, web.secret, remembered)
    return _page(request, values, selected=selected, results=results)
