"""The followthemoney model with polex's own schema data merged in.

FtM builds its model from YAML files; polex adds schemata (Firearm) and properties on FtM's
own schemata (Vehicle VIN) the same way, so every FtM tool sees one consistent model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from followthemoney.model import Model
from followthemoney.schema import Schema
from followthemoney.settings import MODEL_PATH

SCHEMATA_PATH = Path(__file__).parent / "schemata"


def _read_yaml_dir(path: str | Path) -> list[dict[str, Any]]:
    docs = []
    for dirpath, _, filenames in sorted(os.walk(path)):
        for filename in sorted(filenames):
            if filename.endswith(".yaml"):
                with open(os.path.join(dirpath, filename), encoding="utf-8") as fh:
                    docs.append(yaml.safe_load(fh))
    return docs


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


class PolexModel(Model):
    """FtM's model plus the YAML under ``polex/model/schemata``."""

    def __init__(self) -> None:
        configs: dict[str, dict[str, Any]] = {}
        for doc in _read_yaml_dir(MODEL_PATH) + _read_yaml_dir(SCHEMATA_PATH):
            for name, config in doc.items():
                _merge(configs.setdefault(name, {}), config)
        self.path = MODEL_PATH
        self.schemata: dict[str, Schema] = {}
        self.properties = set()
        self.qnames = {}
        for name, config in configs.items():
            self.schemata[name] = Schema(self, name, config)  # type: ignore[arg-type]
        self.generate()


model = PolexModel()
# FtM resolves schemata through the singleton (EntityProxy.from_dict), so polex's model must be it.
Model._instance = model
