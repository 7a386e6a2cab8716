"""Sessions from JSON Lines: one session per line, ``{"session_id": "abc", "items": [12, 45, 98]}``.

Fast path: ``pyarrow.json.read_json`` (multithreaded, no Python per line) with a schema guessed from the first
lines. Whenever Arrow fails or the result looks wrong (nulls, empty lists, fractional floats, types changing
between lines…), a line-by-line Python scan takes over; its job is to report the *first* bad line precisely
(file, 1-based line, field, what was expected). If it finds nothing wrong (e.g. ints and strings mixed), its
parse is used instead.

Ids: item ids are kept as given and normalised by :func:`~behemb_core.vocab.normalize_ids`: integers stay
integers, strings stay strings (strings that are all canonical integers become integers). If one data set
mixes integer and string item ids, **all ids become strings** (``12`` and ``"12"`` are then the same item).
``session_id`` may be an integer or a string and is stored as a string. Optional fields: ``user_id`` (integer or
string) and ``start_time`` (unix seconds or ISO 8601 text; naive times are UTC). Blank lines are skipped.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from ..errors import InputError
from ..progress import as_reporter
from ..sessions import DropLog, RawSessions, SessionOptions, build_sessions
from ..vocab import normalize_ids
from ._files import JSONL_SUFFIXES, READ_ERRORS, PathsLike, list_files, open_text, unreadable
from ._values import NAT
from .dataset import Dataset

_PEEK_LINES = 1000
_OPTIONAL = ("user_id", "start_time")


@dataclass
class _Part:
    """One file's sessions: ids normalised per file, combined across files later."""

    session_ids: np.ndarray  # object array of str
    lengths: np.ndarray  # int64
    items: np.ndarray  # int64, or object array of str
    users: np.ndarray | None  # int64 / object ids, aligned with sessions (junk where user_missing)
    user_missing: np.ndarray | None  # bool
    start_times: np.ndarray  # int64 ns, NAT where absent


class _Fallback(Exception):
    """The fast path cannot be trusted for this file; use the Python scan."""


def _kind(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number with a fraction" if not v.is_integer() else "float"
    if isinstance(v, str):
        return "string"
    return {"dict": "object", "list": "list"}.get(type(v).__name__, type(v).__name__)


# ---------------------------------------------------------------- the Python scan (diagnosis + slow parse)

def _bad(path: Path, line: int, field: str | None, msg: str) -> InputError:
    return InputError(msg, path=str(path), line=line, field=field)


def _check_line(obj: object, path: Path, n: int) -> tuple[str, list, object, int]:
    """Validate one parsed line; return (session id, items, user or None, start time ns or NAT)."""
    if not isinstance(obj, dict):
        raise _bad(path, n, None, f"expected a JSON object per line, got a {_kind(obj)}")
    if "session_id" not in obj:
        raise _bad(path, n, "session_id", "missing: every line needs a session_id (string or integer)")
    sid = obj["session_id"]
    if isinstance(sid, bool) or not isinstance(sid, (int, str)) or sid == "":
        raise _bad(path, n, "session_id", f"expected a non-empty string or an integer, got {_kind(sid)} {sid!r}")
    if "items" not in obj:
        raise _bad(path, n, "items", "missing: every line needs an items list")
    items = obj["items"]
    if not isinstance(items, list):
        raise _bad(path, n, "items", f"expected a list of item ids, got {_kind(items)} {items!r}"[:200])
    if not items:
        raise _bad(path, n, "items", "a session with no items (expected a non-empty list of item ids)")
    out = []
    for j, v in enumerate(items):
        if isinstance(v, bool) or not isinstance(v, (int, float, str)) or (isinstance(v, float) and not
                                                                           math.isfinite(v)):
            raise _bad(path, n, "items", f"item {j + 1} is {_kind(v)} {v!r}: expected an integer or a string id")
        if isinstance(v, float):
            if not v.is_integer():
                raise _bad(path, n, "items", f"item {j + 1} is {v!r}: expected an integer (no fraction) or a string")
            v = int(v)
        if isinstance(v, int) and not -(2**63) <= v < 2**63:
            raise _bad(path, n, "items", f"item {j + 1} is {v!r}: integer ids must fit in 64 bits")
        elif isinstance(v, str) and v == "":
            raise _bad(path, n, "items", f"item {j + 1} is an empty string: expected an item id")
        out.append(v)
    user = obj.get("user_id")
    if user is not None and (isinstance(user, bool) or not isinstance(user, (int, str))):
        raise _bad(path, n, "user_id", f"expected a string or an integer, got {_kind(user)} {user!r}")
    t = obj.get("start_time")
    t_ns = NAT
    if t is not None:
        if isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t):
            t_ns = int(round(t * 1e9))
        elif isinstance(t, str):
            try:
                dt = datetime.fromisoformat(t.replace("Z", "+00:00"))
            except ValueError:
                raise _bad(path, n, "start_time", f"cannot parse {t!r}: expected ISO 8601 or unix seconds") from None
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            t_ns = int(pd.Timestamp(dt).as_unit("ns").value)
        else:
            raise _bad(path, n, "start_time", f"expected ISO 8601 text or unix seconds, got {_kind(t)} {t!r}")
    return str(sid), out, user, t_ns


def _scan(path: Path) -> _Part:
    """Parse line by line; raise at the first bad line, else return the parsed sessions (slow, exact)."""
    sids, lengths, flat, users, times = [], [], [], [], []
    with open_text(path) as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise _bad(path, n, None, f"malformed JSON: {exc.msg} at column {exc.colno}") from None
            except RecursionError:
                raise _bad(path, n, None, "JSON nested too deeply to read (thousands of levels of brackets)") from None
            sid, items, user, t = _check_line(obj, path, n)
            sids.append(sid)
            lengths.append(len(items))
            flat.extend(items)
            users.append(user)
            times.append(t)
    if not sids:
        raise InputError("no sessions: the file is empty (or has only blank lines)", path=str(path))
    user_missing = np.array([u is None for u in users], dtype=bool)
    has_users = not user_missing.all()
    return _Part(
        session_ids=np.array(sids, dtype=object),
        lengths=np.array(lengths, dtype=np.int64),
        items=_normalize_mixed(flat),
        users=_normalize_mixed([u if u is not None else 0 for u in users]) if has_users else None,
        user_missing=user_missing if has_users else None,
        start_times=np.array(times, dtype=np.int64),
    )


def _normalize_mixed(values: list) -> np.ndarray:
    """Python ids (ints and/or strs) → int64 if all ints, else normalised strings (fallback path only)."""
    if all(type(v) is int for v in values):
        return np.array(values, dtype=np.int64)
    strs = np.array([str(v) for v in values], dtype=object)
    codes, uniq = pd.factorize(strs)
    return normalize_ids(np.asarray(uniq, dtype=object))[codes]


# ---------------------------------------------------------------- the Arrow fast path

def _peek_schema(path: Path) -> pa.Schema:
    """Guess column types from the first lines (the first non-null value of each field decides)."""
    types: dict[str, pa.DataType] = {}
    item_kinds: set[str] = set()
    seen = 0
    with open_text(path) as fh:
        for line in fh:
            if not line.strip():
                continue
            seen += 1
            if seen > _PEEK_LINES:
                break
            try:
                obj = json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                raise _Fallback() from None
            if not isinstance(obj, dict):
                raise _Fallback()
            for key in ("session_id", *_OPTIONAL):
                v = obj.get(key)
                if key not in types and v is not None and not isinstance(v, bool):
                    if isinstance(v, str):
                        types[key] = pa.string()
                    elif isinstance(v, (int, float)):
                        types[key] = pa.float64() if key == "start_time" else pa.int64()
            its = obj.get("items")
            if isinstance(its, list):
                item_kinds.update(type(v).__name__ for v in its)
    if seen == 0:
        raise InputError("no sessions: the file is empty (or has only blank lines)", path=str(path))
    # Strings win only if alone (mixed → Python scan); ints and whole floats together read as float64.
    if item_kinds == {"str"}:
        types["items"] = pa.list_(pa.string())
    elif item_kinds and item_kinds <= {"int", "float"}:
        types["items"] = pa.list_(pa.int64() if item_kinds == {"int"} else pa.float64())
    if "session_id" not in types or "items" not in types:
        raise _Fallback()
    fields = [("session_id", types["session_id"]), ("items", types["items"])]
    fields += [(k, types.get(k, pa.null())) for k in _OPTIONAL]  # null type: any later value → fallback
    return pa.schema(fields)


def _dict_normalize(arr: pa.Array) -> np.ndarray:
    """Normalise a string column through its dictionary (only distinct values are touched)."""
    enc = pc.dictionary_encode(arr)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    idx = enc.indices.to_numpy(zero_copy_only=False)
    uniq = normalize_ids(np.asarray(enc.dictionary.to_numpy(zero_copy_only=False), dtype=object))
    return uniq[idx]


def _fast(path: Path) -> _Part:
    schema = _peek_schema(path)
    try:
        table = pj.read_json(
            path,
            read_options=pj.ReadOptions(block_size=8 << 20),
            parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        raise _Fallback() from None
    if table.num_rows == 0:
        raise _Fallback()
    table = table.combine_chunks()
    sid, items = table["session_id"].chunk(0), table["items"].chunk(0)
    if sid.null_count or items.null_count:
        raise _Fallback()
    lengths = pc.list_value_length(items).to_numpy(zero_copy_only=False).astype(np.int64)
    values = pc.list_flatten(items)
    if (lengths == 0).any() or values.null_count:
        raise _Fallback()
    if pa.types.is_floating(values.type):
        v = values.to_numpy()
        if not (np.isfinite(v).all() and (np.mod(v, 1) == 0).all() and (np.abs(v) < 2**53).all()):
            raise _Fallback()
        flat = v.astype(np.int64)
    elif pa.types.is_integer(values.type):
        flat = values.to_numpy().astype(np.int64, copy=False)
    else:
        if pc.any(pc.equal(values, "")).as_py():
            raise _Fallback()
        flat = _dict_normalize(values)
    if pa.types.is_string(sid.type) and pc.any(pc.equal(sid, "")).as_py():
        raise _Fallback()
    session_ids = pc.cast(sid, pa.string()).to_numpy(zero_copy_only=False).astype(object)
    users = user_missing = None
    u = table["user_id"].chunk(0)
    if u.null_count < len(u):
        user_missing = u.is_null().to_numpy(zero_copy_only=False).astype(bool)
        filled = pc.fill_null(u, 0 if pa.types.is_integer(u.type) else "0")
        users = filled.to_numpy().astype(np.int64) if pa.types.is_integer(u.type) else _dict_normalize(filled)
    t = table["start_time"].chunk(0)
    times = np.full(table.num_rows, NAT, dtype=np.int64)
    if pa.types.is_floating(t.type):
        tv = t.to_numpy(zero_copy_only=False)
        ok = ~np.isnan(tv)
        times[ok] = np.round(tv[ok] * 1e9).astype(np.int64)
    elif pa.types.is_string(t.type):
        ser = pd.Series(t.to_numpy(zero_copy_only=False), dtype=object)
        parsed = pd.to_datetime(ser, format="ISO8601", utc=True, errors="coerce")
        if (ser.notna() & parsed.isna()).any():
            raise _Fallback()
        ok = parsed.notna().to_numpy()
        times[ok] = parsed[ok].dt.as_unit("ns").dt.tz_localize(None).to_numpy().view(np.int64)
    return _Part(session_ids, lengths, flat, users, user_missing, times)


# ---------------------------------------------------------------- combining files

def _combine_ids(arrays: list[np.ndarray]) -> np.ndarray:
    """Concatenate per-file ids; if any file has string ids, every id becomes a string."""
    if all(a.dtype.kind == "i" for a in arrays):
        return np.concatenate(arrays).astype(np.int64, copy=False)
    return np.concatenate([a.astype(str).astype(object) if a.dtype.kind == "i" else a for a in arrays])


def read_session_jsonl(paths: PathsLike, *, options: SessionOptions = SessionOptions(), progress=None) -> Dataset:
    """Read sessions from JSON Lines files (plain or ``.gz``; a folder = its ``.jsonl``/``.json`` files by name).

    Guarantees: sessions keep file order and item order (session ids are kept as given; duplicates are not
    merged); any invalid line is an :class:`InputError` naming the
    file, the 1-based line, the field and what was expected (first bad line of the first bad file); an empty
    file is an error. The cleaning rules of :func:`~behemb_core.sessions.build_sessions` are applied last, and
    ``source["events_read"] == sessions.n_events + sum(drops.values())``.
    """
    rep = as_reporter(progress)
    files = list_files(paths, JSONL_SUFFIXES, "JSON Lines")
    parts: list[_Part] = []
    rep("read", 0.0, f"reading {len(files)} file(s)")
    for i, f in enumerate(files):
        try:
            try:
                part = _fast(f)
            except _Fallback:
                part = _scan(f)
        except READ_ERRORS as exc:  # not UTF-8, a truncated .gz, an OS error: InputError naming file and line
            raise unreadable(f, exc) from None
        parts.append(part)
        rep("read", 0.8 * (i + 1) / len(files), f"read {f.name} ({len(part.lengths):,} sessions)")
    lengths = np.concatenate([p.lengths for p in parts])
    indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    users = None
    if any(p.users is not None for p in parts):
        users = _combine_ids([p.users if p.users is not None else np.zeros(len(p.lengths), np.int64)
                              for p in parts])
        missing = np.concatenate([p.user_missing if p.user_missing is not None
                                  else np.ones(len(p.lengths), bool) for p in parts])
        if missing.any():
            users = users.astype(object)
            users[missing] = None
    times = np.concatenate([p.start_times for p in parts])
    raw = RawSessions(
        indptr=indptr,
        item_ids=_combine_ids([p.items for p in parts]),
        session_ids=np.concatenate([p.session_ids for p in parts]),
        users=users,
        start_times=None if (times == NAT).all() else times,
    )
    drops = DropLog()
    rep("clean", 0.9, "cleaning sessions")
    sessions = build_sessions(raw, options, drops)
    source = {
        "kind": "sessions_jsonl",
        "paths": [str(f) for f in files],
        "files": len(files),
        "rows_read": int(len(lengths)),
        "events_read": int(indptr[-1]),
    }
    rep("clean", 1.0, f"{sessions.n_sessions:,} sessions, {sessions.n_events:,} events")
    return Dataset.from_log(sessions, drops, source, options)
