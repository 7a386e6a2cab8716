"""A dataset described once: :class:`DatasetSpec` (files, format, column mapping, filters, sessionization, item
names) and :func:`load`, the one way from a description to a :class:`~behemb_core.ingest.dataset.Dataset`.

The command line builds a spec from its options, the app's Data page from its controls; both call :func:`load`,
so both read, detect and clean a file the same way. A spec is plain JSON (:meth:`DatasetSpec.to_json`): the app
keeps it in the session and uses it as the cache key of the loaded dataset.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import InputError
from ..progress import ProgressCallback
from ..sessions import SessionOptions
from ..validation import validated
from ._files import sniff_kind
from .columns import EventColumns, EventFilters
from .dataset import Dataset
from .nested import SessionFields

Format = Literal["auto", "sessions", "events", "baskets"]


class DatasetSpec(BaseModel):
    """Everything needed to (re)read a dataset.

    ``format``: ``sessions`` (JSON Lines, one session per line), ``events`` (an event log: CSV/TSV/TXT/Parquet,
    sessionized per user), ``baskets`` (one session per line, items separated by ``delimiter``), or ``auto`` (sessions
    when every path ends in a JSON Lines suffix, else events; a file with another suffix — ``u.data``,
    ``clicks.dat`` — by its content: a first line starting with ``{`` is a session file; mixing both is an error).
    ``fields`` maps the fields of session files (flat or nested: :class:`~behemb_core.ingest.nested.SessionFields`).
    ``columns``/``filters`` apply to event logs (``None`` fields of ``columns`` are detected, ``""`` means the role
    is absent; nested session files use ``filters`` too); ``delimiter`` is the baskets' item separator (``None`` =
    sniffed; event logs take theirs from ``columns``). ``meta_path`` names an item-name table, read with
    ``meta_delimiter``, ``meta_header`` and ``meta_encoding`` (each detected when ``None``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    paths: list[str] = Field(min_length=1, description="Files or folders to read.")
    format: Format = "auto"
    columns: EventColumns = Field(default_factory=EventColumns)
    filters: EventFilters = Field(default_factory=EventFilters)
    options: SessionOptions = Field(default_factory=SessionOptions)
    fields: SessionFields = Field(default_factory=SessionFields)
    delimiter: str | None = Field(None, description="Baskets: the item separator (None = sniffed).")
    name_column: str | None = Field(None, description="Event logs: a column with item names.")
    meta_path: str | None = Field(None, description="A table of item id → name (CSV/TSV/TXT/Parquet).")
    meta_id_column: str | None = None
    meta_name_column: str | None = None
    meta_delimiter: str | None = Field(None, description="Item names: the delimiter (None = sniffed).")
    meta_header: bool | None = Field(None, description="Item names: a header line (None = detected).")
    meta_encoding: str | None = Field(None, description="Item names: the text encoding (None = detected).")

    @classmethod
    def create(cls, **values: object) -> DatasetSpec:
        """A validated spec; bad values raise :class:`~behemb_core.errors.ConfigError` naming each field
        (``columns.user=3: …``)."""
        return validated(cls, values, "dataset")

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DatasetSpec:
        return cls.model_validate_json(text)

    def resolved_format(self) -> Literal["sessions", "events", "baskets"]:
        """The format to read with: ``auto`` decided from the file suffixes."""
        if self.format != "auto":
            return self.format
        kinds: set[Literal["sessions", "events"]] = {sniff_kind(Path(p)) for p in self.paths}
        if len(kinds) > 1:
            raise InputError("give either session JSONL files or event-log files (CSV/TSV/Parquet), not both: "
                             + ", ".join(Path(p).name for p in self.paths))
        return kinds.pop()

    def label(self) -> str:
        """A short description for people: ``event log: a.csv, b.csv + metadata items.csv``."""
        fmt = self.resolved_format()
        names = ", ".join(Path(p).name for p in self.paths[:3]) + (" …" if len(self.paths) > 3 else "")
        what = {"events": "event log", "baskets": "baskets (one per line)"}.get(fmt, "session JSONL")
        return f"{what}: {names}" + (f" + metadata {Path(self.meta_path).name}" if self.meta_path else "")


def first_file(paths: list[str]) -> Path:
    """The first data file of ``paths`` (a folder's first JSON Lines file by name)."""
    from ._files import JSONL_SUFFIXES, list_files

    return list_files(paths, JSONL_SUFFIXES, "JSON Lines")[0]


def load(spec: DatasetSpec, *, progress: ProgressCallback | None = None) -> Dataset:
    """Read, sessionize and clean the dataset ``spec`` describes, with its item names when ``meta_path`` is
    given. Bad input raises :class:`~behemb_core.errors.InputError` naming the file, line and field."""
    from .baskets import read_baskets
    from .events import read_event_log
    from .item_names import read_item_metadata
    from .jsonl import read_session_jsonl
    from .nested import detect_session_fields, read_nested_sessions

    fmt = spec.resolved_format()
    if fmt == "sessions" and spec.fields.layout != "flat" and detect_session_fields(
            first_file(spec.paths), spec.fields).layout == "nested":
        dataset = read_nested_sessions(spec.paths, fields=spec.fields, filters=spec.filters, options=spec.options,
                                       progress=progress)
    elif fmt == "sessions":
        dataset = read_session_jsonl(spec.paths, options=spec.options, progress=progress)
    elif fmt == "baskets":
        dataset = read_baskets(spec.paths, delimiter=spec.delimiter, options=spec.options, progress=progress)
    else:
        dataset = read_event_log(spec.paths, columns=spec.columns, filters=spec.filters, options=spec.options,
                                 name_column=spec.name_column, progress=progress)
    if spec.meta_path:
        dataset = dataset.with_metadata(read_item_metadata(
            spec.meta_path, id_column=spec.meta_id_column, name_column=spec.meta_name_column,
            delimiter=spec.meta_delimiter, header=spec.meta_header, encoding=spec.meta_encoding))
    return dataset
