"""SQLite's write lock: a BEGIN that finds it taken waits (in pauses of its own, not SQLite's
busy handler) and gets it once it is released, or gives up with SQLite's own error, wrapped as
SQLAlchemy wraps it, once the busy timeout has passed."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, exc, text

from polex.store import db


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'lock.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    return engine


def _hold_lock(engine: Engine, seconds: float, taken: threading.Event) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        taken.set()
        time.sleep(seconds)


def test_a_begin_gets_the_lock_soon_after_another_transaction_commits(engine: Engine) -> None:
    taken = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(engine, 0.3, taken))
    holder.start()
    taken.wait(5)
    start = time.monotonic()
    with engine.begin() as conn:
        waited = time.monotonic() - start
        conn.execute(text("INSERT INTO t VALUES (2)"))
    holder.join()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM t ORDER BY n")).scalars().all() == [1, 2]
    assert waited > 0.2  # it waited for the holder


def test_a_begin_gives_up_once_the_busy_timeout_has_passed(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT", 0.2)
    taken = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(engine, 1.0, taken))
    holder.start()
    taken.wait(5)
    start = time.monotonic()
    with pytest.raises(exc.OperationalError) as raised, engine.begin():
        pass
    waited = time.monotonic() - start
    holder.join()
    assert isinstance(raised.value.orig, sqlite3.OperationalError)
    assert "locked" in str(raised.value.orig)
    assert 0.15 < waited < 0.6
    with engine.connect() as conn:  # the connection's own busy timeout is restored
        timeout = conn.execute(text("PRAGMA busy_timeout")).scalar_one()
    assert timeout == 200
