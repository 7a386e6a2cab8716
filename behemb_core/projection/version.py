"""The map of a stored version: read from the store cache, or computed (fit + placement) and cached."""

from __future__ import annotations

import time

import pandas as pd

from ..errors import InputError, StoreError
from ..progress import ProgressCallback, as_reporter
from ..store import Store
from . import fit
from .cache import EMBEDDINGS_FILE, ParamsLike, embeddings_sha, read_cache, write_cache
from .params import as_params
from .sample import popularity_of


def project_version(
    store: Store,
    version: str,
    params: ParamsLike = None,
    *,
    use_cache: bool = True,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """The 2-D UMAP map of version ``version``: a table ``item_id``, ``x``, ``y`` (float32), ``fitted`` (bool).

    ``params`` (a :class:`~behemb_core.projection.ProjectionParams` or a mapping of its fields; defaults when
    ``None``): ``fitted`` is true for the items UMAP was fitted on and false for those placed onto the fitted
    map (only when the version has more than ``max_fit_items`` items: the fit then uses a popularity-stratified
    sample from the version's ``item_stats``, see :func:`~behemb_core.projection.stratified_sample`; uniform when
    it has none). A placed item sits among its ``n_neighbors`` nearest fitted items (exact cosine), where umap's
    transform would put it (see :mod:`behemb_core.projection.fit`); ``transform_chunk`` items are placed at a
    time. Rows follow the version's vocabulary order.

    UMAP: ``n_components=2, metric="cosine"``, ``n_neighbors`` (clipped to the fit size − 1), ``min_dist``,
    ``random_state=seed``, on exact neighbor lists — single-threaded and deterministic; ``n_epochs`` ``None``
    = umap's default (tests use fewer); placement runs 100 epochs, or ``n_epochs // 3``. The first call on a
    machine also compiles numba kernels, which later processes load from the disk cache
    (:func:`~behemb_core.projection.warm_up`).

    With ``use_cache`` (default) the result is read from, or written to, ``<store>/cache/projections/`` (see
    :mod:`behemb_core.projection.cache`): a second call with the same parameters returns the identical table
    without loading the vectors or running UMAP. The version folder itself is never written. Raises StoreError
    (missing version, unwritable cache), IntegrityError (corrupt version), ConfigError (bad parameters),
    InputError (fewer than 5 items).
    """
    p = as_params(params)
    rep = as_reporter(progress)
    emb_sha = embeddings_sha(store, version)
    if use_cache:
        cached = read_cache(store, version, p, emb_sha)
        if cached is not None:
            rep("done", 1.0, "projection read from the store cache", cached=True)
            return cached
    rep("read", 0.0, f"loading version {version}")
    stored = store.load_version(version)
    if stored.manifest.get("files", {}).get(EMBEDDINGS_FILE, {}).get("sha256") != emb_sha:
        raise StoreError(f"version {version!r} changed while it was being projected; try again")
    emb = stored.embeddings
    if len(emb) < fit.MIN_ITEMS:
        raise InputError(f"version {version!r} has {len(emb)} items; a projection needs at least {fit.MIN_ITEMS}")
    started = time.perf_counter()
    popularity = popularity_of(stored.item_stats, emb.vocab.ids)
    coords, fitted = fit.project_embeddings(emb.vectors, p, popularity=popularity, progress=rep.sub(0.02, 0.97))
    seconds = time.perf_counter() - started
    table = pd.DataFrame({"item_id": emb.vocab.ids, "x": coords[:, 0], "y": coords[:, 1], "fitted": fitted})
    if use_cache:
        rep("cache", 0.98, "writing the projection to the store cache")
        n_fitted = int(fitted.sum())
        write_cache(store, version, p, emb_sha, table, {
            "n_items": len(table), "n_fitted": n_fitted,
            "sample": "none" if fitted.all() else (
                "popularity-stratified" if stored.item_stats is not None else "uniform"),
            "neighbors": fit.neighbor_search(n_fitted),
            "seconds": round(seconds, 3), "umap_version": fit.umap_version(),
        })
        table = read_cache(store, version, p, emb_sha)  # exactly what later calls will return
        assert table is not None
    rep("done", 1.0, "projection ready", cached=False)
    return table
