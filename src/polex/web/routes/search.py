"""One search box over every database, with the purpose asked before every search.

Full hits are grouped by database with their score and why they matched; a hit the owner
shares only as a hit says so and whom to contact, nothing more."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from polex.access.policy import READING_ROLES, View
from polex.access.principal import Principal
from polex.model.envelope import Database
from polex.search.engine import Hit, SearchQuery, search
from polex.web import purpose
from polex.web.deps import FormDep, require, web_of, web_router
from polex.web.render import page

router = web_router()
Reader = Annotated[Principal, Depends(require(*READING_ROLES))]
FIELDS = ("q", "name", "birth_date", "nationality", "gender", "identifiers", "purpose", "case_ref")


@dataclass
class Results:
    groups: list[tuple[Database, list[Hit]]] = field(default_factory=list)
    restricted: list[Hit] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(hits) for _, hits in self.groups) + len(self.restricted)


def group(hits: list[Hit]) -> Results:
    """Full hits by database (in the databases' own order), restricted hits apart."""
    by_db: dict[str, list[Hit]] = {}
    results = Results()
    for hit in hits:
        if hit.view == View.full:
            by_db.setdefault(hit.record.database, []).append(hit)
        else:
            results.restricted.append(hit)
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
def search_form(request: Request, principal: Reader, case_ref: str | None = None) -> HTMLResponse:
    web = web_of(request)
    remembered = purpose.load(request, web.settings, web.secret)
    case = remembered.case_ref if case_ref is None else case_ref.strip()
    values = dict.fromkeys(FIELDS, "") | {
        "case_ref": case,
        "purpose": remembered.for_case(case) or "",
    }
    return _page(request, values, selected=[])


@router.post("/search")
def run_search(request: Request, principal: Reader, data: FormDep) -> HTMLResponse:
    web = web_of(request)
    values = {k: str(data.get(k) or "").strip() for k in FIELDS}
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
    with web.node.engine.begin() as conn:
        hits = search(conn, principal, query)
    remembered = purpose.load(request, web.settings, web.secret)
    remembered.remember(query.case_ref, query.purpose)
    purpose.save(request, web.settings, web.secret, remembered)
    return _page(request, values, selected=selected, results=group(hits))
