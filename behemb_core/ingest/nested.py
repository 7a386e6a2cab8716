"""Sessions from *nested* JSON Lines: one session per line with its events as a list of objects, the layout of
OTTO and of many event exports::

    {"session": 12, "events": [{"aid": 3, "ts": 1659304800025, "type": "clicks"}, …]}

:class:`SessionFields` maps the session field and the item, time and type fields of the events (``None`` =
detected from the first lines, :func:`detect_session_fields`). Each line's events become one session in time
order (ties keep the given order; sessions keep file order, as in flat session files); numeric times are unix
time in ``time_unit`` or inferred from their magnitude (OTTO's ``ts`` is epoch milliseconds); the event type
plays the part of an event log's type column (``keep_event_types`` filters on it, and ``source["event_types"]``
counts the types kept). Fast path: one ``pyarrow.json`` read, flattened in
Arrow; when Arrow cannot read a file, a line-by-line scan names the first bad line and field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from pydantic import BaseModel, ConfigDict, Field

from ..errors import InputError
from ..progress import as_reporter
from ..sessions import DropLog, RawSessions, SessionOptions, build_sessions
from ._files import JSONL_SUFFIXES, READ_ERRORS, PathsLike, list_files, open_text, unreadable
from ._values import NAT, RowError, factorize_ids, id_strings, infer_time_unit, parse_timestamps, stable_order
from .columns import EventFilters
from .dataset import Dataset

SESSION_KEYS = ("session_id", "session", "sessionId", "session_key", "sid", "visit_id", "id")
EVENTS_KEYS = ("events", "interactions", "actions", "clicks", "items")
ITEM_KEYS = ("aid", "item_id", "itemId", "item", "product_id", "productId", "sku", "article_id", "id")
TIME_KEYS = ("ts", "timestamp", "time", "event_time", "datetime", "date", "created_at")
TYPE_KEYS = ("type", "event_type", "event", "action")

#: The two layouts a session file may have, as shown in error messages.
FLAT_SHAPE = '{"session_id": "abc", "items": [12, 45, 98]}'
NESTED_SHAPE = '{"session": 12, "events": [{"aid": 3, "ts": 1659304800025, "type": "clicks"}]}'
_DETECT_LINES = 20


class SessionFields(BaseModel):
    """Fields of a session JSON Lines file. ``layout``: ``flat`` (``session_id`` + an ``items`` list of ids),
    ``nested`` (a session field + a list of event objects) or ``auto`` (from the first line). Nested fields left
    ``None`` are detected; ``type=""`` means the events have no type field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    layout: Literal["auto", "flat", "nested"] = "auto"
    session: str | None = Field(None, description="Nested layout: the session id field of a line.")
    events: str | None = Field(None, description="Nested layout: the field holding the list of event objects.")
    item: str | None = Field(None, description="Nested layout: the item id field of an event (OTTO: aid).")
    time: str | None = Field(None, description="Nested layout: the time field of an event ('' = none).")
    type: str | None = Field(None, description="Nested layout: the event type field ('' = none).")
    time_unit: Literal["s", "ms", "us", "ns"] | None = Field(
        None, description="Unit of numeric event times (default: inferred from their magnitude).")


def _pick(obj: dict[str, Any], keys: tuple[str, ...], ok: Any) -> str | None:
    lower = {k.lower(): k for k in obj}
    for k in keys:
        real = lower.get(k.lower())
        if real is not None and ok(obj[real]):
            return real
    return None


def _scalar(v: object) -> bool:
    return isinstance(v, (int, float, str)) and not isinstance(v, bool)


def _first_objects(path: Path, n: int = _DETECT_LINES) -> list[tuple[int, object]]:
    out: list[tuple[int, object]] = []
    try:
        with open_text(path) as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    out.append((lineno, json.loads(line)))
                except (json.JSONDecodeError, RecursionError) as exc:
                    if out:  # the layout is known from the lines before; the reader names this line
                        break
                    msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
                    raise InputError(f"malformed JSON: {msg}", path=str(path), line=lineno) from None
                if len(out) >= n:
                    break
    except READ_ERRORS as exc:
        raise unreadable(path, exc) from None
    return out


def detect_session_fields(path: str | Path, given: SessionFields | None = None) -> SessionFields:
    """The layout and fields of a session file, from its first lines; fields in ``given`` win. A file that is
    neither layout is an :class:`InputError` showing both expected shapes."""
    p = Path(path)
    given = given or SessionFields()
    objs = _first_objects(p)
    if not objs:
        raise InputError("no sessions: the file is empty (or has only blank lines)", path=str(p))
    lineno, first = objs[0]
    if not isinstance(first, dict):
        raise InputError(f"expected a JSON object per line ({FLAT_SHAPE} or {NESTED_SHAPE})", path=str(p),
                         line=lineno)
    if given.layout == "flat" or (given.layout == "auto" and not given.events and "items" in first
                                  and isinstance(first.get("items"), list)
                                  and all(_scalar(v) for v in first["items"])):
        return given.model_copy(update={"layout": "flat"})
    events = given.events or _pick(first, EVENTS_KEYS, lambda v: isinstance(v, list) and v
                                   and all(isinstance(e, dict) for e in v))
    if events is None:
        events = next((k for k, v in first.items() if isinstance(v, list) and v
                       and all(isinstance(e, dict) for e in v)), None)
    session = given.session or _pick(first, SESSION_KEYS, _scalar)
    if events is None or session is None:
        missing = "a list of event objects" if events is None else "a session id field"
        raise InputError(
            f"not a session file layout this reader knows: line {lineno} has no {missing} "
            f"(fields: {', '.join(map(repr, first))}). Expected one session per line, either {FLAT_SHAPE} or "
            f"{NESTED_SHAPE}; name the fields (CLI --session-field/--events-field/--event-item-field/"
            "--event-time-field/--event-type-field, or the Data page's session fields)", path=str(p), line=lineno)
    sample: dict[str, Any] = {}
    for _, obj in objs:
        if isinstance(obj, dict) and isinstance(obj.get(events), list):
            for e in obj[events][:50]:
                if isinstance(e, dict):
                    for k, v in e.items():
                        sample.setdefault(k, v)
    if session not in first:
        raise InputError(f"the session field {session!r} is not on the line (fields: {', '.join(map(repr, first))})",
                         path=str(p), line=lineno, field=session)
    if not isinstance(first.get(events), list):
        raise InputError(f"the events field {events!r} is not a list of event objects on the line (fields: "
                         f"{', '.join(map(repr, first))})", path=str(p), line=lineno, field=events)
    for role, name in (("item", given.item), ("time", given.time), ("type", given.type)):
        if name and name not in sample:
            raise InputError(f"the event {role} field {name!r} is in none of the first events (event fields: "
                             f"{', '.join(map(repr, sample))})", path=str(p), line=lineno, field=f"{events}[].{name}")
    item = given.item or _pick(sample, ITEM_KEYS, _scalar)
    if item is None:
        raise InputError(f"no item field found in the events of {events!r} (looked for {', '.join(ITEM_KEYS)}; "
                         f"event fields: {', '.join(map(repr, sample))}); name it", path=str(p), line=lineno,
                         field=events)
    time = given.time if given.time is not None else (_pick(sample, TIME_KEYS, _scalar) or "")
    kind = given.type if given.type is not None else (_pick(sample, TYPE_KEYS, lambda v: isinstance(v, str)) or "")
    return SessionFields(layout="nested", session=session, events=events, item=item, time=time, type=kind,
                         time_unit=given.time_unit)


@dataclass
class _Part:
    """One file's nested sessions, flattened: one row per session, one per event."""

    session_ids: np.ndarray  # object str, per session
    lines: np.ndarray  # int64, the line of each session
    lengths: np.ndarray  # int64 events per session
    items: pa.ChunkedArray
    times: pa.ChunkedArray | None
    types: pa.ChunkedArray | None


def _bad(path: Path, line: int, field: str, msg: str) -> InputError:
    return InputError(msg, path=str(path), line=line, field=field)


def _arrow(path: Path, f: SessionFields) -> _Part:
    """The fast path: ``pyarrow.json`` with inferred types; raises ``pa.ArrowException`` or ``_Suspect``."""
    table = pj.read_json(path, read_options=pj.ReadOptions(block_size=8 << 20))
    names = table.column_names
    if f.session not in names or f.events not in names:
        raise _Suspect()
    sess, ev = table[f.session], table[f.events]
    if sess.null_count or ev.null_count or not pa.types.is_list(ev.type) \
            or not pa.types.is_struct(ev.type.value_type):
        raise _Suspect()
    ev = ev.combine_chunks()
    lengths = pc.list_value_length(ev).to_numpy(zero_copy_only=False).astype(np.int64)
    if (lengths == 0).any():
        raise _Suspect()
    flat = pc.list_flatten(ev)
    fields = {flat.type.field(i).name: i for i in range(flat.type.num_fields)}
    if f.item not in fields or (f.time and f.time not in fields) or (f.type and f.type not in fields):
        raise _Suspect()

    def column(name: str) -> pa.ChunkedArray:
        return pa.chunked_array([pc.struct_field(flat, [fields[name]])])

    items = column(str(f.item))
    if not (pa.types.is_integer(items.type) or pa.types.is_string(items.type)):
        raise _Suspect()
    if pa.types.is_string(sess.type) and pc.any(pc.equal(sess, "")).as_py():
        raise _Suspect()
    if not (pa.types.is_integer(sess.type) or pa.types.is_string(sess.type)):
        raise _Suspect()
    session_ids = pc.cast(sess, pa.string()).to_numpy().astype(object)
    return _Part(session_ids, np.zeros(0, np.int64), lengths, items,
                 column(f.time) if f.time else None, column(f.type) if f.type else None)


class _Suspect(Exception):
    """Arrow read the file, but something is off: the Python scan decides (and names the line)."""


def _scan(path: Path, f: SessionFields) -> _Part:
    """Line by line: the first bad line is an InputError naming the file, line and field; else the data."""
    sids: list[str] = []
    lines: list[int] = []
    lengths: list[int] = []
    items: list[object] = []
    times: list[object] = []
    types: list[object] = []
    with open_text(path) as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise _bad(path, n, "", f"malformed JSON: {exc.msg} at column {exc.colno}") from None
            except RecursionError:
                raise _bad(path, n, "", "JSON nested too deeply to read") from None
            if not isinstance(obj, dict):
                raise _bad(path, n, "", f"expected a JSON object per line like {NESTED_SHAPE}")
            sid = obj.get(f.session)
            if not _scalar(sid) or sid == "":
                what = "missing" if f.session not in obj else f"expected a string or an integer, got {sid!r}"
                raise _bad(path, n, str(f.session), f"{what} (expected a line like {NESTED_SHAPE})")
            events = obj.get(f.events)
            if not isinstance(events, list) or not events:
                what = "missing" if f.events not in obj else f"expected a non-empty list of event objects, " \
                                                             f"got {str(events)[:80]}"
                raise _bad(path, n, str(f.events), f"{what} (expected a line like {NESTED_SHAPE})")
            for j, e in enumerate(events, 1):
                if not isinstance(e, dict):
                    raise _bad(path, n, str(f.events), f"event {j} is not an object: {str(e)[:80]}")
                v = e.get(f.item)
                if v is not None and (not _scalar(v) or (isinstance(v, float) and not v.is_integer())):
                    raise _bad(path, n, f"{f.events}[].{f.item}",
                               f"event {j}: expected an integer or a string item id, got {v!r}")
                t = e.get(f.time) if f.time else None
                if t is not None and not _scalar(t):
                    raise _bad(path, n, f"{f.events}[].{f.time}",
                               f"event {j}: expected unix time or ISO 8601 text, got {t!r}")
                items.append(None if v is None else (int(v) if isinstance(v, float) else v))
                times.append(t)
                types.append(None if not f.type or e.get(f.type) is None else str(e.get(f.type)))
            sids.append(str(sid))
            lines.append(n)
            lengths.append(len(events))
    if not sids:
        raise InputError("no sessions: the file is empty (or has only blank lines)", path=str(path))
    kinds = {type(v) for v in items if v is not None}
    item_arr = pa.array([str(v) if v is not None else None for v in items], pa.large_string()) \
        if str in kinds else pa.array(items, pa.int64())
    tkinds = {type(v) for v in times if v is not None}
    if str in tkinds and len(tkinds) > 1:  # the first time says which kind the field holds, as in event logs
        text = isinstance(next(v for v in times if v is not None), str)
        i = next(i for i, v in enumerate(times) if v is not None and isinstance(v, str) != text)
        s = int(np.searchsorted(np.cumsum(lengths), i, side="right"))
        raise _bad(path, lines[s], f"{f.events}[].{f.time}", f"cannot parse timestamp {times[i]!r}: expected "
                   + ("ISO 8601 text like the first events" if text else "a number (unix time) like the first events"))
    time_arr = None
    if f.time:
        time_arr = pa.array(times, pa.large_string() if str in tkinds else pa.float64())
    return _Part(np.array(sids, dtype=object), np.array(lines, np.int64), np.array(lengths, np.int64),
                 pa.chunked_array([item_arr]), None if time_arr is None else pa.chunked_array([time_arr]),
                 pa.chunked_array([pa.array(types, pa.large_string())]) if f.type else None)


def _read(path: Path, f: SessionFields) -> _Part:
    try:
        try:
            return _arrow(path, f)
        except (pa.ArrowException, _Suspect):
            return _scan(path, f)
    except READ_ERRORS as exc:
        raise unreadable(path, exc) from None


def _line_of(part: _Part, path: Path, event_row: int) -> int | None:
    """The file line of event ``event_row`` (a scan for the line numbers when the fast path read the file)."""
    lines = part.lines
    if len(lines) == 0:
        with open_text(path) as fh:
            lines = np.array([n for n, ln in enumerate(fh, 1) if ln.strip()], np.int64)
    session = int(np.searchsorted(np.cumsum(part.lengths), event_row, side="right"))
    return int(lines[session]) if session < len(lines) else None


def read_nested_sessions(
    paths: PathsLike, *, fields: SessionFields | None = None, filters: EventFilters = EventFilters(),
    options: SessionOptions = SessionOptions(), progress: Any = None,
) -> Dataset:
    """Read nested session JSON Lines (see the module docstring) into a :class:`Dataset`.

    Every event is either in a session or counted in ``drops`` (missing item id, missing time when a time field
    is mapped, event type not kept, excluded item, then the cleaning rules of :func:`build_sessions`), so
    ``source["events_read"] == sessions.n_events + sum(drops.values())``.
    """
    rep = as_reporter(progress)
    files = list_files(paths, JSONL_SUFFIXES, "JSON Lines")
    f = detect_session_fields(files[0], fields)
    if f.layout != "nested":
        raise InputError(f"this file has the flat layout ({FLAT_SHAPE}); read it as plain session JSON Lines",
                         path=str(files[0]))
    parts = []
    for i, path in enumerate(files):
        parts.append(_read(path, f))
        rep("read", 0.7 * (i + 1) / len(files), f"read {path.name} ({len(parts[-1].lengths):,} sessions)")
    lengths = np.concatenate([p.lengths for p in parts])
    n_events = int(lengths.sum())
    session_of = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    items = pa.chunked_array([c for p in parts for c in p.items.chunks]) if len({p.items.type for p in parts}) == 1 \
        else pa.chunked_array([c.cast(pa.large_string()) for p in parts for c in p.items.chunks])
    codes, uniq = factorize_ids(items, sort=False)
    times = np.full(n_events, NAT, dtype=np.int64)
    unit = f.time_unit
    if f.time:
        offset = 0
        for path, p in zip(files, parts, strict=True):
            assert p.times is not None
            if unit is None:
                unit = infer_time_unit(p.times)
            try:
                times[offset:offset + int(p.lengths.sum())] = parse_timestamps(
                    p.times, unit=unit or "s", fmt=None, path=path, first_line=0)
            except RowError as err:
                raise InputError(err.detail, path=str(path), line=_line_of(p, path, err.row),
                                 field=f"{f.events}[].{f.time}") from None
            offset += int(p.lengths.sum())
    drops = DropLog()
    keep = np.ones(n_events, dtype=bool)

    def drop(mask: np.ndarray, reason: str) -> None:
        hit = keep & mask
        drops.add(reason, int(hit.sum()))
        keep[hit] = False

    drop(codes < 0, "missing item id")
    if f.time:
        drop(times == NAT, "missing timestamp")
    type_codes = type_names = None
    if f.type:
        type_codes, type_names = factorize_ids(
            pa.chunked_array([c.cast(pa.large_string()) for p in parts
                              for c in (p.types.chunks if p.types is not None else [])], type=pa.large_string()),
            sort=False)
    if filters.keep_event_types is not None:
        if type_codes is None or type_names is None:
            raise InputError("keep_event_types needs an event type field in the events (map it)",
                             path=str(files[0]), field="type")
        allowed = np.isin(id_strings(type_names).astype(str), filters.keep_event_types)
        drop(~np.append(allowed, False)[type_codes], "event type not in keep_event_types")
    if filters.exclude_items:
        excluded = np.isin(id_strings(uniq).astype(str), [str(x) for x in filters.exclude_items])
        drop(np.append(excluded, False)[codes], "excluded item")
    rep("sessionize", 0.8, "ordering events by time")
    idx = np.flatnonzero(keep)
    order = idx[stable_order([session_of[idx], times[idx]])] if f.time else idx
    counts = np.bincount(session_of[order], minlength=len(lengths))
    has = counts > 0
    drops.note("sessions with no events left after the filters", int((~has).sum()))
    indptr = np.zeros(int(has.sum()) + 1, dtype=np.int64)
    np.cumsum(counts[has], out=indptr[1:])
    session_ids = np.concatenate([p.session_ids for p in parts])[has]
    starts = times[order][indptr[:-1]] if f.time and len(order) else None
    raw = RawSessions(indptr=indptr, item_ids=uniq[codes[order]], session_ids=session_ids, start_times=starts)
    sessions = build_sessions(raw, options, drops)
    event_types: dict[str, int] = {}
    if type_codes is not None and type_names is not None and len(order):
        kept = np.bincount(type_codes[order][type_codes[order] >= 0], minlength=len(type_names))
        top = np.argsort(-kept, kind="stable")[:10]
        event_types = {str(type_names[i]): int(kept[i]) for i in top if kept[i]}
    timestamp = None
    if f.time:
        names = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}
        timestamp = {"column": f"{f.events}[].{f.time}", "found_by": "given" if fields and fields.time else "name",
                     "unit": unit or "date-time (ISO 8601)", "unit_assumed": unit is not None and f.time_unit is None}
        if unit:
            timestamp["meaning"] = f"numbers read as {names[unit]} since 1970-01-01 (unix time)"
    source = {
        "kind": "sessions_jsonl",
        "layout": "nested",
        "paths": [str(p) for p in files],
        "files": len(files),
        "fields": f.model_dump(),
        "columns": {"session": f.session, "item": f.item, "timestamp": f.time or None, "event_type": f.type or None},
        "filters": filters.model_dump(),
        "event_types": event_types,
        "timestamp": timestamp,
        "rows_read": int(len(lengths)),
        "events_read": n_events,
    }
    rep("sessionize", 1.0, f"{sessions.n_sessions:,} sessions, {sessions.n_events:,} events")
    return Dataset.from_log(sessions, drops, source, options)
