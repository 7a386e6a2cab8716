"""Ingest: behavior data on disk → cleaned :class:`~behemb_core.sessions.Sessions` with provenance.

* :func:`read_session_jsonl` — one session per JSON line (plain or ``.gz``).
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

from ._files import TABLE_SUFFIXES, list_files, peek_rows, read_header
from .baskets import read_baskets
from .columns import ROLES, EventColumns, EventFilters, detect_columns, detect_timestamp
from .dataset import Dataset, gini, summarize
from .events import metadata_from_event_log, read_event_log
from .item_names import NAME_CANDIDATES, read_item_metadata
from .jsonl import read_session_jsonl
from .spec import DatasetSpec, load


def peek_columns(paths: str | Path | list, delimiter: str | None = None, header: bool = True) -> list[str]:
    """The header of the first event-log file of ``paths`` (file, files or folder) — for column mapping UIs.

    Raises :class:`~behemb_core.errors.InputError` naming the file when it cannot be read.
    """
    names, _ = read_header(list_files(paths, TABLE_SUFFIXES, "event log")[0], delimiter, header)
    return names


def peek_table(
    paths: str | Path | list, delimiter: str | None = None, header: bool = True, rows: int = 5
) -> tuple[list[str], str | None, list[list[str]]]:
    """Columns, delimiter (sniffed unless given; ``None`` for Parquet) and the first ``rows`` rows as text of the
    first file of ``paths`` — a preview before reading."""
    return peek_rows(list_files(paths, TABLE_SUFFIXES, "event log")[0], delimiter, header, rows)

__all__ = [
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
