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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import Linker, SettingsCreator, block_on
from splink.blocking_rule_library import CustomRule
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
U_MAX_PAIRS = 5e6
EM_MAX_PAIRS = 5e6
# m is learnt twice, on pairs that agree on the name and on pairs that agree on the birth date,
# so each comparison is estimated on pairs that were not chosen for agreeing on it.
EM_BLOCKING = ("name", "birth_date")


def _name() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="name",
        comparison_description="latinised name tokens and their phonetic keys",
        comparison_levels=[
            cll.NullLevel("name"),
            cll.ExactMatchLevel("name", term_frequency_adjustments=True),
            cll.CustomLevel("name_keys_l = name_keys_r", "same phonetic keys"),
            cll.JaroWinklerLevel("name", 0.92),
            cll.ArrayIntersectLevel("name_keys", 2),
            cll.JaroWinklerLevel("name", 0.8),
            cll.ArrayIntersectLevel("name_keys", 1),
            cll.ElseLevel(),
        ],
    )


def _birth() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="birth",
        comparison_description="birth date, in parts",
        comparison_levels=[
            cll.NullLevel("birth_year"),
            cll.ExactMatchLevel("birth_date"),
            cll.CustomLevel(
                "birth_year_l = birth_year_r AND birth_month_l = birth_day_r "
                "AND birth_day_l = birth_month_r",
                "day and month swapped",
            ),
            cll.DamerauLevenshteinLevel("birth_date", 1),
            cll.And(cll.ExactMatchLevel("birth_year"), cll.ExactMatchLevel("birth_month")),
            cll.ExactMatchLevel("birth_year"),
            cll.ElseLevel(),
        ],
    )


def _identifiers() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="identifiers",
        comparison_description="document numbers, phones and e-mails as index keys",
        comparison_levels=[
            cll.NullLevel("id_keys"),
            cll.ArrayIntersectLevel("id_keys", 1),
            cll.DamerauLevenshteinLevel("document", 1),
            cll.ElseLevel(),
        ],
    )


def _address() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="address",
        comparison_description="latinised address tokens",
        comparison_levels=[
            cll.NullLevel("address"),
            cll.CustomLevel("address_l = address_r", "same address"),
            cll.ArrayIntersectLevel("address", 4),
            cll.ArrayIntersectLevel("address", 3),
            cll.ArrayIntersectLevel("address", 2),
            cll.ArrayIntersectLevel("address", 1),
            cll.ElseLevel(),
        ],
    )


def _nationality() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="nationality",
        comparison_levels=[
            cll.NullLevel("nationality"),
            cll.ArrayIntersectLevel("nationality", 1),
            cll.ElseLevel(),
        ],
    )


def blocking_rules() -> list[CustomRule]:
    """The search index's keys as blocking: two name parts that sound alike, a shared
    identifier, one name part and the birth year, or the birth date. Pairs of one owner are
    never compared: a hit is between owners."""
    other = "l.owner <> r.owner"
    return [
        CustomRule(f"l.name_pairs = r.name_pairs AND {other}", arrays_to_explode=["name_pairs"]),
        CustomRule(f"l.id_keys = r.id_keys AND {other}", arrays_to_explode=["id_keys"]),
        CustomRule(
            f"l.name_keys = r.name_keys AND l.birth_year = r.birth_year AND {other}",
            arrays_to_explode=["name_keys"],
        ),
        CustomRule(f"l.birth_date = r.birth_date AND {other}"),
    ]


def settings() -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
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
        additional_columns_to_retain=["owner"],
    )


def train(linker: Linker, u_max_pairs: float = U_MAX_PAIRS, seed: int = 0) -> dict[str, Any]:
    """Estimate the prior, u and m on the linker's own data; returns what training saw."""
    training = linker.training
    training.estimate_probability_two_random_records_match(
        [block_on("name", "birth_date")], recall=DETERMINISTIC_RECALL
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
    """The trained model as JSON-safe data (no NaN or infinities)."""
    return _json_safe(linker.misc.save_model_to_json())


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


@dataclass(frozen=True)
class Level:
    comparison: str
    label: str
    weight: float


def levels(model: dict[str, Any]) -> dict[tuple[str, int], Level]:
    """Each comparison level by (comparison, gamma), with its label and match weight: how a
    predicted pair is explained to the analyst."""
    found = {}
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        non_null = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        for position, level in enumerate(non_null):
            m, u = level.get("m_probability"), level.get("u_probability")
            weight = math.log2(m / u) if m and u else 0.0
            gamma = len(non_null) - 1 - position
            found[(name, gamma)] = Level(name, level.get("label_for_charts", ""), weight)
    return found


@dataclass(frozen=True)
class Pair:
    left: str
    right: str
    probability: float
    features: list[Feature]


PAIR_COLUMNS = ("unique_id_l", "unique_id_r", "match_probability")


def predict(linker: Linker, threshold: float = REVIEW_PROBABILITY) -> SplinkDataFrame:
    return linker.inference.predict(threshold_match_probability=threshold)


def pairs(
    linker: Linker, predictions: SplinkDataFrame, model: dict[str, Any], chunk: int = 5000
) -> Iterator[list[Pair]]:
    """Predicted pairs in chunks, each explained level by level (strongest evidence first)."""
    explain = levels(model)
    comparisons = [c["output_column_name"] for c in model["comparisons"]]
    columns = ", ".join([*PAIR_COLUMNS, *(f"gamma_{c}" for c in comparisons)])
    table = predictions.physical_name
    total = linker.misc.query_sql(f"select count(*) as n from {table}", output_type="pandas")
    count = int(total["n"].iloc[0])
    for offset in range(0, count, chunk):
        frame = linker.misc.query_sql(
            f"select {columns} from {table} order by unique_id_l, unique_id_r "
            f"limit {chunk} offset {offset}",
            output_type="pandas",
        )
        batch = []
        for row in frame.itertuples(index=False):
            values = row._asdict()
            batch.append(
                Pair(
                    left=values["unique_id_l"],
                    right=values["unique_id_r"],
                    probability=float(values["match_probability"]),
                    features=_features(values, comparisons, explain),
                )
            )
        yield batch


def _features(
    values: dict[str, Any], comparisons: Sequence[str], explain: dict[tuple[str, int], Level]
) -> list[Feature]:
    found = []
    for name in comparisons:
        gamma = int(values[f"gamma_{name}"])
        level = explain.get((name, gamma))
        if gamma < 0 or level is None:
            continue
        found.append(Feature(name, round(level.weight, 2), f"{name}: {level.label}"))
    return sorted(found, key=lambda f: -f.score)


def linker(db_api: DatabaseAPI, table: Any, model: dict[str, Any] | None = None) -> Linker:
    """A linker over one frame of comparable columns, untrained or with a saved model."""
    frame = db_api.register(table)
    return Linker(frame, model if model is not None else settings(), log_level=None)
