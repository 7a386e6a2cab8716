"""2-D maps of a version's item vectors (UMAP), cached in the store, and Procrustes alignment of two maps.

:func:`project_version` lays out every item of a stored version in the plane with UMAP (cosine metric). A
catalogue larger than ``max_fit_items`` is fitted on a *popularity-stratified* sample (equally many items from
each popularity decile of the version's ``item_stats``, so the long tail is represented and not just the head);
the other items are *placed* onto the fitted map, and the result says which items were fitted.

Neighbours are exact: the fit gets its k-nearest-neighbour graph from a blocked matmul plus a compiled top-k
selection (instead of pynndescent's NN-descent), and each remaining item is placed the way ``UMAP.transform``
places it — membership weights to its k nearest *fitted* items (again exact), start at their weighted mean
of coordinates, then a few optimisation epochs in which only the new points move — but without pynndescent's
search index, whose query function numba compiles anew for every fitted model (10-20 s in each process).
Measured on a 94.5k × 128 planted-cluster version, 20k fitted, against the former NN-descent fit +
``transform``: of a placed item's 10 nearest items (cosine), 14 % are among its 10 nearest on the map (was
10 %); 33 % of its 10 nearest on the map share its planted cluster (was 21 %; 41 % vs 38 % for fitted items);
trustworthiness over 5k random items (k=10) 0.80 (was 0.82). The weighted mean alone, without the epochs,
was clearly worse (trustworthiness 0.67, placed-item purity 11 %). Fits of more than ``EXACT_KNN_MAX_FIT``
items (exact neighbours cost ∝ fit² · dim) fall back to umap's own NN-descent and ``transform``.

Determinism: ``umap.UMAP(random_state=seed)`` runs single-threaded (we pass ``n_jobs=1`` explicitly), the
neighbours are exact (ties: lower row first) and the placement epochs are seeded and serial: the same version,
parameters and seed give the same coordinates on the same machine and library versions.

Cost: numba compiles umap's kernels and ours on first use. They are kept on disk (``NUMBA_CACHE_DIR``,
``~/.cache/behemb/numba`` by default, see ``behemb_core._numba_cache``; umap's own kernels are not marked
``cache=True``, so we switch the disk cache on for the ones this module runs). So compilation (≈1 min) is paid
once per machine, not once per process; a fresh process then spends a few seconds importing umap and loading
the kernels. :func:`warm_up` runs a tiny projection, so an app can pay even that outside a user's click.
Measured on the 94.5k × 128 version (2 cores, defaults): ≈85 s for the first projection on a machine with an
empty cache, ≈40 s in every later fresh process (fit ≈17 s, placement ≈23 s); before, ≈140-160 s in every
fresh process.

Cache layout (outside the immutable version folder, which is never written)::

    <store>/cache/projections/<version>/<key>.parquet   item_id, x, y, fitted
    <store>/cache/projections/<version>/<key>.json      params, embeddings_sha256, parquet sha256, counts

``<key>`` is a hash of the parameters *and* the sha256 of the version's ``embeddings.parquet`` (from its
manifest), so a cache is never reused for different vectors — not even for a version that was deleted and
written again under the same name. The sidecar JSON is written last and is checked (embeddings sha256 and the
parquet's own sha256) before a cached table is returned. On local disk both files are written to a temporary
name and renamed into place; on other fsspec filesystems they are written with ``store.fs`` (parquet first,
JSON last, so a partly written entry is simply ignored). A failed write (a full disk, a read-only store) leaves
no partial file: the temporary (or partly written) file is removed, and so is a table whose sidecar could not be
written. Deleting ``<store>/cache`` is always safe.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import uuid
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import ConfigError, InputError, StoreError
from .neighbors import exact_top_k
from .progress import ProgressCallback, as_reporter
from .store import Store
from .store.names import validate_version_name

CACHE_FORMAT = 2  # 2: exact neighbours and our own placement (1: NN-descent + UMAP.transform)
CACHE_DIR = ("cache", "projections")
EMBEDDINGS_FILE = "embeddings.parquet"
COLUMNS = ("item_id", "x", "y", "fitted")
N_DECILES = 10
MIN_ITEMS = 5
EXACT_KNN_MAX_FIT = 100_000  # above: umap's NN-descent + transform (exact neighbours cost ∝ fit² · dim)
PLACEMENT_EPOCHS = 100


@dataclass(frozen=True)
class ProjectionParams:
    """The parameters a projection depends on (all of them enter the cache key)."""

    n_neighbors: int = 15
    min_dist: float = 0.1
    max_fit_items: int = 20_000
    seed: int = 0
    n_epochs: int | None = None
    transform_chunk: int = 20_000

    def __post_init__(self) -> None:
        def need_int(name: str, value: object, lo: int, hi: int) -> None:
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= int(value) <= hi:
                raise ConfigError(f"projection: {name} must be an integer in [{lo}, {hi}], got {value!r}")

        need_int("n_neighbors", self.n_neighbors, 2, 200)
        need_int("max_fit_items", self.max_fit_items, 10, 10_000_000)
        need_int("seed", self.seed, 0, 2**32 - 1)
        need_int("transform_chunk", self.transform_chunk, 1, 10_000_000)
        if self.n_epochs is not None:
            need_int("n_epochs", self.n_epochs, 1, 10_000)
        if (isinstance(self.min_dist, bool) or not isinstance(self.min_dist, (int, float, np.floating))
                or not 0.0 <= float(self.min_dist) <= 1.0):
            raise ConfigError(f"projection: min_dist must be a number in [0, 1], got {self.min_dist!r}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["min_dist"] = float(d["min_dist"])
        return {k: (int(v) if isinstance(v, (int, np.integer)) and not isinstance(v, bool) else v)
                for k, v in d.items()}


# ------------------------------------------------------------------------------------------------- cache
def _embeddings_sha(store: Store, version: str) -> str:
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


def projection_cache_paths(store: Store, version: str, **params: Any) -> tuple[str, str]:
    """Where the projection of ``version`` with these parameters is (or would be) cached: (parquet, json)."""
    p = ProjectionParams(**params)
    base = f"{_cache_folder(store, version)}/{_cache_key(p, _embeddings_sha(store, version))}"
    return f"{base}.parquet", f"{base}.json"


def _read_cache(store: Store, version: str, p: ProjectionParams, emb_sha: str) -> pd.DataFrame | None:
    base = f"{_cache_folder(store, version)}/{_cache_key(p, emb_sha)}"
    try:
        meta = json.loads(bytes(store.fs.cat_file(f"{base}.json")).decode("utf-8"))
        blob = bytes(store.fs.cat_file(f"{base}.parquet"))
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


def load_cached_projection(store: Store, version: str, **params: Any) -> pd.DataFrame | None:
    """The cached projection of ``version`` with these parameters, or ``None`` when it was not computed yet.

    Reads only the version's manifest and the cache entry (never the vectors), so it is cheap to call on every
    page run. A missing version raises StoreError; invalid parameters raise ConfigError.
    """
    p = ProjectionParams(**params)
    return _read_cache(store, version, p, _embeddings_sha(store, version))


def projection_info(store: Store, version: str, **params: Any) -> dict[str, Any] | None:
    """The sidecar JSON of a cached projection (params, counts, seconds, umap version), or ``None``."""
    if load_cached_projection(store, version, **params) is None:
        return None
    _, meta_path = projection_cache_paths(store, version, **params)
    return json.loads(bytes(store.fs.cat_file(meta_path)).decode("utf-8"))


def _write_atomic(store: Store, path: str, data: bytes) -> None:
    if store.is_local:
        tmp = f"{path}.tmp-{uuid.uuid4().hex}"
        try:
            with open(tmp, "xb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)  # atomic; a concurrent writer of the same key writes the same content
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
    else:
        try:
            with store.fs.open(path, "wb") as fh:
                fh.write(data)
        except BaseException:
            _remove_quietly(store, path)  # no partial file; the entry is simply absent
            raise


def _remove_quietly(store: Store, path: str) -> None:
    try:
        if store.fs.exists(path):
            store.fs.rm(path)
    except Exception:  # noqa: BLE001 - best effort while another error propagates
        pass


def _write_cache(store: Store, version: str, p: ProjectionParams, emb_sha: str, table: pd.DataFrame,
                 extra: Mapping[str, Any]) -> None:
    folder = _cache_folder(store, version)
    base = f"{folder}/{_cache_key(p, emb_sha)}"
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), sink)
    blob = sink.getvalue()
    meta = {"format": CACHE_FORMAT, "version": version, "params": p.to_dict(), "embeddings_sha256": emb_sha,
            "sha256": hashlib.sha256(blob).hexdigest(), **dict(extra)}
    try:
        if store.is_local:
            os.makedirs(folder, exist_ok=True)
        else:
            store.fs.makedirs(folder, exist_ok=True)
        _write_atomic(store, f"{base}.parquet", blob)
        try:
            _write_atomic(store, f"{base}.json", json.dumps(meta, indent=2, sort_keys=True).encode("utf-8"))
        except BaseException:
            _remove_quietly(store, f"{base}.parquet")  # a table without its sidecar is never read: don't leave it
            raise
    except OSError as exc:
        raise StoreError(f"could not write the projection cache of version {version!r} under {folder}: {exc}") \
            from exc


# -------------------------------------------------------------------------------------------- projection
def stratified_sample(popularity: np.ndarray, n: int, *, seed: int = 0, n_strata: int = N_DECILES) -> np.ndarray:
    """Sorted row indices of ``n`` items drawn equally from ``n_strata`` popularity strata (deciles by rank).

    Items are ranked by ``popularity`` (ties broken at random, seeded) and cut into ``n_strata`` groups of
    equal size; each group gives ``n // n_strata`` items (the remainder goes to the most popular groups), drawn
    without replacement with ``numpy.random.default_rng(seed)``. So the head and the long tail are both in the
    sample, in the proportion they have in the catalogue, with no decile left out by chance.
    """
    pop = np.asarray(popularity, dtype=np.float64)
    total = len(pop)
    if n >= total:
        return np.arange(total)
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(total)
    order = shuffled[np.argsort(-pop[shuffled], kind="stable")]  # most popular first, random among ties
    strata = np.array_split(order, min(n_strata, total))
    base, extra = divmod(n, len(strata))
    picks = []
    for i, members in enumerate(strata):
        want = min(base + (1 if i < extra else 0), len(members))
        picks.append(rng.choice(members, size=want, replace=False))
    chosen = np.concatenate(picks)
    short = n - len(chosen)  # only when strata are smaller than their share (tiny catalogues)
    if short > 0:
        rest = np.setdiff1d(np.arange(total), chosen)
        chosen = np.concatenate([chosen, rng.choice(rest, size=short, replace=False)])
    return np.sort(chosen)


def _popularity(stats: pd.DataFrame | None, ids: np.ndarray) -> np.ndarray | None:
    if stats is None or "events" not in stats.columns or "item_id" not in stats.columns:
        return None
    events = pd.Series(stats["events"].to_numpy(dtype=np.float64), index=pd.Index(stats["item_id"]))
    events = events[~events.index.duplicated()]
    return events.reindex(ids).fillna(0.0).to_numpy()


def _umap_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("umap-learn")
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"


# umap-learn's kernels on the path below, compiled without ``cache=True`` by umap: we switch numba's disk cache on
# for them (behemb_core._numba_cache.enable_disk_cache) so they compile once per machine. Measured in a fresh
# process without it: ~12 s of compilation per process, smooth_knn_dist alone ~7 s.
_UMAP_DISK_CACHED = {
    "umap.umap_": ("smooth_knn_dist", "compute_membership_strengths"),
    "umap.layouts": ("_nb_optimize_layout_euclidean_single_epoch", "clip"),
    "umap.utils": ("fast_knn_indices", "submatrix"),  # umap's own small-data path (the fallback's tests)
}
_umap_cache_enabled = False


def _import_umap() -> Any:
    """``import umap`` (heavy: numba, pynndescent) with the disk cache on for the kernels we run."""
    global _umap_cache_enabled
    import umap  # heavy import; only when a projection is really computed
    import umap.layouts
    import umap.umap_

    if not _umap_cache_enabled:
        from ._numba_cache import enable_disk_cache

        for module, names in _UMAP_DISK_CACHED.items():
            enable_disk_cache(module, names)
        _umap_cache_enabled = True
    return umap


def _exact_knn(queries: np.ndarray, base: np.ndarray, k: int, *, skip_self: bool = False) -> tuple[np.ndarray,
                                                                                                   np.ndarray]:
    """Exact cosine k nearest rows of ``base`` for each row of ``queries`` (both unit-norm float32).

    Returns ``(indices int32, distances float32)`` sorted by distance ``1 − cos`` (clipped at 0), as umap
    expects them. ``skip_self``: ``queries`` is ``base`` and row ``i`` must not list itself. Blocks of query rows
    are multiplied against all of ``base`` (a buffer of at most ~256 MB) and the top ``k`` of each row are
    selected by a compiled kernel; cost ∝ queries × base × dim.
    """
    rows = int(min(max(len(queries), 1), 2048, max(16, 64_000_000 // max(len(base), 1))))
    skip = np.arange(len(queries), dtype=np.int64) if skip_self else None
    idx, sim = exact_top_k(queries, base, k, skip=skip, block_size=rows)
    dist = np.maximum(np.float32(1.0) - sim, np.float32(0.0))
    return idx.astype(np.int32), np.ascontiguousarray(dist, dtype=np.float32)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.array(x, dtype=np.float32, order="C", copy=True)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    np.divide(x, norms, out=x, where=norms > 0)
    return x


def _make_umap(p: ProjectionParams, n_fit: int, knn: tuple[np.ndarray, np.ndarray] | None = None) -> Any:
    umap = _import_umap()
    return umap.UMAP(
        n_components=2, metric="cosine", n_neighbors=min(p.n_neighbors, n_fit - 1), min_dist=float(p.min_dist),
        random_state=p.seed, n_jobs=1, n_epochs=p.n_epochs, transform_seed=p.seed, verbose=False,
        precomputed_knn=(None, None, None) if knn is None else (knn[0], knn[1], None),
    )


def _fit_umap(x_fit: np.ndarray, p: ProjectionParams) -> tuple[Any, np.ndarray]:
    """UMAP fitted on ``x_fit`` (unit rows) and its float32 coordinates; exact neighbours up to EXACT_KNN_MAX_FIT."""
    n_fit = len(x_fit)
    k = min(p.n_neighbors, n_fit - 1)
    knn = None
    if n_fit <= EXACT_KNN_MAX_FIT:
        # umap's own neighbour lists start with the item itself at distance 0; the k − 1 others follow
        others, dist = _exact_knn(x_fit, x_fit, k - 1, skip_self=True)
        knn = (np.concatenate([np.arange(n_fit, dtype=np.int32)[:, None], others], axis=1),
               np.concatenate([np.zeros((n_fit, 1), dtype=np.float32), dist], axis=1))
    reducer = _make_umap(p, n_fit, knn)
    with warnings.catch_warnings():
        # "precomputed_knn[2] ... is not an NNDescent object: transforming new data ... unavailable": we place
        # new points ourselves (_place)
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]")
        coords = reducer.fit_transform(x_fit)
    return reducer, np.ascontiguousarray(coords, dtype=np.float32)


def _placement_epochs(p: ProjectionParams) -> int:
    """umap's transform runs ``n_epochs // 3`` epochs when ``n_epochs`` is given, else 100 (≤10k new points) or
    30; we use 100 for the default: measured better than 30 for ~10 s more at 75k placed items."""
    return PLACEMENT_EPOCHS if p.n_epochs is None else max(1, int(p.n_epochs) // 3)


def _place(reducer: Any, x_fit: np.ndarray, fit_xy: np.ndarray, x_new: np.ndarray, p: ProjectionParams) -> np.ndarray:
    """2-D coordinates of the rows ``x_new`` (unit) on the map ``fit_xy`` of ``x_fit`` — ``UMAP.transform``'s
    algorithm with exact neighbours among the fitted items.

    As in umap 0.5's transform: the k nearest fitted items (k = the fit's ``n_neighbors``) give membership
    strengths ``exp(−d / σ)`` with σ from ``smooth_knn_dist`` (local connectivity 0); the point starts at the
    strength-weighted mean of their coordinates; then :func:`_placement_epochs` epochs of umap's layout
    optimisation move the new points only (attraction along those edges, negative sampling among the fitted
    points), seeded with ``seed``, serial.
    """
    import scipy.sparse
    from umap.layouts import optimize_layout_euclidean
    from umap.umap_ import (
        compute_membership_strengths,
        make_epochs_per_sample,
        smooth_knn_dist,
    )

    n_fit = len(x_fit)
    k = int(reducer._n_neighbors)
    indices, dists = _exact_knn(x_new, x_fit, k)
    indices[dists >= reducer._disconnection_distance] = -1
    sigmas, rhos = smooth_knn_dist(dists, float(k), local_connectivity=float(max(0.0, reducer.local_connectivity
                                                                                 - 1.0)))
    rows, cols, vals, _ = compute_membership_strengths(indices, dists, sigmas, rhos, bipartite=True)
    graph = scipy.sparse.coo_matrix((vals, (rows, cols)), shape=(len(x_new), n_fit))
    graph.eliminate_zeros()

    csr = graph.tocsr()
    weight_sum = np.asarray(csr.sum(axis=1)).ravel()
    xy = np.asarray(csr @ fit_xy.astype(np.float64), dtype=np.float64)
    lonely = weight_sum <= 0  # every neighbour cut off: start at the map's centre
    xy[~lonely] /= weight_sum[~lonely, None]
    xy[lonely] = fit_xy.mean(axis=0)
    start = np.ascontiguousarray(xy, dtype=np.float32)

    n_epochs = _placement_epochs(p)
    if graph.nnz == 0 or n_epochs < 1:
        return start
    graph.data[graph.data < graph.data.max() / float(n_epochs)] = 0.0
    graph.eliminate_zeros()
    epochs_per_sample = make_epochs_per_sample(graph.data, n_epochs)
    rng_state = np.random.RandomState(p.seed).randint(np.iinfo(np.int32).min + 1, np.iinfo(np.int32).max - 1,
                                                      3).astype(np.int64)
    placed = optimize_layout_euclidean(
        start, fit_xy.copy(), graph.row, graph.col, n_epochs, n_fit, epochs_per_sample, reducer._a, reducer._b,
        rng_state, float(reducer.repulsion_strength), float(reducer.learning_rate) / 4.0,
        float(reducer.negative_sample_rate), False, verbose=False, move_other=False,
    )
    return np.asarray(placed, dtype=np.float32)


def project_embeddings(
    vectors: np.ndarray,
    *,
    popularity: np.ndarray | None = None,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    max_fit_items: int = 20_000,
    seed: int = 0,
    n_epochs: int | None = None,
    transform_chunk: int = 20_000,
    progress: ProgressCallback | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """2-D UMAP coordinates (float32, ``n × 2``) of ``vectors`` and the boolean mask of the rows it was fitted on.

    The uncached core of :func:`project_version` (see there for the parameters). Without ``popularity`` a
    larger-than-``max_fit_items`` input is fitted on a uniform seeded sample. Rows are L2-normalised first
    (cosine).
    """
    p = ProjectionParams(n_neighbors=n_neighbors, min_dist=min_dist, max_fit_items=max_fit_items, seed=seed,
                         n_epochs=n_epochs, transform_chunk=transform_chunk)
    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] < MIN_ITEMS:
        raise InputError(f"projection needs at least {MIN_ITEMS} item vectors, got an array of shape {x.shape}")
    x = _unit_rows(x)
    rep = as_reporter(progress)
    n = x.shape[0]
    sampled = n > p.max_fit_items
    if sampled:
        pop = popularity if popularity is not None else np.zeros(n)
        if len(pop) != n:
            raise InputError(f"popularity has {len(pop)} values for {n} vectors")
        fit_rows = stratified_sample(pop, p.max_fit_items, seed=p.seed)
    else:
        fit_rows = np.arange(n)
    fitted = np.zeros(n, dtype=bool)
    fitted[fit_rows] = True
    fit_end = 0.6 if sampled else 0.95
    how = "a popularity-stratified sample of " if sampled and popularity is not None else (
        "a uniform sample of " if sampled else "")
    rep("fit", 0.02, f"fitting UMAP on {how}{len(fit_rows):,} of {n:,} items (the first projection on a machine "
        "also compiles numba kernels, once)", n_fit=len(fit_rows), n_items=n)
    x_fit = np.ascontiguousarray(x[fit_rows])
    reducer, fit_xy = _fit_umap(x_fit, p)
    coords = np.empty((n, 2), dtype=np.float32)
    coords[fit_rows] = fit_xy
    rep("fit", fit_end, "UMAP fitted")
    rest = np.flatnonzero(~fitted)
    if len(rest):
        exact = len(fit_rows) <= EXACT_KNN_MAX_FIT
        done = 0
        for i in range(0, len(rest), p.transform_chunk):
            chunk = rest[i:i + p.transform_chunk]
            if exact:
                coords[chunk] = _place(reducer, x_fit, fit_xy, x[chunk], p)
            else:
                coords[chunk] = np.asarray(reducer.transform(x[chunk]), dtype=np.float32)
            done += len(chunk)
            rep("place", fit_end + (0.95 - fit_end) * done / len(rest),
                f"placed {done:,} of {len(rest):,} remaining items next to their nearest fitted items", placed=done)
    if not np.isfinite(coords).all():  # pragma: no cover - umap guards against this
        raise InputError("UMAP produced non-finite coordinates")
    return coords, fitted


def project_version(
    store: Store,
    version: str,
    *,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    max_fit_items: int = 20_000,
    seed: int = 0,
    n_epochs: int | None = None,
    transform_chunk: int = 20_000,
    use_cache: bool = True,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """The 2-D UMAP map of version ``version``: a table ``item_id``, ``x``, ``y`` (float32), ``fitted`` (bool).

    ``fitted`` is true for the items UMAP was fitted on and false for those placed onto the fitted map (only
    when the version has more than ``max_fit_items`` items: the fit then uses a popularity-stratified sample
    from the version's ``item_stats``, see :func:`stratified_sample`; uniform when it has none). A placed item
    sits among its ``n_neighbors`` nearest fitted items (exact cosine), where umap's transform would put it
    (see the module doc); ``transform_chunk`` items are placed at a time. Rows follow the version's
    vocabulary order.

    UMAP: ``n_components=2, metric="cosine"``, ``n_neighbors`` (clipped to the fit size − 1), ``min_dist``,
    ``random_state=seed``, on exact neighbour lists — single-threaded and deterministic; ``n_epochs`` ``None``
    = umap's default (tests use fewer); placement runs 100 epochs, or ``n_epochs // 3``. The first call on a
    machine pays ~1 min of numba compilation, later processes load the kernels from the disk cache (see the
    module doc and :func:`warm_up`).

    With ``use_cache`` (default) the result is read from, or written to, ``<store>/cache/projections/`` (see
    the module doc): a second call with the same parameters returns the identical table without loading the
    vectors or running UMAP. The version folder itself is never written. Raises StoreError (missing version,
    unwritable cache), IntegrityError (corrupt version), ConfigError (bad parameters), InputError (fewer than
    5 items).
    """
    p = ProjectionParams(n_neighbors=n_neighbors, min_dist=min_dist, max_fit_items=max_fit_items, seed=seed,
                         n_epochs=n_epochs, transform_chunk=transform_chunk)
    rep = as_reporter(progress)
    emb_sha = _embeddings_sha(store, version)
    if use_cache:
        cached = _read_cache(store, version, p, emb_sha)
        if cached is not None:
            rep("done", 1.0, "projection read from the store cache", cached=True)
            return cached
    rep("read", 0.0, f"loading version {version}")
    stored = store.load_version(version)
    if stored.manifest.get("files", {}).get(EMBEDDINGS_FILE, {}).get("sha256") != emb_sha:
        raise StoreError(f"version {version!r} changed while it was being projected; try again")
    emb = stored.embeddings
    if len(emb) < MIN_ITEMS:
        raise InputError(f"version {version!r} has {len(emb)} items; a projection needs at least {MIN_ITEMS}")
    started = time.perf_counter()
    coords, fitted = project_embeddings(
        emb.vectors, popularity=_popularity(stored.item_stats, emb.vocab.ids), n_neighbors=p.n_neighbors,
        min_dist=p.min_dist, max_fit_items=p.max_fit_items, seed=p.seed, n_epochs=p.n_epochs,
        transform_chunk=p.transform_chunk, progress=rep.sub(0.02, 0.97),
    )
    seconds = time.perf_counter() - started
    table = pd.DataFrame({"item_id": emb.vocab.ids, "x": coords[:, 0], "y": coords[:, 1], "fitted": fitted})
    if use_cache:
        rep("cache", 0.98, "writing the projection to the store cache")
        _write_cache(store, version, p, emb_sha, table, {
            "n_items": len(table), "n_fitted": int(fitted.sum()),
            "sample": "none" if fitted.all() else (
                "popularity-stratified" if stored.item_stats is not None else "uniform"),
            "neighbours": "exact" if int(fitted.sum()) <= EXACT_KNN_MAX_FIT else "nn-descent",
            "seconds": round(seconds, 3), "umap_version": _umap_version(),
        })
        table = _read_cache(store, version, p, emb_sha)  # exactly what later calls will return
        assert table is not None
    rep("done", 1.0, "projection ready", cached=False)
    return table


def warm_up(*, pynndescent: bool = True) -> None:
    """Compile — or, normally, load from numba's disk cache — the kernels of a projection, so that a later
    :func:`project_version` pays only for the data.

    Runs a tiny projection that takes every path of a real one (exact neighbours, UMAP fit on them, placement
    of non-fitted items). On a machine whose cache is empty this compiles for about a minute and writes the
    cache; afterwards a fresh process needs a few seconds (mostly ``import umap``). With ``pynndescent`` (the
    default, for callers that time ``neighbors.approximate_top_k_neighbors``) it also builds and queries a tiny
    pynndescent index: its NN-descent kernels cannot be cached on disk, so that part costs ~50 s in *every*
    fresh process; a projection needs it only for fits above ``EXACT_KNN_MAX_FIT`` items, and the app skips it.
    """
    x = np.random.default_rng(0).normal(size=(60, 8)).astype(np.float32)
    project_embeddings(x, max_fit_items=40, n_neighbors=5, n_epochs=6, transform_chunk=20)
    if pynndescent:
        from pynndescent import NNDescent

        index = NNDescent(x[:50], metric="cosine", n_neighbors=5, random_state=0, n_jobs=1, compressed=False)
        index.prepare()
        index.query(x[50:], k=5)


# --------------------------------------------------------------------------------------------- alignment
@dataclass(frozen=True)
class Alignment:
    """A similarity transform ``z ↦ scale · (z − source_center) · rotation + target_center`` and its fit.

    ``rmse`` is the root-mean-square distance between aligned and reference points over the ``n_shared`` items
    used in the fit; ``relative_residual`` is ``‖aligned − ref‖ / ‖ref − mean(ref)‖`` (0 = identical layouts
    up to rotation, reflection, scale and shift; near 1 = no better than collapsing onto the centroid).
    """

    rotation: np.ndarray
    scale: float
    source_center: np.ndarray
    target_center: np.ndarray
    n_shared: int
    rmse: float
    relative_residual: float

    @property
    def reflection(self) -> bool:
        return bool(np.linalg.det(self.rotation) < 0)

    def apply(self, xy: np.ndarray) -> np.ndarray:
        z = np.asarray(xy, dtype=np.float64)
        return self.scale * (z - self.source_center) @ self.rotation + self.target_center

    def to_dict(self) -> dict[str, Any]:
        return {"n_shared": self.n_shared, "rmse": self.rmse, "relative_residual": self.relative_residual,
                "scale": self.scale, "reflection": self.reflection,
                "rotation_degrees": float(np.degrees(np.arctan2(self.rotation[0, 1], self.rotation[0, 0])))}


def _xy_table(df: pd.DataFrame, what: str) -> pd.DataFrame:
    missing = {"item_id", "x", "y"} - set(df.columns)
    if missing:
        raise InputError(f"{what} projection lacks columns {sorted(missing)}")
    if df["item_id"].duplicated().any():
        dup = df.loc[df["item_id"].duplicated(), "item_id"].iloc[0]
        raise InputError(f"{what} projection lists item {dup!r} more than once")
    return df


def _id_index(ids: pd.Series, as_str: bool) -> pd.Index:
    return pd.Index(ids.astype(str) if as_str else ids)


def fit_alignment(ref: pd.DataFrame, other: pd.DataFrame) -> Alignment:
    """The least-squares similarity transform (rotation/reflection, scale, shift) taking ``other`` onto ``ref``
    over the items both contain (``scipy.linalg.orthogonal_procrustes`` on centred coordinates).

    Raises InputError when fewer than 3 items are shared or ``other``'s shared points all coincide.
    """
    from scipy.linalg import orthogonal_procrustes

    _xy_table(ref, "reference")
    _xy_table(other, "other")
    as_str = ref["item_id"].dtype.kind != other["item_id"].dtype.kind
    ref_idx, other_idx = _id_index(ref["item_id"], as_str), _id_index(other["item_id"], as_str)
    pos = ref_idx.get_indexer(other_idx)
    shared = np.flatnonzero(pos >= 0)
    if len(shared) < 3:
        raise InputError(f"the two projections share {len(shared)} items; aligning them needs at least 3")
    a = ref[["x", "y"]].to_numpy(np.float64)[pos[shared]]
    b = other[["x", "y"]].to_numpy(np.float64)[shared]
    a0, b0 = a.mean(axis=0), b.mean(axis=0)
    ac, bc = a - a0, b - b0
    norm_b = float((bc ** 2).sum())
    if norm_b <= 1e-24:
        raise InputError("the shared items of the projection to align all sit at one point")
    rotation, sv_sum = orthogonal_procrustes(bc, ac)
    scale = float(sv_sum) / norm_b
    aligned = scale * bc @ rotation + a0
    resid = float(((aligned - a) ** 2).sum())
    norm_a = float((ac ** 2).sum())
    return Alignment(rotation=rotation, scale=scale, source_center=b0, target_center=a0, n_shared=len(shared),
                     rmse=float(np.sqrt(resid / len(shared))),
                     relative_residual=float(np.sqrt(resid / norm_a)) if norm_a > 0 else float("inf"))


def align_projections(ref: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    """``other`` with its ``x``/``y`` mapped onto ``ref``'s frame by Procrustes (rotation/reflection + scale +
    translation), so two versions' maps can be shown side by side with comparable layouts.

    The transform is fitted by least squares on the items both tables share; items only in ``other`` are
    transformed too (they just do not enter the fit), items only in ``ref`` are ignored. All other columns of
    ``other`` are kept; ``x``/``y`` become float64. The fit is reported in ``result.attrs["alignment"]``
    (``n_shared``, ``rmse``, ``relative_residual``, ``scale``, ``reflection``, ``rotation_degrees``); use
    :func:`fit_alignment` for the transform itself.
    """
    alignment = fit_alignment(ref, other)
    out = other.copy()
    xy = alignment.apply(other[["x", "y"]].to_numpy(np.float64))
    out["x"], out["y"] = xy[:, 0], xy[:, 1]
    out.attrs["alignment"] = alignment.to_dict()
    return out
