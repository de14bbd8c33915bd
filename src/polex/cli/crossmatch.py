"""`polex crossmatch run|batch|model`: the operator's cross-matching tools.

``run`` drains the real-time queue (what bulk imports leave behind); ``batch`` cross-matches a
whole database with the trained model (``--train`` trains a new version first); ``model`` shows
the latest model's parameters and writes its match-weights chart."""

from __future__ import annotations

import getpass
import logging
from pathlib import Path
from typing import Annotated

import typer

from polex.cli.common import HomeOpt, JsonOpt, console, fail, node_at, print_json
from polex.model.envelope import Database

crossmatch_app = typer.Typer(
    no_args_is_help=True, help="Cross-matching: hits between owners' records."
)


@crossmatch_app.command("run")
def run(home: HomeOpt = None) -> None:
    """Match queued records (bulk imports queue theirs) against every other owner's records;
    every `polex serve` worker does the same in the background."""
    from polex.match.crossmatch import drain

    node = node_at(home)
    done = drain(node.engine, node.name)
    console.print(f"{done} records matched")


@crossmatch_app.command("batch")
def batch(
    database: Annotated[
        Database | None, typer.Option("--database", help="Only this database (default: all).")
    ] = None,
    train: Annotated[
        bool, typer.Option("--train", help="Train and save a new model version first.")
    ] = False,
    random_pairs: Annotated[
        int | None,
        typer.Option(
            "--random-pairs", min=10_000, help="Random pairs training draws (default 1,000,000)."
        ),
    ] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cross-match every person record of the node with the trained model (docs/crossmatch.md)."""
    from polex.match import batch as batch_match
    from polex.match.linkage import U_MAX_PAIRS

    node = node_at(home)
    logging.getLogger("splink").setLevel(logging.ERROR)
    try:
        report = batch_match.run(
            node.engine,
            node.name,
            database=database.value if database else None,
            train=train,
            actor=f"cli:{getpass.getuser()}",
            u_max_pairs=float(random_pairs or U_MAX_PAIRS),
        )
    except batch_match.BatchRefused as exc:
        fail(str(exc))
    trained = " (trained)" if report.trained else ""
    console.print(
        f"{report.records} records of {report.owners} agencies, model "
        f"v{report.model_version}{trained}: {report.pairs} pairs, "
        f"{report.hits_created} new hits, {report.hits_existing} known, {report.seconds} s",
        highlight=False,
    )
    if as_json:
        print_json(report.to_json())


@crossmatch_app.command("model")
def model(
    version: Annotated[
        int | None, typer.Option("--version", help="A model version (default: latest).")
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write the match-weights chart here (HTML).")
    ] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The batch model's parameters, and its match-weights chart as an offline HTML page."""
    from polex.match import model_store

    node = node_at(home)
    with node.engine.connect() as conn:
        try:
            found = model_store.get(conn, version) if version else model_store.latest(conn)
        except model_store.ModelNotFound as exc:
            fail(str(exc))
    if found is None:
        fail("model: none trained yet (polex crossmatch batch --train)")
    params = model_store.parameters(found)
    if html is not None:
        html.write_text(model_store.chart_html(found), encoding="utf-8")
        console.print(f"match-weights chart: {html}", highlight=False)
    if as_json:
        print_json(params)
        return
    console.print(
        f"model v{found.version}, trained on {found.trained_on} records "
        f"by {found.created_by} at {found.created_at:%Y-%m-%d %H:%M}",
        highlight=False,
    )
    for comparison in params["comparisons"]:
        console.print(f"{comparison['name']}:", highlight=False)
        for level in comparison["levels"]:
            weight = "untrained" if level["weight"] is None else f"{level['weight']:+.2f}"
            console.print(f"  {weight:>9}  {level['label']}", highlight=False, markup=False)
