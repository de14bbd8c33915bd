"""The match queue drained in the background of every server worker, so the records of an
import reach both owners as hits without anyone running `polex crossmatch run`.

Workers share nothing but the database: `drain` claims queued rows (SKIP LOCKED on
PostgreSQL, the write lock on SQLite), so several workers never match one record twice, and a
worker killed mid-batch leaves its batch queued for the next one."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

from polex.match.crossmatch import drain

log = logging.getLogger(__name__)

INTERVAL = 2.0  # seconds between looks at an empty queue
BATCH = 50  # records matched per transaction: short write locks beside the API's own writes


class QueueWorker:
    def __init__(self, engine: Engine, node: str, interval: float = INTERVAL) -> None:
        self.engine = engine
        self.node = node
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="polex-match-queue", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                drain(self.engine, self.node, batch=BATCH)
            except Exception:  # the queue stays; the next round tries again
                log.exception("draining the match queue failed")
            self._stop.wait(self.interval)
