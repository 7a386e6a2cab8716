"""Bulk neighbor export (top-K of a list of items or of the whole catalogue, one CSV/Parquet file) and the diff
of one item's neighbors between two versions.

The export is exact: "also viewed" by cosine (:func:`behemb_core.neighbors.top_k_neighbors`) or, given the
version's directional pair, "next" by ``Q_a · K_b`` (:func:`behemb_core.neighbors.top_k_next`). Neighbor codes and
scores are numpy arrays (``n_queries × K``, 12 bytes per slot); the rows with their ids and names — the part that
costs Python objects — are built and written ``block_rows`` queries at a time (one Parquet row group or one CSV
chunk each), so a 100k-item catalogue never holds its whole items×K table as objects. The file is written to a
temporary file beside the target and renamed into place, so a reader never sees half a file, and it is never
written inside a store.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from .embeddings import DirectionalPair, ItemEmbeddings
from .errors import ConfigError, InputError
from .neighbors import item_neighbors, top_k_neighbors, top_k_next
from .progress import ProgressCallback, as_reporter
from .store import Location, Staged

COLUMNS: tuple[str, ...] = ("query_item_id", "query_name", "rank", "item_id", "name", "score")
ExportFormat = Literal["csv", "parquet"]
FORMATS: dict[str, ExportFormat] = {".csv": "csv", ".parquet": "parquet"}
_CSV_OPTIONS = pacsv.WriteOptions(quoting_style="needed")  # quotes only around commas, quotes, newlines
BLOCK_ROWS = 4096  # query items per written block (one Parquet row group, one CSV chunk)


@dataclass(frozen=True)
class QueryItems:
    """The query items of an export: their codes in the version (in the order given, duplicates once) and the
    given ids the version has no vector for, which are reported, never silently dropped."""

    codes: np.ndarray
    unknown: list[str] = field(default_factory=list)
    duplicates: int = 0


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: the file (``None`` for in-memory bytes), the query items, rows and unknown ids."""

    path: str | None
    format: ExportFormat
    queries: int
    rows: int
    unknown: list[str]
    duplicates: int = 0

    def summary(self) -> dict:
        """JSON-ready summary (the CLI prints it)."""
        return {"path": self.path, "format": self.format, "queries": self.queries, "rows": self.rows,
                "unknown_count": len(self.unknown), "unknown": self.unknown, "duplicates": self.duplicates}


def parse_item_list(text: str) -> list[str]:
    """Item ids from pasted text or an ids file: one per line, or several separated by commas, semicolons or
    tabs (not spaces: an id may contain one); blank lines and lines starting with ``#`` are skipped. When the
    first line starts with the header ``item_id`` (a CSV export, say), only the first column is read."""
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    fields = [[f.strip().strip('"\'').strip() for f in re.split(r"[,;\t]", ln)] for ln in lines]
    if fields and fields[0][0].lower() == "item_id":
        return [row[0] for row in fields[1:] if row[0]]
    return [f for row in fields for f in row if f]


def read_item_list(path: str | os.PathLike[str]) -> list[str]:
    """Item ids from a text/CSV file (see :func:`parse_item_list`); InputError naming the file when it cannot be
    read or holds no id."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the item list: {exc}", path=os.fspath(path)) from None
    ids = parse_item_list(text)
    if not ids:
        raise InputError("no item id in the file (one id per line expected)", path=os.fspath(path))
    return ids


def resolve_items(emb: ItemEmbeddings, ids: Iterable[object]) -> QueryItems:
    """Codes of ``ids`` in ``emb``'s vocabulary, in the given order with repeats once; unknown ids listed."""
    given = [str(i).strip() for i in ids]
    seen: dict[str, None] = dict.fromkeys(given)
    unique = list(seen)
    codes = emb.vocab.codes(np.asarray(unique, dtype=object)) if unique else np.zeros(0, dtype=np.int64)
    unknown = [i for i, c in zip(unique, codes.tolist(), strict=True) if c < 0]
    return QueryItems(codes=codes[codes >= 0].astype(np.int64), unknown=unknown,
                      duplicates=len(given) - len(unique))


def _known_queries(emb: ItemEmbeddings, items: Iterable[object] | None) -> QueryItems | None:
    """``items`` resolved; ConfigError naming (up to ten of) the ids when none of them is in the version."""
    if items is None:
        return None
    queries = resolve_items(emb, items)
    if len(queries.codes) == 0:
        shown = ", ".join(queries.unknown[:10]) + (" …" if len(queries.unknown) > 10 else "")
        raise ConfigError(f"none of the {len(queries.unknown)} item ids is in this version: {shown or '(empty list)'}")
    return queries


def _output_format(path: str) -> ExportFormat:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ConfigError(f"--output {path!r}: the file name must end in .csv or .parquet, got {suffix or 'none'!r}")
    return FORMATS[suffix]


def _refuse_inside_store(path: Path, store_root: str | os.PathLike[str] | None) -> None:
    if store_root is None:
        return
    root = Path(store_root).expanduser().resolve()
    target = path.resolve()
    if target == root or root in target.parents:
        raise ConfigError(f"--output {os.fspath(path)!r} is inside the store {os.fspath(root)!r}; an export is "
                          "never written into a store — choose a path outside it")


def _blocks(emb: ItemEmbeddings, codes: np.ndarray | None, k: int, names: np.ndarray | None, block_rows: int,
            progress: ProgressCallback | None, pair: DirectionalPair | None = None) -> Iterator[pa.Table]:
    """The export rows as Arrow tables of at most ``block_rows`` query items each (``pair``: the "next" ranking)."""
    report = as_reporter(progress)
    if pair is None:
        table = top_k_neighbors(emb, k, queries=codes, progress=report.sub(0.0, 0.9))
    else:
        table = top_k_next(emb, pair, k, queries=codes, progress=report.sub(0.0, 0.9))
    n_q = table.codes.shape[0]
    q_codes = np.arange(n_q) if codes is None else codes
    ids = emb.vocab.ids
    id_type = pa.int64() if emb.vocab.kind == "int" else pa.string()
    for start in range(0, max(n_q, 1), block_rows):
        stop = min(n_q, start + block_rows)
        nb = table.codes[start:stop]
        ok = nb >= 0
        q = np.repeat(q_codes[start:stop], ok.sum(axis=1))
        n = nb[ok]
        rank = np.broadcast_to(np.arange(1, k + 1, dtype=np.int32), nb.shape)[ok]
        cols = {
            "query_item_id": pa.array(ids[q], type=id_type),
            "query_name": pa.array(names[q] if names is not None else np.full(len(q), "", dtype=object),
                                   type=pa.string()),
            "rank": pa.array(rank, type=pa.int32()),
            "item_id": pa.array(ids[n], type=id_type),
            "name": pa.array(names[n] if names is not None else np.full(len(n), "", dtype=object), type=pa.string()),
            "score": pa.array(table.scores[start:stop][ok], type=pa.float32()),
        }
        yield pa.table(cols)
        report("export", 0.9 + 0.1 * stop / max(n_q, 1), f"writing rows of {stop:,} of {n_q:,} items")


def write_neighbors(sink: BinaryIO, emb: ItemEmbeddings, k: int, *, fmt: ExportFormat,
                    queries: QueryItems | None = None, names: np.ndarray | None = None,
                    block_rows: int = BLOCK_ROWS, progress: ProgressCallback | None = None,
                    pair: DirectionalPair | None = None) -> int:
    """Write the top-``k`` rows (columns :data:`COLUMNS`) of ``queries`` (``None``: every item) to ``sink``;
    return the number of rows. ``names`` are aligned with ``emb.vocab`` (``""`` where unknown). Ranked by cosine
    ("also viewed"), or with ``pair`` (the version's directional tables) by ``Q_a · K_b`` ("next")."""
    if k < 1:
        raise ConfigError(f"k must be at least 1, got {k}")
    if fmt not in ("csv", "parquet"):
        raise ConfigError(f"unknown export format {fmt!r}; choose csv or parquet")
    codes = None if queries is None else queries.codes
    rows = 0
    writer: pq.ParquetWriter | pacsv.CSVWriter | None = None
    for block in _blocks(emb, codes, k, names, max(1, block_rows), progress, pair):
        rows += block.num_rows
        if writer is None:
            # CSV: the header once, then one chunk per block
            writer = (pq.ParquetWriter(sink, block.schema) if fmt == "parquet"
                      else pacsv.CSVWriter(sink, block.schema, write_options=_CSV_OPTIONS))
        writer.write_table(block)  # Parquet: one row group per block
    if writer is not None:
        writer.close()
    return rows


def export_neighbors(emb: ItemEmbeddings, output: str | os.PathLike[str], *, k: int = 10,
                     items: Iterable[object] | None = None, names: np.ndarray | None = None,
                     store_root: str | os.PathLike[str] | None = None, overwrite: bool = False,
                     block_rows: int = BLOCK_ROWS, progress: ProgressCallback | None = None,
                     pair: DirectionalPair | None = None) -> ExportResult:
    """Exact top-``k`` neighbors of ``items`` (ids; ``None``: the whole catalogue) to ``output`` (``.csv`` or
    ``.parquet``, columns :data:`COLUMNS`), with the query's id and name on every row; with ``pair`` (the
    version's directional tables) the "next" neighbors, ranked by ``Q_a · K_b``, in the same columns.

    Ids the version has no vector for are listed in the result (``unknown``); when none of the ids is known,
    ConfigError and nothing is written. The file is written beside ``output`` under a temporary name, flushed
    and renamed into place, so ``output`` is either the old file or the whole new one. An output inside
    ``store_root`` or an existing output (unless ``overwrite``) is refused before any work.
    """
    out = Path(output).expanduser()
    fmt = _output_format(os.fspath(out))
    _refuse_inside_store(out, store_root)
    if out.exists() and not overwrite:
        raise ConfigError(f"--output {os.fspath(out)!r} exists; choose another path or overwrite it explicitly")
    if out.is_dir():
        raise ConfigError(f"--output {os.fspath(out)!r} is a folder; give a file name ending in .csv or .parquet")
    queries = _known_queries(emb, items)
    out.parent.mkdir(parents=True, exist_ok=True)
    written: list[int] = []

    def write(fh: BinaryIO) -> None:
        written.append(write_neighbors(fh, emb, k, fmt=fmt, queries=queries, names=names, block_rows=block_rows,
                                       progress=progress, pair=pair))

    staged = Staged(Location(LocalFileSystem()), os.fspath(out), write, point="neighbor_export")
    try:
        staged.install()
    finally:
        staged.discard()
    rows = written[0]
    n_q = len(emb) if queries is None else len(queries.codes)
    return ExportResult(path=os.fspath(out), format=fmt, queries=n_q, rows=rows,
                        unknown=[] if queries is None else queries.unknown,
                        duplicates=0 if queries is None else queries.duplicates)


def neighbors_bytes(emb: ItemEmbeddings, *, fmt: ExportFormat, k: int = 10, items: Iterable[object] | None = None,
                    names: np.ndarray | None = None, block_rows: int = BLOCK_ROWS,
                    progress: ProgressCallback | None = None,
                    pair: DirectionalPair | None = None) -> tuple[bytes, ExportResult]:
    """The same export as :func:`export_neighbors`, in memory (for a download button)."""
    queries = _known_queries(emb, items)
    buffer = io.BytesIO()
    rows = write_neighbors(buffer, emb, k, fmt=fmt, queries=queries, names=names, block_rows=block_rows,
                           progress=progress, pair=pair)
    n_q = len(emb) if queries is None else len(queries.codes)
    return buffer.getvalue(), ExportResult(path=None, format=fmt, queries=n_q, rows=rows,
                                           unknown=[] if queries is None else queries.unknown,
                                           duplicates=0 if queries is None else queries.duplicates)


def neighbor_diff(emb_a: ItemEmbeddings, emb_b: ItemEmbeddings, item_id: object, k: int = 10, *,
                  names_a: np.ndarray | None = None, names_b: np.ndarray | None = None) -> pd.DataFrame:
    """How one item's top-``k`` changed from version A to version B: one row per neighbor in either list with
    ``change`` (``kept`` — in both, ``gained`` — only in B, ``lost`` — only in A), ``item_id``, ``name``,
    ``rank_a``/``rank_b`` and ``score_a``/``score_b`` (empty where not in that list). Rows: kept by B's rank,
    then gained by B's rank, then lost by A's rank. Ids are matched by their text, so an int-id version and a
    string-id version still line up. Raises ``KeyError`` naming the version ("A"/"B") without the item."""
    lists = []
    for label, emb, names in (("A", emb_a, names_a), ("B", emb_b, names_b)):
        try:
            lists.append(item_neighbors(emb, str(item_id), k, names=names))
        except KeyError:
            raise KeyError(f"version {label} has no vector for item {item_id!r}") from None
    a = {str(r["item_id"]): r for r in lists[0]}
    b = {str(r["item_id"]): r for r in lists[1]}
    rows = []
    for key in [*b, *(i for i in a if i not in b)]:
        ra, rb = a.get(key), b.get(key)
        rows.append({
            "change": "kept" if ra and rb else ("gained" if rb else "lost"),
            "item_id": key,
            "name": ((rb or {}).get("name") or (ra or {}).get("name") or ""),
            "rank_a": ra["rank"] if ra else None,
            "rank_b": rb["rank"] if rb else None,
            "score_a": ra["score"] if ra else None,
            "score_b": rb["score"] if rb else None,
        })
    order = {"kept": 0, "gained": 1, "lost": 2}
    frame = pd.DataFrame(rows, columns=["change", "item_id", "name", "rank_a", "rank_b", "score_a", "score_b"])
    if frame.empty:
        return frame
    frame["_o"] = frame["change"].map(order)
    frame["_r"] = frame["rank_b"].where(frame["change"] != "lost", frame["rank_a"])
    frame = frame.sort_values(["_o", "_r"], kind="stable").drop(columns=["_o", "_r"]).reset_index(drop=True)
    for col in ("rank_a", "rank_b"):
        frame[col] = frame[col].astype("Int64")
    for col in ("score_a", "score_b"):
        frame[col] = frame[col].astype("float64")
    return frame
