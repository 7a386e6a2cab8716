"""Uploads → files in a temporary folder → the library's readers. No Streamlit here: the Data page and the tests
call the same functions, so a bad file is reported with the library's own message (file, line, field).

The library's :class:`~behemb_core.ingest.DatasetSpec` is the *handle* of a dataset: JSON-able, stored in session
state and used as the cache key of the loaded dataset; :func:`~behemb_core.ingest.load` reads it, exactly as the
command line does. Reading and cleaning are entirely the library's job.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from behemb_core.demo import DEMO_FILE, ONLINE_RETAIL_FILTERS
from behemb_core.errors import InputError
from behemb_core.ingest import (
    ENCODINGS,
    ROLES,
    Dataset,
    DatasetSpec,
    EventFilters,
    SessionFields,
    detect_columns,
    detect_session_fields,
    detect_timestamp,
    guess_header,
    load,
    peek_table,
    suggest_layout,
)
from behemb_core.ingest import peek_columns as read_columns

UPLOAD_ROOT = Path(tempfile.gettempdir()) / "behemb-uploads"
#: File types the Data page names (uploads of any other name — ``u.data``, ``clicks.dat`` — are taken too and
#: read by their content).
UPLOAD_TYPES = ["csv", "tsv", "txt", "dat", "data", "gz", "parquet", "pq", "jsonl", "json", "ndjson"]
DEMO_NAME_COLUMN = "Description"


def is_demo(spec: DatasetSpec) -> bool:
    """True when ``spec`` reads the bundled demo file."""
    return [str(p) for p in spec.paths] == [str(DEMO_FILE)]


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


def input_kind(paths: Sequence[str | Path]) -> Literal["events", "sessions"]:
    """Session JSONL or event log, from the file suffixes or, for other names (``u.data``), the content (the
    library's rule); mixing both is a user error."""
    return DatasetSpec(paths=[str(p) for p in paths]).resolved_format()  # type: ignore[return-value]


def peek_columns(path: str | Path) -> list[str]:
    """Column names of an event-log file (InputError for an unreadable or empty file)."""
    return read_columns(Path(path))


#: Delimiter choices of the Data page: choice → label. ``"auto"`` (sniffed) is a string, not ``None``: a selectbox
#: whose kept value is ``None`` shows an empty "Choose an option" (:func:`delimiter_value` maps it).
DELIMITER_CHOICES: dict[str, str] = {
    "auto": "auto-detect", ",": "comma ,", ";": "semicolon ;", "\t": "tab", "|": "pipe |",
}
#: Encoding choices for item-name files: choice → label (``auto`` = detected: UTF-8, else cp1252, else Latin-1).
ENCODING_CHOICES: dict[str, str] = {"auto": "auto-detect", **{e: e for e in ENCODINGS}}


def delimiter_value(choice: str | None) -> str | None:
    """The library's delimiter for a page choice (``auto``/``None`` → ``None``, sniffed)."""
    return None if choice in (None, "auto") else choice


def delimiter_choice(delimiter: str | None) -> str:
    """The page choice for a library delimiter (``None`` → ``auto``; an unusual one → ``auto``)."""
    return delimiter if delimiter in DELIMITER_CHOICES else "auto"


def preview(path: str | Path, *, delimiter: str | None = None, header: bool | None = True, rows: int = 5,
            encoding: str | None = None) -> tuple[list[str], str | None, Any]:
    """Columns, delimiter in use (sniffed unless given) and the first ``rows`` rows as a DataFrame of text."""
    import pandas as pd

    names, delim, data = peek_table(Path(path), delimiter, header, rows, encoding)
    width = max([len(names), *(len(r) for r in data)]) if data else len(names)
    cols = names + [f"column_{i + 1}" for i in range(len(names), width)]
    frame = pd.DataFrame([r + [""] * (width - len(r)) for r in data], columns=cols, dtype=object)
    return names, delim, frame


def file_layout(path: str | Path) -> dict[str, Any]:
    """What the Data page pre-selects for a new upload: ``layout`` (``baskets`` for ragged rows without an id or
    time column, else ``table``), ``header`` (a first line with a number or a date is data) and ``delimiter``."""
    p = Path(path)
    header = guess_header(p)
    baskets = suggest_layout(p) == "baskets"
    return {"layout": "baskets" if baskets else "table", "header": False if baskets else header,
            "baskets_suggested": baskets}


def names_preview(path: str | Path, *, delimiter: str | None, header: bool | None, encoding: str | None,
                  rows: int = 5) -> tuple[list[str], str | None, Any, str, bool]:
    """An item-name file's columns, delimiter, first rows, the encoding used and whether it has a header (both
    detected when ``None``): what the page shows before reading."""
    from behemb_core.ingest import check_encoding, detect_encoding, sniff_header

    p = Path(path)
    enc = check_encoding(encoding) if encoding else detect_encoding(p)
    has_header = sniff_header(p, delimiter, enc) if header is None else header
    names, delim, frame = preview(p, delimiter=delimiter, header=has_header, rows=rows, encoding=enc)
    return names, delim, frame, enc, has_header


def session_fields(path: str | Path, given: dict[str, Any] | None = None) -> SessionFields:
    """The layout and fields of an uploaded session file (detected; ``given`` fields win)."""
    return detect_session_fields(Path(path), SessionFields(**(given or {})))


def spec_changes(page: DatasetSpec, in_use: DatasetSpec, resolved: dict[str, Any] | None = None) -> list[str]:
    """What reading ``page`` would change against the dataset in use, one ``setting: old → new`` per setting
    (empty when the page shows the settings of the dataset in use). ``resolved`` is the dataset in use's
    ``source["columns"]``: a column the spec left to detection counts as the one detected."""
    def flat(d: Any, prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in d.items():
            if isinstance(v, dict):
                out.update(flat(v, f"{prefix}{k}."))
            else:
                out[f"{prefix}{k}"] = v
        return out

    a, b = flat(in_use.model_dump(mode="json")), flat(page.model_dump(mode="json"))
    for role, col in (resolved or {}).items():
        if role in ROLES and a.get(f"columns.{role}") is None:
            a[f"columns.{role}"] = col
    a = {k: (None if v == "" else v) for k, v in a.items()}
    b = {k: (None if v == "" else v) for k, v in b.items()}
    if a.get("paths") != b.get("paths"):
        return ["files: " + ", ".join(Path(p).name for p in in_use.paths) + " → "
                + ", ".join(Path(p).name for p in page.paths)]
    return [f"{k.split('.', 1)[-1].replace('_', ' ')}: {a.get(k)!r} → {b.get(k)!r}"
            for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


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
    chosen: dict[str, list[str]] = {}
    for role in ROLES:
        if columns.get(role):
            chosen.setdefault(str(columns[role]), []).append(PAGE_ROLE_LABELS[role])
    twice = {col: roles for col, roles in chosen.items() if len(roles) > 1}
    if twice:
        col, roles = next(iter(twice.items()))
        raise InputError(f"the column {col!r} is chosen for both " + " and ".join(f"'{r}'" for r in roles)
                         + " above under Columns — choose one column per role")
    missing = [r for r in required if not columns.get(r)]
    if missing:
        which = " and ".join(f"the '{PAGE_ROLE_LABELS[r]}' column" for r in missing)
        why = (" (sessions come from the user's activity unless a session column is chosen and "
               "'use session column' is on)" if "user" in missing else "")
        raise InputError(f"choose {which} above under Columns — it is set to (none){why}")


def read_dataset(spec: DatasetSpec) -> Dataset:
    """Read the dataset a spec describes — the library's one way in (InputError names file, line and field)."""
    return load(spec)


def read_uploaded(path: str | Path, *, options: dict[str, Any] | None = None) -> Dataset:
    """Read one file as the Data page reads an upload with default settings (what tests call directly)."""
    return load(DatasetSpec.create(paths=[str(path)], options=options or {}))
