"""The `polex` command: operators' and officers' entry point over the same core as the API.

One module per command group, all in this package (as api/ holds the routers): the
capabilities never import their interfaces, and the groups share common.py's error output,
node lookup and JSON."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from polex.cli.access import review_app, user_passwd, user_revoke, user_token, user_totp
from polex.cli.audit import audit_app
from polex.cli.common import HomeOpt, JsonOpt, console, fail, node_at, print_json
from polex.cli.crossmatch import crossmatch_app
from polex.cli.demo import demo_app
from polex.cli.link import link_app
from polex.cli.messaging import message_app, workspace_app
from polex.model.envelope import Accuracy, Database, Handling, Reliability, SubjectCategory
from polex.node.home import NodeError, init_node

app = typer.Typer(no_args_is_help=True, help="polex: secure police information exchange.")
agency_app = typer.Typer(no_args_is_help=True, help="Agencies of this node.")
user_app = typer.Typer(no_args_is_help=True, help="Users of this node.")
records_app = typer.Typer(no_args_is_help=True, help="Records of this node.")
app.add_typer(agency_app, name="agency")
app.add_typer(user_app, name="user")
app.add_typer(records_app, name="records")
app.add_typer(message_app, name="message")
app.add_typer(workspace_app, name="workspace")
app.add_typer(link_app, name="link")
app.add_typer(review_app, name="review")
app.add_typer(audit_app, name="audit")
app.add_typer(crossmatch_app, name="crossmatch")
app.add_typer(demo_app, name="demo")
user_app.command("passwd")(user_passwd)
user_app.command("token")(user_token)
user_app.command("revoke")(user_revoke)
user_app.command("totp")(user_totp)


@app.command()
def init(
    home: Annotated[Path, typer.Argument(help="Directory to create the node in.")],
    name: Annotated[str, typer.Option("--name", help="Node name, e.g. NCB-DE.")],
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="SQLAlchemy URL; default SQLite in HOME."),
    ] = None,
) -> None:
    """Create a node: configuration, keys, CA and database."""
    try:
        node = init_node(home, name, database_url)
    except NodeError as exc:
        fail(str(exc))
    console.print(f"node [bold]{node.name}[/bold] created in {node.home}")
    console.print(f"certificate fingerprint (SHA-256): {node.keys.certificate_fingerprint()}")


@app.command()
def migrate(home: HomeOpt = None) -> None:
    """Bring the node's database to this version's schema (run once after an upgrade, before
    the workers start)."""
    from polex.store.db import create_schema

    node = node_at(home)
    create_schema(node.engine)
    console.print(f"node {node.name}: database at the current schema")


@app.command()
def serve(
    home: HomeOpt = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8400,
    workers: Annotated[int, typer.Option("--workers", min=1)] = 1,
    federation_port: Annotated[
        int | None,
        typer.Option(
            "--federation-port", help="Port for partner nodes (mTLS); default --port + 1."
        ),
    ] = None,
) -> None:
    """Serve the API and the web app (several workers share one PostgreSQL database), and the
    federation port for linked partner nodes."""
    import signal

    import uvicorn

    from polex.federation.server import FederationServer
    from polex.federation.service import Federation

    node = node_at(home)
    os.environ["POLEX_HOME"] = str(node.home)
    federation = FederationServer(Federation(node), host, federation_port or port + 1)
    try:
        federation.start()
    except OSError as exc:
        fail(str(exc))

    def leave(_signum: int, _frame: object) -> None:
        # uvicorn re-raises the signal it stopped on once it is done; leave through `finally`
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, leave)
    console.print(f"node {node.name} serving on http://{host}:{port}/")
    console.print(f"federation port on https://{host}:{federation_port or port + 1}/")
    try:
        uvicorn.run(
            "polex.api.server:app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            # the C HTTP parser and event loop (uvicorn's "standard" extras); no access log
            http="httptools",
            loop="uvloop",
            access_log=False,
            log_level="warning",
        )
    finally:
        federation.stop()


@agency_app.command("add")
def agency_add(
    code: str,
    name: Annotated[str, typer.Option("--name")],
    country: Annotated[str, typer.Option("--country", help="ISO 3166-1 alpha-2.")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register an agency of this node."""
    from polex.model.validation import validate_country
    from polex.store import agencies

    result = validate_country(country)
    if not result.valid:
        fail("; ".join(e.message for e in result.errors))
    node = node_at(home)
    with node.engine.begin() as conn:
        try:
            agency = agencies.add(conn, code, name, country)
        except agencies.AgencyExists as exc:
            fail(str(exc))
    if as_json:
        print_json(agency.__dict__)
    else:
        console.print(f"agency {agency.code} ({agency.country}) added")


@agency_app.command("list")
def agency_list(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """List this node's agencies."""
    from polex.store import agencies

    node = node_at(home)
    with node.engine.begin() as conn:
        rows = agencies.all_agencies(conn)
    if as_json:
        print_json([a.__dict__ for a in rows])
    else:
        for a in rows:
            typer.echo(f"{a.code}\t{a.country}\t{a.name}")


@user_app.command("add")
def user_add(
    username: str,
    agency: Annotated[str, typer.Option("--agency")],
    role: Annotated[str, typer.Option("--role", help="officer|analyst|supervisor|dpo|admin")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a user; prints the API token and the TOTP secret once."""
    from polex.access import accounts
    from polex.audit import log as audit
    from polex.cli.access import operator

    node = node_at(home)
    with node.engine.begin() as conn:
        try:
            new = accounts.add_user(conn, username, agency, role)
        except accounts.AccountError as exc:
            fail(str(exc))
        audit.append(
            conn,
            actor=operator(),
            action="admin.user_add",
            target=username,
            details={"agency": new.user.agency, "role": new.user.role.value},
        )
    if as_json:
        print_json(
            {
                "username": new.user.username,
                "agency": new.user.agency,
                "role": new.user.role.value,
                "token": new.token,
                "totp_secret": new.totp_secret,
            }
        )
    else:
        typer.echo(new.token)
        console.print(f"TOTP secret (for the authenticator app): {new.totp_secret}")
        console.print(f"user {username} ({role}, {agency}) added; token and secret shown once")


@records_app.command("show")
def records_show(
    record_id: str,
    user: Annotated[str, typer.Option("--user", help="Read as this user (policy applies).")],
    purpose: Annotated[str | None, typer.Option("--purpose")] = None,
    home: HomeOpt = None,
) -> None:
    """Print one record as JSON, as USER may see it."""
    from polex.access.accounts import AccountError, principal_for
    from polex.node import records as service
    from polex.store.records import RecordNotFound

    node = node_at(home)
    with node.engine.begin() as conn:
        try:
            principal = principal_for(conn, user, node.name)
            record = service.read_full(conn, principal, record_id, purpose)
        except AccountError as exc:
            fail(str(exc))
        except RecordNotFound:
            fail(f"record {record_id} not found", 1)
        except service.Restricted as exc:
            fail(str(exc), 1)
    print_json(
        {
            "record_id": record.id,
            **record.entity(),
            "polex": record.envelope.model_dump(mode="json"),
            "version": record.version,
        }
    )


@app.command()
def validate(
    kind: Annotated[str, typer.Argument(help="mrz|vin|imo|country")],
    value: str,
) -> None:
    """Check a value with the rules records use; prints JSON, exit 1 when invalid."""
    from polex.model import validation

    checks = {
        "mrz": validation.validate_mrz,
        "vin": validation.validate_vin,
        "imo": validation.validate_imo,
        "country": validation.validate_country,
    }
    if kind not in checks:
        fail(f"kind: one of {', '.join(checks)}")
    result = checks[kind](value.replace("\\n", "\n"))
    print_json(result.to_json())
    raise typer.Exit(0 if result.valid else 1)


@app.command("search")
def search_command(
    text: Annotated[str, typer.Argument(help="Name, identifier, birth date — free text.")],
    purpose: Annotated[str, typer.Option("--purpose", help="Why the search is made.")],
    user: Annotated[str, typer.Option("--user", help="Search as this user (policy applies).")],
    case_ref: Annotated[str | None, typer.Option("--case")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100)] = 20,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Search every database of the node; every search is audited with its purpose."""
    from pydantic import ValidationError

    from polex.access.accounts import AccountError, principal_for
    from polex.search.engine import SearchQuery, search
    from polex.search.views import hit_json
    from polex.store import db

    try:
        query = SearchQuery(q=text, purpose=purpose, case_ref=case_ref, limit=limit)
    except ValidationError as exc:
        fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    node = node_at(home)
    with db.reading(), node.engine.begin() as conn:
        try:
            principal = principal_for(conn, user, node.name)
        except AccountError as exc:
            fail(str(exc))
        hits = [hit_json(h, node.name) for h in search(conn, principal, query)]
    if as_json:
        print_json({"hits": hits})
        return
    from rich.table import Table

    table = Table("score", "database", "owner", "record", "why")
    for hit in hits:
        if hit["restricted"]:
            table.add_row("-", "-", hit["owner"], "hit — contact owner", hit["record_id"])
        else:
            why = "; ".join(e["detail"] for e in hit["explanation"][:3])
            table.add_row(f"{hit['score']:.2f}", hit["database"], hit["owner"], hit["caption"], why)
    Console().print(table)


def _import_progress(size: int) -> tuple[Any, Callable[[int], None]]:
    """A Rich bar over the file's bytes on a terminal; in a log, a line every 5 per cent."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    if console.is_terminal:
        bar = Progress(
            "importing", BarColumn(), DownloadColumn(), TimeRemainingColumn(), console=console
        )
        task = bar.add_task("import", total=size)
        return bar, lambda position: bar.update(task, completed=position)
    step = [-1]

    def log(position: int) -> None:
        percent = 100 * position // max(size, 1)
        if percent // 5 != step[0]:
            step[0] = percent // 5
            console.print(f"progress: {percent}% ({position}/{size} bytes)", highlight=False)

    return contextlib.nullcontext(), log


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="JSON Lines of FtM entities, or CSV (--mapping).")],
    database: Annotated[Database, typer.Option("--database", help="Database the rows go into.")],
    agency: Annotated[str, typer.Option("--agency", help="Agency that owns the records.")],
    mapping: Annotated[
        Path | None, typer.Option("--mapping", help="Column mapping of a CSV file.")
    ] = None,
    handling: Annotated[Handling | None, typer.Option("--handling")] = None,
    subject_category: Annotated[SubjectCategory | None, typer.Option("--subject-category")] = None,
    reliability: Annotated[Reliability | None, typer.Option("--reliability")] = None,
    accuracy: Annotated[Accuracy | None, typer.Option("--accuracy")] = None,
    partial: Annotated[
        bool, typer.Option("--partial", help="Keep the good rows, write the rejected ones out.")
    ] = False,
    rejects: Annotated[
        Path | None,
        typer.Option("--rejects", help="Rejected rows as JSONL (--partial: FILE.rejects.jsonl)."),
    ] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="Import as this user (default import:AGENCY).")
    ] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import a file in one transaction (docs/import.md); exit 1 when rows were rejected."""
    from polex.node import importer
    from polex.node.sources import SourceError, open_source

    flags = {
        "handling": handling,
        "subject_category": subject_category,
        "reliability": reliability,
        "accuracy": accuracy,
    }
    node = node_at(home)
    if partial and rejects is None:
        rejects = file.with_name(file.name + ".rejects.jsonl")
    try:
        reader = open_source(file, mapping)
        with node.engine.begin() as conn:
            actor = importer.import_actor(conn, node.name, agency, user)
        options = importer.ImportOptions(
            database=database,
            agency=agency.upper(),
            actor=actor,
            defaults={k: v.value for k, v in flags.items() if v is not None},
            partial=partial,
        )
        bar, on_progress = _import_progress(reader.size)
        with importer.RejectsFile(rejects) as sink, bar:
            report = importer.import_rows(
                node.engine, reader, options, on_progress=on_progress, on_reject=sink.write
            )
    except (SourceError, importer.ImportRefused) as exc:
        fail(str(exc))
    for r in report.rejects:
        for e in r.errors:
            console.print(
                f"line {r.line}: {e.field} [{e.rule}] {e.message}", markup=False, soft_wrap=True
            )
    if report.rejected > len(report.rejects):
        console.print(f"... {report.rejected - len(report.rejects)} more rejected rows")
    if report.rejected and rejects is not None:
        console.print(f"rejected rows with their errors: {rejects}", soft_wrap=True)
    if report.committed:
        summary = (
            f"imported: {report.imported} new, {report.updated} updated, "
            f"{report.unchanged} unchanged, {report.rejected} rejected"
        )
    else:
        summary = (
            f"nothing imported: {report.rejected} of {report.rows} rows rejected "
            "(fix them, or import the good rows with --partial)"
        )
    console.print(summary, highlight=False, soft_wrap=True)
    if as_json:
        print_json(report.to_json())
    raise typer.Exit(1 if report.rejected and not partial else 0)


@app.command()
def generate(
    directory: Annotated[
        Path, typer.Argument(help="Writes DIR/<AGENCY>.<DATABASE>.jsonl and DIR/truth.jsonl.")
    ],
    size: Annotated[int, typer.Option("--size", min=1, help="Number of records.")] = 10_000,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Deterministic synthetic records for every database, with the ground truth beside them."""
    from rich.progress import Progress

    from polex.demo.generate import write_split

    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("generating", total=size)
        counts = write_split(directory, size, seed, lambda n: progress.update(task, completed=n))
    for name, count in sorted(counts.items()):
        console.print(f"{directory / name}: {count} records")
    console.print(f"ground truth: {directory / 'truth.jsonl'}")
