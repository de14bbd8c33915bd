"""Readers for bulk import: JSON Lines of FtM entities, and CSV with a column mapping file.

A reader turns each row of a file into the shape a writer gives the API (``{id, schema,
properties, polex}``) and never holds the file: it reads line by line, so memory does not grow
with the file, and it reports how many bytes it has read so progress needs no counting pass.
Problems a reader finds (bad JSON, a short CSV row) travel with the row as issues, so they end
up in the same per-row error report as validation failures."""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from polex.model.envelope import Restrictions
from polex.model.ftm import model
from polex.model.validation import Issue
from polex.node.records import EnvelopeInput

# Keys FtM tools add to exported entities; they describe the export, not the entity.
FTM_EXPORT_KEYS = frozenset(
    {"caption", "datasets", "referents", "first_seen", "last_seen", "last_change", "target"}
)
# Envelope fields a source may not set: the database comes from the import, restrictions are
# set field by field (``restrictions.allow_countries``...).
_NOT_MAPPABLE = frozenset({"database", "restrictions"})
_LIST_RESTRICTIONS = frozenset(
    name for name, f in Restrictions.model_fields.items() if f.default_factory is list
)


class SourceError(ValueError):
    """The file or its mapping cannot be read at all (as opposed to one bad row)."""


@dataclass(frozen=True)
class SourceRow:
    """One row: where it starts in the file, what the file held, and what it means."""

    line: int
    raw: Any
    entity: dict[str, Any] | None
    issues: tuple[Issue, ...] = field(default=())


class Reader:
    """Lines of a file, with the byte position reached and the file's SHA-256 so far."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.size = path.stat().st_size
        except OSError as exc:
            raise SourceError(f"file: cannot read {path}: {exc.strerror}") from exc
        self.position = 0
        self._sha = hashlib.sha256()

    @property
    def sha256(self) -> str:
        """The digest of what has been read: the whole file's once ``rows`` is exhausted."""
        return self._sha.hexdigest()

    def _lines(self) -> Iterator[bytes]:
        with self.path.open("rb") as fh:
            for line in fh:
                self.position += len(line)
                self._sha.update(line)
                yield line

    def rows(self) -> Iterator[SourceRow]:
        raise NotImplementedError

    def chunks(self, size: int) -> Iterator[Chunk]:
        """The rows in chunks of about ``size``, in file order."""
        items: list[SourceRow] = []
        for row in self.rows():
            items.append(row)
            if len(items) >= size:
                yield RowsChunk(items)
                items = []
        if items:
            yield RowsChunk(items)


def _issue(field_name: str, rule: str, message: str) -> tuple[Issue, ...]:
    return (Issue(field_name, rule, f"{field_name}: {message}"),)


# Nineteen digits in a row may be an integer beyond 64 bits, which orjson reads as a float.
# Found as nineteen zeros once every digit is a zero: a translation and a substring search
# cost a tenth of the regular expression \d{19}, which tries every position of the line.
_DIGITS_AS_ZEROS = bytes.maketrans(b"0123456789", b"0" * 10)
_LONG_NUMBER = b"0" * 19


def _loads(line: bytes) -> Any:
    """orjson where it reads the line as the json module would (it is several times faster);
    the json module for what orjson refuses (a byte-order mark, escaped lone surrogates, NaN)
    or reads otherwise (huge integers), and for the error a bad line is reported with."""
    if _LONG_NUMBER in line.translate(_DIGITS_AS_ZEROS):
        return json.loads(line)
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)


def jsonl_row(number: int, line: bytes) -> SourceRow | None:
    """One line of a JSON Lines file as a row (None for a blank line)."""
    if not line.strip():
        return None
    try:
        data = _loads(line)
    except UnicodeDecodeError as exc:
        text = line.decode("utf-8", "replace")
        return SourceRow(number, text, None, _issue("line", "encoding.utf8", str(exc)))
    except json.JSONDecodeError as exc:
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        return SourceRow(number, text, None, _issue("line", "json.syntax", exc.msg))
    if not isinstance(data, dict):
        return SourceRow(number, data, None, _issue("line", "json.object", "not an object"))
    entity = {k: v for k, v in data.items() if k not in FTM_EXPORT_KEYS}
    return SourceRow(number, data, entity)


class Chunk:
    """Consecutive rows of a file that can travel to another process and be read there."""

    def rows(self) -> Iterator[SourceRow]:
        raise NotImplementedError

    def row(self, line: int) -> SourceRow:
        """The row that starts on ``line`` (one of this chunk's)."""
        return next(r for r in self.rows() if r.line == line)


@dataclass(frozen=True)
class RowsChunk(Chunk):
    """Rows a reader has already made (CSV: the csv module reads a file only in order)."""

    items: list[SourceRow]

    def rows(self) -> Iterator[SourceRow]:
        return iter(self.items)


@dataclass(frozen=True)
class LinesChunk(Chunk):
    """JSON Lines as bytes, parsed where they are read: parsing is a good part of the work."""

    first: int
    lines: list[bytes]

    def rows(self) -> Iterator[SourceRow]:
        for number, line in enumerate(self.lines, start=self.first):
            row = jsonl_row(number, line)
            if row is not None:
                yield row

    def row(self, line: int) -> SourceRow:
        row = jsonl_row(line, self.lines[line - self.first])
        assert row is not None  # only lines that made rows are asked for
        return row


class JsonlReader(Reader):
    """One FtM entity per line, optionally with a ``polex`` object holding envelope fields."""

    def rows(self) -> Iterator[SourceRow]:
        for number, line in enumerate(self._lines(), start=1):
            row = jsonl_row(number, line)
            if row is not None:
                yield row

    def chunks(self, size: int) -> Iterator[Chunk]:
        lines: list[bytes] = []
        first = 1
        for number, line in enumerate(self._lines(), start=1):
            lines.append(line)
            if len(lines) >= size:
                yield LinesChunk(first, lines)
                lines, first = [], number + 1
        if lines:
            yield LinesChunk(first, lines)


class ColumnSpec(BaseModel):
    """Where one value comes from: a column, or several columns (each a value, or joined)."""

    model_config = ConfigDict(extra="forbid")

    columns: list[str] = Field(min_length=1)
    split: str | None = Field(default=None, min_length=1)
    join: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"columns": [value]}
        if isinstance(value, list):
            return {"columns": value}
        if isinstance(value, dict) and "column" in value:
            rest = {k: v for k, v in value.items() if k != "column"}
            return {"columns": [value["column"]], **rest}
        return value

    @model_validator(mode="after")
    def _one_way(self) -> ColumnSpec:
        if self.split is not None and self.join is not None:
            raise ValueError("give either split or join, not both")
        return self

    def values(self, row: dict[str, str]) -> list[str]:
        cells = [row.get(c, "").strip() for c in self.columns]
        cells = [c for c in cells if c]
        if self.join is not None:
            return [self.join.join(cells)] if cells else []
        if self.split is not None:
            return [v.strip() for c in cells for v in c.split(self.split) if v.strip()]
        return cells


class CsvOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delimiter: str = Field(default=",", min_length=1, max_length=1)
    quotechar: str = Field(default='"', min_length=1, max_length=1)
    encoding: str = "utf-8"

    @model_validator(mode="after")
    def _line_based(self) -> CsvOptions:
        try:
            codecs.lookup(self.encoding)
        except LookupError as exc:
            raise ValueError(f"unknown encoding {self.encoding}") from exc
        if "\n".encode(self.encoding) != b"\n":
            raise ValueError(f"encoding {self.encoding} is not line-compatible with ASCII")
        return self


class Constants(BaseModel):
    model_config = ConfigDict(extra="forbid")

    properties: dict[str, list[str]] = Field(default_factory=dict)
    polex: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("properties"), dict):
            props = {k: v if isinstance(v, list) else [v] for k, v in value["properties"].items()}
            return {**value, "properties": props}
        return value


class Mapping(BaseModel):
    """How the columns of a CSV file become FtM entities and their envelopes (docs/import.md)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: str | None = Field(default=None, alias="schema")
    schema_column: str | None = None
    id: ColumnSpec
    properties: dict[str, ColumnSpec] = Field(default_factory=dict)
    polex: dict[str, ColumnSpec] = Field(default_factory=dict)
    constants: Constants = Field(default_factory=Constants)
    csv: CsvOptions = Field(default_factory=CsvOptions)

    @model_validator(mode="after")
    def _consistent(self) -> Mapping:
        if (self.schema_ is None) == (self.schema_column is None):
            raise ValueError("give either schema or schema_column")
        if self.id.split is not None:
            raise ValueError("id: one id per row, split is not allowed")
        if self.id.join is None:
            self.id.join = ":"
        if self.schema_ is not None:
            schema = model.get(self.schema_)
            if schema is None:
                raise ValueError(f"schema: {self.schema_} is not an FtM schema")
            for name in [*self.properties, *self.constants.properties]:
                if schema.get(name) is None:
                    raise ValueError(f"properties.{name}: not a property of {schema.name}")
        envelope_fields = set(EnvelopeInput.model_fields) - _NOT_MAPPABLE
        restriction_fields = set(Restrictions.model_fields)
        for key in [*self.polex, *self.constants.polex]:
            head, _, tail = key.partition(".")
            if tail and head == "restrictions" and tail in restriction_fields:
                continue
            if not tail and key in envelope_fields:
                continue
            raise ValueError(f"polex.{key}: not an envelope field a source may set")
        return self

    def columns(self) -> set[str]:
        specs = [self.id, *self.properties.values(), *self.polex.values()]
        wanted = {c for spec in specs for c in spec.columns}
        if self.schema_column is not None:
            wanted.add(self.schema_column)
        return wanted

    def entity(self, row: dict[str, str]) -> dict[str, Any]:
        ids = self.id.values(row)
        schema = self.schema_ or row.get(self.schema_column or "", "").strip()
        properties = {name: list(values) for name, values in self.constants.properties.items()}
        for name, spec in self.properties.items():
            values = spec.values(row)
            if values:
                properties[name] = properties.get(name, []) + values
        polex: dict[str, Any] = {}
        restrictions: dict[str, Any] = {}
        for key, value in self.constants.polex.items():
            _set_envelope(polex, restrictions, key, value)
        for key, spec in self.polex.items():
            values = spec.values(row)
            if values:
                _set_envelope(polex, restrictions, key, values)
        if restrictions:
            polex["restrictions"] = restrictions
        return {"id": ids[0] if ids else None, "schema": schema, "properties": properties} | (
            {"polex": polex} if polex else {}
        )


def _set_envelope(
    polex: dict[str, Any], restrictions: dict[str, Any], key: str, value: Any
) -> None:
    head, _, tail = key.partition(".")
    single = value[0] if isinstance(value, list) and len(value) == 1 else value
    if not tail:
        polex[head] = single
    elif tail in _LIST_RESTRICTIONS:
        restrictions[tail] = value if isinstance(value, list) else [value]
    else:
        restrictions[tail] = single


def load_mapping(path: Path) -> Mapping:
    """Read a mapping file (YAML, or JSON, which YAML reads too); errors name the key."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SourceError(f"mapping: cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise SourceError(f"mapping: {path} is not valid YAML or JSON: {exc}") from exc
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            where = ".".join(str(p) for p in e["loc"])
            problems.append(
                f"{where}: {e['msg']}" if where else e["msg"].removeprefix("Value error, ")
            )
        raise SourceError(f"mapping {path}: " + "; ".join(problems)) from exc


# Bytes the encoding could not decode, kept by "surrogateescape" as lone surrogates.
_UNDECODABLE = re.compile("[\udc80-\udcff]")


def _readable(text: str, encoding: str) -> str:
    return text.encode(encoding, "surrogateescape").decode(encoding, "replace")


class CsvReader(Reader):
    """A CSV file with a header row; the mapping says what each column means."""

    def __init__(self, path: Path, mapping: Mapping) -> None:
        super().__init__(path)
        self.mapping = mapping

    def _text_lines(self) -> Iterator[str]:
        encoding = self.mapping.csv.encoding
        for number, line in enumerate(self._lines()):
            text = line.decode(encoding, "surrogateescape")
            yield text.removeprefix("\ufeff") if number == 0 else text

    def rows(self) -> Iterator[SourceRow]:
        options = self.mapping.csv
        reader = csv.reader(
            self._text_lines(), delimiter=options.delimiter, quotechar=options.quotechar
        )
        header = next(reader, None)
        if header is None:
            raise SourceError(f"file: {self.path} is empty (a CSV file starts with a header row)")
        header = [h.strip() for h in header]
        if len(set(header)) != len(header):
            raise SourceError("file: the CSV header names a column twice")
        missing = sorted(self.mapping.columns() - set(header))
        if missing:
            raise SourceError(f"mapping: columns not in the CSV header: {', '.join(missing)}")
        start = reader.line_num + 1
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            raw = dict(zip(header, cells, strict=False))
            if len(cells) != len(header):
                message = f"{len(cells)} fields where the header has {len(header)}"
                yield SourceRow(line, raw, None, _issue("line", "csv.columns", message))
                continue
            if _UNDECODABLE.search("".join(cells)):
                raw = {k: _readable(v, options.encoding) for k, v in raw.items()}
                message = f"not valid {options.encoding}"
                yield SourceRow(line, raw, None, _issue("line", "encoding.invalid", message))
                continue
            yield SourceRow(line, raw, self.mapping.entity(raw))


def open_source(path: Path, mapping: Path | None = None, format: str | None = None) -> Reader:
    """The reader for ``path``: CSV when a mapping is given or the name ends in .csv."""
    kind = format or ("csv" if mapping is not None or path.suffix.lower() == ".csv" else "jsonl")
    if kind == "jsonl":
        if mapping is not None:
            raise SourceError("mapping: only CSV files take a mapping")
        return JsonlReader(path)
    if kind == "csv":
        if mapping is None:
            raise SourceError("mapping: a CSV file needs --mapping (see docs/import.md)")
        return CsvReader(path, load_mapping(mapping))
    raise SourceError(f"format: {kind} is not one of jsonl, csv")
