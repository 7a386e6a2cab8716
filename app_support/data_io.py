"""Uploads → files in a temporary folder → the library's readers. No Streamlit here: the Data page and the tests
call the same functions, so a bad file is reported with the library's own message (file, line, field).

A :class:`DatasetSpec` is the *handle* of a dataset: JSON-able, stored in session state and used as the cache key
of the loaded dataset. Reading and cleaning are entirely the library's job.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from behemb_core.demo import DEMO_FILE, ONLINE_RETAIL_FILTERS, load_demo_dataset
from behemb_core.errors import ConfigError, InputError
from behemb_core.ingest import (
    Dataset,
    ROLES,
    EventColumns,
    EventFilters,
    detect_columns,
    detect_timestamp,
    peek_table,
    read_baskets,
    read_event_log,
    read_item_metadata,
    read_session_jsonl,
)
from behemb_core.ingest import peek_columns as read_columns
from behemb_core.sessions import SessionOptions

UPLOAD_ROOT = Path(tempfile.gettempdir()) / "behemb-uploads"
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson", ".ndjson.gz")
EVENT_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt", ".txt.gz", ".parquet", ".pq")
UPLOAD_TYPES = ["csv", "tsv", "txt", "gz", "parquet", "pq", "jsonl", "json", "ndjson"]
DEMO_NAME_COLUMN = "Description"


class DatasetSpec(BaseModel):
    """Everything needed to (re)read a dataset; its JSON text is the cache key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["demo", "event_log", "sessions_jsonl", "baskets"]
    paths: list[str]
    columns: dict[str, Any] | None = None
    filters: dict[str, Any] | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    name_column: str | None = None
    meta_path: str | None = None
    delimiter: str | None = None  # baskets: the delimiter chosen on the page (None = sniffed)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DatasetSpec:
        return cls.model_validate_json(text)

    def label(self) -> str:
        if self.kind == "demo":
            return "Bundled demo: Online Retail, Oct–Nov 2011 (UCI, CC BY 4.0)"
        names = ", ".join(Path(p).name for p in self.paths[:3]) + (" …" if len(self.paths) > 3 else "")
        what = {"event_log": "event log", "baskets": "baskets (one per line)"}.get(self.kind, "session JSONL")
        return f"{what}: {names}" + (f" + metadata {Path(self.meta_path).name}" if self.meta_path else "")


def demo_spec() -> DatasetSpec:
    return DatasetSpec(kind="demo", paths=[str(DEMO_FILE)])


def demo_filters() -> EventFilters:
    return ONLINE_RETAIL_FILTERS


def safe_filename(name: str) -> str:
    """A file name (no folders) made of ``[A-Za-z0-9._-]``, keeping the suffixes the readers look at."""
    base = re.sub(r"[^A-Za-z0-9._-]", "_", Path(str(name)).name).lstrip(".")
    return base or "upload"


UPLOAD_MAX_AGE_S = 24 * 3600


def prune_uploads(root: Path = UPLOAD_ROOT, *, max_age_s: float = UPLOAD_MAX_AGE_S) -> int:
    """Delete upload folders untouched for ``max_age_s`` (a day): uploads are working copies, the library
    reads them once and datasets are cached. Returns how many folders were removed."""
    import shutil
    import time

    if not root.is_dir():
        return 0
    cutoff, removed = time.time() - max_age_s, 0
    for folder in root.iterdir():
        try:
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        except OSError:  # another session removed it meanwhile
            continue
    return removed


def save_uploads(
    files: list[tuple[str, bytes | memoryview]], *, root: Path = UPLOAD_ROOT, tag: str | None = None
) -> list[Path]:
    """Write uploaded ``(filename, content)`` pairs into one folder per upload set and return their paths.

    Pass the uploads' buffers (``UploadedFile.getbuffer()``), not ``getvalue()`` copies: a large upload is then
    held in memory once (by Streamlit) and streamed to disk, where the library reads it.

    The folder is named by ``tag`` (e.g. the uploader's file ids) or by a hash of names and contents, so reruns
    of the page reuse the same files instead of writing them again.
    """
    prune_uploads(root)
    if tag is None:
        h = hashlib.sha256()
        for name, data in files:
            h.update(name.encode("utf-8", "replace") + b"\0" + hashlib.sha256(data).digest())
        tag = h.hexdigest()[:20]
    folder = root / safe_filename(tag)
    folder.mkdir(parents=True, exist_ok=True)
    out, seen = [], set()
    for i, (name, data) in enumerate(files):
        fname = safe_filename(name)
        if fname in seen:
            fname = f"{i}_{fname}"
        seen.add(fname)
        path = folder / fname
        if not path.exists() or path.stat().st_size != len(data):
            tmp = folder / f".{fname}.part"
            tmp.write_bytes(data)
            tmp.replace(path)
        out.append(path)
    return out


def input_kind(paths: list[str | Path]) -> Literal["event_log", "sessions_jsonl"]:
    """Session JSONL or event log, from the file suffixes; mixing both is a user error."""
    kinds = set()
    for p in paths:
        name = Path(p).name.lower()
        kinds.add("sessions_jsonl" if name.endswith(JSONL_SUFFIXES) else "event_log")
    if len(kinds) > 1:
        raise InputError("upload either session JSONL files or event-log files (CSV/TSV/Parquet), not both")
    return kinds.pop() if kinds else "event_log"


def peek_columns(path: str | Path) -> list[str]:
    """Column names of an event-log file (InputError for an unreadable or empty file)."""
    return read_columns(Path(path))


#: Delimiter choices of the Data page: value passed to the library (None = sniffed) → label.
DELIMITER_CHOICES: dict[str | None, str] = {
    None: "auto-detect", ",": "comma ,", ";": "semicolon ;", "\t": "tab", "|": "pipe |",
}


def preview(path: str | Path, *, delimiter: str | None = None, header: bool = True, rows: int = 5
            ) -> tuple[list[str], str | None, Any]:
    """Columns, delimiter in use (sniffed unless given) and the first ``rows`` rows as a DataFrame of text."""
    import pandas as pd

    names, delim, data = peek_table(Path(path), delimiter, header, rows)
    width = max([len(names), *(len(r) for r in data)]) if data else len(names)
    cols = names + [f"column_{i + 1}" for i in range(len(names), width)]
    frame = pd.DataFrame([r + [""] * (width - len(r)) for r in data], columns=cols, dtype=object)
    return names, delim, frame


def suggest_columns(path: str | Path, *, delimiter: str | None = None, header: bool = True) -> dict[str, Any]:
    """Roles detected by column name, plus a timestamp column found by content when no name matched;
    ``timestamp_found_by`` says which (``"name"``, ``"content"`` or ``None``)."""
    names, _, rows = peek_table(Path(path), delimiter, header, rows=200)
    found = detect_columns(names).model_dump()
    how = "name" if found["timestamp"] else None
    if found["timestamp"] is None:
        used = {v for k, v in found.items() if k in ROLES and v}
        found["timestamp"] = detect_timestamp(names, rows, used)
        how = "content" if found["timestamp"] else None
    found["timestamp_found_by"] = how
    return found


#: The Data page's label of each column role (the selectboxes under "Columns").
PAGE_ROLE_LABELS = {role: role.replace("_", " ") for role in ROLES}


def check_page_columns(columns: dict[str, Any], *, use_session: bool) -> None:
    """The required roles of an event log are chosen on the page; else an :class:`InputError` that names the
    page's control ("choose the item column above"), not a library call."""
    required = ["item", "timestamp"]
    if not (use_session and columns.get("session")):
        required.append("user")
    missing = [r for r in required if not columns.get(r)]
    if missing:
        which = " and ".join(f"the '{PAGE_ROLE_LABELS[r]}' column" for r in missing)
        why = (" (sessions come from the user's activity unless a session column is chosen and "
               "'use session column' is on)" if "user" in missing else "")
        raise InputError(f"choose {which} above under Columns — it is set to (none){why}")


def validated(model: type[BaseModel], values: dict[str, Any], what: str) -> Any:
    """``model(**values)`` with pydantic's errors turned into a ConfigError naming each field and value."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or what}={e.get('input')!r}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"{what}: {problems}") from None


def read_dataset(spec: DatasetSpec) -> Dataset:
    """Read the dataset a spec describes with the library's readers (InputError names file, line and field)."""
    options = validated(SessionOptions, spec.options, "session options")
    if spec.kind == "demo":
        dataset = load_demo_dataset(spec.paths[0])
    elif spec.kind == "sessions_jsonl":
        dataset = read_session_jsonl(spec.paths, options=options)
    elif spec.kind == "baskets":
        dataset = read_baskets(spec.paths, delimiter=spec.delimiter, options=options)
    else:
        dataset = read_event_log(
            spec.paths,
            columns=validated(EventColumns, spec.columns, "columns") if spec.columns is not None else None,
            filters=validated(EventFilters, spec.filters, "filters") if spec.filters is not None else EventFilters(),
            options=options,
            name_column=spec.name_column,
        )
    if spec.meta_path:
        dataset = dataset.with_metadata(read_item_metadata(spec.meta_path))
    return dataset


def read_uploaded(path: str | Path, *, options: dict[str, Any] | None = None) -> Dataset:
    """Read one file as the Data page reads an upload with default settings (what tests call directly)."""
    spec = DatasetSpec(kind=input_kind([path]), paths=[str(path)], options=options or {})
    return read_dataset(spec)
