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
from typing import Literal

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


def open_text(path: Path, encoding: str | None = None) -> io.TextIOBase:
    """Open a text file, transparently gunzipping ``.gz`` files (UTF-8, BOM tolerated, unless ``encoding``)."""
    enc = "utf-8-sig" if encoding in (None, "utf-8", "utf8") else encoding
    if path.name.lower().endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding=enc, newline="")
    return open(path, encoding=enc, newline="")


#: Encodings offered for text files (the Data page's choices; any codec Python knows is accepted).
ENCODINGS = ("utf-8", "cp1252", "latin-1", "utf-16", "cp1250", "iso-8859-15", "mac-roman")


def check_encoding(encoding: str) -> str:
    """``encoding`` normalised (``latin1`` → ``latin-1``), or an InputError naming it when Python knows no such
    codec."""
    import codecs

    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise InputError(f"unknown text encoding {encoding!r} (e.g. {', '.join(ENCODINGS)})",
                         field="encoding") from None
    return {"iso8859-1": "latin-1", "utf-8": "utf-8"}.get(name, name)


def detect_encoding(path: Path) -> str:
    """The encoding of a text file: ``utf-8`` when every byte decodes as UTF-8, else ``cp1252`` (Windows
    Western, a superset of Latin-1's printable characters) when it decodes, else ``latin-1`` (any byte). Reads
    the file once in 1 MB blocks with incremental decoders."""
    import codecs

    decoders = {enc: codecs.getincrementaldecoder(enc)() for enc in ("utf-8", "cp1252")}
    ok = dict.fromkeys(decoders, True)
    try:
        with _open_binary(path) as fh:
            while block := fh.read(1 << 20):
                for enc, dec in decoders.items():
                    if ok[enc]:
                        try:
                            dec.decode(block)
                        except UnicodeDecodeError:
                            ok[enc] = False
                if not any(ok.values()):
                    break
        for enc, dec in decoders.items():
            if ok[enc]:
                try:
                    dec.decode(b"", final=True)
                except UnicodeDecodeError:
                    ok[enc] = False
    except READ_ERRORS as exc:
        raise unreadable(path, exc) from None
    return next((enc for enc in ("utf-8", "cp1252") if ok[enc]), "latin-1")


_NUMBER_OR_DATE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
                             r"|^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")


def looks_like_data(fields: list[str]) -> bool:
    """True when a field of a first line is a number or an ISO date/time — a data row, not a header: column names
    are words (MovieLens ``u.data``: ``196<TAB>242<TAB>3<TAB>881250949``; ``u.item``: ``1|Toy Story (1995)|…``)."""
    return any(_NUMBER_OR_DATE.match(f.strip()) for f in fields if f.strip())


def sniff_kind(path: Path) -> Literal["sessions", "events"]:
    """``"sessions"`` (JSON Lines) or ``"events"`` (a table): by the suffix when it is a known one, else by the
    content — a first non-blank character ``{`` is JSON Lines, anything else a table (``u.data``, ``.dat``)."""
    if has_suffix(path, JSONL_SUFFIXES):
        return "sessions"
    if has_suffix(path, TABLE_SUFFIXES):
        return "events"
    try:
        with _open_binary(path) as fh:
            head = fh.read(4096)
    except (*READ_ERRORS, ValueError):
        return "events"  # the reader says what is wrong with it
    return "sessions" if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else "events"


def table_format(path: Path) -> str:
    """``"parquet"`` or ``"csv"`` from the file name (CSV covers .csv/.tsv/.txt and their .gz)."""
    name = path.name.lower()
    return "parquet" if name.endswith((".parquet", ".pq")) else "csv"


DELIMITERS = (",", ";", "\t", "|")
SNIFF_LINES = 50


def first_lines(path: Path, n: int = SNIFF_LINES, encoding: str | None = None) -> list[str]:
    """The first ``n`` lines of a text file (gzipped too), for sniffing its layout."""
    try:
        with open_text(path, encoding) as fh:
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


def text_delimiter(path: Path, delimiter: str | None = None, encoding: str | None = None) -> str:
    """``delimiter`` if given, else sniffed from the first lines (``.tsv`` falls back to TAB, others to ``,``)."""
    if delimiter:
        return delimiter
    default = "\t" if path.name.lower().removesuffix(".gz").endswith(".tsv") else ","
    return sniff_delimiter(first_lines(path, encoding=encoding), default=default)


def sniff_header(path: Path, delimiter: str | None = None, encoding: str | None = None) -> bool:
    """Whether a text file starts with a header line: not when every field of its first line is a number or a
    date/time (:func:`looks_like_data`). Parquet files always have column names."""
    if table_format(path) == "parquet":
        return True
    lines = [ln for ln in first_lines(path, 1, encoding) if ln.strip()]
    if not lines:
        return True
    delim = text_delimiter(path, delimiter, encoding)
    return not looks_like_data(next(csv.reader([lines[0]], delimiter=delim)))


def is_ragged(path: Path, delimiter: str | None = None, encoding: str | None = None) -> bool:
    """Whether the first lines of a text file have different numbers of fields (baskets, not a table)."""
    if table_format(path) == "parquet":
        return False
    lines = [ln for ln in first_lines(path, encoding=encoding) if ln.strip()]
    delim = text_delimiter(path, delimiter, encoding)
    return len({len(next(csv.reader([ln], delimiter=delim))) for ln in lines}) > 1


def read_header(path: Path, delimiter: str | None = None, header: bool | None = True, encoding: str | None = None
                ) -> tuple[list[str], str | None]:
    """Column names of a table file and, for text files, the delimiter (``delimiter`` or sniffed from the first
    lines of every text file: csv/tsv/txt, gzipped too). Without a ``header`` line, columns are named
    ``column_1``, ``column_2``, … by the first line's fields; ``header=None`` decides by :func:`sniff_header`."""
    if table_format(path) == "parquet":
        try:
            return list(pq.read_schema(path).names), None
        except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
            raise InputError(f"not a readable Parquet file: {_arrow_reason(exc)}", path=str(path)) from None
    lines = first_lines(path, encoding=encoding)
    first = lines[0] if lines else ""
    if not first.strip():
        raise InputError("the file is empty (expected a header line)" if header else "the first line is empty",
                         path=str(path), line=1)
    delim = text_delimiter(path, delimiter, encoding)
    fields = next(csv.reader([first], delimiter=delim))
    if header is None:
        header = not looks_like_data(fields)
    if not header:
        return [f"column_{i + 1}" for i in range(len(fields))], delim
    return [h.strip() for h in fields], delim


def peek_rows(path: Path, delimiter: str | None = None, header: bool | None = True, rows: int = 5,
              encoding: str | None = None) -> tuple[list[str], str | None, list[list[str]]]:
    """Columns, delimiter and the first ``rows`` data rows of a table file as text (for previews)."""
    if header is None:
        header = sniff_header(path, delimiter, encoding)
    names, delim = read_header(path, delimiter, header, encoding)
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
    lines = [ln for ln in first_lines(path, rows + 1 + 20, encoding) if ln.strip()][(1 if header else 0):]
    out = [next(csv.reader([ln], delimiter=delim)) for ln in lines[:rows]]
    return names, delim, out


def read_table(path: Path, columns: list[str], delimiter: str | None, *, names: list[str] | None = None,
               header: bool = True, encoding: str | None = None) -> pa.Table:
    """Read only ``columns`` of one file. Text files are read as strings (ids such as ``85123A`` and
    ``17850.0`` survive untouched; empty cells become nulls); Parquet keeps its types. ``names`` (from
    :func:`read_header`) name the text columns; without a ``header`` the first line is data."""
    try:
        if delimiter is None:
            return pq.read_table(path, columns=columns)
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=8 << 20, column_names=names,
                                           skip_rows=1 if (names is not None and header) else 0,
                                           encoding=encoding or "utf8"),
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


