"""Arrow tables of a stored version: embeddings and item metadata to and from Parquet bytes.

The Parquet layout is the store's public contract for other programs (an ANN index builder reads it with
nothing but pyarrow):

* ``embeddings.parquet``: ``item_id`` (int64 for integer vocabularies, else string), ``embedding``
  (``fixed_size_list<float32>[dim]``), ``behavior_emb_version`` (string, null when not fused over a version),
  ``source`` (string: behavior / fused / content_only); one row per item in vocabulary (sorted id) order.
* ``items.parquet``: ``item_id`` of the same type, ``name`` and any other metadata columns, same order.
* ``directional.parquet`` (only in versions with "next item" tables): ``item_id`` — the ids of
  ``embeddings.parquet`` in the same row order —, ``query`` and ``candidate`` (``fixed_size_list<float32>[dim]``:
  Q and K; the items people go on to after ``a`` are ranked by ``Q_a · K_b``); the schema metadata names
  ``behemb.directional_alpha`` and ``behemb.version``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..embeddings import DirectionalPair, ItemEmbeddings
from ..errors import FitError, IntegrityError, StoreError
from ..metadata import ItemMetadata
from ..vocab import Vocabulary
from ._manifest import SEAL_KEY

EMBEDDING_COLUMNS = ("item_id", "embedding", "behavior_emb_version", "source")
DIRECTIONAL_COLUMNS = ("item_id", "query", "candidate")
ALPHA_KEY = "behemb.directional_alpha"


def _id_type(kind: str) -> pa.DataType:
    return pa.int64() if kind == "int" else pa.string()


def _id_array(ids: np.ndarray, kind: str) -> pa.Array:
    if kind == "int":
        return pa.array(np.asarray(ids, dtype=np.int64), type=pa.int64())
    return pa.array([str(v) for v in ids.tolist()], type=pa.string())


def embeddings_to_table(emb: ItemEmbeddings, version: str, seal: str) -> pa.Table:
    """The ``embeddings.parquet`` table of ``emb`` (vectors copied bit-exactly as float32); ``seal`` (the
    manifest's :func:`~._manifest.manifest_seal`) goes into the schema metadata."""
    kind = emb.vocab.kind
    n, dim = emb.vectors.shape
    vectors = _vector_array(emb.vectors)
    if emb.behavior_version is None:
        bev = pa.nulls(n, type=pa.string())
    else:
        bev = pa.repeat(pa.scalar(str(emb.behavior_version), type=pa.string()), n)
    source = pa.array([str(s) for s in np.asarray(emb.source, dtype=object).tolist()], type=pa.string())
    schema = pa.schema(
        [
            pa.field("item_id", _id_type(kind), nullable=False),
            pa.field("embedding", pa.list_(pa.float32(), dim), nullable=False),
            pa.field("behavior_emb_version", pa.string()),
            pa.field("source", pa.string(), nullable=False),
        ],
        metadata={"behemb.version": version, "behemb.format_version": "1", SEAL_KEY: seal},
    )
    return pa.Table.from_arrays([_id_array(emb.vocab.ids, kind), vectors, bev, source], schema=schema)


def _vector_array(x: np.ndarray) -> pa.FixedSizeListArray:
    flat = pa.array(np.ascontiguousarray(x, dtype=np.float32).reshape(-1), type=pa.float32())
    return pa.FixedSizeListArray.from_arrays(flat, int(x.shape[1]))


def directional_to_table(pair: DirectionalPair, vocab: Vocabulary, version: str) -> pa.Table:
    """The ``directional.parquet`` table: ``item_id`` (``vocab``'s ids, the rows of ``embeddings.parquet``),
    ``query`` and ``candidate`` copied bit-exactly as float32; ``alpha`` and the version in the schema metadata."""
    dim = int(pair.query.shape[1])
    schema = pa.schema(
        [
            pa.field("item_id", _id_type(vocab.kind), nullable=False),
            pa.field("query", pa.list_(pa.float32(), dim), nullable=False),
            pa.field("candidate", pa.list_(pa.float32(), dim), nullable=False),
        ],
        metadata={"behemb.version": version, "behemb.format_version": "1", ALPHA_KEY: repr(float(pair.alpha))},
    )
    return pa.Table.from_arrays([_id_array(vocab.ids, vocab.kind), _vector_array(pair.query),
                                 _vector_array(pair.candidate)], schema=schema)


def _vectors_from_column(table: pa.Table, column: str, n: int, where: str) -> np.ndarray:
    col = table.column(column)
    if not (pa.types.is_fixed_size_list(col.type) and pa.types.is_float32(col.type.value_type)):
        raise IntegrityError(f"{where}: {column} has type {col.type}, expected fixed_size_list<float32>")
    if col.null_count:
        raise IntegrityError(f"{where}: {col.null_count} {column} vectors are missing")
    dim = col.type.list_size
    arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    flat = arr.flatten().to_numpy(zero_copy_only=False)
    if flat.size != n * dim:
        raise IntegrityError(f"{where}: {column} holds {flat.size} values, expected {n} x {dim}")
    return np.array(flat, dtype=np.float32, copy=True).reshape(n, dim)


def _kind_name(ids: np.ndarray) -> str:
    return "integer" if ids.dtype.kind == "i" else "string"


def table_to_directional(table: pa.Table, embeddings_table: pa.Table, alpha: float, where: str) -> DirectionalPair:
    """Rebuild the :class:`DirectionalPair` of a version from its ``directional.parquet`` table.

    Its ``item_id`` column must equal ``embeddings.parquet``'s, row for row (IntegrityError naming the first row
    that differs), and its recorded alpha the manifest's ``alpha``; rows are then put in the order
    :func:`table_to_embeddings` gives the embeddings, so row ``i`` of Q and K belongs to ``vocab.ids[i]``.
    """
    missing = [c for c in DIRECTIONAL_COLUMNS if c not in table.column_names]
    if missing:
        raise IntegrityError(f"{where}: missing columns {missing} (has {table.column_names})")
    ids = _ids_from_column(table.column("item_id"), where)
    emb_ids = _ids_from_column(embeddings_table.column("item_id"), where)
    if len(ids) != len(emb_ids) or ids.dtype.kind != emb_ids.dtype.kind:
        raise IntegrityError(f"{where}: item ids differ from embeddings.parquet's ({len(ids)} rows of "
                             f"{_kind_name(ids)} ids, embeddings.parquet has {len(emb_ids)} of "
                             f"{_kind_name(emb_ids)} ids)")
    differ = np.flatnonzero(ids != emb_ids) if len(ids) else np.zeros(0, dtype=np.int64)
    if len(differ):
        row = int(differ[0])
        mine, theirs = ids[row:row + 1].tolist()[0], emb_ids[row:row + 1].tolist()[0]  # plain ints / strings
        raise IntegrityError(f"{where}: item ids differ from embeddings.parquet's in {len(differ)} rows (first: row "
                             f"{row} holds {mine!r}, embeddings.parquet {theirs!r}); the rows must be the same items "
                             "in the same order")
    meta = table.schema.metadata or {}
    recorded = meta.get(ALPHA_KEY.encode())
    try:
        file_alpha = float(recorded.decode("ascii")) if recorded is not None else None
    except (UnicodeDecodeError, ValueError):
        file_alpha = None
    if file_alpha is None or file_alpha != float(alpha):
        raise IntegrityError(f"{where}: records alpha {recorded!r} in its schema metadata ({ALPHA_KEY}), the "
                             f"manifest says {alpha!r}")
    query = _vectors_from_column(table, "query", len(ids), where)
    candidate = _vectors_from_column(table, "candidate", len(ids), where)
    order = _sort_order(emb_ids, where)
    if order is not None:
        query, candidate = query[order], candidate[order]
    try:
        return DirectionalPair(query=query, candidate=candidate, alpha=float(alpha))
    except FitError as exc:
        raise IntegrityError(f"{where}: stored directional vectors are invalid: {exc}") from exc


def items_to_table(meta: ItemMetadata, vocab: Vocabulary) -> pa.Table:
    """The ``items.parquet`` table: only the metadata rows of items in ``vocab``, in vocabulary order."""
    df = meta.table
    if "item_id" not in df.columns:
        raise StoreError("item metadata has no 'item_id' column")
    codes = vocab.codes(np.asarray(df["item_id"].to_numpy(), dtype=object))
    keep = np.flatnonzero(codes >= 0)
    kept_codes = codes[keep]
    if len(np.unique(kept_codes)) != len(kept_codes):
        dup = pd.Series(kept_codes).duplicated()
        first = vocab.take(kept_codes[dup.to_numpy()][:5]).tolist()
        raise StoreError(f"item metadata lists some items more than once (e.g. {first}); item ids must be unique")
    order = np.argsort(kept_codes, kind="stable")
    sub = df.iloc[keep[order]].reset_index(drop=True)
    sub = sub.drop(columns=["item_id"])
    id_field = pa.field("item_id", _id_type(vocab.kind), nullable=False)
    ids = _id_array(vocab.take(kept_codes[order]), vocab.kind)
    if sub.shape[1] == 0:
        return pa.Table.from_arrays([ids], schema=pa.schema([id_field]))
    try:
        table = pa.Table.from_pandas(sub, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise StoreError(f"item metadata cannot be stored as Parquet: {exc}") from exc
    return table.add_column(0, id_field, ids)


def parquet_bytes(table: pa.Table) -> bytes:
    """Serialise ``table`` to Parquet in memory, so the bytes written are exactly the bytes hashed."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def parquet_seal(data: bytes) -> str | None:
    """The manifest seal recorded in Parquet bytes (None when absent or unreadable: not a version this behemb
    wrote, which verification reports)."""
    try:
        meta = pq.read_schema(pa.BufferReader(data)).metadata or {}
    except (pa.ArrowInvalid, OSError):
        return None
    seal = meta.get(SEAL_KEY.encode())
    return seal.decode("ascii", "replace") if seal is not None else None


def read_parquet(data: bytes, where: str) -> pa.Table:
    """Parse Parquet bytes; a file that is not Parquet is an :class:`IntegrityError` naming it."""
    try:
        return pq.read_table(pa.BufferReader(data))
    except (pa.ArrowInvalid, OSError) as exc:
        raise IntegrityError(f"{where}: not a readable Parquet file ({exc})") from exc


def _ids_from_column(col: pa.ChunkedArray, where: str) -> np.ndarray:
    if col.null_count:
        raise IntegrityError(f"{where}: item_id has {col.null_count} missing values")
    if pa.types.is_integer(col.type):
        return col.to_numpy().astype(np.int64, copy=False)
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        return np.asarray(col.to_pylist(), dtype=object)
    raise IntegrityError(f"{where}: item_id has type {col.type}, expected int64 or string")


def table_to_embeddings(table: pa.Table, where: str) -> ItemEmbeddings:
    """Rebuild :class:`ItemEmbeddings` from an ``embeddings.parquet`` table.

    Rows are put in sorted id order if a foreign writer did not (duplicated ids are an error), so the
    rebuilt :class:`Vocabulary` and the vector rows always agree.
    """
    missing = [c for c in EMBEDDING_COLUMNS if c not in table.column_names]
    if missing:
        raise IntegrityError(f"{where}: missing columns {missing} (has {table.column_names})")
    ids = _ids_from_column(table.column("item_id"), where)
    col = table.column("embedding")
    if not (pa.types.is_fixed_size_list(col.type) and pa.types.is_float32(col.type.value_type)):
        raise IntegrityError(f"{where}: embedding has type {col.type}, expected fixed_size_list<float32>")
    if col.null_count:
        raise IntegrityError(f"{where}: {col.null_count} embeddings are missing")
    dim = col.type.list_size
    arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    flat = arr.flatten().to_numpy(zero_copy_only=False)
    if flat.size != len(ids) * dim:
        raise IntegrityError(f"{where}: embedding holds {flat.size} values, expected {len(ids)} x {dim}")
    vectors = np.array(flat, dtype=np.float32, copy=True).reshape(len(ids), dim)
    src_col = table.column("source")
    if src_col.null_count:
        raise IntegrityError(f"{where}: source has {src_col.null_count} missing values")
    source = np.asarray(src_col.to_pylist(), dtype=object)
    bev_values = {v for v in table.column("behavior_emb_version").to_pylist() if v is not None}
    if len(bev_values) > 1:
        raise IntegrityError(f"{where}: behavior_emb_version holds several values {sorted(bev_values)}")
    behavior_version = next(iter(bev_values)) if bev_values else None

    order = _sort_order(ids, where)
    if order is not None:
        ids, vectors, source = ids[order], vectors[order], source[order]
    vocab = Vocabulary(ids, assume_sorted_unique=True)
    return ItemEmbeddings(vocab=vocab, vectors=vectors, source=source, behavior_version=behavior_version)


def _sort_order(ids: np.ndarray, where: str) -> np.ndarray | None:
    """``None`` when ids are strictly increasing (the store's own files), else the sorting permutation."""
    if ids.dtype.kind == "i":
        if len(ids) < 2 or bool(np.all(np.diff(ids) > 0)):
            return None
        order = np.argsort(ids, kind="stable")
        dup = np.diff(ids[order]) == 0
    else:
        values = ids.tolist()
        if all(a < b for a, b in zip(values, values[1:], strict=False)):
            return None
        order = np.asarray(sorted(range(len(values)), key=values.__getitem__), dtype=np.int64)
        dup = np.asarray([values[i] == values[j] for i, j in zip(order, order[1:], strict=False)], dtype=bool)
    if dup.any():
        example = ids[order[1:][dup]][:5].tolist()
        raise IntegrityError(f"{where}: item ids are not unique (e.g. {example})")
    return order


def table_to_items(table: pa.Table, where: str) -> ItemMetadata:
    """Rebuild :class:`ItemMetadata`; ``item_id`` keeps the stored type (int64, or ``str`` objects)."""
    if "item_id" not in table.column_names:
        raise IntegrityError(f"{where}: missing column 'item_id'")
    ids = _ids_from_column(table.column("item_id"), where)
    rest = table.drop_columns(["item_id"])
    df = rest.to_pandas() if rest.num_columns else pd.DataFrame(index=pd.RangeIndex(len(ids)))
    df.insert(0, "item_id", ids)
    return ItemMetadata(table=df)
