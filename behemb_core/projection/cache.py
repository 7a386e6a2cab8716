"""Projections cached in the store, beside (never inside) the immutable version folders.

Layout::

    <store>/cache/projections/<version>/<key>.parquet   item_id, x, y, fitted
    <store>/cache/projections/<version>/<key>.json      params, embeddings_sha256, parquet sha256, counts

``<key>`` is a hash of the parameters *and* the sha256 of the version's ``embeddings.parquet`` (from its
manifest), so a cache is never reused for different vectors — not even for a version that was deleted and
written again under the same name. The sidecar JSON is installed last and is checked (embeddings sha256 and the
parquet's own sha256) before a cached table is returned, so a half-written entry is simply not used.

Both files are written through the store's file-writing layer (:class:`behemb_core.store.Staged`): each is staged
in full first (on a local disk under a temporary name, so a full disk or a read-only store fails before anything
is in place), then put in place atomically, table first. When either cannot be put in place, both are removed
again: a failed write leaves no part of an entry. Deleting ``<store>/cache`` is always safe.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import StoreError
from ..store import Staged, Store, remove_quietly
from ..store.names import validate_version_name
from .params import ProjectionParams, as_params

CACHE_FORMAT = 2  # 2: exact neighbors and our own placement (1: NN-descent + UMAP.transform)
CACHE_DIR = ("cache", "projections")
EMBEDDINGS_FILE = "embeddings.parquet"
COLUMNS = ("item_id", "x", "y", "fitted")
WRITE_POINT = "projection_cache"  # the fault-injection name of the cache's writes (see store._faults)

ParamsLike = ProjectionParams | Mapping[str, Any] | None


def embeddings_sha(store: Store, version: str) -> str:
    """The sha256 of ``version``'s ``embeddings.parquet`` from its manifest (StoreError when missing)."""
    files = store.manifest(version).get("files")
    rec = files.get(EMBEDDINGS_FILE) if isinstance(files, dict) else None
    sha = rec.get("sha256") if isinstance(rec, dict) else None
    if not isinstance(sha, str):
        raise StoreError(f"version {version!r}: its manifest has no sha256 for {EMBEDDINGS_FILE}")
    return sha


def _cache_key(params: ProjectionParams, embeddings_sha256: str) -> str:
    payload = {"format": CACHE_FORMAT, "params": params.to_dict(), "embeddings_sha256": embeddings_sha256}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def _cache_folder(store: Store, version: str) -> str:
    return "/".join([store.root, *CACHE_DIR, validate_version_name(version)])


def _paths(store: Store, version: str, p: ProjectionParams, emb_sha: str) -> tuple[str, str]:
    base = f"{_cache_folder(store, version)}/{_cache_key(p, emb_sha)}"
    return f"{base}.parquet", f"{base}.json"


def projection_cache_paths(store: Store, version: str, params: ParamsLike = None) -> tuple[str, str]:
    """Where the projection of ``version`` with ``params`` is (or would be) cached: (parquet, json)."""
    return _paths(store, version, as_params(params), embeddings_sha(store, version))


def read_cache(store: Store, version: str, p: ProjectionParams, emb_sha: str) -> pd.DataFrame | None:
    """The cached table, or ``None`` when absent, half-written or not matching ``p`` and ``emb_sha``."""
    parquet, meta_path = _paths(store, version, p, emb_sha)
    try:
        meta = json.loads(bytes(store.fs.cat_file(meta_path)).decode("utf-8"))
        blob = bytes(store.fs.cat_file(parquet))
    except (FileNotFoundError, ValueError, UnicodeDecodeError):
        return None  # absent or half-written: recompute (and overwrite)
    if (not isinstance(meta, dict) or meta.get("format") != CACHE_FORMAT
            or meta.get("embeddings_sha256") != emb_sha or meta.get("params") != p.to_dict()
            or meta.get("sha256") != hashlib.sha256(blob).hexdigest()):
        return None
    try:
        table = pq.read_table(io.BytesIO(blob)).to_pandas()
    except (pa.ArrowException, OSError):
        return None
    if tuple(table.columns) != COLUMNS:
        return None
    return table


def load_cached_projection(store: Store, version: str, params: ParamsLike = None) -> pd.DataFrame | None:
    """The cached projection of ``version`` with ``params``, or ``None`` when it was not computed yet.

    Reads only the version's manifest and the cache entry (never the vectors), so it is cheap to call on every
    page run. A missing version raises StoreError; invalid parameters raise ConfigError.
    """
    return read_cache(store, version, as_params(params), embeddings_sha(store, version))


def projection_info(store: Store, version: str, params: ParamsLike = None) -> dict[str, Any] | None:
    """The sidecar JSON of a cached projection (params, counts, seconds, umap version), or ``None``."""
    p = as_params(params)
    emb_sha = embeddings_sha(store, version)
    if read_cache(store, version, p, emb_sha) is None:
        return None
    _, meta_path = _paths(store, version, p, emb_sha)
    return json.loads(bytes(store.fs.cat_file(meta_path)).decode("utf-8"))


def write_cache(store: Store, version: str, p: ProjectionParams, emb_sha: str, table: pd.DataFrame,
                extra: Mapping[str, Any]) -> None:
    """Cache ``table`` (and a sidecar with ``extra``) for ``version`` and ``p``; StoreError when it cannot."""
    parquet, meta_path = _paths(store, version, p, emb_sha)
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), sink)
    blob = sink.getvalue()
    meta = {"format": CACHE_FORMAT, "version": version, "params": p.to_dict(), "embeddings_sha256": emb_sha,
            "sha256": hashlib.sha256(blob).hexdigest(), **dict(extra)}
    staged: list[Staged] = []
    try:
        staged.append(Staged(store, parquet, blob, point=WRITE_POINT))
        staged.append(Staged(store, meta_path, json.dumps(meta, indent=2, sort_keys=True).encode("utf-8"),
                                   point=WRITE_POINT))
        try:
            for file in staged:  # the table first: a sidecar is never in place without its table
                file.install()
        except BaseException:
            for path in (meta_path, parquet):  # no half of an entry is left behind
                remove_quietly(store, path)
            raise
    except OSError as exc:
        raise StoreError(f"could not write the projection cache of version {version!r} under "
                         f"{_cache_folder(store, version)}: {exc}") from exc
    finally:
        for file in staged:
            file.discard()
