"""`polex link offer|accept|status`: how operators agree on links and watch them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from polex.cli.common import HomeOpt, JsonOpt, console, fail, node_at, print_json

if TYPE_CHECKING:
    from polex.federation.sharing import Sharing

link_app = typer.Typer(no_args_is_help=True, help="Links to partner nodes (federation).")
ShareOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--share",
        help="DATABASE=full|hit (repeatable; all=... for every database). "
        "Default: hit/no-hit on every database.",
    ),
]
CrossmatchOpt = Annotated[
    bool,
    typer.Option(
        "--crossmatch/--no-crossmatch", help="Cross-node matching of new records with the partner."
    ),
]


def _sharing(items: list[str] | None, crossmatch: bool) -> Sharing:
    from polex.federation.sharing import parse_shares

    try:
        sharing = parse_shares(items or [])
    except ValueError as exc:
        fail(str(exc))
    sharing.crossmatch = crossmatch
    return sharing


@link_app.command("offer")
def offer(
    endpoint: Annotated[
        str, typer.Option("--endpoint", help="https://HOST:PORT where our federation port is.")
    ],
    share: ShareOpt = None,
    crossmatch: CrossmatchOpt = True,
    home: HomeOpt = None,
) -> None:
    """Print a signed link offer (JSON) for a partner's operator to accept."""
    from polex.federation.agreement import make_offer
    from polex.federation.errors import LinkError

    node = node_at(home)
    try:
        document = make_offer(node, endpoint, _sharing(share, crossmatch))
    except LinkError as exc:
        fail(exc.message)
    print_json(document)
    console.print(
        f"offer from {node.name}; certificate fingerprint (SHA-256) "
        f"{document['fingerprint']}: read it to the partner's operator"
    )


@link_app.command("accept")
def accept(
    offer_file: Annotated[Path, typer.Argument(help="The partner's offer (from `link offer`).")],
    share: ShareOpt = None,
    crossmatch: CrossmatchOpt = True,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Accept a partner's offer: pin its certificates and grant it what --share says (default:
    what this node's latest offer declared)."""
    from polex.federation.agreement import accept_offer
    from polex.federation.errors import LinkError

    node = node_at(home)
    try:
        text = offer_file.read_bytes()
    except OSError as exc:
        fail(f"offer: {exc}")
    ours = _sharing(share, crossmatch) if share or not crossmatch else None
    with node.engine.begin() as conn:
        try:
            link = accept_offer(conn, node.name, text, "operator", ours)
        except LinkError as exc:
            fail(exc.message)
    summary = {
        "node": link.node,
        "endpoint": link.endpoint,
        "fingerprint": link.fingerprint,
        "certificate_expires": link.certificate_expires.isoformat(),
        "ours": link.ours.to_json(),
        "theirs": link.theirs.to_json(),
    }
    if as_json:
        print_json(summary)
    else:
        console.print(
            f"link to {link.node} at {link.endpoint} accepted; pinned certificate "
            f"{link.fingerprint}",
            highlight=False,
        )


@link_app.command("share")
def share_with(
    partner: Annotated[str, typer.Argument(help="The partner node's name.")],
    share: ShareOpt = None,
    crossmatch: CrossmatchOpt = True,
    home: HomeOpt = None,
) -> None:
    """Change what this node shares with a linked partner."""
    from polex.federation.errors import LinkError
    from polex.federation.links import set_grant

    node = node_at(home)
    with node.engine.begin() as conn:
        try:
            link = set_grant(conn, partner, _sharing(share, crossmatch), "operator")
        except LinkError as exc:
            fail(exc.message)
    print_json({"node": link.node, "ours": link.ours.to_json()})


@link_app.command("status")
def status(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Each link: up/down, queue depth, last contact, certificate expiry."""
    from polex.federation.status import link_status

    node = node_at(home)
    with node.engine.connect() as conn:
        statuses = link_status(conn)
    if as_json:
        print_json(
            {
                "node": node.name,
                "certificate_expires": node.keys.certificate_expires().isoformat(),
                "links": [s.to_json() for s in statuses],
            }
        )
        return
    from rich.table import Table

    table = Table("partner", "state", "queue", "last contact", "certificate expires", "error")
    for s in statuses:
        table.add_row(
            s.node,
            s.state,
            str(s.queue_depth),
            s.last_contact_at.isoformat(timespec="seconds") if s.last_contact_at else "-",
            s.certificate_expires.date().isoformat(),
            s.last_error or "",
        )
    Console().print(table)
    console.print(
        f"this node's certificate expires {node.keys.certificate_expires().date().isoformat()}"
    )
