"""The batch model on Spark (local mode, in this process's JVM): a model trained and saved on
DuckDB, run by Spark over the same node, finds exactly the links DuckDB found. This is the
path a node takes when its records outgrow one machine (docs/crossmatch.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from splink.backends.spark import SparkAPI, similarity_jar_location
from sqlalchemy import select
from test_batch import U_PAIRS, hit_count, hit_pairs, planted

from polex.match import batch
from polex.match.tables import hits
from polex.node.home import Node, init_node


def hit_scores(node: Node) -> dict[tuple[str, str], float]:
    with node.engine.connect() as conn:
        rows = conn.execute(select(hits.c.record_a, hits.c.record_b, hits.c.score)).all()
    return {(r.record_a, r.record_b): r.score for r in rows}


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    session = (
        SparkSession.builder.master("local[1]")
        .appName("polex-crossmatch-test")
        .config("spark.jars", similarity_jar_location())
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    session.sparkContext.setCheckpointDir(str(tmp_path_factory.mktemp("spark-checkpoints")))
    yield session
    session.stop()


@pytest.fixture
def sqlite_node(tmp_path: Path) -> Iterator[Node]:
    """Spark reads the exported frame, never the node's database: one database suffices."""
    node = init_node(tmp_path / "home", "TEST-NODE", f"sqlite:///{tmp_path / 'polex.db'}")
    yield node
    node.engine.dispose()


@pytest.mark.timeout(1200)
def test_saved_model_finds_the_same_links_on_spark(
    spark: SparkSession, sqlite_node: Node, tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()
    planted(tmp_path, sqlite_node)
    trained = batch.run(sqlite_node.engine, sqlite_node.name, train=True, u_max_pairs=U_PAIRS)
    assert trained.pairs > 20
    found, scores = hit_pairs(sqlite_node), hit_scores(sqlite_node)

    on_spark = SparkAPI(
        spark_session=spark, num_partitions_on_repartition=1, break_lineage_method="persist"
    )
    again = batch.run(sqlite_node.engine, sqlite_node.name, db_api=on_spark)
    assert not again.trained and again.model_version == trained.model_version
    assert (again.pairs, again.hits_created, again.hits_existing) == (
        trained.pairs,
        0,
        trained.pairs,
    )
    assert hit_pairs(sqlite_node) == found and hit_count(sqlite_node) == trained.hits_created
    # a re-run refreshes each pending hit's score: Spark's probabilities are DuckDB's
    assert hit_scores(sqlite_node) == scores
