"""Bulk import: a file of entities becomes records of one agency in one transaction, or nothing.

Each row goes through the same ``prepare`` (validation and cleaning) as a record written through
the API, so a bulk path is no back door. Record ids are derived from the source id, which makes
a re-import idempotent: unchanged rows are left alone, changed rows get a new version. Rows are
read, checked and written in batches, so memory does not grow with the file; ids already seen in
the file are kept in a temporary table for the same reason. Without ``partial`` one bad row
rolls the whole file back; the transaction also makes a killed import leave nothing behind.

Checking a row (parsing, validation, cleaning, index keys, the rows it becomes) is most of the
work and needs no database, so a large file is checked by worker processes, a chunk at a time,
while this process writes the chunks in file order in its one transaction."""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import pickle
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import IO, Any, NamedTuple

from pydantic import ValidationError
from sqlalchemy import Column, Connection, Engine, Integer, MetaData, String, Table, select

from polex.access.accounts import AccountError, principal_for
from polex.access.policy import READING_ROLES
from polex.audit import log as audit
from polex.federation import offers
from polex.graph import refs
from polex.graph.tables import record_refs
from polex.match import crossmatch
from polex.model.envelope import REVIEWED_DATABASES, Database, Envelope, ReviewStatus
from polex.model.record import Record
from polex.model.validation import Issue
from polex.node.records import EnvelopeInput, RecordInput, ValidationFailed, envelope_for, prepare
from polex.node.sources import Chunk, Reader, SourceRow
from polex.search import index
from polex.search.tables import record_keys
from polex.store import agencies, bulk
from polex.store import records as store
from polex.store.metadata import utcnow
from polex.store.tables import record_versions, records

BATCH_SIZE = 2000
# Files smaller than this are checked in this process: starting workers would take longer.
PARALLEL_BYTES = 4 * 2**20
# SQLite's page cache while an import writes, in KiB (its default is 2 MiB): a large file's
# index inserts land all over the indexes, and a page that falls out of a small cache in the
# middle of the one transaction is written to the log again and again. Fixed, so memory stays
# flat in the file's size.
SQLITE_CACHE_KIB = 256 * 1024
# The same for the temporary database, which holds the ids the file has used (about 60 MiB for
# a million rows): in SQLite's default 2 MiB each insert and lookup there goes to disk.
SQLITE_TEMP_CACHE_KIB = 64 * 1024
# Chunks handed to the workers ahead of the one being written, per worker: enough to keep them
# busy while a chunk is written, few enough that memory stays flat.
AHEAD = 2
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
    sqlite_with_rowid=False,
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
    # processes that check rows (0: this one); None chooses by the file's size and the CPUs
    workers: int | None = None


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
        }


@dataclass(frozen=True)
class _Valid:
    """A row that makes a valid record."""

    record: Record
    review_given: bool


class _Prepared(NamedTuple):
    """A checked row as the rows it writes if its record is new, converted for the database.
    A named tuple: a worker makes and pickles, and the writer unpickles, one per row, and a
    tuple costs less at all three than a dataclass."""

    line: int
    record_id: str
    source_id: str
    record_row: bulk.Row
    version_row: bulk.Row
    key_rows: list[bulk.Row]
    ref_rows: list[bulk.Row]


_Batch = list[_Prepared | Rejected]


@dataclass(frozen=True)
class _Context:
    """What checking a chunk needs, in any process."""

    options: ImportOptions
    reason: str
    drivername: str


ProgressSink = Callable[[int], None]
RejectSink = Callable[[Rejected], None]


def _input_issues(exc: ValidationError) -> tuple[Issue, ...]:
    issues = []
    for e in exc.errors():
        where = ".".join(str(p) for p in e["loc"]) or "row"
        issues.append(Issue(where, f"input.{e['type']}", f"{where}: {e['msg']}"))
    return tuple(issues)


# Distinct envelopes kept parsed: a file's rows share a few hundred (the flags' defaults, the
# gradings and categories), and parsing and building one costs a fifth of checking a row.
_ENVELOPES = 4096
# Envelope fields of free text, taken as written: they differ row by row (a case reference), so
# the shared envelopes are keyed without them and a row's own are set on a copy.
_FREE_TEXT = frozenset({"case_ref", "provenance"})
_EnvelopeKey = tuple[tuple[str, str], ...]


@lru_cache(maxsize=_ENVELOPES)
def _parsed_envelope(
    fields: _EnvelopeKey, owner: str, today: date
) -> tuple[EnvelopeInput, Envelope] | None:
    """The envelope input of these fields and the envelope it gives the owner's records
    (whose review date depends on ``today``); None if the fields are invalid."""
    try:
        env_in = EnvelopeInput.model_validate(dict(fields))
    except ValidationError:
        return None
    return env_in, envelope_for(env_in, owner)


def _shared_envelope(fields: dict[str, Any], owner: str) -> tuple[EnvelopeInput, Envelope] | None:
    """The parsed envelope of a row's envelope fields, parsed once per distinct fields. Only
    for fields that are all text (restrictions, lists, go the row's own way), so that equal
    keys mean equal input, and a free-text value is valid whatever it says. None also for
    invalid fields: the row's own parse then reports them as it reports every other error.
    The key keeps the fields' order: a file's rows write them in one order, and another order
    parses alike, so it only costs a cache entry."""
    key: list[tuple[str, str]] = []
    text: dict[str, str] = {}
    for name, value in fields.items():
        if type(value) is not str:
            return None
        if name in _FREE_TEXT:
            text[name] = value
        else:
            key.append((name, value))
    shared = _parsed_envelope(tuple(key), owner, date.today())
    if shared is None or not text:
        return shared
    env_in, envelope = shared
    return env_in.model_copy(update=text), envelope.model_copy(update=text)


def _check_row(row: SourceRow, options: ImportOptions, now: datetime) -> _Valid | Rejected:
    """The row as a validated Record of ``options.agency``, or why it cannot be one."""
    if row.entity is None:
        return Rejected(row.line, row.raw, row.issues)
    entity = dict(row.entity)
    given = entity.get("polex", {})
    if not isinstance(given, dict):
        issue = Issue("polex", "input.dict_type", "polex: must be an object of envelope fields")
        return Rejected(row.line, row.raw, (issue,))
    database = str(options.database)
    if given.get("database", database) != database:
        message = f"polex.database: this file is imported into {database}"
        return Rejected(row.line, row.raw, (Issue("polex.database", "import.database", message),))
    fields = {**options.defaults, **given, "database": database}
    shared = _shared_envelope(fields, options.agency)
    # a model instance in its field is taken as it is, not validated again
    entity["polex"] = fields if shared is None else shared[0]
    try:
        data = RecordInput.model_validate(entity)
    except ValidationError as exc:
        return Rejected(row.line, row.raw, _input_issues(exc))
    if not data.id:
        message = "id: an imported row needs its source id (a re-import finds the record by it)"
        return Rejected(row.line, row.raw, (Issue("id", "import.id_required", message),))
    try:
        envelope = None if shared is None else shared[1]
        record = prepare(data, owner=options.agency, now=now, envelope=envelope)
    except ValidationFailed as exc:
        return Rejected(row.line, row.raw, tuple(exc.result.errors))
    return _Valid(record, review_given=data.polex.review_at is not None)


def _prepare_chunk(context: _Context, chunk: Chunk) -> _Batch:
    """Every row of a chunk checked, and a valid one turned into the rows it writes as a new
    record; runs in a worker process for a large file."""
    options, driver = context.options, context.drivername
    record_insert = bulk.inserter(driver, records, store.RECORD_COLUMNS)
    version_insert = bulk.inserter(driver, record_versions, store.VERSION_COLUMNS)
    key_insert = bulk.inserter(driver, record_keys, index.KEY_COLUMNS)
    ref_insert = bulk.inserter(driver, record_refs, refs.REF_COLUMNS)
    batch: _Batch = []
    now = utcnow()  # one time for a chunk: its timestamps are converted once
    for row in chunk.rows():
        checked = _check_row(row, options, now)
        if isinstance(checked, Rejected):
            batch.append(checked)
            continue
        record = checked.record
        batch.append(
            _Prepared(
                row.line,
                record.id,
                record.source_id,
                record_insert.convert(store.record_values(record)),
                version_insert.convert(store.version_values(record, options.actor, context.reason)),
                key_insert.convert_all(index.key_rows([record])),
                ref_insert.convert_all(refs.ref_rows([record])),
            )
        )
    return batch


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
        ids = list({p.record_id for p in batch})
        rows = self.conn.execute(select(_seen).where(_seen.c.id.in_(ids))).all()
        earlier.update({r.id: r.line for r in rows})
        fresh = []
        for p in batch:
            if p.record_id not in earlier:
                earlier[p.record_id] = p.line
                fresh.append((p.record_id, p.line))
        if fresh:
            bulk.insert_rows(self.conn, _seen, ("id", "line"), fresh)
        return earlier

    def flush(self, chunk: Chunk, batch: _Batch) -> None:
        prepared = [p for p in batch if isinstance(p, _Prepared)]
        first_line = self._earlier_lines(prepared) if prepared else {}
        existing = store.existing_versions(self.conn, [p.record_id for p in prepared])
        new: list[_Prepared] = []
        changed: list[tuple[Record, Record]] = []  # (current, next version)
        for item in batch:
            if isinstance(item, Rejected):
                self.reject(item)
                continue
            line = item.line
            if first_line[item.record_id] != line:
                message = (
                    f"id: {item.source_id} is already used on line {first_line[item.record_id]}"
                )
                self.reject(
                    Rejected(line, chunk.row(line).raw, (Issue("id", "import.duplicate", message),))
                )
                continue
            current = existing.get(item.record_id)
            if current is None:
                new.append(item)
                continue
            if current.deleted:
                message = f"id: record {item.source_id} was deleted; import does not revive it"
                self.reject(
                    Rejected(line, chunk.row(line).raw, (Issue("id", "import.deleted", message),))
                )
                continue
            # a record that exists is compared as a record: checked again, here (re-imports)
            again = _check_row(chunk.row(line), self.options, utcnow())
            assert isinstance(again, _Valid)  # the same row was valid a moment ago
            if _comparable(current, again.review_given) == _comparable(
                again.record, again.review_given
            ):
                self.report.unchanged += 1
            else:
                changed.append((current, _next_version(current, again.record)))
        self.report.imported += len(new)
        self.report.updated += len(changed)
        if self.writing:
            self.write(new, changed)

    def write(self, new: Sequence[_Prepared], changed: Sequence[tuple[Record, Record]]) -> None:
        conn, driver = self.conn, self.conn.engine.url.drivername
        bulk.inserter(driver, records, store.RECORD_COLUMNS).write(
            conn, [p.record_row for p in new]
        )
        versions = [p.version_row for p in new]
        bulk.inserter(driver, record_versions, store.VERSION_COLUMNS).write(conn, versions)
        # in the primary key's order (kind, key, record id): each B-tree page is then written
        # by a run of neighbouring rows instead of by rows all over the table
        keys = sorted(chain.from_iterable(p.key_rows for p in new), key=index.key_order)
        bulk.inserter(driver, record_keys, index.KEY_COLUMNS).write(conn, keys)
        references = [r for p in new for r in p.ref_rows]
        bulk.inserter(driver, record_refs, refs.REF_COLUMNS).write(conn, references)
        versions_after = [record for _, record in changed]
        for record in versions_after:
            store.write_version(conn, record, actor=self.options.actor, reason=self.reason)
        index.replace(conn, changed)
        refs.rewrite(conn, versions_after)
        # matched against other owners' records after the commit, not row by row in the import
        written = [*(p.record_id for p in new), *(r.id for r in versions_after)]
        crossmatch.enqueue(conn, written)
        offers.enqueue(conn, written)


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
    context = _Context(options, f"imported from {report.file}", engine.url.drivername)
    with (
        engine.connect() as conn,
        _import_caches(conn),
        conn.begin() as transaction,
        _collect_per_batch() as collect,
        _checking(reader, context) as batches,
    ):
        _seen.create(conn)
        run = _Run(conn, options, report, on_reject)
        for chunk, batch in batches:
            report.rows += len(batch)
            run.flush(chunk, batch)
            # gone before the collection, which then does not traverse a chunk of live rows
            del batch
            collect()
            if on_progress is not None:
                on_progress(reader.position)
        _seen.drop(conn)
        report.sha256 = reader.sha256
        if report.rejected and not options.partial:
            transaction.rollback()
            report.imported = report.updated = report.unchanged = 0
            return report
        audit.append(
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
def _import_caches(conn: Connection) -> Iterator[None]:
    """Large page caches on this connection while it imports (SQLite only), and the connection
    closed afterwards rather than handed back to the pool: a page cache once grown leaves every
    later transaction on its connection slower, its size set back or not. An identifier lookup
    took 0.46 ms on the connection of an import of 100,000 persons and 100,000 documents and
    0.35 ms on a new one; 1.8 ms against 0.3 ms after a million of each. Set on the driver's
    connection, outside the transaction, since a pragma is no part of one."""
    dbapi = conn.connection.dbapi_connection
    if conn.dialect.name != "sqlite" or dbapi is None:
        yield
        return
    cursor = dbapi.cursor()
    for schema, kib in {"main": SQLITE_CACHE_KIB, "temp": SQLITE_TEMP_CACHE_KIB}.items():
        cursor.execute(f"PRAGMA {schema}.cache_size = -{kib}")
    cursor.close()
    try:
        yield
    finally:
        conn.invalidate()


@contextmanager
def _collect_per_batch() -> Iterator[Callable[[], object]]:
    """Collect garbage once per batch instead of whenever allocations pile up.

    A batch holds thousands of young objects, so the automatic collector runs full collections
    over and over while it is built (a third of the import's time); one young-generation
    collection per batch still frees every cycle a batch leaves behind. It runs once the batch
    is freed (by reference counting): a collection traverses every young object still alive,
    and a batch's rows are most of them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield lambda: gc.collect(1)
    finally:
        if enabled:
            gc.enable()


def _workers(reader: Reader, options: ImportOptions) -> int:
    """Worker processes for this file: none for a small one; else one per CPU (this process
    writes meanwhile, mostly waiting on the database)."""
    if options.workers is not None:
        return options.workers
    if reader.size < PARALLEL_BYTES:
        return 0
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextmanager
def _checking(reader: Reader, context: _Context) -> Iterator[Iterator[tuple[Chunk, _Batch]]]:
    """The file's chunks in order, each with its checked rows: from worker processes that
    work ahead of the writer, or checked here."""
    chunks = reader.chunks(context.options.batch_size)
    workers = _workers(reader, context.options)
    if workers == 0:
        yield ((chunk, _prepare_chunk(context, chunk)) for chunk in chunks)
        return
    # Forked workers start at once, with the model and caches this process has loaded; a
    # spawned one would first import everything again.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    mp = multiprocessing.get_context(method)
    with ProcessPoolExecutor(workers, mp_context=mp, initializer=_worker_started) as pool:
        try:
            yield _ahead(pool, context, chunks, workers * AHEAD)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _worker_started() -> None:
    """A worker never collects what it inherited: a forked copy of this process's database
    connections must not be finalised there (closing one would end the writer's session).
    Its own garbage is collected per chunk (``_prepare_in_worker``)."""
    gc.disable()
    gc.freeze()


def _prepare_in_worker(context: _Context, chunk: Chunk) -> bytes:
    """``_prepare_chunk`` in a worker, pickled here, with garbage collected per chunk like
    the writer does. The batch travels as one bytes object, unpickled only when the writer
    takes it: the batches waiting for the writer then are no objects its per-batch garbage
    collection would traverse, and the worker's own collection runs after the batch is gone."""
    data = pickle.dumps(_prepare_chunk(context, chunk), protocol=pickle.HIGHEST_PROTOCOL)
    gc.collect(1)
    return data


def _take(pending: deque[tuple[Chunk, Future[bytes]]]) -> tuple[Chunk, _Batch]:
    """The oldest pending chunk with its batch; neither the future nor the bytes outlive this
    call, so the writer holds the batch only as long as it uses it."""
    chunk, future = pending.popleft()
    batch: _Batch = pickle.loads(future.result())
    return chunk, batch


def _ahead(
    pool: ProcessPoolExecutor, context: _Context, chunks: Iterator[Chunk], ahead: int
) -> Iterator[tuple[Chunk, _Batch]]:
    pending: deque[tuple[Chunk, Future[bytes]]] = deque()
    for chunk in chunks:
        pending.append((chunk, pool.submit(_prepare_in_worker, context, chunk)))
        if len(pending) > ahead:
            yield _take(pending)
    while pending:
        yield _take(pending)
