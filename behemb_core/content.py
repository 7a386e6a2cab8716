"""Content vectors for fusion and cold start: from a user table, or from item text (TF-IDF → SVD, no downloads)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .embeddings import l2_normalize
from .errors import InputError
from .vocab import Vocabulary, normalize_ids


@dataclass(frozen=True)
class ContentVectors:
    """Content vectors for items (any dimension), from a user table or from item text; ``origin`` says which
    (``"text"``, or the file's name). The readers here L2-normalise every row."""

    vocab: Vocabulary
    vectors: np.ndarray
    origin: str = "table"


def content_from_text(
    item_text: pd.Series, *, dim: int = 128, seed: int = 0, max_features: int = 50_000, ngram_max: int = 2
) -> ContentVectors:
    """TF-IDF over item text (word 1..``ngram_max``-grams, sublinear tf) reduced by truncated SVD to ``dim``.

    Items with empty text get no content vector. Deterministic for a seed.
    """
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    text = item_text.astype(str).str.strip()
    text = text[text != ""]
    if text.empty:
        raise InputError("no item has any text to build content vectors from")
    ids = normalize_ids(pd.Series(text.index))
    vocab, codes = Vocabulary.from_codes(ids)
    # One text per item: join duplicates (several descriptions of one code) in a deterministic order.
    joined = pd.Series(text.to_numpy()).groupby(codes, sort=True).agg(" ".join)
    vec = TfidfVectorizer(
        sublinear_tf=True, ngram_range=(1, ngram_max), max_features=max_features, dtype=np.float32,
        token_pattern=r"(?u)\b\w+\b",
    )
    x = vec.fit_transform(joined.to_numpy())
    k = max(1, min(dim, x.shape[1] - 1, x.shape[0] - 1))
    if k < 2:
        dense = x.toarray()
    else:
        dense = TruncatedSVD(n_components=k, random_state=seed, algorithm="randomized").fit_transform(x)
    dense = l2_normalize(dense)
    ok = np.linalg.norm(dense, axis=1) > 0
    return ContentVectors(vocab=vocab.subset(np.flatnonzero(ok)), vectors=dense[ok], origin="text")


def read_content_vectors(path: str, *, id_column: str = "item_id", vector_column: str = "embedding") -> ContentVectors:
    """Read item id → vector from Parquet, CSV or NPY.

    * Parquet: ``id_column`` plus either a list column ``vector_column`` or numeric columns (one per dimension).
    * CSV/TSV: ``id_column`` plus numeric columns.
    * NPY: a float matrix, with ids in a sibling ``<name>.ids.json`` or ``ids.json`` (as ``export --format npy``
      writes them). Never unpickled.
    """
    if "\0" in path:
        raise InputError("the path contains a NUL byte", path=repr(path))
    if not os.path.exists(path):
        raise InputError("file not found", path=path)
    if not os.path.isfile(path):
        raise InputError("not a file (a folder?); give the content vectors file", path=path)
    try:
        return _read_content_vectors(path, id_column, vector_column)
    except InputError:
        raise
    except (pa.ArrowException, OSError, EOFError, UnicodeDecodeError, ValueError, TypeError) as exc:
        from .ingest._files import unreadable

        if isinstance(exc, (OSError, EOFError, UnicodeDecodeError)) and not isinstance(exc, pa.ArrowException):
            raise unreadable(path, exc) from None
        reason = " ".join(str(exc).split()) or type(exc).__name__
        reason = reason.replace(f"Could not open Parquet input source '{path}': ", "")
        raise InputError(f"cannot read content vectors: {reason}", path=path) from None


def _read_content_vectors(path: str, id_column: str, vector_column: str) -> ContentVectors:
    lower = path.lower()
    if lower.endswith(".npy"):
        return _read_npy(path)
    if lower.endswith(".parquet"):
        try:
            table = pq.read_table(path)
        except (pa.ArrowException, OSError) as exc:
            reason = " ".join(str(exc).split()).replace(f"Could not open Parquet input source '{path}': ", "")
            raise InputError(f"not a readable Parquet file: {reason}", path=path) from None
        df = None
        if id_column not in table.column_names:
            raise InputError(f"missing id column; columns present: {table.column_names}", path=path, field=id_column)
        ids = table.column(id_column).to_pandas()
        if vector_column in table.column_names and pa.types.is_list(table.schema.field(vector_column).type) or (
            vector_column in table.column_names
            and pa.types.is_fixed_size_list(table.schema.field(vector_column).type)
        ):
            col = table.column(vector_column).combine_chunks()
            lengths = col.value_lengths().to_numpy(zero_copy_only=False) if hasattr(col, "value_lengths") else None
            flat = col.flatten().to_numpy(zero_copy_only=False).astype(np.float32)
            if lengths is not None and len(set(lengths.tolist())) > 1:
                raise InputError("vectors have different lengths", path=path, field=vector_column)
            vectors = flat.reshape(len(col), -1)
        else:
            df = table.to_pandas()
            vectors = _numeric_block(df.drop(columns=[id_column]), path)
    elif lower.endswith((".csv", ".tsv", ".csv.gz", ".tsv.gz", ".txt")):
        sep = "\t" if ".tsv" in lower else ","
        try:
            df = pd.read_csv(path, sep=sep, dtype={id_column: str})
        except (ValueError, pd.errors.ParserError) as exc:
            raise InputError(f"cannot parse as CSV: {exc}", path=path) from None
        if id_column not in df.columns:
            raise InputError(f"missing id column; columns present: {list(df.columns)}", path=path, field=id_column)
        ids = df[id_column]
        vectors = _numeric_block(df.drop(columns=[id_column]), path)
    else:
        raise InputError("content vectors must be .parquet, .csv/.tsv or .npy", path=path)
    return _finish(ids, vectors, path)


def _numeric_block(df: pd.DataFrame, path: str) -> np.ndarray:
    if df.shape[1] == 0:
        raise InputError("no vector columns next to the id column", path=path)
    bad = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    if bad:
        raise InputError(f"vector columns must be numeric; non-numeric: {bad[:5]}", path=path, field=str(bad[0]))
    return df.to_numpy(dtype=np.float32)


def _read_npy(path: str) -> ContentVectors:
    base = path[: -len(".npy")]
    candidates = [base + ".ids.json", os.path.join(os.path.dirname(path), "ids.json")]
    ids_path = next((c for c in candidates if os.path.exists(c)), None)
    if ids_path is None:
        raise InputError(f"an .npy file needs its item ids in {candidates[0]} or {candidates[1]}", path=path)
    try:
        vectors = np.load(path, allow_pickle=False)  # never unpickled: object arrays are refused
    except EOFError:
        raise InputError("the .npy file is empty or cut short (no array data)", path=path) from None
    except (ValueError, OSError) as exc:
        reason = " ".join(str(exc).split())
        if "pickle" in reason:
            reason = "it holds pickled Python objects, which are never loaded"
        raise InputError(f"not a plain numeric .npy array ({reason})", path=path) from None
    if not isinstance(vectors, np.ndarray) or vectors.dtype.kind not in "iuf":
        raise InputError(f"not a plain numeric .npy array (dtype {getattr(vectors, 'dtype', '?')})", path=path)
    try:
        with open(ids_path, encoding="utf-8") as fh:
            ids = json.load(fh)
    except json.JSONDecodeError as exc:
        raise InputError(f"ids file is not JSON: {exc.msg}", path=ids_path, line=exc.lineno) from None
    except RecursionError:
        raise InputError("ids file is JSON nested too deeply to read", path=ids_path) from None
    except (OSError, UnicodeDecodeError) as exc:
        from .ingest._files import unreadable

        raise unreadable(ids_path, exc) from None
    if not isinstance(ids, list):
        raise InputError(f"ids file must hold a JSON list of item ids, got {type(ids).__name__}", path=ids_path)
    if vectors.ndim != 2 or len(ids) != vectors.shape[0]:
        raise InputError(f"expected a 2-D array with one row per id ({len(ids)} ids), got {vectors.shape}", path=path)
    return _finish(pd.Series(ids), vectors.astype(np.float32), path)


def _finish(ids: pd.Series, vectors: np.ndarray, path: str) -> ContentVectors:
    if len(ids) == 0:
        raise InputError("no content vectors in the file", path=path)
    if ids.isna().any():
        row = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise InputError(f"item id is missing in data row {row + 1}", path=path)
    if not np.isfinite(vectors).all():
        row = int(np.flatnonzero(~np.isfinite(vectors).all(axis=1))[0])
        raise InputError(f"vector of data row {row + 1} contains NaN/inf", path=path)
    norm_ids = normalize_ids(ids)
    vocab, codes = Vocabulary.from_codes(norm_ids)
    if len(vocab) != len(norm_ids):
        dup = pd.Series(norm_ids).duplicated()
        raise InputError(f"item id {norm_ids[int(np.flatnonzero(dup.to_numpy())[0])]!r} appears twice", path=path)
    out = np.empty_like(vectors)
    out[codes] = vectors
    out = l2_normalize(out)
    ok = np.linalg.norm(out, axis=1) > 0
    return ContentVectors(vocab=vocab.subset(np.flatnonzero(ok)), vectors=out[ok], origin=os.path.basename(path))
