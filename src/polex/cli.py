"""The `polex` command: operators' and officers' entry point over the same core as the API."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from polex.node.home import Node, NodeError, init_node, open_node

app = typer.Typer(no_args_is_help=True, help="polex: secure police information exchange.")
agency_app = typer.Typer(no_args_is_help=True, help="Agencies of this node.")
user_app = typer.Typer(no_args_is_help=True, help="Users of this node.")
records_app = typer.Typer(no_args_is_help=True, help="Records of this node.")
app.add_typer(agency_app, name="agency")
app.add_typer(user_app, name="user")
app.add_typer(records_app, name="records")

console = Console(stderr=True)

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", envvar="POLEX_HOME", help="Node home directory ($POLEX_HOME)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def node_at(home: Path | None) -> Node:
    try:
        return open_node(home)
    except NodeError as exc:
        raise fail(str(exc)) from exc


def print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


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
        raise fail(str(exc)) from exc
    console.print(f"node [bold]{node.name}[/bold] created in {node.home}")
    console.print(f"certificate fingerprint (SHA-256): {node.keys.certificate_fingerprint()}")


@app.command()
def serve(
    home: HomeOpt = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8400,
    workers: Annotated[int, typer.Option("--workers", min=1)] = 1,
) -> None:
    """Serve the API and the web app (several workers share one PostgreSQL database)."""
    import uvicorn

    node = node_at(home)
    os.environ["POLEX_HOME"] = str(node.home)
    console.print(f"node {node.name} serving on http://{host}:{port}/")
    uvicorn.run(
        "polex.api.server:app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
    )


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
        raise fail("; ".join(e.message for e in result.errors))
    node = node_at(home)
    with node.engine.begin() as conn:
        try:
            agency = agencies.add(conn, code, name, country)
        except agencies.AgencyExists as exc:
            raise fail(str(exc)) from exc
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
    """Register a user; prints the API token once."""
    from polex.access import accounts

    node = node_at(home)
    with node.engine.begin() as conn:
        try:
            new = accounts.add_user(conn, username, agency, role)
        except accounts.AccountError as exc:
            raise fail(str(exc)) from exc
    if as_json:
        print_json({"username": new.user.username, "agency": new.user.agency,
                    "role": new.user.role.value, "token": new.token})
    else:
        typer.echo(new.token)
        console.print(f"user {username} ({role}, {agency}) added; the token above is shown once")


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
            raise fail(str(exc)) from exc
        except RecordNotFound as exc:
            raise fail(f"record {record_id} not found", 1) from exc
        except service.Restricted as exc:
            raise fail(str(exc), 1) from exc
    print_json({"record_id": record.id, **record.entity(),
                "polex": record.envelope.model_dump(mode="json"), "version": record.version})


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
        raise fail(f"kind: one of {', '.join(checks)}")
    result = checks[kind](value.replace("\\n", "\n"))
    print_json(result.to_json())
    raise typer.Exit(0 if result.valid else 1)
