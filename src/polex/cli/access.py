"""`polex review …` and the account commands of `polex user …` (passwd, token, revoke, totp).

Review commands act as a named supervisor (``--user`` or $POLEX_USER), so the same rules and
audit apply as through the API; account commands are the operator's, audited as
``cli:<login>``."""

from __future__ import annotations

import getpass
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from polex.access.review import Queue
from polex.cli.common import HomeOpt, JsonOpt, UserOpt, console, fail, node_at, print_json

if TYPE_CHECKING:
    from polex.access.principal import Principal
    from polex.node.home import Node

review_app = typer.Typer(no_args_is_help=True, help="Supervisor review and retention.")


def operator() -> str:
    """How the CLI's operator is named in the audit trail."""
    return f"cli:{getpass.getuser()}"


def _as(node: Node, user: str) -> Principal:
    from polex.access.accounts import AccountError, principal_for

    with node.engine.begin() as conn:
        try:
            return principal_for(conn, user, node.name)
        except AccountError as exc:
            fail(str(exc))


def _decide(home: Path | None, user: str, action: Any, *args: Any) -> Any:
    """Run a review use case as ``user``; refusals exit 2 (change the request), a record not
    found or not the user's to review exits 1."""
    from polex.access.policy import PolicyRefused
    from polex.access.review import ReviewRefused
    from polex.store.records import RecordNotFound

    node = node_at(home)
    principal = _as(node, user)
    try:
        with node.engine.begin() as conn:
            return action(conn, principal, *args)
    except (PolicyRefused, ReviewRefused) as exc:
        fail(f"{exc.message} [{exc.rule}]")
    except RecordNotFound as exc:
        fail(f"record {exc} not found", 1)


@review_app.command("list")
def review_list(
    user: UserOpt,
    queue: Annotated[Queue, typer.Option("--queue")] = Queue.pending,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Records waiting for review: your agency's, or every agency's for the compliance unit."""
    from polex.access import review
    from polex.audit import log as audit

    def run(conn: Any, principal: Principal) -> list[review.Item]:
        items = review.queue(conn, principal, queue)
        audit.append(
            conn,
            actor=principal.actor,
            agency=principal.agency,
            action="review.list",
            details={"queue": queue.value, "records": [i.record_id for i in items]},
        )
        return items

    items = _decide(home, user, run)
    if as_json:
        print_json(
            [{**i.__dict__, "missing_identifiers": list(i.missing_identifiers)} for i in items]
        )
        return
    for i in items:
        missing = f"\tmissing {', '.join(i.missing_identifiers)}" if i.missing_identifiers else ""
        typer.echo(
            f"{i.record_id}\t{i.owner}\t{i.database}\t{i.status}\t{i.review_at}\t{i.caption}"
            + missing
        )


@review_app.command("approve")
def review_approve(
    record_id: str,
    user: UserOpt,
    legal_basis: Annotated[str, typer.Option("--legal-basis", help="Law, warrant, decision.")],
    identifiers_checked: Annotated[
        bool, typer.Option("--identifiers-checked", help="The identifiers are checked.")
    ] = False,
    article3_clear: Annotated[
        bool,
        typer.Option(
            "--article3-clear", help="No predominantly political/military/religious/racial case."
        ),
    ] = False,
    review_at: Annotated[str | None, typer.Option("--review-at", help="YYYY-MM-DD")] = None,
    home: HomeOpt = None,
) -> None:
    """Approve a record for sharing until its review date."""
    from polex.access import review

    checklist = review.Checklist(
        identifiers_checked=identifiers_checked,
        legal_basis=legal_basis,
        article3_clear=article3_clear,
    )
    when = _date(review_at, "--review-at") if review_at else None
    record = _decide(home, user, review.approve, record_id, checklist, when)
    console.print(f"record {record.id} approved until {record.envelope.review_at}")


@review_app.command("reject")
def review_reject(
    record_id: str,
    user: UserOpt,
    reason: Annotated[str, typer.Option("--reason")],
    home: HomeOpt = None,
) -> None:
    """Refuse to share a record; the owner sees why."""
    from polex.access import review

    record = _decide(home, user, review.reject, record_id, reason)
    console.print(f"record {record.id} rejected")


@review_app.command("purge")
def review_purge(
    record_id: str,
    user: UserOpt,
    reason: Annotated[str, typer.Option("--reason")],
    home: HomeOpt = None,
) -> None:
    """Purge a record: a tombstone, out of the index, in the audit trail."""
    from polex.access import review

    record = _decide(home, user, review.purge, record_id, reason)
    console.print(f"record {record.id} purged (version {record.version} is its tombstone)")


@review_app.command("unit")
def review_unit(
    agency: Annotated[str | None, typer.Argument(help="Agency to designate.")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Withdraw the designation.")] = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Designate the node's compliance unit (its supervisors review every agency's records);
    without AGENCY, list the designated agencies."""
    from polex.access import review

    node = node_at(home)
    with node.engine.begin() as conn:
        if agency:
            try:
                review.designate(conn, agency, actor=operator(), remove=remove)
            except review.ReviewRefused as exc:
                fail(exc.message)
        units = review.compliance_agencies(conn)
    if as_json:
        print_json(units)
    else:
        for code in units:
            typer.echo(code)


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{option}: a date YYYY-MM-DD")


def user_passwd(
    username: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    home: HomeOpt = None,
) -> None:
    """Set a user's password (it also lifts a lock after failed logins)."""
    from polex.access import accounts

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("new password: ")
        if getpass.getpass("again: ") != password:
            fail("password: the two entries differ")
    node = node_at(home)
    try:
        with node.engine.begin() as conn:
            accounts.set_password(conn, username, password, actor=operator())
    except accounts.AccountError as exc:
        fail(str(exc))
    console.print(f"password of {username} set")


def user_token(
    username: str,
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="Repeat; default every scope.")
    ] = None,
    days: Annotated[int, typer.Option("--days", min=1, max=3650)] = 365,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Issue an API token for a system acting as USER; printed once."""
    from polex.access import accounts

    scopes = tuple(scope) if scope else accounts.DEFAULT_SCOPES
    node = node_at(home)
    try:
        with node.engine.begin() as conn:
            token = accounts.issue_user_token(
                conn, username, actor=operator(), scopes=scopes, expires_in=timedelta(days=days)
            )
    except accounts.AccountError as exc:
        fail(str(exc))
    if as_json:
        print_json({"username": username, "token": token, "scopes": sorted(scopes), "days": days})
    else:
        typer.echo(token)
        console.print(f"token for {username} ({', '.join(sorted(scopes))}, {days} days)")


def user_revoke(
    username: str,
    kind: Annotated[
        str | None, typer.Option("--kind", help="api (tokens) or web (sessions); default both.")
    ] = None,
    home: HomeOpt = None,
) -> None:
    """Revoke a user's tokens and end their web sessions."""
    from polex.access import accounts

    if kind not in (None, "api", "web"):
        fail("--kind: api or web")
    node = node_at(home)
    try:
        with node.engine.begin() as conn:
            count = accounts.revoke_user_tokens(conn, username, actor=operator(), kind=kind)
    except accounts.AccountError as exc:
        fail(str(exc))
    console.print(f"{count} tokens of {username} revoked")


def user_totp(username: str, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Give a user a new second-factor secret (a lost phone); printed once."""
    from polex.access import accounts, totp

    node = node_at(home)
    try:
        with node.engine.begin() as conn:
            secret = accounts.reset_totp(conn, username, actor=operator())
    except accounts.AccountError as exc:
        fail(str(exc))
    uri = totp.provisioning_uri(secret, username, node.name)
    if as_json:
        print_json({"username": username, "totp_secret": secret, "totp_uri": uri})
    else:
        typer.echo(secret)
        console.print(f"authenticator URI: {uri}")
