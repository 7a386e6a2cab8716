"""Item names (id → name and other columns) read from a catalogue file; the most frequent name per item.

Ids are normalised exactly like session items (:func:`~behemb_core.vocab.normalize_ids`, plus ``12.0`` → ``12``
for text columns), so names resolve for the same ids the sessions use. Duplicate ids keep their most frequent
non-empty name (ties: the one seen first); how many ids had duplicates is recorded in ``table.attrs``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from ..metadata import ItemMetadata
from ._files import check_encoding, detect_encoding, read_header, read_table, sniff_header, table_format
from ._values import as_strings, factorize_ids

ID_CANDIDATES = ("item_id", "itemId", "movieId", "StockCode", "product_id", "productId", "sku", "item", "id")
NAME_CANDIDATES = ("name", "title", "Description", "description", "product_name", "item_name")


def _pick(header: list[str], wanted: str | None, candidates: tuple[str, ...], role: str, path: Path) -> str:
    present = ", ".join(repr(h) for h in header)
    if wanted is not None:
        if wanted not in header:
            raise InputError(f"{role} column {wanted!r} is not in the file; columns present: {present}",
                             path=str(path), field=role)
        return wanted
    lower = {h.lower(): h for h in reversed(header)}
    for cand in candidates:
        if cand.lower() in lower:
            return lower[cand.lower()]
    raise InputError(
        f"no {role} column found (looked for {', '.join(candidates)}); columns present: {present}",
        path=str(path), field=role,
    )


def most_frequent_names(
    item_codes: np.ndarray, item_ids: np.ndarray, names: pa.ChunkedArray
) -> tuple[pd.DataFrame, int]:
    """Per item code, its most frequent non-empty name (ties: first seen); items without a name get ``""``.

    Returns a table ``item_id, name`` (one row per item code that occurs) and the number of items that had
    more than one distinct name. Vectorised: one dictionary encoding and one group-by.
    """
    enc = pc.dictionary_encode(as_strings(names)).combine_chunks()
    name_codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    name_values = np.asarray(enc.dictionary.to_numpy(zero_copy_only=False), dtype=object)
    ok = (item_codes >= 0) & (name_codes >= 0)
    pairs = pd.DataFrame({"item": item_codes[ok], "name": name_codes[ok]})
    counted = pairs.groupby(["item", "name"], sort=False).size().reset_index(name="n")
    n_multi = int((counted.groupby("item").size() > 1).sum())
    # Smaller name code = seen earlier (dictionary codes follow first appearance), so it breaks ties.
    best = counted.sort_values(["item", "n", "name"], ascending=[True, False, True]).drop_duplicates("item")
    present = np.unique(item_codes[item_codes >= 0])
    out = np.full(len(present), "", dtype=object)
    pos = np.searchsorted(present, best["item"].to_numpy())
    out[pos] = name_values[best["name"].to_numpy()]
    table = pd.DataFrame({"item_id": item_ids[present], "name": out})
    return table, n_multi


def read_item_metadata(
    path: str | os.PathLike, *, id_column: str | None = None, name_column: str | None = None,
    delimiter: str | None = None, header: bool | None = None, encoding: str | None = None,
) -> ItemMetadata:
    """Read a catalogue (a text table of any suffix, optionally ``.gz``, or Parquet) into :class:`ItemMetadata`.

    Text files are read like event logs: ``delimiter`` (default sniffed: ``,`` ``;`` TAB ``|``), ``header``
    (default: detected — a first line with a number or a date is data) and ``encoding`` (default: detected —
    UTF-8, else cp1252, else Latin-1; MovieLens ``u.item`` is Latin-1). Without a header the columns are
    ``column_1``, ``column_2``, … and the id and name default to the first two. With one, the id column defaults
    to ``item_id`` or a common alternative (movieId, StockCode, …), the name column to ``name`` or (title,
    Description, …). Other columns are kept (first row per id). Rows without an id are skipped; missing names
    become ``""``. ``table.attrs`` records ``source``, ``rows_read``, ``rows_without_id``, ``duplicate_ids`` (ids
    that occurred on more than one row), ``delimiter``, ``header`` and ``encoding`` (``encoding_detected``).
    """
    p = Path(path)
    if "\0" in str(p):
        raise InputError("the path contains a NUL byte", path=repr(str(p)))
    if not p.is_file():
        raise InputError("a folder, not a file" if p.is_dir() else "no such file", path=str(p))
    text = table_format(p) != "parquet"
    enc = (check_encoding(encoding) if encoding else detect_encoding(p)) if text else None
    has_header = (sniff_header(p, delimiter, enc) if header is None else header) if text else True
    header_names, delim = read_header(p, delimiter, has_header, enc)
    if not has_header and len(header_names) < 2 and (id_column is None or name_column is None):
        raise InputError(f"only one column per line with delimiter {delim!r}: expected an id and a name column "
                         "(choose the delimiter)", path=str(p), line=1)
    id_col = _pick(header_names, id_column or (None if has_header else "column_1"), ID_CANDIDATES, "id", p)
    name_col = _pick(header_names, name_column or (None if has_header else "column_2"), NAME_CANDIDATES, "name", p)
    if id_col == name_col:
        raise InputError(f"the id and the name are the same column {id_col!r}; choose two columns", path=str(p),
                         field="name")
    table = read_table(p, header_names, delim, names=header_names if delim is not None else None, header=has_header,
                       encoding=enc)
    codes, ids = factorize_ids(table[id_col])
    names, n_multi = most_frequent_names(codes, ids, table[name_col])
    has_id = codes >= 0
    first_rows = pd.Series(np.flatnonzero(has_id)).groupby(codes[has_id], sort=True).first().to_numpy()
    others = [c for c in header_names if c not in (id_col, name_col)]
    extra = table.select(others).take(pa.array(first_rows)).to_pandas() if others else pd.DataFrame()
    # Extra columns with the same name as ours would collide; they are prefixed.
    extra = extra.rename(columns={c: f"{c}_" for c in extra.columns if c in ("item_id", "name")})
    out = pd.concat([names.reset_index(drop=True), extra.reset_index(drop=True)], axis=1)
    n_dup_ids = int((np.bincount(codes[has_id], minlength=len(ids)) > 1).sum())
    out.attrs.update(
        source=str(p), id_column=id_col, name_column=name_col, rows_read=int(len(codes)),
        rows_without_id=int((~has_id).sum()), duplicate_ids=n_dup_ids, ids_with_several_names=n_multi,
        delimiter=delim, header=has_header, encoding=enc, encoding_detected=text and not encoding,
    )
    return ItemMetadata(out)
