"""The work every `polex serve` worker runs beside its requests: chaining the audit entries the
requests wrote (and, on PostgreSQL, vacuuming the queue they wait in), signing a checkpoint of
the chain every few minutes, and draining the match queue so that the records of an import
reach both owners as hits without anyone running `polex crossmatch run`.

Workers share nothing but the database, so any number of them may run this side by side:
chaining and signing lock the chain head, and draining claims queued rows (SKIP LOCKED on
PostgreSQL, the write lock on SQLite), so no entry is chained twice and no record matched
twice; a worker killed mid-batch leaves its batch for the next one."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine

from polex.audit import checkpoint
from polex.audit import log as audit
from polex.match.crossmatch import drain
from polex.node.home import Node

log = logging.getLogger(__name__)

CHAIN_INTERVAL = 0.5  # seconds an entry may wait unchained, protected by permissions only
CHECKPOINT_INTERVAL = 600.0  # seconds between signed checkpoints while entries come
MATCH_INTERVAL = 2.0  # seconds between looks at an empty match queue
MATCH_BATCH = 50  # records matched per transaction: short write locks beside the API's own


class Periodic:
    """A daemon thread calling ``work`` every ``interval`` seconds until stopped; a failure is
    logged and the next round tries again (what was not done stays in the database). ``work``
    is given the stop event, so that long work can end early when the server shuts down."""

    def __init__(
        self, name: str, work: Callable[[threading.Event], object], interval: float
    ) -> None:
        self.work = work
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.work(self._stop)
            except Exception:
                log.exception("%s failed", self._thread.name)
            self._stop.wait(self.interval)


def chain_audit(engine: Engine) -> int:
    with engine.begin() as conn:
        return audit.chain(conn)


class AuditChainer:
    """``chain_audit`` run after run, vacuuming the queue of waiting entries every
    ``vacuum_every`` entries this worker chained (``audit.VACUUM_EVERY``)."""

    def __init__(self, engine: Engine, vacuum_every: int = audit.VACUUM_EVERY) -> None:
        self.engine = engine
        self.vacuum_every = vacuum_every
        self._since_vacuum = 0

    def __call__(self, _stop: threading.Event | None = None) -> int:
        done = chain_audit(self.engine)
        self._since_vacuum += done
        if self._since_vacuum >= self.vacuum_every:
            audit.vacuum_pending(self.engine)
            self._since_vacuum = 0
        return done


def checkpoint_audit(node: Node) -> checkpoint.Checkpoint | None:
    """Sign the head if any entry came since the last checkpoint."""
    with node.engine.begin() as conn:
        if not checkpoint.due(conn, every=1):
            return None
        return checkpoint.create(conn, node.name, node.keys.signing_key(), f"node:{node.name}")


def tasks(node: Node) -> list[Periodic]:
    engine = node.engine
    return [
        Periodic("polex-audit-chain", AuditChainer(engine), CHAIN_INTERVAL),
        Periodic(
            "polex-audit-checkpoint", lambda _stop: checkpoint_audit(node), CHECKPOINT_INTERVAL
        ),
        Periodic(
            "polex-match-queue",
            lambda stop: drain(engine, node.name, batch=MATCH_BATCH, stop=stop),
            MATCH_INTERVAL,
        ),
    ]
