"""Golden pairs: neighbor pairs people marked as good or bad, kept with the store and re-checked for every
later version.

Layout, beside the immutable versions (whose files this module never touches)::

    <store>/golden/pairs.jsonl        JSON Lines, append-only, hash-chained (see _journal.py): one record per mark
    <store>/golden/pairs.jsonl.head   the log's last line and its hash
    <store>/.lifecycle.lock           flock'ed around every append (the lifecycle lock)

A record is ``{"query_id", "neighbor_id", "label": "good"|"bad", "by", "at", "note", "version_seen"}``. Item
ids are kept as given (integers stay integers, codes such as ``85123A`` stay strings). Nothing is rewritten or
deleted: re-marking a pair appends a new record and the **latest record of a pair wins**. Pairs are matched by
the text of their ids, so ``12`` and ``"12"`` are the same pair, as they are the same item (see
:mod:`behemb_core.vocab`).

A *good* pair should be among the query's top-k neighbors, a *bad* pair should not. The store keeps the marks;
judging them against a version's neighbors is the sign-off side's (:func:`behemb_core.checks.golden.check_golden`).
"""

from __future__ import annotations

import unicodedata
from typing import Any

import numpy as np
import pandas as pd

from ..errors import StoreError
from ..identity import Actor, as_actor
from . import _journal, recovery
from . import _lifecycle_io as lio
from .audit_key import load_audit_key
from .filestore import Store
from .names import validate_version_name
from .policy import access

__all__ = ["GOLDEN_DIR", "GOLDEN_FILE", "GOLDEN_LABELS", "golden_log_digest", "golden_pairs", "golden_records",
           "mark_pair"]

GOLDEN_DIR = "golden"
GOLDEN_FILE = "pairs.jsonl"
GOLDEN_LABELS = ("good", "bad")
MAX_NOTE_LENGTH = 1000
MAX_ID_LENGTH = 200
RECORD_FIELDS = ("query_id", "neighbor_id", "label", "by", "at", "note", "version_seen")


def mark_pair(store: Store | str, query_id: int | str, neighbor_id: int | str, *, label: str, by: Actor | str,
              note: str | None = None, version: str | None = None) -> dict[str, Any]:
    """Record that ``by`` judges ``neighbor_id`` a ``"good"`` or ``"bad"`` neighbor of ``query_id``; return the
    record appended to ``<store>/golden/pairs.jsonl``.

    Ids are kept as given (an integer stays an integer); an id must be an integer or a non-empty string, and
    an item cannot be paired with itself. ``version`` (optional) names the version the pair was seen in and
    must exist in the store. Re-marking a pair appends a new record, which then wins. Invalid values raise
    :class:`StoreError` naming them. Appends are serialised by the store's lifecycle lock.
    """
    st = lio.store_of(store)
    q = _check_id(query_id, "query_id")
    n = _check_id(neighbor_id, "neighbor_id")
    if str(q) == str(n):
        raise StoreError(f"a golden pair needs two different items; got {q!r} twice")
    if label not in GOLDEN_LABELS:
        raise StoreError(f"label must be one of {list(GOLDEN_LABELS)}, got {label!r}")
    actor = as_actor(by)
    if note is not None:
        if not isinstance(note, str):
            raise StoreError(f"note must be a string or None, got {type(note).__name__} {note!r}")
        if len(note) > MAX_NOTE_LENGTH:
            raise StoreError(f"note has {len(note)} characters (at most {MAX_NOTE_LENGTH}): {note[:30]!r}...")
        note = note.strip() or None
    if version is not None:
        if not st.exists(validate_version_name(version)):
            raise st.missing_error(version)
    record = {"query_id": q, "neighbor_id": n, "label": label, "by": actor.id, "at": lio.utc_now(), "note": note,
              "version_seen": version, "actor": actor.record()}
    key = load_audit_key()
    with lio.locked(st):
        recovery.roll_forward(st, actor, key=key)
        access(st, actor).require("golden")
        j = _journal.read_journal(st, st.join(GOLDEN_DIR, GOLDEN_FILE), "golden pairs", _record_problem)
        j.strict_entries()  # never append behind a line that does not parse
        # ASCII JSON: a note cannot break the line; the record as written carries the chain's prev_sha256
        return _journal.append(st, j, record, point="golden.mark", key=key)


def golden_records(store: Store | str) -> list[dict[str, Any]]:
    """Every record of ``pairs.jsonl`` in file order (empty when nothing was marked). A line that is not a
    valid record raises IntegrityError naming the file and the line number."""
    path = lio.store_of(store).join(GOLDEN_DIR, GOLDEN_FILE)
    records = lio.read_jsonl_records(store, path, "golden pairs", _record_problem)
    return [{f: rec.get(f) for f in RECORD_FIELDS} for rec in records]


def golden_pairs(store: Store | str) -> pd.DataFrame:
    """The current golden pairs: the latest record of every (query, neighbor) pair, in the order pairs were
    first marked. Columns: ``query_id``, ``neighbor_id``, ``label``, ``by``, ``at``, ``note``,
    ``version_seen`` (of the latest record) and ``marks`` (how many records the pair has). Integer ids stay
    integers (an ``int64`` column when every id of the column is an integer)."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in golden_records(store):
        key = (str(rec["query_id"]), str(rec["neighbor_id"]))
        if key in latest:  # updated in place: pairs keep the order they were first marked in
            latest[key].update(rec, marks=latest[key]["marks"] + 1)
        else:
            latest[key] = {**rec, "marks": 1}
    columns = [*RECORD_FIELDS, "marks"]
    if not latest:
        return pd.DataFrame({c: pd.Series(dtype=object if c != "marks" else np.int64) for c in columns})
    df = pd.DataFrame(list(latest.values()), columns=columns)
    for col in ("query_id", "neighbor_id"):
        values = df[col].tolist()
        if all(type(v) is int for v in values):
            df[col] = df[col].astype(np.int64)
        else:
            df[col] = pd.Series(values, dtype=object)
    return df


def golden_log_digest(store: Store | str) -> str | None:
    """The sha256 of ``pairs.jsonl`` as it is now (None when nothing was marked): a new mark, or any change to
    the log, changes it — what a cache of judgements made on the marks is keyed on."""
    st = lio.store_of(store)
    try:
        return lio.sha256(st.read_bytes(st.join(GOLDEN_DIR, GOLDEN_FILE)))
    except FileNotFoundError:
        return None


# ------------------------------------------------------------------------------------------------ helpers


def _check_id(value: object, what: str) -> int | str:
    """An item id as given: an integer (numpy integers become int) or a non-empty single-line string."""
    if isinstance(value, (bool, np.bool_)):
        raise StoreError(f"{what} must be an integer or a string item id, got the boolean {value!r}")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, str):
        if not value.strip():
            raise StoreError(f"{what} must name an item; got the empty or blank string {value!r}")
        if len(value) > MAX_ID_LENGTH:
            raise StoreError(f"{what} has {len(value)} characters (at most {MAX_ID_LENGTH}): {value[:30]!r}...")
        if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in value):
            raise StoreError(f"{what} {value!r} contains control characters or line breaks")
        return value
    raise StoreError(f"{what} must be an integer or a string item id, got {type(value).__name__} {value!r}")


def _record_problem(rec: object) -> str | None:
    if not isinstance(rec, dict):
        return "not a JSON object"
    for f in ("query_id", "neighbor_id"):
        v = rec.get(f)
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            return f"{f!r} is not an integer or string id"
    if rec.get("label") not in GOLDEN_LABELS:
        return f"label {rec.get('label')!r} is not one of {list(GOLDEN_LABELS)}"
    if not isinstance(rec.get("by"), str) or not isinstance(rec.get("at"), str):
        return "'by' or 'at' is missing"
    return None
