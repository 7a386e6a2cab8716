"""Ingest: behavior data on disk → cleaned :class:`~behemb_core.sessions.Sessions` with provenance.

* :func:`read_session_jsonl` — one session per JSON line (plain or ``.gz``).
* :func:`read_nested_sessions` — one session per JSON line with its events as objects (OTTO), fields mapped by
  :class:`SessionFields` or detected (:func:`detect_session_fields`).
* :func:`read_event_log` — event logs (CSV/TSV/TXT/Parquet, files or folders) sessionized per user.
* :func:`read_baskets` — one session per line, items separated by a delimiter (the "groceries" layout).
* :func:`read_item_metadata` / :func:`metadata_from_event_log` — item names for display and content vectors.
* :func:`summarize` — a JSON-able overview of a :class:`Dataset`.
* :class:`DatasetSpec` and :func:`load` — a dataset described once (files, format, columns, filters,
  sessionization, names) and read the one way the CLI and the app share.

Every reader raises :class:`~behemb_core.errors.InputError` naming file, line and field for bad input, and
counts every dropped row or event by reason in ``Dataset.drops``.
"""

from pathlib import Path

from ..errors import InputError
from ._files import (
    ENCODINGS,
    TABLE_SUFFIXES,
    check_encoding,
    detect_encoding,
    is_ragged,
    list_files,
    peek_rows,
    read_header,
    sniff_header,
    sniff_kind,
)
from .baskets import read_baskets
from .columns import ROLES, EventColumns, EventFilters, detect_columns, detect_timestamp
from .dataset import Dataset, gini, summarize
from .events import metadata_from_event_log, read_event_log
from .item_names import NAME_CANDIDATES, read_item_metadata
from .jsonl import read_session_jsonl
from .nested import SessionFields, detect_session_fields, read_nested_sessions
from .spec import DatasetSpec, load


def peek_columns(paths: str | Path | list, delimiter: str | None = None, header: bool = True) -> list[str]:
    """The header of the first event-log file of ``paths`` (file, files or folder) — for column mapping UIs.

    Raises :class:`~behemb_core.errors.InputError` naming the file when it cannot be read.
    """
    names, _ = read_header(list_files(paths, TABLE_SUFFIXES, "event log")[0], delimiter, header)
    return names


def peek_table(
    paths: str | Path | list, delimiter: str | None = None, header: bool | None = True, rows: int = 5,
    encoding: str | None = None,
) -> tuple[list[str], str | None, list[list[str]]]:
    """Columns, delimiter (sniffed unless given; ``None`` for Parquet) and the first ``rows`` rows as text of the
    first file of ``paths`` — a preview before reading (``header=None``: detected)."""
    return peek_rows(list_files(paths, TABLE_SUFFIXES, "event log")[0], delimiter, header, rows, encoding)


def guess_header(paths: str | Path | list, delimiter: str | None = None) -> bool:
    """Whether the first table file of ``paths`` starts with a header line (:func:`sniff_header`: a first line
    with a number or a date is data). ``True`` when it cannot be looked at here (a URL, a missing file: the
    reader reports that)."""
    try:
        first = list_files(paths, TABLE_SUFFIXES, "event log")[0]
        if sniff_kind(first) != "events":
            return True
        return sniff_header(first, delimiter)
    except InputError:
        return True


def suggest_layout(path: str | Path, delimiter: str | None = None) -> str | None:
    """``"baskets"`` when a text file looks like one basket per line — rows with different numbers of fields and
    no column that detection recognises as an item, time or session id — else ``None`` (a table)."""
    p = Path(path)
    if sniff_kind(p) != "events" or not is_ragged(p, delimiter):
        return None
    names = peek_rows(p, delimiter, None, rows=1)[0]
    found = detect_columns(names)
    if found.item or found.timestamp or found.session:
        return None
    return "baskets"

__all__ = [
    "ENCODINGS",
    "SessionFields",
    "check_encoding",
    "detect_encoding",
    "detect_session_fields",
    "guess_header",
    "read_nested_sessions",
    "sniff_kind",
    "suggest_layout",
    "DatasetSpec",
    "load",
    "NAME_CANDIDATES",
    "ROLES",
    "peek_columns",
    "peek_table",
    "read_baskets",
    "detect_timestamp",
    "Dataset",
    "EventColumns",
    "EventFilters",
    "detect_columns",
    "gini",
    "metadata_from_event_log",
    "read_event_log",
    "read_item_metadata",
    "read_session_jsonl",
    "summarize",
]
