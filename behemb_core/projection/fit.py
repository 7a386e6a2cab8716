"""UMAP on exact neighbors, and the placement of items left out of the fit (the uncached core of a projection).

The fit gets its k-nearest-neighbor graph from :func:`behemb_core.neighbors.exact_top_k` (exact cosine; ties:
lower row first) instead of pynndescent's NN-descent. Each item not in the fit is placed the way
``UMAP.transform`` places a new point — membership weights to its k nearest *fitted* items (again exact), a
start at their weighted mean, then optimisation epochs in which only the new points move — but without
pynndescent's search index, whose query function numba compiles anew in every process. Fits of more than
:data:`EXACT_KNN_MAX_FIT` items (exact neighbors cost ∝ fit² · dim) fall back to umap's own NN-descent and
``transform``. How the placement compares with umap's transform, and what it costs, is measured in
``benchmarks/results/library-measurements.md``.

Determinism: UMAP runs with ``random_state=seed`` and ``n_jobs=1``, the neighbors are exact and the placement
epochs are seeded and serial, so the same vectors, parameters and seed give the same coordinates on the same
machine and library versions.

Compilation: umap's kernels and ours are compiled by numba on first use and kept in numba's disk cache
(``behemb_core._numba_cache``; umap does not mark its kernels ``cache=True``, so the disk cache is switched on
for the ones run here), so they are compiled once per machine, not once per process. :func:`warm_up` runs a
tiny projection, so an app can pay for loading them outside a user's click.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import InputError
from ..neighbors import exact_top_k
from ..progress import ProgressCallback, Reporter, as_reporter
from .params import ProjectionParams, as_params
from .sample import stratified_sample

MIN_ITEMS = 5
EXACT_KNN_MAX_FIT = 100_000  # above: umap's NN-descent + transform (exact neighbors cost ∝ fit² · dim)
PLACEMENT_EPOCHS = 100

# umap-learn's kernels on the path below, compiled without ``cache=True`` by umap: we switch numba's disk cache on
# for them (behemb_core._numba_cache.enable_disk_cache) so they compile once per machine, not in every process.
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
        from .._numba_cache import enable_disk_cache

        for module, names in _UMAP_DISK_CACHED.items():
            enable_disk_cache(module, names)
        _umap_cache_enabled = True
    return umap


def umap_version() -> str:
    """The installed umap-learn version (recorded with every cached projection)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("umap-learn")
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"


def neighbor_search(n_fit: int) -> str:
    """How a fit of ``n_fit`` items gets its neighbors: ``"exact"`` or (above the limit) ``"nn-descent"``."""
    return "exact" if n_fit <= EXACT_KNN_MAX_FIT else "nn-descent"


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
    """UMAP fitted on ``x_fit`` (unit rows) and its float32 coordinates; exact neighbors up to EXACT_KNN_MAX_FIT."""
    n_fit = len(x_fit)
    k = min(p.n_neighbors, n_fit - 1)
    knn = None
    if n_fit <= EXACT_KNN_MAX_FIT:
        # umap's own neighbor lists start with the item itself at distance 0; the k − 1 others follow
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
    30; we use 100 for the default whatever the count (see ``benchmarks/results/library-measurements.md``)."""
    return PLACEMENT_EPOCHS if p.n_epochs is None else max(1, int(p.n_epochs) // 3)


def _place(reducer: Any, x_fit: np.ndarray, fit_xy: np.ndarray, x_new: np.ndarray, p: ProjectionParams) -> np.ndarray:
    """2-D coordinates of the rows ``x_new`` (unit) on the map ``fit_xy`` of ``x_fit`` — ``UMAP.transform``'s
    algorithm with exact neighbors among the fitted items.

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
    lonely = weight_sum <= 0  # every neighbor cut off: start at the map's centre
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
    params: ProjectionParams | Mapping[str, Any] | None = None,
    *,
    popularity: np.ndarray | None = None,
    progress: ProgressCallback | Reporter | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """2-D UMAP coordinates (float32, ``n × 2``) of ``vectors`` and the boolean mask of the rows it was fitted on.

    The uncached core of :func:`behemb_core.projection.project_version` (see there for the parameters). Without
    ``popularity`` a larger-than-``max_fit_items`` input is fitted on a uniform seeded sample. Rows are
    L2-normalised first (cosine).
    """
    p = as_params(params)
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


def warm_up(*, pynndescent: bool = True) -> None:
    """Compile — or, normally, load from numba's disk cache — the kernels of a projection, so that a later
    projection pays only for the data.

    Runs a tiny projection that takes every path of a real one (exact neighbors, UMAP fit on them, placement
    of non-fitted items); on a machine whose cache is empty this compiles the kernels and writes the cache.
    With ``pynndescent`` (the default, for callers that time pynndescent, such as the neighbors benchmark) it also
    builds and queries a tiny pynndescent index: its NN-descent kernels cannot be cached on disk, so that part is
    paid in *every* fresh process; a projection needs it only for fits above ``EXACT_KNN_MAX_FIT`` items, and
    the app skips it. What each part costs is in ``benchmarks/results/library-measurements.md``.
    """
    x = np.random.default_rng(0).normal(size=(60, 8)).astype(np.float32)
    project_embeddings(x, ProjectionParams(max_fit_items=40, n_neighbors=5, n_epochs=6, transform_chunk=20))
    if pynndescent:
        from pynndescent import NNDescent

        index = NNDescent(x[:50], metric="cosine", n_neighbors=5, random_state=0, n_jobs=1, compressed=False)
        index.prepare()
        index.query(x[50:], k=5)
