"""2-D maps of a version's item vectors (UMAP), cached in the store, and Procrustes alignment of two maps.

:func:`project_version` lays out every item of a stored version in the plane with UMAP (cosine metric). A
catalogue larger than ``max_fit_items`` is fitted on a *popularity-stratified* sample (equally many items from
each popularity decile of the version's ``item_stats``, so the long tail is represented and not just the head);
the other items are placed with ``UMAP.transform`` in chunks, and the result says which items were fitted.

Determinism: ``umap.UMAP(random_state=seed)`` runs single-threaded (we pass ``n_jobs=1`` explicitly) and is
deterministic: the same version, parameters and seed give the same coordinates on the same machine and library
versions.

Cost: umap-learn and pynndescent compile their numba kernels on first use in every fresh process — about a
minute on a small machine (≈40 s for the first fit, ≈15 s for the first ``transform``), independent of the data
size, because umap does not cache its kernels on disk. :func:`warm_up` runs a tiny fit and transform so an app
or CLI can pay that outside a user's click.

Cache layout (outside the immutable version folder, which is never written)::

    <store>/cache/projections/<version>/<key>.parquet   item_id, x, y, fitted
    <store>/cache/projections/<version>/<key>.json      params, embeddings_sha256, parquet sha256, counts

``<key>`` is a hash of the parameters *and* the sha256 of the version's ``embeddings.parquet`` (from its
manifest), so a cache is never reused for different vectors — not even for a version that was deleted and
written again under the same name. The sidecar JSON is written last and is checked (embeddings sha256 and the
parquet's own sha256) before a cached table is returned. On local disk both files are written to a temporary
name and renamed into place; on other fsspec filesystems they are written with ``store.fs`` (parquet first,
JSON last, so a partly written entry is simply ignored). Deleting ``<store>/cache`` is always safe.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import ConfigError, InputError, StoreError
from .progress import ProgressCallback, as_reporter
from .store import Store
from .store.names import validate_version_name

CACHE_FORMAT = 1
CACHE_DIR = ("cache", "projections")
EMBEDDINGS_FILE = "embeddings.parquet"
COLUMNS = ("item_id", "x", "y", "fitted")
N_DECILES = 10
MIN_ITEMS = 5


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
        with store.fs.open(path, "wb") as fh:
            fh.write(data)


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
        _write_atomic(store, f"{base}.json", json.dumps(meta, indent=2, sort_keys=True).encode("utf-8"))
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


def _make_umap(p: ProjectionParams, n_fit: int) -> Any:
    import umap  # heavy import (numba); only when a projection is really computed

    return umap.UMAP(
        n_components=2, metric="cosine", n_neighbors=min(p.n_neighbors, n_fit - 1), min_dist=float(p.min_dist),
        random_state=p.seed, n_jobs=1, n_epochs=p.n_epochs, transform_seed=p.seed, verbose=False,
    )


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
    larger-than-``max_fit_items`` input is fitted on a uniform seeded sample.
    """
    p = ProjectionParams(n_neighbors=n_neighbors, min_dist=min_dist, max_fit_items=max_fit_items, seed=seed,
                         n_epochs=n_epochs, transform_chunk=transform_chunk)
    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] < MIN_ITEMS:
        raise InputError(f"projection needs at least {MIN_ITEMS} item vectors, got an array of shape {x.shape}")
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
    rep("fit", 0.02, f"fitting UMAP on {how}{len(fit_rows):,} of {n:,} items (the first fit in a process also "
        "compiles numba kernels)", n_fit=int(len(fit_rows)), n_items=n)
    reducer = _make_umap(p, len(fit_rows))
    coords = np.empty((n, 2), dtype=np.float32)
    coords[fit_rows] = reducer.fit_transform(x[fit_rows]).astype(np.float32)
    rep("fit", fit_end, "UMAP fitted")
    rest = np.flatnonzero(~fitted)
    if len(rest):
        chunks = [rest[i:i + p.transform_chunk] for i in range(0, len(rest), p.transform_chunk)]
        done = 0
        for chunk in chunks:
            coords[chunk] = reducer.transform(x[chunk]).astype(np.float32)
            done += len(chunk)
            rep("transform", fit_end + (0.95 - fit_end) * done / len(rest),
                f"placed {done:,} of {len(rest):,} remaining items with transform", placed=done)
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

    ``fitted`` is true for the items UMAP was fitted on and false for those placed by ``transform`` (only when
    the version has more than ``max_fit_items`` items: the fit then uses a popularity-stratified sample from
    the version's ``item_stats``, see :func:`stratified_sample`; uniform when it has none). Rows follow the
    version's vocabulary order.

    UMAP: ``n_components=2, metric="cosine"``, ``n_neighbors`` (clipped to the fit size − 1), ``min_dist``,
    ``random_state=seed`` — single-threaded and deterministic; ``n_epochs`` ``None`` = umap's default (tests
    use fewer). The first call in a process pays ~1 min of numba compilation (see :func:`warm_up`).

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
            "n_items": int(len(table)), "n_fitted": int(fitted.sum()),
            "sample": "none" if fitted.all() else (
                "popularity-stratified" if stored.item_stats is not None else "uniform"),
            "seconds": round(seconds, 3), "umap_version": _umap_version(),
        })
        table = _read_cache(store, version, p, emb_sha)  # exactly what later calls will return
        assert table is not None
    rep("done", 1.0, "projection ready", cached=False)
    return table


def warm_up() -> None:
    """Compile umap/pynndescent's numba kernels so a later :func:`project_version` mostly pays for the data.

    Runs a tiny cosine fit and transform (umap's exact-neighbour path for small catalogues) and a tiny
    pynndescent index with a query (the approximate path umap takes from 4,096 items on). About a minute in
    a fresh process, well under a second afterwards. A fitted model's transform still compiles its own search
    function once (pynndescent builds it per index; ~10-20 s).
    """
    from pynndescent import NNDescent

    x = np.random.default_rng(0).normal(size=(60, 8)).astype(np.float32)
    reducer = _make_umap(ProjectionParams(n_neighbors=5, n_epochs=5), len(x) - 10)
    reducer.fit(x[:50])
    reducer.transform(x[50:])
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
