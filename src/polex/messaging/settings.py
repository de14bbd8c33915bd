"""Messaging settings: the ``[messaging]`` table of the node's polex.toml, then the environment.

    [messaging]
    attachment_max_bytes = 52428800   # per file; uploads over it get 413
    delivery_interval = 1.0           # seconds between delivery worker polls when idle

Environment (wins over the file):

- ``POLEX_ATTACHMENT_MAX_BYTES``: the per-file cap.
- ``POLEX_DELIVERY_DELAY`` (seconds, default 0): local delivery leaves a queued message alone
  until it has been queued that long, and sending no longer delivers at once. It exists so
  tests can kill a node between queueing and delivery deterministically (and operators can
  watch the outbox); it has no place in normal operation."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_ATTACHMENT_MAX_BYTES = 50 * 1024 * 1024  # SIENA's 50 MB per attachment
CONFIG_FILE = "polex.toml"


@dataclass(frozen=True)
class MessagingSettings:
    attachment_max_bytes: int = DEFAULT_ATTACHMENT_MAX_BYTES
    delivery_delay: float = 0.0
    delivery_interval: float = 1.0


def _number(name: str, value: Any, kind: type[int] | type[float]) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: must be a number, got {value!r}") from exc
    if number < 0:
        raise ValueError(f"{name}: must not be negative")
    return number


def load(home: Path) -> MessagingSettings:
    try:
        config = tomllib.loads((home / CONFIG_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        config = {}
    section = config.get("messaging", {})
    max_bytes = os.environ.get("POLEX_ATTACHMENT_MAX_BYTES") or section.get(
        "attachment_max_bytes", DEFAULT_ATTACHMENT_MAX_BYTES
    )
    return MessagingSettings(
        attachment_max_bytes=_number("attachment_max_bytes", max_bytes, int),
        delivery_delay=_number(
            "POLEX_DELIVERY_DELAY", os.environ.get("POLEX_DELIVERY_DELAY") or 0, float
        ),
        delivery_interval=_number(
            "delivery_interval", section.get("delivery_interval", 1.0), float
        ),
    )
