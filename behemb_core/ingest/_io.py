"""Low-level reading shared by the ingest modules: file lists, formats, headers, id columns, timestamps.

Everything here works on whole columns (pyarrow compute, numpy, pandas); the only per-value Python work is on
*dictionaries* (the distinct values of a column), never on every row.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Union

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..boundary import plain_reason
from ..errors import InputError
from ..vocab import normalize_ids

PathsLike = Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]]

TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz", ".parquet", ".pq")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz", ".json.gz")
NAT = np.iinfo(np.int64).min  # numpy's NaT as int64 nanoseconds: "time unknown"

# A canonical integer optionally written as a whole float ("17850.0"), as pandas exports integer columns with gaps.
_INTLIKE = r"^-?(?:0|[1-9][0-9]{0,17})(?:\.0+)?$"
_NUMERIC = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"


#: What reading a text or gzip file can raise besides InputError: OS errors (``gzip.BadGzipFile`` and Arrow's
#: I/O errors among them), undecodable bytes, a truncated gzip stream (``EOFError``) and corrupt deflate data.
READ_ERRORS = (OSError, UnicodeDecodeError, EOFError, zlib.error)


def _is_gzip(path: Path) -> bool:
    return path.name.lower().endswith(".gz")


def _open_binary(path: Path):
    return gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")


def _undecodable_line(path: Path) -> tuple[int, bytes] | None:
    """The 1-based line with the first bytes that are not UTF-8 and those bytes (a diagnostic pass only)."""
    try:
        with _open_binary(path) as fh:
            for n, raw in enumerate(fh, 1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    return n, raw[exc.start:exc.start + 4]
    except (*READ_ERRORS, ValueError):
        return None
    return None


def _complete_lines(path: Path) -> int | None:
    """How many whole lines a truncated or corrupt gzip file yields before it breaks (diagnostic only)."""
    n = 0
    try:
        with _open_binary(path) as fh:
            for raw in fh:
                if raw.endswith(b"\n"):
                    n += 1
    except (*READ_ERRORS, ValueError):
        return n
    return None


def not_utf8(path: Path | str, sample: bytes = b"") -> InputError:
    """An :class:`InputError` for a text file that is not UTF-8, naming the first line that is not."""
    path = Path(path)
    where = _undecodable_line(path)
    line, sample = where if where is not None else (None, sample)
    shown = f" (bytes {bytes(sample)!r})" if sample else ""
    return InputError(f"not UTF-8 text{shown}; is it a binary file or in another encoding?", path=str(path),
                      line=line)


def unreadable(path: Path | str, exc: BaseException) -> InputError:
    """An :class:`InputError` naming ``path`` (and the line, where it can be found) for a file that cannot be
    read or decoded: not UTF-8 (binary data), a truncated or corrupt ``.gz``, or an OS error (said plainly)."""
    if isinstance(exc, InputError):
        return exc
    path = Path(path)
    if isinstance(exc, UnicodeDecodeError):
        return not_utf8(path, exc.object[exc.start:exc.start + 4])
    broken_gzip = isinstance(exc, (EOFError, zlib.error, gzip.BadGzipFile)) or (
        isinstance(exc, OSError) and exc.errno is None and _is_gzip(path))
    if broken_gzip and _is_gzip(path):
        done = _complete_lines(path)
        line = None if done is None else done + 1
        return InputError(f"the gzip file is truncated or corrupt ({exc or type(exc).__name__})", path=str(path),
                          line=line)
    if isinstance(exc, EOFError):
        return InputError(f"the file ends too early ({exc or 'EOF'})", path=str(path))
    if isinstance(exc, OSError) and exc.errno is not None:
        return InputError(f"cannot read the file: {plain_reason(exc)}", path=str(path))
    return InputError(f"cannot read the file: {exc}", path=str(path))


def list_files(paths: PathsLike, suffixes: tuple[str, ...], what: str) -> list[Path]:
    """Expand ``paths`` (a file, a folder, or a list of either) into data files.

    A folder contributes every non-hidden file whose name ends with one of ``suffixes``, sorted by name, so the
    same folder always gives the same order. Explicitly named files must exist but may have any suffix.
    """
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not items:
        raise InputError(f"no {what} files given")
    out: list[Path] = []
    for p in map(Path, items):
        if "\0" in str(p):
            raise InputError("the path contains a NUL byte", path=repr(str(p)))
        try:
            if p.is_dir():
                found = sorted(
                    (f for f in p.iterdir() if f.is_file() and not f.name.startswith(".")
                     and has_suffix(f, suffixes)),
                    key=lambda f: f.name,
                )
                if not found:
                    raise InputError(f"folder contains no {what} files (looked for {', '.join(suffixes)})",
                                     path=str(p))
                out.extend(found)
            elif p.is_file():
                out.append(p)
            elif p.exists():
                raise InputError("not a regular file or folder (a device, a pipe or a socket?)", path=str(p))
            else:
                raise InputError("no such file or folder", path=str(p))
        except OSError as exc:
            raise InputError(f"cannot open: {plain_reason(exc)}", path=str(p)) from None
    return out


def has_suffix(path: Path, suffixes: tuple[str, ...]) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in suffixes)


def open_text(path: Path) -> io.TextIOBase:
    """Open a text file, transparently gunzipping ``.gz`` files (UTF-8, BOM tolerated)."""
    if path.name.lower().endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def table_format(path: Path) -> str:
    """``"parquet"`` or ``"csv"`` from the file name (CSV covers .csv/.tsv/.txt and their .gz)."""
    name = path.name.lower()
    return "parquet" if name.endswith((".parquet", ".pq")) else "csv"


DELIMITERS = (",", ";", "\t", "|")
SNIFF_LINES = 50


def _first_lines(path: Path, n: int = SNIFF_LINES) -> list[str]:
    try:
        with open_text(path) as fh:
            lines = []
            for line in fh:
                lines.append(line.rstrip("\r\n"))
                if len(lines) >= n:
                    break
            return lines
    except READ_ERRORS as exc:
        raise unreadable(path, exc) from None


def sniff_delimiter(lines: list[str], *, default: str = ",") -> str:
    """The delimiter of text lines: of ``, ; TAB |``, the one found on every non-blank line in the most
    constant number (then the most frequent); ``default`` when none occurs. Quoted fields are respected."""
    lines = [ln for ln in lines if ln.strip()]
    best, best_key = default, (0, 0.0)
    for d in DELIMITERS:
        counts = [len(next(csv.reader([ln], delimiter=d))) - 1 for ln in lines]
        if not counts or min(counts) == 0:
            continue
        same = sum(c == counts[0] for c in counts) / len(counts)
        key = (1, same + sum(counts) / (len(counts) * 1e6))
        if key > best_key:
            best, best_key = d, key
    return best


def text_delimiter(path: Path, delimiter: str | None = None) -> str:
    """``delimiter`` if given, else sniffed from the first lines (``.tsv`` falls back to TAB, others to ``,``)."""
    if delimiter:
        return delimiter
    default = "\t" if path.name.lower().removesuffix(".gz").endswith(".tsv") else ","
    return sniff_delimiter(_first_lines(path), default=default)


def read_header(path: Path, delimiter: str | None = None, header: bool = True) -> tuple[list[str], str | None]:
    """Column names of a table file and, for text files, the delimiter (``delimiter`` or sniffed from the first
    lines of every text file: csv/tsv/txt, gzipped too). Without a ``header`` line, columns are named
    ``column_1``, ``column_2``, … by the first line's fields."""
    if table_format(path) == "parquet":
        try:
            return list(pq.read_schema(path).names), None
        except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
            raise InputError(f"not a readable Parquet file: {_arrow_reason(exc)}", path=str(path)) from None
    lines = _first_lines(path)
    first = lines[0] if lines else ""
    if not first.strip():
        raise InputError("the file is empty (expected a header line)" if header else "the first line is empty",
                         path=str(path), line=1)
    delim = text_delimiter(path, delimiter)
    fields = next(csv.reader([first], delimiter=delim))
    if not header:
        return [f"column_{i + 1}" for i in range(len(fields))], delim
    return [h.strip() for h in fields], delim


def peek_rows(path: Path, delimiter: str | None = None, header: bool = True, rows: int = 5
              ) -> tuple[list[str], str | None, list[list[str]]]:
    """Columns, delimiter and the first ``rows`` data rows of a table file as text (for previews)."""
    names, delim = read_header(path, delimiter, header)
    if delim is None:
        try:
            pf = pq.ParquetFile(path)
            table = pf.read_row_group(0) if pf.num_row_groups else None
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"not a readable Parquet file: {_arrow_reason(exc)}", path=str(path)) from None
        if table is None:
            return names, None, []
        head = table.slice(0, rows).to_pylist()
        return names, None, [[str(r.get(c, "")) for c in names] for r in head]
    lines = [ln for ln in _first_lines(path, rows + 1 + 20) if ln.strip()][(1 if header else 0):]
    out = [next(csv.reader([ln], delimiter=delim)) for ln in lines[:rows]]
    return names, delim, out


def read_table(path: Path, columns: list[str], delimiter: str | None, *, names: list[str] | None = None,
               header: bool = True) -> pa.Table:
    """Read only ``columns`` of one file. Text files are read as strings (ids such as ``85123A`` and
    ``17850.0`` survive untouched; empty cells become nulls); Parquet keeps its types. ``names`` (from
    :func:`read_header`) name the text columns; without a ``header`` the first line is data."""
    try:
        if delimiter is None:
            return pq.read_table(path, columns=columns)
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=8 << 20, column_names=names,
                                           skip_rows=1 if (names is not None and header) else 0),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                include_columns=columns,
                column_types={c: pa.large_string() for c in columns},
                strings_can_be_null=True,
                null_values=[""],
                quoted_strings_can_be_null=True,
            ),
        )
    except (pa.ArrowException, *READ_ERRORS) as exc:
        if delimiter is not None and not isinstance(exc, pa.ArrowException):
            raise unreadable(path, exc) from None
        if delimiter is not None and _is_gzip(path) and isinstance(exc, OSError):
            raise unreadable(path, exc) from None
        if delimiter is not None and "UTF8" in str(exc):
            raise not_utf8(path) from None
        what = "not a readable Parquet file" if delimiter is None else "cannot read the table"
        raise InputError(f"{what}: {_arrow_reason(exc)}", path=str(path)) from None


def _arrow_reason(exc: BaseException) -> str:
    """Arrow's message without the file name it repeats (the InputError names the file already)."""
    text = " ".join(str(exc).split())
    text = re.sub(r"^Could not open Parquet input source '.*?': ", "", text)
    return text or type(exc).__name__


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
    if len(s) and s.str.fullmatch(_INTLIKE).all():
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
    numeric = pc.fill_null(pc.match_substring_regex(s, _NUMERIC), False).to_numpy(zero_copy_only=False).astype(bool)
    if present.any() and numeric[int(np.argmax(present))]:  # the column is unix time, as its first value says
        _raise_first_bad(s, present & ~numeric, path, first_line, f"a number (unix time in {unit!r})")
        return _numeric_times(pc.cast(s, pa.float64()).to_numpy(zero_copy_only=False), unit)
    ser = pd.Series(s.to_numpy(), dtype=object)
    parsed = pd.to_datetime(ser, format="ISO8601", utc=True, errors="coerce")
    _raise_first_bad(s, present & parsed.isna().to_numpy(), path, first_line, "an ISO 8601 date-time or unix time")
    return parsed.dt.as_unit("ns").dt.tz_localize(None).to_numpy().view(np.int64).copy()


_UNIT_NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}

#: Upper bounds of the typical magnitude of unix times per unit (seconds reach 1e11 in the year 5138).
_UNIT_BOUNDS = (("s", 1e11), ("ms", 1e14), ("us", 1e17))


def infer_time_unit(arr: pa.ChunkedArray | np.ndarray) -> str | None:
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
    return next((unit for unit, bound in _UNIT_BOUNDS if med < bound), "ns")


def _int_times(values: np.ndarray, unit: str) -> np.ndarray:
    return (values.astype(np.int64) * _UNIT_NS[unit]).astype(np.int64)


def _numeric_times(values: np.ndarray, unit: str) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    out = np.full(len(values), NAT, dtype=np.int64)
    ok = np.isfinite(values) & (np.abs(values) * _UNIT_NS[unit] < 9e18)
    out[ok] = np.round(values[ok] * _UNIT_NS[unit]).astype(np.int64)
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
    bad = pc.and_(pc.is_valid(s), pc.invert(pc.match_substring_regex(s, _NUMERIC)))
    mask = bad.to_numpy(zero_copy_only=False).astype(bool)
    if mask.any():
        i = int(np.flatnonzero(mask)[0])
        raise RowError(f"expected a number, got {s[i].as_py()!r}", path=path, row=i, first_line=first_line,
                       field=field)
    return pc.cast(s, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
