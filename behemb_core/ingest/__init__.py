"""Ingest: behaviour data on disk → cleaned :class:`~behemb_core.sessions.Sessions` with provenance.

* :func:`read_session_jsonl` — one session per JSON line (plain or ``.gz``).
* :func:`read_event_log` — event logs (CSV/TSV/TXT/Parquet, files or folders) sessionized per user.
* :func:`read_item_metadata` / :func:`metadata_from_event_log` — item names for display and content vectors.
* :func:`summarize` — a JSON-able overview of a :class:`Dataset`.

Every reader raises :class:`~behemb_core.errors.InputError` naming file, line and field for bad input, and
counts every dropped row or event by reason in ``Dataset.drops``.
"""

from .columns import EventColumns, EventFilters, detect_columns
from .dataset import Dataset, gini, summarize
from .events import read_event_log
from .jsonl import read_session_jsonl
from .metadata import metadata_from_event_log, read_item_metadata

__all__ = [
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
