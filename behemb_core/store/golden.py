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

A *good* pair should be among the query's top-k neighbors, a *bad* pair should not:
:func:`check_golden` reports, for one version's embeddings, which good pairs are kept or lost, which bad
pairs are present or gone, and which pairs cannot be judged because an item has no vector in the version.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import numpy as np
import pandas as pd

from ..embeddings import ItemEmbeddings
from ..errors import ConfigError, InputError, StoreError
from ..identity import Actor, as_actor
from ..vocab import _CANONICAL_INT
from . import _journal, recovery
from . import _lifecycle_io as lio
from .audit_key import load_audit_key
from .filestore import Store
from .names import validate_version_name
from .policy import access

__all__ = ["GOLDEN_DIR", "GOLDEN_FILE", "GOLDEN_LABELS", "check_golden", "golden_pairs", "mark_pair"]

GOLDEN_DIR = "golden"
GOLDEN_FILE = "pairs.jsonl"
GOLDEN_LABELS = ("good", "bad")
MAX_NOTE_LENGTH = 1000
MAX_ID_LENGTH = 200
RECORD_FIELDS = ("query_id", "neighbor_id", "label", "by", "at", "note", "version_seen")
_BLOCK = 256  # query rows per similarity block in check_golden
_INT_RE = re.compile(_CANONICAL_INT)


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


def check_golden(emb: ItemEmbeddings, pairs: pd.DataFrame, *, k: int = 10) -> dict[str, Any]:
    """Re-check golden ``pairs`` (as from :func:`golden_pairs`) against one version's embeddings.

    For each pair: the neighbor's rank among the query's neighbors by cosine (the query itself excluded; ties
    as in :func:`behemb_core.neighbors.top_k_neighbors`: the lower item code first), ``rank`` when it is in the
    top ``k`` (else missing), and the status — ``kept``/``lost`` for a good pair (in / not in the top k),
    ``present``/``gone`` for a bad pair, ``missing`` when the query or the neighbor has no vector in this
    version (not judged, reported). ``passed`` is true when no good pair is lost and no bad pair is present;
    ``share_ok`` is the share of judged pairs that are as marked (None when none could be judged).
    ``could_not_judge`` is the reason in words when pairs were given but none has both items in this version
    (then ``passed`` only means "nothing was wrong" — nothing was judged, which is not a pass), else None.

    Returns ``{"k", "pairs", "checked", "good_kept", "good_lost", "bad_present", "bad_gone", "missing",
    "passed", "share_ok", "could_not_judge", "table"}`` where ``table`` is a DataFrame with the pair columns given plus
    ``status``, ``ok``, ``rank``, ``overall_rank``, ``similarity`` and ``detail``.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"k must be a positive integer, got {k!r}")
    k = int(k)
    if not isinstance(pairs, pd.DataFrame):
        raise InputError(f"golden pairs must be a DataFrame, got {type(pairs).__name__}")
    missing_cols = [c for c in ("query_id", "neighbor_id", "label") if c not in pairs.columns]
    if missing_cols:
        raise InputError(f"golden pairs lack the columns {missing_cols} (have {list(pairs.columns)})")
    bad_labels = sorted({str(v) for v in pairs["label"].tolist() if v not in GOLDEN_LABELS})
    if bad_labels:
        raise InputError(f"golden pairs have labels {bad_labels}; expected {list(GOLDEN_LABELS)}")

    table = pairs.reset_index(drop=True).copy()
    n_pairs = len(table)
    q_codes = _codes(emb, table["query_id"].tolist())
    n_codes = _codes(emb, table["neighbor_id"].tolist())
    overall = np.full(n_pairs, -1, dtype=np.int64)
    sims = np.full(n_pairs, np.nan, dtype=np.float64)
    judged = np.flatnonzero((q_codes >= 0) & (n_codes >= 0))
    if len(judged):
        vectors = np.ascontiguousarray(emb.vectors, dtype=np.float32)
        all_codes = np.arange(len(vectors))
        uniq, inverse = np.unique(q_codes[judged], return_inverse=True)
        for start in range(0, len(uniq), _BLOCK):
            block = uniq[start:start + _BLOCK]
            block_sims = vectors[block] @ vectors.T  # (block, n_items)
            for j, qc in enumerate(block.tolist()):
                rows = judged[inverse == start + j]
                row = block_sims[j]
                for r in rows.tolist():
                    nc = int(n_codes[r])
                    s = row[nc]
                    better = (row > s) | ((row == s) & (all_codes < nc))
                    better[qc] = False  # the query itself is never its own neighbor
                    better[nc] = False
                    overall[r] = int(better.sum()) + 1
                    sims[r] = float(s)

    labels = table["label"].tolist()
    status: list[str] = []
    ok: list[bool | None] = []
    rank: list[int | None] = []
    detail: list[str] = []
    for i in range(n_pairs):
        if q_codes[i] < 0 or n_codes[i] < 0:
            which = ("query and neighbor" if q_codes[i] < 0 and n_codes[i] < 0
                     else "query" if q_codes[i] < 0 else "neighbor")
            status.append("missing")
            ok.append(None)
            rank.append(None)
            detail.append(f"{which} not in this version")
            continue
        inside = overall[i] <= k
        rank.append(int(overall[i]) if inside else None)
        where = f"rank {overall[i]}" + ("" if inside else f" (outside the top {k})")
        if labels[i] == "good":
            status.append("kept" if inside else "lost")
            ok.append(bool(inside))
        else:
            status.append("present" if inside else "gone")
            ok.append(not inside)
        detail.append(where)
    table["status"] = pd.Series(status, dtype=object)
    table["ok"] = pd.Series(ok, dtype=object)
    table["rank"] = pd.array(rank, dtype="Int64")
    table["overall_rank"] = pd.array([int(v) if v > 0 else None for v in overall], dtype="Int64")
    table["similarity"] = np.round(sims, 6)
    table["detail"] = pd.Series(detail, dtype=object)

    counts = {s: status.count(s) for s in ("kept", "lost", "present", "gone", "missing")}
    checked = n_pairs - counts["missing"]
    good_ok = counts["kept"] + counts["gone"]
    return {
        "k": k,
        "pairs": n_pairs,
        "checked": checked,
        "good_kept": counts["kept"],
        "good_lost": counts["lost"],
        "bad_present": counts["present"],
        "bad_gone": counts["gone"],
        "missing": counts["missing"],
        "passed": counts["lost"] == 0 and counts["present"] == 0,
        "share_ok": round(good_ok / checked, 6) if checked else None,
        "could_not_judge": (f"none of the {n_pairs} golden pairs has both items in this version, so no pair "
                            "could be judged") if n_pairs and not checked else None,
        "table": table,
    }


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


def _codes(emb: ItemEmbeddings, ids: list[Any]) -> np.ndarray:
    """Codes of ``ids`` in ``emb``'s vocabulary (-1 when absent), matching ids by the vocabulary's id kind."""
    out = np.full(len(ids), -1, dtype=np.int64)
    if not ids:
        return out
    if emb.vocab.kind == "int":
        pos = [i for i, v in enumerate(ids) if not isinstance(v, (bool, np.bool_)) and (
            isinstance(v, (int, np.integer)) or (isinstance(v, str) and _INT_RE.fullmatch(v)))]
        if pos:
            keys = np.array([int(ids[i]) for i in pos], dtype=np.int64)
            out[pos] = emb.vocab.codes(keys)
        return out
    keys = np.array([str(v.item() if isinstance(v, np.generic) else v) for v in ids], dtype=object)
    return emb.vocab.codes(keys)
