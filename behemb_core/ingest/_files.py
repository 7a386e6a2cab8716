"""Files of the ingest modules: listing and opening (plain or gzip), formats, delimiters, headers, reading a
table's columns — and the errors that name the file and line when one cannot be read.
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

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..boundary import plain_reason
from ..errors import InputError

PathsLike = str | os.PathLike | Sequence[str | os.PathLike]

TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz", ".parquet", ".pq")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz", ".json.gz")

# A canonical integer optionally written as a whole float ("17850.0"), as pandas exports integer columns with gaps.


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


def first_lines(path: Path, n: int = SNIFF_LINES) -> list[str]:
    """The first ``n`` lines of a text file (gzipped too), for sniffing its layout."""
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
    return sniff_delimiter(first_lines(path), default=default)


def read_header(path: Path, delimiter: str | None = None, header: bool = True) -> tuple[list[str], str | None]:
    """Column names of a table file and, for text files, the delimiter (``delimiter`` or sniffed from the first
    lines of every text file: csv/tsv/txt, gzipped too). Without a ``header`` line, columns are named
    ``column_1``, ``column_2``, … by the first line's fields."""
    if table_format(path) == "parquet":
        try:
            return list(pq.read_schema(path).names), None
        except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
            raise InputError(f"not a readable Parquet file: {_arrow_reason(exc)}", path=str(path)) from None
    lines = first_lines(path)
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
    lines = [ln for ln in first_lines(path, rows + 1 + 20) if ln.strip()][(1 if header else 0):]
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


