"""For search_bench.py's HTTP arm only: a `polex serve` started with this directory first on
PYTHONPATH runs with the search audit append replaced by a no-op, in every worker process (each
runs this at start-up), so one run can compare the node's throughput with and without its
audit trail. Nothing in polex itself can switch the audit off."""

from __future__ import annotations

from typing import Any

from polex.search import engine


class _NoAudit:
    @staticmethod
    def append(*_args: Any, **_kwargs: Any) -> None:
        return None


engine.audit = _NoAudit  # type: ignore[assignment]
