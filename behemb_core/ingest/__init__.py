"""Ingest: behaviour data on disk → cleaned :class:`~behemb_core.sessions.Sessions` with provenance.

* :func:`read_session_jsonl` — one session per JSON line (plain or ``.gz``).
* :func:`read_event_log` — event logs (CSV/TSV/TXT/Parquet, files or folders) sessionized per user.
* :func:`read_item_metadata` / :func:`metadata_from_event_log` — item names for display and content vectors.
* :func:`summarize` — a JSON-able overview of a :class:`Dataset`.

Every reader raises :class:`~behemb_core.errors.InputError` naming file, line and field for bad input, and
counts every dropped row or event by reason in ``Dataset.drops``.
"""

from pathlib import Path

from ._io import TABLE_SUFFIXES, list_files, read_header
from .columns import ROLES, EventColumns, EventFilters, detect_columns
from .dataset import Dataset, gini, summarize
from .events import read_event_log
from .jsonl import read_session_jsonl
from .metadata import NAME_CANDIDATES, metadata_from_event_log, read_item_metadata


def peek_columns(paths: str | Path | list) -> list[str]:
    """The header of the first event-log file of ``paths`` (file, files or folder) — for column mapping UIs.

    Raises :class:`~behemb_core.errors.InputError` naming the file when it cannot be read.
    """
    header, _ = read_header(list_files(paths, TABLE_SUFFIXES, "event log")[0])
    return header

__all__ = [
    "NAME_CANDIDATES",
    "ROLES",
    "peek_columns",
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
