"""polex's probabilistic linkage model (Fellegi-Sunter, run by Splink) over the comparable
columns of ``polex.match.features``: its settings, its training on the node's own data, and
its predictions.

Nothing here names a backend: the model runs wherever Splink has a database API, DuckDB embedded
in the node for one machine, Spark for a node that outgrows it (docs/crossmatch.md). Training
is unsupervised: u from random pairs (what agreement by chance looks like), m by expectation
maximisation on pairs that share an exact name or an exact birth date (what agreement looks like
among true matches), so each node learns its own data: its scripts, its typists, its gaps."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import Linker, SettingsCreator, block_on
from splink.blocking_rule_library import CustomRule
from splink.internals.blocking_rule_creator import BlockingRuleCreator
from splink.internals.database_api import DatabaseAPI
from splink.internals.splink_dataframe import SplinkDataFrame

from polex.search.score import Feature

# Pairs at or above this match probability become hits for review; chosen from the model
# (nine chances in ten of being one person), not from any labelled data.
REVIEW_PROBABILITY = 0.9
# Share of true matches assumed to agree exactly on name and birth date, or on a document: the
# prior the match probability starts from is estimated from it (Splink's FEBRL example uses
# the same value for its deterministic rules).
DETERMINISTIC_RECALL = 0.8
U_MAX_PAIRS = 1e6
EM_MAX_PAIRS = 5e6
# m is learnt twice, on pairs that agree on the name and on pairs that agree on the birth date,
# so each comparison is estimated on pairs that were not chosen for agreeing on it.
EM_BLOCKING = ("name", "birth_date")
# Birth years as numbers, in SQL every Splink dialect speaks.
_YEARS_APART = "abs(cast(birth_year_l as int) - cast(birth_year_r as int))"


def _as(level: Any, label: str) -> Any:
    """A level with the words the analyst reads in the chart and in each hit's explanation."""
    return level.configure(label_for_charts=label)


def _name() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="name",
        comparison_description="latinised name tokens and their phonetic keys",
        comparison_levels=[
            cll.NullLevel("name"),
            _as(cll.ExactMatchLevel("name", term_frequency_adjustments=True), "same name"),
            cll.CustomLevel("name_keys_l = name_keys_r", "same phonetic keys"),
            _as(cll.JaroWinklerLevel("name", 0.92), "names almost alike"),
            _as(cll.ArrayIntersectLevel("name_keys", 2), "two parts sound alike"),
            _as(
                cll.And(
                    cll.ArrayIntersectLevel("name_keys", 1),
                    cll.CustomLevel("name_initials_l = name_initials_r"),
                ),
                "one part sounds alike, the initials agree",
            ),
            _as(cll.JaroWinklerLevel("name", 0.8), "names alike"),
            _as(cll.ArrayIntersectLevel("name_keys", 1), "one part sounds alike"),
            _as(
                cll.Or(
                    cll.JaroWinklerLevel("name_first", 0.9), cll.JaroWinklerLevel("name_last", 0.9)
                ),
                "first or last part alike",
            ),
            _as(cll.ElseLevel(), "different"),
        ],
    )


def _birth() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="birth",
        comparison_description="birth date, in parts",
        comparison_levels=[
            cll.NullLevel("birth_year"),
            _as(cll.ExactMatchLevel("birth_date"), "same date"),
            cll.CustomLevel(
                "birth_year_l = birth_year_r AND birth_month_l = birth_day_r "
                "AND birth_day_l = birth_month_r",
                "day and month swapped",
            ),
            _as(cll.DamerauLevenshteinLevel("birth_date", 1), "one digit apart"),
            cll.CustomLevel(
                "birth_month_l = birth_month_r AND birth_day_l = birth_day_r "
                f"AND {_YEARS_APART} = 1",
                "year one apart",
            ),
            cll.CustomLevel(
                "birth_year_l = birth_year_r AND (birth_month_l IS NULL OR birth_month_r IS NULL)",
                "same year, one side gives only the year",
            ),
            _as(
                cll.And(cll.ExactMatchLevel("birth_year"), cll.ExactMatchLevel("birth_month")),
                "same year and month",
            ),
            _as(cll.ExactMatchLevel("birth_year"), "same year"),
            _as(cll.ElseLevel(), "different"),
        ],
    )


def _identifiers() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="identifiers",
        comparison_description="document numbers, phones and e-mails as index keys",
        comparison_levels=[
            cll.NullLevel("id_keys"),
            _as(cll.ArrayIntersectLevel("id_keys", 1), "an identifier shared"),
            _as(cll.DamerauLevenshteinLevel("document", 1), "document number one edit apart"),
            _as(cll.ElseLevel(), "different"),
        ],
    )


def _address() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="address",
        comparison_description="latinised address tokens",
        comparison_levels=[
            cll.NullLevel("address"),
            cll.CustomLevel("address_l = address_r", "same address"),
            _as(cll.ArrayIntersectLevel("address", 6), "6 words shared"),
            _as(
                cll.And(
                    cll.ArrayIntersectLevel("address", 4),
                    cll.CustomLevel("address_numbers_l = address_numbers_r"),
                ),
                "4 words and the numbers shared",
            ),
            _as(cll.ArrayIntersectLevel("address", 4), "4 words shared"),
            cll.CustomLevel(
                "address_numbers_l = address_numbers_r", "same house and postal numbers"
            ),
            _as(cll.ArrayIntersectLevel("address", 3), "3 words shared"),
            _as(cll.ArrayIntersectLevel("address", 2), "2 words shared"),
            _as(cll.ArrayIntersectLevel("address", 1), "1 word shared"),
            _as(cll.ElseLevel(), "different"),
        ],
    )


def _nationality() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="nationality",
        comparison_levels=[
            cll.NullLevel("nationality"),
            _as(cll.ArrayIntersectLevel("nationality", 1), "a nationality shared"),
            _as(cll.ElseLevel(), "different"),
        ],
    )


def blocking_rules() -> list[BlockingRuleCreator | dict[str, Any]]:
    """The search index's keys as blocking, each narrowed by what a pair that could reach the
    review probability must also share, so candidate pairs grow with the matches, not with the
    square of the records (a name part and a birth year alone pair thousands of strangers at a
    million records): two name parts that sound alike and a birth date near; a shared
    identifier; one name part, the birth year and the same, swapped or year-only date; one
    name part and a house or postal number; the birth date and the initials, or a house or
    postal number; the whole address."""
    # a birth date typed wrong keeps its year near, or its day and month
    birth_near = (
        "(l.birth_year IS NULL OR r.birth_year IS NULL "
        "OR abs(cast(l.birth_year as int) - cast(r.birth_year as int)) <= 1 "
        "OR (l.birth_month = r.birth_month AND l.birth_day = r.birth_day))"
    )
    same_birth = (
        "(l.birth_date = r.birth_date OR l.birth_month IS NULL OR r.birth_month IS NULL "
        "OR (l.birth_month = r.birth_day AND l.birth_day = r.birth_month))"
    )
    return [
        CustomRule(
            f"l.name_pairs = r.name_pairs AND {birth_near}", arrays_to_explode=["name_pairs"]
        ),
        CustomRule("l.id_keys = r.id_keys", arrays_to_explode=["id_keys"]),
        CustomRule(
            f"l.name_keys = r.name_keys AND l.birth_year = r.birth_year AND {same_birth}",
            arrays_to_explode=["name_keys"],
        ),
        # a birth date replaced altogether: a name part and a house or postal number
        CustomRule(
            "l.name_keys = r.name_keys AND l.address_numbers = r.address_numbers",
            arrays_to_explode=["name_keys", "address_numbers"],
        ),
        # a name typed beyond its phonetic keys: the birth date and the initials, or the
        # birth date and a house or postal number
        block_on("birth_date", "name_initials"),
        CustomRule(
            "l.birth_date = r.birth_date AND l.address_numbers = r.address_numbers",
            arrays_to_explode=["address_numbers"],
        ),
        block_on("address"),
    ]


def settings() -> SettingsCreator:
    return SettingsCreator(
        # one input table per owner: only pairs of different owners are compared, and the
        # prior is estimated over those pairs alone
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=[
            _name(),
            _birth(),
            _nationality(),
            cl.ExactMatch("gender"),
            _identifiers(),
            _address(),
        ],
        blocking_rules_to_generate_predictions=blocking_rules(),
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=False,
    )


def train(linker: Linker, u_max_pairs: float = U_MAX_PAIRS, seed: int = 0) -> dict[str, Any]:
    """Estimate the prior, u and m on the linker's own data; returns what training saw."""
    training = linker.training
    training.estimate_probability_two_random_records_match(
        [block_on("name", "birth_date"), block_on("document")], recall=DETERMINISTIC_RECALL
    )
    training.estimate_u_using_random_sampling(max_pairs=u_max_pairs, seed=seed)
    for rule in EM_BLOCKING:
        training.estimate_parameters_using_expectation_maximisation(
            block_on(rule), estimate_without_term_frequencies=True, max_pairs=EM_MAX_PAIRS
        )
    return {
        "deterministic_recall": DETERMINISTIC_RECALL,
        "u_max_pairs": u_max_pairs,
        "em_max_pairs": EM_MAX_PAIRS,
        "em_blocked_on": list(EM_BLOCKING),
    }


def model_dict(linker: Linker) -> dict[str, Any]:
    """The trained model: settings, comparisons and every m and u, as Splink saves it."""
    return dict(linker.misc.save_model_to_json())


# What a trained model learnt, level by level; everything else is rendered from the code.
_LEARNT = ("m_probability", "u_probability")


class ModelMismatch(ValueError):
    """A saved model whose comparisons are not the ones this code builds (another
    FEATURES_VERSION): it cannot be rendered for another backend, only retrained."""


def for_dialect(model: dict[str, Any], dialect: str) -> dict[str, Any]:
    """A saved model as SQL of another backend (``duckdb``, ``spark``, ...): the comparisons
    and blocking rules rendered from polex's own creators for that dialect, with the saved
    model's prior and every level's m and u. A model keeps the SQL of the backend it was
    trained on (Jaro-Winkler is ``jaro_winkler_similarity`` in DuckDB and a Scala UDF on
    Spark), so this is how one trained model runs on either."""
    rendered = settings().create_settings_dict(dialect)
    saved = model["comparisons"]
    if [c["output_column_name"] for c in saved] != [
        c["output_column_name"] for c in rendered["comparisons"]
    ]:
        raise ModelMismatch("model: its comparisons are not this version's; retrain it")
    for mine, theirs in zip(rendered["comparisons"], saved, strict=True):
        ours, learnt = mine["comparison_levels"], theirs["comparison_levels"]
        if [lv.get("label_for_charts") for lv in ours] != [
            lv.get("label_for_charts") for lv in learnt
        ]:
            raise ModelMismatch(
                f"model: comparison {mine['output_column_name']!r} has other levels; retrain it"
            )
        for level, trained in zip(ours, learnt, strict=True):
            level.update({k: trained[k] for k in _LEARNT if k in trained})
    rendered["probability_two_random_records_match"] = model["probability_two_random_records_match"]
    rendered["sql_dialect"] = dialect
    return rendered


@dataclass(frozen=True)
class Level:
    label: str
    weight: float


def levels(model: dict[str, Any]) -> dict[str, list[Level]]:
    """Each comparison's non-null levels with their labels and match weights (log2 m/u)."""
    found: dict[str, list[Level]] = {}
    for comparison in model["comparisons"]:
        kept = found.setdefault(comparison["output_column_name"], [])
        for level in comparison["comparison_levels"]:
            m, u = level.get("m_probability"), level.get("u_probability")
            if level.get("is_null_level") or not m or not u:
                continue
            kept.append(Level(level.get("label_for_charts", ""), math.log2(m / u)))
    return found


def _label(weight: float, candidates: list[Level]) -> str | None:
    """The level a predicted weight comes from: Splink keeps the weight, not the level."""
    best = min(candidates, key=lambda lv: abs(lv.weight - weight), default=None)
    return best.label if best is not None and abs(best.weight - weight) < 1e-6 else None


@dataclass(frozen=True)
class Pair:
    left: str
    right: str
    probability: float
    features: list[Feature]


def predict(linker: Linker, threshold: float = REVIEW_PROBABILITY) -> SplinkDataFrame:
    return linker.inference.predict(threshold_match_probability=threshold)


def pairs(
    linker: Linker, predictions: SplinkDataFrame, model: dict[str, Any], chunk: int = 5000
) -> Iterator[list[Pair]]:
    """Predicted pairs in chunks, each explained comparison by comparison (strongest first)."""
    explain = levels(model)
    table = predictions.physical_name
    total = linker.misc.query_sql(f"select count(*) as n from {table}", output_type="pandas")
    for offset in range(0, int(total["n"].iloc[0]), chunk):
        frame = linker.misc.query_sql(
            f"select * from {table} order by unique_id_l, unique_id_r "
            f"limit {chunk} offset {offset}",
            output_type="pandas",
        )
        yield [
            Pair(
                left=str(values["unique_id_l"]),
                right=str(values["unique_id_r"]),
                probability=float(values["match_probability"]),
                features=_features(values, explain),
            )
            for values in frame.to_dict("records")
        ]


def _features(values: dict[str, Any], explain: dict[str, list[Level]]) -> list[Feature]:
    found = []
    for name, candidates in explain.items():
        weight = float(values.get(f"mw_{name}") or 0.0)
        label = _label(weight, candidates)
        if label is None:
            continue  # the comparison had nothing to compare (a value missing on one side)
        weight += float(values.get(f"mw_tf_adj_{name}") or 0.0)
        found.append(Feature(name, round(weight, 2), f"{name}: {label}"))
    return sorted(found, key=lambda f: -f.score)


def linker(db_api: DatabaseAPI, table: pa.Table, model: dict[str, Any] | None = None) -> Linker:
    """A linker over the comparable columns, one input per owner; untrained, or a saved model
    rendered for this backend's SQL (whichever backend trained it)."""
    owners = sorted(set(table.column("owner").to_pylist()))
    frames = [
        db_api.register(
            table.filter(pc.equal(table["owner"], owner)),
            table_name=f"polex_owner_{i}",
            dataset_display_name=owner,
        )
        for i, owner in enumerate(owners)
    ]
    if model is not None:
        model = for_dialect(model, db_api.sql_dialect.sql_dialect_str)
    return Linker(frames, model if model is not None else settings(), log_level=None)
