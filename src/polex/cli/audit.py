"""`polex audit verify|checkpoint|report|entries`: the node operator's and the DPO's tools.

Everything here reads the database directly, as the operator of the node; each command is
itself an audit entry (``cli:<login>``)."""

from __future__ import annotations

import getpass
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from polex.cli.common import HomeOpt, JsonOpt, console, fail, node_at, print_json

if TYPE_CHECKING:
    pass

audit_app = typer.Typer(no_args_is_help=True, help="The tamper-evident audit trail.")


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _moment(text: str | None, option: str) -> datetime | None:
    """A date (midnight UTC) or an ISO timestamp (UTC when it names no zone)."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option}: a date YYYY-MM-DD or an ISO timestamp")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@audit_app.command("verify")
def verify_command(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Recompute the chain and check the signed checkpoints; exit 1 naming the first bad
    entry when anything was changed, removed or reordered."""
    from polex.audit import log
    from polex.audit.verify import verify

    node = node_at(home)
    with node.engine.begin() as conn:
        result = verify(conn, node.name, node.keys.verify_key())
        first = result.first
        log.append(
            conn,
            actor=_actor(),
            action="audit.verify",
            details={
                "ok": result.ok,
                "entries": result.entries,
                "first_bad_seq": first.seq if first else None,
            },
        )
    if as_json:
        print_json(result.to_json())
    if first is None:
        console.print(
            f"audit chain intact: {result.entries} entries, {result.checkpoints} signed"
            f" checkpoints, head {result.last_seq} {result.last_hash[:16]}…",
            markup=False,
        )
        return
    for p in sorted(result.problems, key=lambda p: p.seq):
        console.print(f"entry {p.seq}: [{p.rule}] {p.message}", markup=False, highlight=False)
    console.print(f"FIRST BAD ENTRY: {first.seq}", markup=False, highlight=False)
    raise typer.Exit(1)


@audit_app.command("checkpoint")
def checkpoint_command(
    every: Annotated[
        int | None,
        typer.Option("--every", min=1, help="Only if this many entries came since the last."),
    ] = None,
    home: HomeOpt = None,
) -> None:
    """Sign the chain's head with the node key (run it from cron with --every)."""
    from polex.audit import checkpoint

    node = node_at(home)
    with node.engine.begin() as conn:
        if every is not None and not checkpoint.due(conn, every):
            console.print("no checkpoint due")
            return
        made = checkpoint.create(conn, node.name, node.keys.signing_key(), _actor())
    if made is None:
        console.print("the audit trail is empty: nothing to sign")
    else:
        console.print(f"checkpoint at entry {made.seq} ({made.hash[:16]}…) signed", markup=False)


@audit_app.command("report")
def report_command(
    kind: Annotated[
        str,
        typer.Argument(help="accesses|searches_without_case|anomalous_users|due_for_review"),
    ],
    since: Annotated[str | None, typer.Option("--since", help="Default: 30 days ago.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Exclusive; default now.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="json or csv")] = "json",
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
    home: HomeOpt = None,
) -> None:
    """A DPO report over a period, as JSON or CSV (to stdout or --output)."""
    from polex.audit import log, reports

    if fmt not in ("json", "csv"):
        fail("--format: json or csv")
    end = _moment(until, "--until") or datetime.now(UTC)
    start = _moment(since, "--since") or end - timedelta(days=30)
    node = node_at(home)
    with node.engine.begin() as conn:
        try:
            result = reports.run(conn, kind, start, end)
        except reports.ReportError as exc:
            fail(str(exc))
        log.append(
            conn,
            actor=_actor(),
            action="audit.report",
            target=kind,
            details={"since": start, "until": end, "rows": len(result.rows), "format": fmt},
        )
    text = (
        result.to_csv()
        if fmt == "csv"
        else json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n"
    )
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"{len(result.rows)} rows written to {output}", markup=False)


@audit_app.command("entries")
def entries_command(
    actor: Annotated[str | None, typer.Option("--actor")] = None,
    agency: Annotated[str | None, typer.Option("--agency")] = None,
    action: Annotated[str | None, typer.Option("--action", help='"message." = family')] = None,
    target: Annotated[str | None, typer.Option("--target")] = None,
    since: Annotated[str | None, typer.Option("--since")] = None,
    until: Annotated[str | None, typer.Option("--until")] = None,
    after_seq: Annotated[int, typer.Option("--after", min=0)] = 0,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 100,
    home: HomeOpt = None,
) -> None:
    """Print entries as JSON Lines, in sequence order."""
    from polex.audit import entries, log

    node = node_at(home)
    with node.engine.begin() as conn:
        found = entries.query(
            conn,
            actor=actor,
            agency=agency,
            action=action,
            target=target,
            since=_moment(since, "--since"),
            until=_moment(until, "--until"),
            after_seq=after_seq,
            limit=limit,
        )
        log.append(
            conn,
            actor=_actor(),
            action="audit.read",
            details={"after_seq": after_seq, "seqs": [e.seq for e in found]},
        )
    for e in found:
        sys.stdout.write(json.dumps(e.to_json(), ensure_ascii=False) + "\n")
