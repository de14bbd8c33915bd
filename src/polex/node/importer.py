"""Bulk import: a file of entities becomes records of one agency in one transaction, or nothing.

Each row goes through the same ``prepare`` (validation and cleaning) as a record written through
the API, so a bulk path is no back door. Record ids are derived from the source id, which makes
a re-import idempotent: unchanged rows are left alone, changed rows get a new version. Rows are
read, checked and written in batches, so memory does not grow with the file; ids already seen in
the file are kept in a temporary table for the same reason. Without ``partial`` one bad row
rolls the whole file back; the transaction also makes a killed import leave nothing behind."""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError
from sqlalchemy import Column, Connection, Engine, Integer, MetaData, String, Table, select

from polex.access.accounts import AccountError, principal_for
from polex.access.policy import READING_ROLES
from polex.audit import log as audit
from polex.graph import refs
from polex.match import crossmatch
from polex.model.envelope import REVIEWED_DATABASES, Database, ReviewStatus
from polex.model.record import Record
from polex.model.validation import Issue
from polex.node.records import RecordInput, ValidationFailed, prepare
from polex.node.sources import Reader, SourceRow
from polex.search import index
from polex.store import agencies, bulk
from polex.store import records as store

BATCH_SIZE = 2000
# How many rejected rows a report keeps in memory; all of them go to the rejects sink.
REPORT_REJECTS = 50

# Scratch space of one import, never part of the schema: the ids the file has used so far.
_scratch = MetaData()
_seen = Table(
    "polex_import_seen",
    _scratch,
    Column("id", String(40), primary_key=True),
    Column("line", Integer, nullable=False),
    prefixes=["TEMPORARY"],
)


class ImportRefused(ValueError):
    """The import cannot start: the agency or the importing user is not one of this node's."""


def import_actor(conn: Connection, node: str, agency: str, user: str | None) -> str:
    """Who the versions and the audit entry name: a user of the agency, or the agency itself."""
    if agencies.get(conn, agency) is None:
        raise ImportRefused(f"agency: {agency.upper()} is not an agency of this node")
    if user is None:
        return f"import:{agency.upper()}"
    try:
        principal = principal_for(conn, user, node)
    except AccountError as exc:
        raise ImportRefused(str(exc)) from exc
    if principal.agency != agency.upper():
        raise ImportRefused(f"user: {user} belongs to {principal.agency}, not {agency.upper()}")
    if principal.role not in READING_ROLES:
        raise ImportRefused(f"user: role {principal.role.value} does not write records")
    return principal.actor


class RejectsFile:
    """The rejected rows as JSON Lines (line, original row, errors), to fix and import again.

    Written for every run it is asked for, so an empty file says the last run rejected nothing."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._fh: IO[str] | None = None

    def __enter__(self) -> RejectsFile:
        if self.path is not None:
            self._fh = self.path.open("w", encoding="utf-8")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            self._fh.close()

    def write(self, rejected: Rejected) -> None:
        if self._fh is None:
            return
        data = rejected.to_json()
        try:
            line = json.dumps(data, ensure_ascii=False, default=str)
            line.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates in the source: keep them escaped
            line = json.dumps(data, default=str)
        self._fh.write(line + "\n")


@dataclass(frozen=True)
class ImportOptions:
    """What the import is into, as whom, and the envelope defaults rows may override."""

    database: Database
    agency: str
    actor: str
    defaults: dict[str, str] = field(default_factory=dict)
    partial: bool = False
    batch_size: int = BATCH_SIZE


@dataclass(frozen=True)
class Rejected:
    """A row that was not imported, as the file held it, with every reason."""

    line: int
    raw: Any
    errors: tuple[Issue, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "row": self.raw,
            "errors": [
                {"field": e.field, "rule": e.rule, "message": e.message} for e in self.errors
            ],
        }


@dataclass
class ImportReport:
    file: str
    database: str
    agency: str
    partial: bool
    sha256: str = ""
    rows: int = 0
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejects: list[Rejected] = field(default_factory=list)
    committed: bool = False
    audit_seq: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "sha256": self.sha256,
            "database": self.database,
            "agency": self.agency,
            "partial": self.partial,
            "committed": self.committed,
            "rows": self.rows,
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "rejects": [r.to_json() for r in self.rejects],
            "audit_seq": self.audit_seq,
        }


@dataclass(frozen=True)
class _Prepared:
    row: SourceRow
    record: Record
    review_given: bool


_Batch = list[_Prepared | Rejected]
ProgressSink = Callable[[int], None]
RejectSink = Callable[[Rejected], None]


def _input_issues(exc: ValidationError) -> tuple[Issue, ...]:
    issues = []
    for e in exc.errors():
        where = ".".join(str(p) for p in e["loc"]) or "row"
        issues.append(Issue(where, f"input.{e['type']}", f"{where}: {e['msg']}"))
    return tuple(issues)


def _prepare_row(row: SourceRow, options: ImportOptions) -> _Prepared | Rejected:
    """The row as a validated Record of ``options.agency``, or why it cannot be one."""
    if row.entity is None:
        return Rejected(row.line, row.raw, row.issues)
    entity = dict(row.entity)
    given = entity.get("polex", {})
    if not isinstance(given, dict):
        issue = Issue("polex", "input.dict_type", "polex: must be an object of envelope fields")
        return Rejected(row.line, row.raw, (issue,))
    database = given.get("database", options.database.value)
    if database != options.database.value:
        message = f"polex.database: this file is imported into {options.database.value}"
        return Rejected(row.line, row.raw, (Issue("polex.database", "import.database", message),))
    entity["polex"] = {**options.defaults, **given, "database": options.database.value}
    try:
        data = RecordInput.model_validate(entity)
    except ValidationError as exc:
        return Rejected(row.line, row.raw, _input_issues(exc))
    if not data.id:
        message = "id: an imported row needs its source id (a re-import finds the record by it)"
        return Rejected(row.line, row.raw, (Issue("id", "import.id_required", message),))
    try:
        record = prepare(data, owner=options.agency)
    except ValidationFailed as exc:
        return Rejected(row.line, row.raw, tuple(exc.result.errors))
    return _Prepared(row, record, review_given=data.polex.review_at is not None)


def _comparable(record: Record, review_given: bool) -> tuple[Any, ...]:
    """What decides whether a re-imported row changes its record.

    The review status is the supervisor's, not the file's; a review date the file does not
    give is computed from today, so it would make every re-import look like a change."""
    exclude = {"status"} if review_given else {"status", "review_at"}
    envelope = record.envelope.model_dump(mode="json", exclude=exclude)
    return record.schema, record.properties, envelope


def _next_version(current: Record, record: Record) -> Record:
    status = current.envelope.status
    if status == ReviewStatus.approved and current.envelope.database in REVIEWED_DATABASES:
        status = ReviewStatus.pending  # a changed record is reviewed again before it is shared
    return replace(
        record,
        envelope=record.envelope.model_copy(update={"status": status}),
        version=current.version + 1,
        created_at=current.created_at,
    )


class _Run:
    """One import in one transaction: batches of rows checked against the file and the store."""

    def __init__(
        self,
        conn: Connection,
        options: ImportOptions,
        report: ImportReport,
        on_reject: RejectSink | None,
    ) -> None:
        self.conn = conn
        self.options = options
        self.report = report
        self.on_reject = on_reject
        self.reason = f"imported from {report.file}"

    @property
    def writing(self) -> bool:
        """Once a row is rejected from an all-or-nothing import, the rest is only checked."""
        return self.options.partial or self.report.rejected == 0

    def reject(self, rejected: Rejected) -> None:
        self.report.rejected += 1
        if len(self.report.rejects) < REPORT_REJECTS:
            self.report.rejects.append(rejected)
        if self.on_reject is not None:
            self.on_reject(rejected)

    def _earlier_lines(self, batch: Sequence[_Prepared]) -> dict[str, int]:
        """For each id of the batch that the file used before: the line it was first used on."""
        earlier: dict[str, int] = {}
        ids = list({p.record.id for p in batch})
        rows = self.conn.execute(select(_seen).where(_seen.c.id.in_(ids))).all()
        earlier.update({r.id: r.line for r in rows})
        fresh = []
        for p in batch:
            if p.record.id not in earlier:
                earlier[p.record.id] = p.row.line
                fresh.append((p.record.id, p.row.line))
        if fresh:
            bulk.insert_rows(self.conn, _seen, ("id", "line"), fresh)
        return earlier

    def flush(self, batch: _Batch) -> None:
        prepared = [p for p in batch if isinstance(p, _Prepared)]
        first_line = self._earlier_lines(prepared) if prepared else {}
        existing = store.existing_versions(self.conn, [p.record.id for p in prepared])
        new: list[Record] = []
        changed: list[Record] = []
        for item in batch:
            if isinstance(item, Rejected):
                self.reject(item)
                continue
            record, line = item.record, item.row.line
            if first_line[record.id] != line:
                message = f"id: {record.source_id} is already used on line {first_line[record.id]}"
                self.reject(
                    Rejected(line, item.row.raw, (Issue("id", "import.duplicate", message),))
                )
                continue
            current = existing.get(record.id)
            if current is None:
                new.append(record)
            elif current.deleted:
                message = f"id: record {record.source_id} was deleted; import does not revive it"
                self.reject(Rejected(line, item.row.raw, (Issue("id", "import.deleted", message),)))
            elif _comparable(current, item.review_given) == _comparable(record, item.review_given):
                self.report.unchanged += 1
            else:
                changed.append(_next_version(current, record))
        self.report.imported += len(new)
        self.report.updated += len(changed)
        if self.writing:
            self.write(new, changed)

    def write(self, new: Sequence[Record], changed: Sequence[Record]) -> None:
        actor = self.options.actor
        store.insert_many(self.conn, new, actor=actor, reason=self.reason)
        index.add(self.conn, new)
        refs.add(self.conn, new)
        for record in changed:
            store.write_version(self.conn, record, actor=actor, reason=self.reason)
        index.reindex(self.conn, changed)
        refs.rewrite(self.conn, changed)
        # matched against other owners' records after the commit, not row by row in the import
        crossmatch.enqueue(self.conn, [r.id for r in (*new, *changed)])


def import_rows(
    engine: Engine,
    reader: Reader,
    options: ImportOptions,
    *,
    on_progress: ProgressSink | None = None,
    on_reject: RejectSink | None = None,
) -> ImportReport:
    """Import every row ``reader`` yields; the report says what happened and what was refused.

    ``on_progress`` gets the bytes read after each batch is written; ``on_reject`` gets every
    refused row (the report keeps only the first ``REPORT_REJECTS``)."""
    report = ImportReport(
        file=reader.path.name,
        database=options.database.value,
        agency=options.agency,
        partial=options.partial,
    )
    with engine.connect() as conn, conn.begin() as transaction, _collect_per_batch() as collect:
        _seen.create(conn)
        run = _Run(conn, options, report, on_reject)
        for batch in _batches(reader, options, report):
            run.flush(batch)
            collect()
            if on_progress is not None:
                on_progress(reader.position)
        _seen.drop(conn)
        report.sha256 = reader.sha256
        if report.rejected and not options.partial:
            transaction.rollback()
            report.imported = report.updated = report.unchanged = 0
            return report
        report.audit_seq = audit.append(
            conn,
            actor=options.actor,
            agency=options.agency,
            action="record.import",
            details={
                "file": report.file,
                "sha256": report.sha256,
                "database": report.database,
                "rows": report.rows,
                "imported": report.imported,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "rejected": report.rejected,
                "partial": report.partial,
            },
        )
    report.committed = True
    return report


@contextmanager
def _collect_per_batch() -> Iterator[Callable[[], object]]:
    """Collect garbage once per batch instead of whenever allocations pile up.

    A batch holds thousands of young objects, so the automatic collector runs full collections
    over and over while it is built (a third of the import's time); one young-generation
    collection per batch still frees every cycle a batch leaves behind."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield lambda: gc.collect(1)
    finally:
        if enabled:
            gc.enable()


def _batches(reader: Reader, options: ImportOptions, report: ImportReport) -> Iterator[_Batch]:
    batch: _Batch = []
    for row in reader.rows():
        report.rows += 1
        batch.append(_prepare_row(row, options))
        if len(batch) >= options.batch_size:
            yield batch
            batch = []
    if batch:
        yield batch
