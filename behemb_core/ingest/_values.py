"""Column values of the ingest modules: ids as strings and codes, stable orders, timestamps with their unit,
numbers — all on whole columns (pyarrow compute, numpy, pandas); the only per-value Python work is on
*dictionaries* (the distinct values of a column), never on every row.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from ..vocab import normalize_ids
from ._files import READ_ERRORS, open_text

#: An id written as an integer (``12``, ``-3``, ``12.0``) that fits int64: both engines read such ids as integers.
INTLIKE = r"^-?(?:0|[1-9][0-9]{0,17})(?:\.0+)?$"
#: A number as text (a numeric unix timestamp): both engines use it to tell numbers from date strings.
NUMERIC = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
NAT = np.iinfo(np.int64).min  # numpy's NaT as int64 nanoseconds: "time unknown"


def as_strings(arr: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    """A column as trimmed large strings; empty strings become nulls (= missing)."""
    if not isinstance(arr, pa.ChunkedArray):
        arr = pa.chunked_array([arr])
    if not pa.types.is_large_string(arr.type):
        # Whole floats print as integers (17850.0 -> "17850"), like normalize_ids does for float columns.
        arr = pc.cast(arr, pa.large_string())
    arr = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)


def normalize_strings(values: np.ndarray) -> np.ndarray:
    """Normalise distinct id strings: all integer-like (``"12"`` or ``"12.0"``) → ``int64``, else ``str``.

    This extends :func:`normalize_ids` to text columns where an integer column was written as floats
    (``17850.0``); if any value is not integer-like, every value stays a string, exactly as written.
    """
    s = pd.Series(values, dtype=object)
    if len(s) and s.str.fullmatch(INTLIKE).all():
        return s.str.replace(r"\.0+$", "", regex=True).astype(np.int64).to_numpy()
    if s.map(type).eq(str).all():
        return s.to_numpy(dtype=object)  # not all integer-like, so not all canonical: strings as written
    return normalize_ids(s)


def factorize_ids(arr: pa.ChunkedArray, *, sort: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Codes (``-1`` = missing) and the normalised distinct ids of an id column.

    Integer columns are factorized directly; text is dictionary-encoded and only the distinct values are trimmed
    and normalised, so values that normalise to the same id (``"12"``, ``" 12"`` and ``"12.0"``) get the same
    code. Empty text is missing. With ``sort`` codes follow the sorted order of the normalised ids (independent
    of file order), else the order of first appearance (cheaper).
    """
    if not isinstance(arr, pa.ChunkedArray):
        arr = pa.chunked_array([arr])
    t = arr.type
    if pa.types.is_floating(t):
        vals = pc.drop_null(arr).to_numpy()
        if np.all(np.mod(vals, 1) == 0) and np.all(np.abs(vals) < 2**53):
            arr, t = pc.cast(arr, pa.int64()), pa.int64()
    if pa.types.is_integer(t):
        valid = pc.is_valid(arr).to_numpy(zero_copy_only=False).astype(bool)
        vals = pc.fill_null(pc.cast(arr, pa.int64()), 0).to_numpy(zero_copy_only=False).astype(np.int64)
        codes, uniq = pd.factorize(vals[valid], sort=sort)
        out = np.full(len(vals), -1, dtype=np.int64)
        out[valid] = codes
        return out, np.asarray(uniq, dtype=np.int64)
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        arr = pc.cast(arr, pa.large_string())
    enc = pc.dictionary_encode(arr).combine_chunks()
    idx = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    raw = pd.Series(np.asarray(enc.dictionary.to_numpy(zero_copy_only=False), dtype=object)).str.strip()
    empty = (raw == "").to_numpy(bool)
    if empty.all():
        return np.full(len(idx), -1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    norm = normalize_strings(raw[~empty].to_numpy(dtype=object))
    if norm.dtype.kind == "i" and sort:
        uniq, inv = np.unique(norm, return_inverse=True)
    else:
        inv, uniq = pd.factorize(norm, sort=sort)
        uniq = np.asarray(uniq, dtype=np.int64 if norm.dtype.kind == "i" else object)
    remap = np.full(len(raw) + 1, -1, dtype=np.int64)  # last slot: index -1 (null) stays missing
    remap[np.flatnonzero(~empty)] = inv
    return remap[idx], uniq


def stable_order(keys: list[np.ndarray]) -> np.ndarray:
    """Row order sorting by ``keys[0]``, then ``keys[1]``, …; ties keep row order (= ``np.lexsort(keys[::-1])``).

    Faster than ``np.lexsort``: keys are packed with the row number into one int64 and sorted with
    ``np.sort`` (SIMD, no argsort). Keys that fit together share one pass; a key too wide to pack is first
    divided by the gcd of its offsets (timestamps in ns with whole-second resolution shrink 10^9-fold) or
    replaced by its dense rank. Passes go from the least significant key (LSD), each stable by construction.
    """
    n = len(keys[0])
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    nb = max(1, int(n - 1).bit_length())
    budget = 63 - nb
    norm: list[tuple[np.ndarray, int]] = []
    for k in keys:
        k = np.asarray(k, dtype=np.int64)
        lo = int(k.min())
        span = int(k.max()) - lo
        if span.bit_length() > budget and span < 2**63:
            g = int(np.gcd.reduce(k - lo))
            if g > 1:
                k, span, lo = (k - lo) // g, span // g, 0
        if span.bit_length() > budget:
            uniq = np.unique(k)
            k, span = np.searchsorted(uniq, k).astype(np.int64), len(uniq) - 1
        else:
            k = k - lo
        norm.append((k, span.bit_length()))
    passes: list[list[tuple[np.ndarray, int]]] = [[]]
    used = 0
    for k, b in reversed(norm):  # least significant first
        if passes[-1] and used + b > budget:
            passes.append([])
            used = 0
        passes[-1].append((k, b))
        used += b
    perm: np.ndarray | None = None
    rows = np.arange(n, dtype=np.int64)
    for group in passes:
        combined = np.zeros(n, dtype=np.int64)
        shift = 0
        for k, b in group:
            combined |= (k if perm is None else k[perm]) << shift
            shift += b
        packed = (combined << nb) | rows
        packed.sort()
        idx = packed & ((1 << nb) - 1)
        perm = idx if perm is None else perm[idx]
    assert perm is not None
    return perm


def id_strings(ids: np.ndarray) -> np.ndarray:
    """Ids as an object array of ``str`` (for building session ids and comparing with user-given strings)."""
    return ids.astype(str).astype(object) if ids.dtype.kind in "iu" else ids


def parse_timestamps(
    arr: pa.ChunkedArray, *, unit: str, fmt: str | None, path: Path, first_line: int
) -> np.ndarray:
    """Timestamps of one file as int64 ns since the epoch (``NAT`` where missing).

    Numbers are unix times in ``unit``; strings are ISO 8601 (``YYYY-MM-DD HH:MM:SS`` included; offsets are
    converted to UTC, naive times are taken as UTC) or follow ``fmt`` (strptime) when given. An unparseable
    value is an :class:`InputError` naming the file, the line (``first_line`` is the line of row 0) and the value.
    """
    t = arr.type
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        if pa.types.is_timestamp(t) and t.tz is not None:
            arr = pc.cast(arr, pa.timestamp(t.unit, tz="UTC"))
        out = pc.cast(pc.cast(arr, pa.timestamp("ns", tz=getattr(arr.type, "tz", None))), pa.int64())
        return pc.fill_null(out, NAT).to_numpy().astype(np.int64)
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return _numeric_times(pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False), unit)
    if fmt is None:  # fast paths: whole-column casts in Arrow's C++ parsers (each fails fast or fits all)
        for target in (pa.int64(), pa.float64(), pa.timestamp("ns")):
            try:
                cast = pc.cast(arr, target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
            if target == pa.int64():
                out = _int_times(pc.fill_null(cast, 0).to_numpy(zero_copy_only=False), unit)
                out[pc.is_null(cast).to_numpy(zero_copy_only=False).astype(bool)] = NAT
                return out
            if target == pa.float64():
                return _numeric_times(cast.to_numpy(zero_copy_only=False), unit)
            return pc.fill_null(pc.cast(cast, pa.int64()), NAT).to_numpy().astype(np.int64)
    s = as_strings(arr)
    present = pc.is_valid(s).to_numpy(zero_copy_only=False).astype(bool)
    if fmt is not None:
        parsed = pc.strptime(s, format=fmt, unit="ns", error_is_null=True)
        bad = present & pc.is_null(parsed).to_numpy(zero_copy_only=False).astype(bool)
        _raise_first_bad(s, bad, path, first_line, f"format {fmt!r}")
        return pc.fill_null(pc.cast(parsed, pa.int64()), NAT).to_numpy().astype(np.int64)
    numeric = pc.fill_null(pc.match_substring_regex(s, NUMERIC), False).to_numpy(zero_copy_only=False).astype(bool)
    if present.any() and numeric[int(np.argmax(present))]:  # the column is unix time, as its first value says
        _raise_first_bad(s, present & ~numeric, path, first_line, f"a number (unix time in {unit!r})")
        return _numeric_times(pc.cast(s, pa.float64()).to_numpy(zero_copy_only=False), unit)
    ser = pd.Series(s.to_numpy(), dtype=object)
    parsed = pd.to_datetime(ser, format="ISO8601", utc=True, errors="coerce")
    _raise_first_bad(s, present & parsed.isna().to_numpy(), path, first_line, "an ISO 8601 date-time or unix time")
    return parsed.dt.as_unit("ns").dt.tz_localize(None).to_numpy().view(np.int64).copy()


#: The units of numeric (unix) timestamps.
TimeUnit = Literal["s", "ms", "us", "ns"]

#: Nanoseconds per unit.
UNIT_NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}

#: Upper bounds of the typical magnitude of unix times per unit (seconds reach 1e11 in the year 5138).
UNIT_BOUNDS: tuple[tuple[TimeUnit, float], ...] = (("s", 1e11), ("ms", 1e14), ("us", 1e17))


def infer_time_unit(arr: pa.ChunkedArray | np.ndarray) -> TimeUnit | None:
    """The unit of numeric times by magnitude (median of the absolute values: < 1e11 s, < 1e14 ms, < 1e17 us,
    else ns), or ``None`` when the column is not numeric (text dates) or empty."""
    if isinstance(arr, np.ndarray):
        values = arr.astype(np.float64)
    else:
        try:
            values = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        if pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type):
            return None
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return None
    med = float(np.median(np.abs(values)))
    return next((unit for unit, bound in UNIT_BOUNDS if med < bound), "ns")


def _int_times(values: np.ndarray, unit: str) -> np.ndarray:
    return (values.astype(np.int64) * UNIT_NS[unit]).astype(np.int64)


def _numeric_times(values: np.ndarray, unit: str) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    out = np.full(len(values), NAT, dtype=np.int64)
    ok = np.isfinite(values) & (np.abs(values) * UNIT_NS[unit] < 9e18)
    out[ok] = np.round(values[ok] * UNIT_NS[unit]).astype(np.int64)
    return out


class RowError(InputError):
    """An :class:`InputError` about data row ``row`` (0-based) of a file, with ``line = first_line + row``.

    Text readers replace that line by the exact one (:func:`physical_line`) when values may contain newlines.
    """

    def __init__(self, detail: str, *, path: Path, row: int, first_line: int, field: str) -> None:
        super().__init__(detail, path=str(path), line=first_line + row, field=field)
        self.row = row
        self.detail = detail


def physical_line(path: Path, delimiter: str, row: int, header: bool = True) -> int | None:
    """1-based line on which data row ``row`` starts (header = line 1), counting newlines inside quoted values
    and skipping blank lines like the Arrow reader. A Python scan: used only to report an error (``None`` when the
    file cannot be scanned)."""
    try:
        with open_text(path) as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            prev_end, i = 0, -1 if header else 0
            for rec in reader:
                if rec:
                    i += 1
                    if i == row + 1:
                        return prev_end + 1
                prev_end = reader.line_num
    except (*READ_ERRORS, csv.Error):
        return None
    return None


def _raise_first_bad(values: pa.ChunkedArray, bad: np.ndarray, path: Path, first_line: int, expected: str) -> None:
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise RowError(f"cannot parse timestamp {values[i].as_py()!r}: expected {expected}",
                       path=path, row=i, first_line=first_line, field="timestamp")


def parse_numbers(arr: pa.ChunkedArray, *, path: Path, first_line: int, field: str) -> np.ndarray:
    """A numeric column as float64 (NaN where missing); a non-numeric value is an :class:`InputError`."""
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_boolean(arr.type):
        return pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
    try:
        return pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    s = as_strings(arr)
    bad = pc.and_(pc.is_valid(s), pc.invert(pc.match_substring_regex(s, NUMERIC)))
    mask = bad.to_numpy(zero_copy_only=False).astype(bool)
    if mask.any():
        i = int(np.flatnonzero(mask)[0])
        raise RowError(f"expected a number, got {s[i].as_py()!r}", path=path, row=i, first_line=first_line,
                       field=field)
    return pc.cast(s, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
