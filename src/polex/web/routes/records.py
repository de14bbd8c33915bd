"""Records: the agency's own list, a record with its history, and the form that adds or
corrects one with each validation message next to its field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection

from polex.access.policy import View
from polex.access.principal import Principal
from polex.match import hits as match_hits
from polex.messaging import workspaces
from polex.model.envelope import Database, Handling
from polex.model.ftm import model
from polex.model.record import Record, RecordVersion
from polex.node import records as service
from polex.store import records as store
from polex.web import forms, purpose
from polex.web.deps import FormDep, ReaderDep, web_of, web_router
from polex.web.render import page, redirect

router = web_router()
PAGE_SIZE = 50
RECORD_HITS = 200  # the agency's latest hits in the record's database, searched for this one
NOTICES = {
    "created": "Record created.",
    "updated": "Record corrected: a new version was stored.",
    "deleted": "Record deleted: its versions stay in the history.",
}
HANDLING_TEXT = {
    Handling.H0: "Use only to prevent and combat crime.",
    Handling.H1: "Not to be used in judicial proceedings without the owner's permission.",
    Handling.H2: "Not to be passed on without the owner's permission.",
    Handling.H3: "Other restrictions stated by the owner.",
}


@dataclass(frozen=True)
class PropertyRow:
    label: str
    type: str
    values: list[str]


@dataclass(frozen=True)
class VersionRow:
    version: RecordVersion
    changed: list[str]


def property_rows(record: Record) -> list[PropertyRow]:
    """The entity's properties, the schema's featured ones first, labelled as FtM labels them."""
    schema = model.get(record.schema)
    order = list(dict.fromkeys([*schema.featured, *schema.properties])) if schema else []
    rows = []
    for name, values in sorted(
        record.properties.items(),
        key=lambda item: order.index(item[0]) if item[0] in order else len(order),
    ):
        prop = schema.get(name) if schema else None
        rows.append(
            PropertyRow(
                label=str(prop.label) if prop else name,
                type=prop.type.name if prop else "string",
                values=values,
            )
        )
    return rows


def identifier_rows(rows: list[PropertyRow]) -> list[PropertyRow]:
    return [r for r in rows if r.type in ("identifier", "phone", "email")]


def _changes(before: dict[str, Any] | None, after: dict[str, Any]) -> list[str]:
    if before is None:
        return []
    changed = []
    props_a, props_b = before.get("properties", {}), after.get("properties", {})
    for name in sorted(set(props_a) | set(props_b)):
        if props_a.get(name) != props_b.get(name):
            changed.append(name)
    env_a, env_b = before.get("envelope", {}), after.get("envelope", {})
    for name in sorted(set(env_a) | set(env_b)):
        if env_a.get(name) != env_b.get(name):
            changed.append(f"envelope {name}")
    return changed


def version_rows(versions: list[RecordVersion]) -> list[VersionRow]:
    rows = []
    previous: dict[str, Any] | None = None
    for v in versions:
        rows.append(VersionRow(version=v, changed=_changes(previous, v.snapshot)))
        previous = v.snapshot
    return list(reversed(rows))


def hits_of(conn: Connection, principal: Principal, record: Record) -> list[dict[str, Any]]:
    """The hits of the reader's agency that involve this record, each with its other side."""
    found, _ = match_hits.list_hits(conn, principal, database=record.database, limit=RECORD_HITS)
    shown = []
    for hit in found:
        ids = [side.get("record_id") for side in hit["records"]]
        if record.id in ids:
            other = hit["records"][1 - ids.index(record.id)]
            shown.append({**hit, "other": other})
    return shown


@router.get("/records")
def list_records(
    request: Request,
    principal: ReaderDep,
    database: str = "",
    offset: Annotated[int, Query(ge=0)] = 0,
    notice: str = "",
) -> HTMLResponse:
    db = Database(database) if database in Database.__members__ else None
    with web_of(request).node.engine.begin() as conn:
        items, total = service.list_own(
            conn, principal, db.value if db else None, offset, PAGE_SIZE
        )
    return page(
        request,
        "records/list.html",
        title="Records",
        section="records",
        notice=NOTICES.get(notice),
        items=items,
        total=total,
        offset=offset,
        limit=PAGE_SIZE,
        database=db.value if db else "",
        databases=list(Database),
    )


def _form_page(
    request: Request, form: forms.RecordForm, *, record: Record | None, status: int = 200
) -> HTMLResponse:
    return page(
        request,
        "records/form.html",
        title=f"Correct {record.caption}" if record else "New record",
        section="records",
        status=status,
        form=form,
        record=record,
        databases=list(Database),
        choices=forms.CHOICES,
        genders=forms.GENDERS,
        countries=forms.COUNTRIES,
        other_field=forms.OTHER,
    )


@router.get("/records/new")
def new_record(
    request: Request, principal: ReaderDep, database: str = "", schema: str = ""
) -> HTMLResponse:
    form = forms.refreshed(forms.from_form({"polex.database": database, "schema": schema}))
    web = web_of(request)
    form.values.setdefault(
        "polex.case_ref", purpose.load(request, web.settings, web.secret).case_ref
    )
    return _form_page(request, form, record=None)


@router.post("/records/new")
def create_record(request: Request, principal: ReaderDep, data: FormDep) -> Response:
    form = forms.from_form(data)
    if data.get("refresh"):  # the schema or database changed: show its fields, validate nothing
        return _form_page(request, forms.refreshed(form), record=None)
    body = form.check()
    if body is not None:
        try:
            with web_of(request).node.engine.begin() as conn:
                record = service.create(conn, principal, body)
            return redirect(f"/records/{record.id}?notice=created")
        except service.ValidationFailed as exc:
            form.add_issues(exc.result.errors)
        except service.Conflict as exc:
            form.errors.setdefault("form", []).append(str(exc))
    return _form_page(request, form, record=None, status=422)


def _read(
    request: Request, principal: Principal, record_id: str
) -> tuple[Record | None, View, list[RecordVersion], str | None]:
    """The record under the purpose the officer stated, audited once; its history only for a
    full view (read_full has just been decided and audited in this transaction)."""
    web = web_of(request)
    stated = purpose.load(request, web.settings, web.secret).current
    with web.node.engine.begin() as conn:
        try:
            record, view = service.read(conn, principal, record_id, stated)
        except store.RecordNotFound:
            return None, View.none, [], stated
        versions = store.history(conn, record.id) if view == View.full else []
    return record, view, versions, stated


@router.get("/records/{record_id}")
def view_record(
    request: Request, principal: ReaderDep, record_id: str, notice: str = ""
) -> HTMLResponse:
    record, view, versions, stated = _read(request, principal, record_id)
    if record is None:
        return page(
            request,
            "error.html",
            title="Record not found",
            section="records",
            status=404,
            error=f"record_id: record {record_id} not found (or not visible to you)",
        )
    if view != View.full:
        return page(
            request,
            "records/restricted.html",
            title="Hit — contact owner",
            section="records",
            record_id=record.id,
            owner=record.owner,
        )
    with web_of(request).node.engine.begin() as conn:
        mine = workspaces.list_mine(conn, web_of(request).node.name, principal)
        record_hits = hits_of(conn, principal, record)
        record_links = service.links_of(conn, principal, record, stated)
    rows = property_rows(record)
    return page(
        request,
        "records/view.html",
        title=record.caption,
        section="records",
        notice=NOTICES.get(notice),
        record=record,
        rows=rows,
        identifiers=identifier_rows(rows),
        versions=version_rows(versions),
        handling_text=HANDLING_TEXT[record.envelope.handling],
        owned=record.owner == principal.agency,
        purpose=stated,
        workspaces=mine,
        record_hits=record_hits,
        links=record_links,
    )


def _owned_record(request: Request, principal: Principal, record_id: str) -> Record | None:
    with web_of(request).node.engine.begin() as conn:
        try:
            record = service.read_full(conn, principal, record_id)
        except (store.RecordNotFound, service.Restricted):
            return None
    return record if record.owner == principal.agency else None


@router.get("/records/{record_id}/edit")
def edit_record(request: Request, principal: ReaderDep, record_id: str) -> HTMLResponse:
    record = _owned_record(request, principal, record_id)
    if record is None:
        return page(
            request,
            "error.html",
            title="Not your record",
            section="records",
            status=404,
            error=f"record_id: {record_id} is not a record of {principal.agency}",
        )
    return _form_page(request, forms.from_record(record), record=record)


@router.post("/records/{record_id}/edit")
def update_record(
    request: Request, principal: ReaderDep, record_id: str, data: FormDep
) -> Response:
    record = _owned_record(request, principal, record_id)
    if record is None:
        return page(
            request,
            "error.html",
            title="Not your record",
            section="records",
            status=404,
            error=f"record_id: {record_id} is not a record of {principal.agency}",
        )
    form = forms.from_form(data, database=record.envelope.database)
    body = form.check()
    reason = str(data.get("reason") or "").strip() or None
    if body is not None:
        try:
            with web_of(request).node.engine.begin() as conn:
                service.update(conn, principal, record_id, body, reason)
            return redirect(f"/records/{record_id}?notice=updated")
        except service.ValidationFailed as exc:
            form.add_issues(exc.result.errors)
        except (service.Conflict, service.Forbidden, store.VersionConflict) as exc:
            form.errors.setdefault("form", []).append(str(exc))
    return _form_page(request, form, record=record, status=422)


@router.post("/records/{record_id}/delete")
def delete_record(
    request: Request, principal: ReaderDep, record_id: str, data: FormDep
) -> Response:
    reason = str(data.get("reason") or "")
    try:
        with web_of(request).node.engine.begin() as conn:
            service.delete(conn, principal, record_id, reason)
    except service.ValidationFailed as exc:
        return page(
            request,
            "error.html",
            title="Not deleted",
            section="records",
            status=422,
            error="; ".join(e.message for e in exc.result.errors),
        )
    except (service.Forbidden, service.Conflict, store.RecordNotFound) as exc:
        return page(
            request,
            "error.html",
            title="Not deleted",
            section="records",
            status=403,
            error=str(exc),
        )
    return redirect("/records?notice=deleted")
