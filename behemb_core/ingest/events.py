"""Event logs (one row per interaction) → sessions.

Reading is columnar (pyarrow), filtering is a chain of boolean masks with one drop reason each, and
sessionization is one stable sort over the whole table — no Python work per event, user or session beyond
building session-id strings with pandas. Guarantees:

* a session never mixes two users (gap mode: a new session starts when the user changes or after more than
  ``gap_minutes`` of inactivity; session-column mode: sessions are grouped by (session id, user) and a session id
  shared by several users is split per user, counted as a note);
* events inside a session are in time order, ties in file order;
* sessions are returned in order of their first event's time (ties: by user, then session id order);
* every row read is either in a session or counted in ``drops`` under exactly one reason, so
  ``rows_read == n_events + sum(drops)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from ..metadata import ItemMetadata
from ..progress import Reporter, as_reporter
from ..sessions import DropLog, RawSessions, SessionOptions, build_sessions
from ._files import TABLE_SUFFIXES, PathsLike, list_files, peek_rows, read_header, read_table, sniff_header
from ._values import (
    NAT,
    RowError,
    factorize_ids,
    id_strings,
    infer_time_unit,
    parse_numbers,
    parse_timestamps,
    physical_line,
    stable_order,
)
from .columns import EventColumns, EventFilters, resolve_columns
from .dataset import Dataset
from .item_names import most_frequent_names


@dataclass
class _Rows:
    """All rows of all files, column by column (strings stay in Arrow until factorized)."""

    strings: dict[str, pa.ChunkedArray]
    times: np.ndarray
    weights: np.ndarray | None
    n_rows: int
    rows_per_file: list[int]
    unit: str | None = None  # unit of numeric timestamps (given or inferred); None for text/typed times


def _read_all(
    files: list[Path], cols: EventColumns, header0: list[str], name_column: str | None, rep: Reporter
) -> _Rows:
    string_roles = [r for r in ("user", "item", "session", "event_type") if getattr(cols, r)]
    needed = list(dict.fromkeys(
        [getattr(cols, r) for r in string_roles] + [cols.timestamp] + ([cols.weight] if cols.weight else [])
        + ([name_column] if name_column else [])
    ))
    chunks: dict[str, list] = {r: [] for r in string_roles + (["name"] if name_column else [])}
    times, weights, rows_per_file = [], [], []
    unit = cols.timestamp_unit
    for i, f in enumerate(files):
        header, delim = read_header(f, cols.delimiter, cols.header)
        if header != header0 and cols.header:
            raise InputError(
                f"header differs from the first file ({files[0].name}): expected {header0}, got {header}",
                path=str(f), line=1,
            )
        table = read_table(f, needed, delim, names=header0 if delim is not None else None, header=bool(cols.header))
        # text: header is line 1 (if any); Parquet: 1-based row number
        first_line = 2 if delim is not None and cols.header else 1
        if unit is None and cols.timestamp_format is None:
            unit = infer_time_unit(table[cols.timestamp])
        for r in string_roles:
            chunks[r].extend(table[getattr(cols, r)].chunks)
        if name_column:
            chunks["name"].extend(table[name_column].chunks)
        try:
            times.append(parse_timestamps(table[cols.timestamp], unit=unit or "s",
                                          fmt=cols.timestamp_format, path=f, first_line=first_line))
            if cols.weight:
                weights.append(parse_numbers(table[cols.weight], path=f, first_line=first_line, field="weight"))
        except RowError as err:
            line = physical_line(f, delim, err.row, bool(cols.header)) if delim is not None else None
            if line is None or line == err.line:
                raise
            raise InputError(err.detail, path=str(f), line=line, field=err.field) from None
        rows_per_file.append(table.num_rows)
        rep("read", (i + 1) / len(files), f"read {f.name} ({table.num_rows:,} rows)", file=i + 1,
            files=len(files))
    strings = {r: _same_type(c) for r, c in chunks.items()}
    return _Rows(
        strings=strings,
        times=np.concatenate(times) if times else np.zeros(0, np.int64),
        weights=np.concatenate(weights) if weights else None,
        n_rows=int(sum(rows_per_file)),
        rows_per_file=rows_per_file,
        unit=unit,
    )


def _sample(path: Path, delimiter: str | None, header: bool) -> tuple[list[str], list[list[str]], str | None]:
    """Header, up to 200 sample rows (as text, for detection by content) and delimiter of the first file."""
    names, delim, rows = peek_rows(path, delimiter, header, rows=200)
    return names, rows, delim


def _timestamp_note(cols: EventColumns, found_by: str, unit: str | None) -> dict:
    """How the timestamp column was chosen and read, for the summary: ``unit`` is the unit of numeric times
    (``unit_assumed`` when inferred from the magnitude rather than given), or how text is parsed."""
    if unit is None:
        how = f"text, strptime {cols.timestamp_format!r}" if cols.timestamp_format else "date-time (ISO 8601)"
        return {"column": cols.timestamp, "found_by": found_by, "unit": how, "unit_assumed": False}
    names = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}
    return {"column": cols.timestamp, "found_by": found_by, "unit": unit,
            "unit_assumed": cols.timestamp_unit is None,
            "meaning": f"numbers read as {names[unit]} since 1970-01-01 (unix time)"}


def event_log_source(
    *, paths: list[str], cols: EventColumns, filters: EventFilters, name_column: str | None, session_mode: bool,
    delimiter: str | None, timestamp_found_by: str, unit: str | None, rows_read: int, rows_kept: int,
) -> dict:
    """``Dataset.source`` of an event log — the one description both engines record."""
    return {
        "kind": "event_log",
        "paths": paths,
        "files": len(paths),
        "columns": cols.model_dump(),
        "filters": filters.model_dump(),
        "name_column": name_column,
        "mode": "session_column" if session_mode else "gap",
        "delimiter": delimiter,
        "timestamp": _timestamp_note(cols, timestamp_found_by, unit),
        "rows_read": rows_read,
        "rows_kept": rows_kept,
    }


def _same_type(chunks: list[pa.Array]) -> pa.ChunkedArray:
    """One column from per-file chunks; files whose types differ (Parquet) are unified as text."""
    types = {c.type for c in chunks}
    if len(types) <= 1:
        return pa.chunked_array(chunks, type=types.pop() if types else pa.large_string())
    return pa.chunked_array([pc.cast(c, pa.large_string()) for c in chunks], type=pa.large_string())


def _join(left: pa.Array, right: pa.Array, sep: str) -> pa.Array:
    """Element-wise ``left + sep + right`` for string arrays (Arrow C++, no Python per value)."""
    return pc.binary_join_element_wise(
        pc.cast(left, pa.large_string()), pc.cast(right, pa.large_string()), pa.scalar(sep, pa.large_string())
    )


def _filter(
    rows: _Rows, codes: dict[str, np.ndarray], dicts: dict[str, np.ndarray], filters: EventFilters,
    session_mode: bool, drops: DropLog,
) -> np.ndarray:
    """Mask of rows kept; each removed row is counted under the first rule that removes it, in this order:
    missing item, missing timestamp, missing user (and/or session), event type, excluded item, session prefix,
    missing / non-positive weight."""
    keep = np.ones(rows.n_rows, dtype=bool)

    def drop(mask: np.ndarray, reason: str) -> None:
        hit = keep & mask
        drops.add(reason, int(hit.sum()))
        keep[hit] = False

    drop(codes["item"] < 0, "missing item id")
    drop(rows.times == NAT, "missing timestamp")
    user = codes.get("user")
    if session_mode:
        sess = codes["session"]
        if user is not None:
            drop((user < 0) & (sess < 0), "missing user and session id")
        drop(sess < 0, "missing session id")
    else:  # gap mode: resolve_columns requires the user column
        drop(codes["user"] < 0, "missing user id")
    if filters.keep_event_types is not None:
        allowed = np.isin(id_strings(dicts["event_type"]).astype(str), filters.keep_event_types)
        ev = codes["event_type"]
        drop(~np.append(allowed, False)[ev], "event type not in keep_event_types")
    if filters.exclude_items:
        excluded = np.isin(id_strings(dicts["item"]).astype(str), [str(x) for x in filters.exclude_items])
        drop(np.append(excluded, False)[codes["item"]], "excluded item")
    if filters.exclude_session_prefix is not None:
        prefix = filters.exclude_session_prefix
        starts = pd.Series(id_strings(dicts["session"]), dtype=object).str.startswith(prefix).to_numpy(bool)
        drop(np.append(starts, False)[codes["session"]], f"session id starts with {prefix!r}")
    if rows.weights is not None and filters.drop_nonpositive_weight:
        drop(np.isnan(rows.weights), "missing weight")
        drop(rows.weights <= 0, "non-positive weight")
    return keep


def _sessionize(
    user: np.ndarray | None, sess: np.ndarray | None, times: np.ndarray, gap_ns: int,
    user_str: pa.Array, sess_str: pa.Array | None, drops: DropLog,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """Sort kept rows into sessions. Returns (event order, indptr, session ids, session user codes, starts).

    One stable sort: by (user, time) in gap mode, by (session, user, time) in session-column mode; then
    sessions are put in order of their first event's time (stable).
    """
    n = len(times)
    if sess is None:
        if user is None:
            raise ValueError("sessions by inactivity gap need the user column")
        order = stable_order([user, times])
        u, t = user[order], times[order]
        brk = np.ones(n, dtype=bool)
        brk[1:] = (u[1:] != u[:-1]) | ((t[1:] - t[:-1]) > gap_ns)
    else:
        u = user if user is not None else np.zeros(n, dtype=np.int64)
        order = stable_order([sess, u, times])
        u, s, t = u[order], sess[order], times[order]
        brk = np.ones(n, dtype=bool)
        brk[1:] = (s[1:] != s[:-1]) | (u[1:] != u[:-1])
    starts = np.flatnonzero(brk)
    indptr = np.append(starts, n).astype(np.int64)
    s_user, s_time = u[starts], t[starts]
    # Chronological session order (stable: ties keep the grouping order above).
    perm = np.argsort(s_time, kind="stable")
    s_user, s_time = s_user[perm], s_time[perm]
    user_or_q = pa.concat_arrays([pc.cast(user_str, pa.large_string()), pa.array(["?"], pa.large_string())])
    user_pos = pa.array(np.where(s_user < 0, len(user_str), s_user))  # missing user -> "?"
    if sess is None:
        # k = rank of the session among its user's sessions (1-based), counted in time order.
        by_user = stable_order([s_user])
        su = s_user[by_user]
        first = np.ones(len(su), dtype=bool)
        first[1:] = su[1:] != su[:-1]
        pos = np.arange(len(su))
        k = np.empty(len(su), dtype=np.int64)
        k[by_user] = pos - np.maximum.accumulate(np.where(first, pos, 0)) + 1
        ids = _join(user_or_q.take(user_pos), pa.array(k), ":")
    else:
        if sess_str is None:
            raise ValueError("sessions from the session column need the session id strings")
        s_sess = s[starts][perm]
        per_id = np.bincount(s_sess, minlength=len(sess_str))
        shared = per_id[s_sess] > 1
        drops.note("session ids shared by several users (split per user)", int((per_id > 1).sum()))
        ids = pc.cast(sess_str, pa.large_string()).take(pa.array(s_sess))
        if shared.any():
            split = _join(ids, user_or_q.take(user_pos), "@")
            ids = pc.if_else(pa.array(shared), split, ids)
    lengths = np.diff(indptr)[perm]
    new_indptr = np.zeros(len(perm) + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_indptr[1:])
    gather = np.repeat(indptr[:-1][perm] - new_indptr[:-1], lengths) + np.arange(n)
    session_ids = np.asarray(ids.to_numpy(zero_copy_only=False), dtype=object)
    return order[gather], new_indptr, session_ids, s_user if user is not None else None, s_time


def read_event_log(
    paths: PathsLike,
    *,
    columns: EventColumns | None = None,
    filters: EventFilters = EventFilters(),
    options: SessionOptions = SessionOptions(),
    name_column: str | None = None,
    progress=None,
) -> Dataset:
    """Read event-log files (CSV/TSV/TXT, ``.gz``, Parquet; a folder = all its data files by name) into sessions.

    Columns are auto-detected (:func:`detect_columns`) unless given; text id columns are read as strings and normalised
    once (``85123A`` stays a string, ``17850.0`` becomes ``17850``). The delimiter of text files is
    ``columns.delimiter`` or sniffed; ``columns.header=False`` reads headerless files (``column_1``, …). A timestamp
    column without a known name is found by content (:func:`detect_timestamp`). Timestamps: numbers are unix time in
    ``columns.timestamp_unit`` (inferred from their magnitude when not given; the unit used and how the column was found
    are in ``source["timestamp"]``), text is ISO 8601 or ``columns.timestamp_format``; an unparseable value is an
    :class:`InputError` with file, line and value. With a session column and ``options.use_session_column`` sessions
    follow it (split per user when shared); otherwise a user's events are split after more than ``options.gap_minutes``
    of inactivity. ``name_column`` (e.g. ``Description``) attaches the most frequent name per item as
    :class:`ItemMetadata`. The cleaning rules of :func:`build_sessions` are applied last. See the module docstring for
    the guarantees.
    """
    rep = as_reporter(progress)
    files = list_files(paths, TABLE_SUFFIXES, "event log")
    if columns is not None and columns.header is None:
        columns = columns.model_copy(update={"header": sniff_header(files[0], columns.delimiter)})
    delimiter, has_header = (columns.delimiter, bool(columns.header)) if columns is not None else (None, True)
    header0, sample, delim0 = _sample(files[0], delimiter, has_header)
    use_session = bool(options.use_session_column)
    found_by: dict[str, str] = {}
    cols = resolve_columns(header0, columns, str(files[0]), filters, use_session=use_session, sample=sample,
                           found_by=found_by)
    if name_column is not None and name_column not in header0:
        raise InputError(
            f"name column {name_column!r} is not in the file; columns present: {', '.join(map(repr, header0))}",
            path=str(files[0]), field="name",
        )
    session_mode = use_session and cols.session is not None
    rows = _read_all(files, cols, header0, name_column, rep.sub(0.0, 0.7))
    if rows.n_rows == 0:
        where = str(files[0]) if len(files) == 1 else f"{len(files)} files from {files[0].parent}"
        raise InputError("no data rows: the event log has only a header", path=where)

    rep("sessionize", 0.75, "factorizing ids")
    codes: dict[str, np.ndarray] = {}
    dicts: dict[str, np.ndarray] = {}
    for role, arr in rows.strings.items():
        if role != "name":
            codes[role], dicts[role] = factorize_ids(arr, sort=role == "user")
    drops = DropLog()
    keep = _filter(rows, codes, dicts, filters, session_mode, drops)
    idx = np.flatnonzero(keep)
    user = codes["user"][idx] if "user" in codes else None
    sess = codes["session"][idx] if session_mode else None
    user_str = pa.array(id_strings(dicts["user"]) if "user" in dicts else [], pa.large_string())
    sess_str = pa.array(id_strings(dicts["session"]), pa.large_string()) if session_mode else None

    rep("sessionize", 0.85, f"sorting {len(idx):,} events into sessions")
    gap_ns = int(round(options.gap_minutes * 60e9))
    order, indptr, sids, s_user, s_time = _sessionize(
        user, sess, rows.times[idx], gap_ns, user_str, sess_str, drops
    )
    rows_in_order = idx[order]
    users = None
    if s_user is not None:
        uids = dicts["user"]
        users = uids[np.maximum(s_user, 0)] if len(uids) else np.zeros(len(s_user), dtype=object)
        if (s_user < 0).any():
            users = users.astype(object)
            users[s_user < 0] = None
    raw = RawSessions(
        indptr=indptr,
        item_ids=dicts["item"][codes["item"][rows_in_order]],
        session_ids=sids,
        users=users,
        start_times=s_time.astype(np.int64),
    )
    rep("sessionize", 0.95, "cleaning sessions")
    sessions = build_sessions(raw, options, drops)

    meta = None
    if name_column is not None:
        table, n_multi = most_frequent_names(codes["item"][idx], dicts["item"], rows.strings["name"].take(idx))
        drops.note("items with several names (most frequent kept)", n_multi)
        table.attrs.update(source=[str(f) for f in files], name_column=name_column,
                           ids_with_several_names=n_multi)
        meta = ItemMetadata(table)
    source = event_log_source(
        paths=[str(f) for f in files], cols=cols, filters=filters, name_column=name_column, session_mode=session_mode,
        delimiter=delim0, timestamp_found_by=found_by.get("timestamp", "given"), unit=rows.unit,
        rows_read=rows.n_rows, rows_kept=int(len(idx)),
    )
    rep("sessionize", 1.0, f"{sessions.n_sessions:,} sessions, {sessions.n_events:,} events")
    return Dataset.from_log(sessions, drops, source, options, meta)


def metadata_from_event_log(paths, *, item_column: str | None = None, name_column: str = "Description",
                            **kwargs) -> ItemMetadata:
    """Item names straight from an event log (e.g. Online Retail's ``Description``).

    Equivalent to ``read_event_log(paths, name_column=name_column, ...).item_meta``: names come from the rows
    that survive the filters, most frequent name per item. Extra keyword arguments go to ``read_event_log``.
    """
    columns = kwargs.pop("columns", None)
    if item_column is not None:
        columns = (columns or EventColumns()).model_copy(update={"item": item_column})
    ds = read_event_log(paths, columns=columns, name_column=name_column, **kwargs)
    assert ds.item_meta is not None
    return ds.item_meta
