"""2-D projection (UMAP) of stored versions: planted clusters stay together, the store cache, the
popularity-stratified fit sample, the placement of non-fitted items, and Procrustes alignment.

The first projection on a machine compiles numba kernels (~1 min) into the disk cache (~/.cache/behemb/numba);
later processes load them in seconds, and the tests use few epochs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("umap")

from behemb_core.errors import BehembError, ConfigError, InputError, StoreError
from behemb_core.metadata import ItemMetadata
from behemb_core.methods.base import TrainingInputs
from behemb_core.methods.registry import get_method, parse_config
from behemb_core.projection import (
    ProjectionParams,
    align_projections,
    as_params,
    fit_alignment,
    load_cached_projection,
    project_embeddings,
    project_version,
    projection_cache_paths,
    projection_info,
    stratified_sample,
)
from behemb_core.store import Store
from behemb_core.synthetic import PlantedData

N_CLUSTERS = 30
EPOCHS = 50  # umap's default for 600 items is 500; 50 keeps the planted clusters (measured purity ~0.84)


@pytest.fixture(scope="module")
def planted_store(planted: PlantedData, tmp_path_factory: pytest.TempPathFactory) -> Store:
    cfg = parse_config("ppmi_svd", {"dim": 16})
    emb = get_method("ppmi_svd").fit(TrainingInputs(sessions=planted.sessions), cfg, seed=0).embeddings
    meta = ItemMetadata(pd.DataFrame({"item_id": emb.vocab.ids, "name": [f"item {i}" for i in emb.vocab.ids]}))
    store = Store(tmp_path_factory.mktemp("proj") / "store")
    store.save_version(emb, manifest={"method": "ppmi_svd"}, name="planted16", item_meta=meta,
                       item_stats=planted.sessions.item_stats())
    return store


def clusters(ids: np.ndarray) -> np.ndarray:
    return np.asarray(ids, dtype=np.int64) % N_CLUSTERS  # planted_sessions: item i is in cluster i % n_clusters


def knn_purity(xy: np.ndarray, cl: np.ndarray, k: int = 10) -> np.ndarray:
    """Per item: share of its k nearest neighbors in the plane that are in its own cluster."""
    d = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(d, np.inf)
    nn = np.argsort(d, axis=1)[:, :k]
    return (cl[nn] == cl[:, None]).mean(axis=1)


def within_between_ratio(xy: np.ndarray, cl: np.ndarray) -> float:
    d = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))
    same = cl[:, None] == cl[None, :]
    np.fill_diagonal(same, False)
    return float(d[same].mean() / d[cl[:, None] != cl[None, :]].mean())


def tree_bytes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_projection_keeps_planted_clusters_and_is_cached_outside_the_version(
        planted_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    vdir = Path(planted_store.version_path("planted16"))
    before = tree_bytes(vdir)
    events: list = []
    table = project_version(planted_store, "planted16", {"n_epochs": EPOCHS}, progress=events.append)

    assert list(table.columns) == ["item_id", "x", "y", "fitted"]
    emb = planted_store.load_version("planted16").embeddings
    assert table["item_id"].tolist() == emb.vocab.ids.tolist()
    assert table["fitted"].all()  # 600 items < max_fit_items: everything is in the fit
    xy = table[["x", "y"]].to_numpy(np.float64)
    cl = clusters(table["item_id"].to_numpy())
    # Measured: 2-D kNN purity 0.84 (16-d vectors: 0.84; chance 1/30), within/between distance ratio 0.12.
    assert knn_purity(xy, cl).mean() >= 0.7
    assert within_between_ratio(xy, cl) <= 0.25
    assert events[-1].stage == "done" and events[-1].fraction == 1.0
    assert any(e.stage == "fit" for e in events)

    # Cached beside, never inside, the immutable version.
    parquet, meta = projection_cache_paths(planted_store, "planted16", {"n_epochs": EPOCHS})
    assert Path(parquet).is_file() and Path(meta).is_file()
    assert Path(parquet).parent == Path(planted_store.root) / "cache" / "projections" / "planted16"
    info = json.loads(Path(meta).read_text())
    assert info["embeddings_sha256"] == planted_store.manifest("planted16")["files"]["embeddings.parquet"]["sha256"]
    assert info["params"]["n_epochs"] == EPOCHS and info["n_fitted"] == 600 and info["sample"] == "none"
    assert projection_info(planted_store, "planted16", {"n_epochs": EPOCHS}) == info
    assert tree_bytes(vdir) == before
    assert not list(Path(planted_store.root, "cache").rglob("*.tmp-*"))
    assert planted_store.verify_version("planted16") == []

    # Second call: the identical table from the cache, no UMAP, no loading of the vectors.
    import umap

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("UMAP must not run for a cached projection")

    monkeypatch.setattr(umap, "UMAP", boom)
    monkeypatch.setattr(Store, "load_version", boom)
    again: list = []
    cached = project_version(planted_store, "planted16", {"n_epochs": EPOCHS}, progress=again.append)
    pd.testing.assert_frame_equal(cached, table)
    assert [e.metrics.get("cached") for e in again] == [True]
    pd.testing.assert_frame_equal(load_cached_projection(planted_store, "planted16", {"n_epochs": EPOCHS}), table)
    assert load_cached_projection(planted_store, "planted16", {"n_epochs": EPOCHS, "seed": 1}) is None
    assert tree_bytes(vdir) == before


def test_projection_is_deterministic_and_a_tampered_cache_is_not_used(planted_store: Store) -> None:
    a = project_version(planted_store, "planted16", {"n_epochs": EPOCHS, "seed": 3}, use_cache=False)
    b = project_version(planted_store, "planted16", {"n_epochs": EPOCHS, "seed": 3}, use_cache=False)
    pd.testing.assert_frame_equal(a, b)  # random_state => single-threaded and deterministic
    assert load_cached_projection(planted_store, "planted16", {"n_epochs": EPOCHS, "seed": 3}) is None  # not written

    first = project_version(planted_store, "planted16", {"n_epochs": EPOCHS, "seed": 3})
    pd.testing.assert_frame_equal(first, a)
    parquet, meta = projection_cache_paths(planted_store, "planted16", {"n_epochs": EPOCHS, "seed": 3})
    info = json.loads(Path(meta).read_text())
    info["embeddings_sha256"] = "0" * 64  # as if computed from other bytes
    Path(meta).write_text(json.dumps(info))
    assert load_cached_projection(planted_store, "planted16", {"n_epochs": EPOCHS, "seed": 3}) is None
    pd.testing.assert_frame_equal(project_version(planted_store, "planted16", {"n_epochs": EPOCHS, "seed": 3}), a)
    rewritten = load_cached_projection(planted_store, "planted16", {"n_epochs": EPOCHS, "seed": 3})
    assert rewritten is not None


def test_large_catalogue_path_fits_a_stratified_sample_and_places_the_rest(planted_store: Store,
                                                                          planted: PlantedData) -> None:
    events: list = []
    table = project_version(planted_store, "planted16", {"n_epochs": EPOCHS, "max_fit_items": 200,
                                                         "transform_chunk": 150}, progress=events.append)
    fitted = table["fitted"].to_numpy()
    assert fitted.sum() == 200 and (~fitted).sum() == 400
    place_events = [e for e in events if e.stage == "place"]
    assert len(place_events) == 3  # 400 items in chunks of 150
    fractions = [e.fraction for e in events if e.fraction is not None]
    assert fractions == sorted(fractions)

    # The sample covers every popularity decile equally (20 of each 60).
    stats = planted.sessions.item_stats().set_index("item_id")["events"]
    pop = stats.reindex(table["item_id"]).to_numpy()
    order = np.argsort(-pop, kind="stable")
    per_decile = [int(fitted[d].sum()) for d in np.array_split(order, 10)]
    assert all(18 <= n <= 22 for n in per_decile), per_decile  # ties at decile borders shift a few

    xy = table[["x", "y"]].to_numpy(np.float64)
    cl = clusters(table["item_id"].to_numpy())
    purity = knn_purity(xy, cl)
    # Measured: purity 0.68 overall, 0.67 for placed items; ratio 0.18 (UMAP.transform gave 0.69, 0.68, 0.16).
    assert purity.mean() >= 0.55
    assert purity[~fitted].mean() >= 0.5
    assert within_between_ratio(xy, cl) <= 0.3
    info = projection_info(planted_store, "planted16",
                           {"n_epochs": EPOCHS, "max_fit_items": 200, "transform_chunk": 150})
    assert info is not None and info["sample"] == "popularity-stratified" and info["n_fitted"] == 200
    assert info["neighbors"] == "exact"


def test_a_placed_item_sits_next_to_its_nearest_fitted_items(planted_store: Store) -> None:
    params = {"n_epochs": EPOCHS, "max_fit_items": 200, "transform_chunk": 150}
    table = project_version(planted_store, "planted16", params)  # cached by the test above when run with it
    vectors = planted_store.load_version("planted16").embeddings.vectors.astype(np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    xy = table[["x", "y"]].to_numpy(np.float64)
    fitted = table["fitted"].to_numpy()
    placed_rows, fit_rows = np.flatnonzero(~fitted), np.flatnonzero(fitted)
    nearest5 = np.argsort(-(vectors[placed_rows] @ vectors[fit_rows].T), axis=1, kind="stable")[:, :5]
    on_map = np.sqrt(((xy[placed_rows][:, None, :] - xy[fit_rows][None, :, :]) ** 2).sum(axis=2))
    # On the map, a placed item is much closer to its 5 nearest fitted items (by cosine) than to fitted items
    # at large. Measured: median ratio 0.08 (about 1 for a random spot; ~1 for an item dropped at the centre).
    ratio = np.take_along_axis(on_map, nearest5, axis=1).mean(axis=1) / np.median(on_map, axis=1)
    assert np.median(ratio) < 0.2
    # ...and its nearest fitted neighbor on the map is from its own planted cluster. Measured 0.68; chance 1/30.
    cl = clusters(table["item_id"].to_numpy())
    assert (cl[fit_rows[on_map.argmin(axis=1)]] == cl[placed_rows]).mean() >= 0.5


def test_placement_is_deterministic_and_builds_no_pynndescent_index(monkeypatch: pytest.MonkeyPatch) -> None:
    import pynndescent

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("no pynndescent index: its search function compiles anew in every process")

    monkeypatch.setattr(pynndescent.NNDescent, "__init__", boom)  # umap.umap_ refers to the same class
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(20, 16))
    labels = rng.integers(0, 20, size=4400)
    x = (centres[labels] + 0.25 * rng.normal(size=(4400, 16))).astype(np.float32)
    # 4,200 fitted items: above 4,095 umap would build an NN-descent index for the fit and query it in transform
    a, fitted = project_embeddings(x, {"max_fit_items": 4200, "n_neighbors": 10, "n_epochs": 12, "seed": 2})
    b, fitted_b = project_embeddings(x, {"max_fit_items": 4200, "n_neighbors": 10, "n_epochs": 12, "seed": 2})
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fitted, fitted_b)
    assert fitted.sum() == 4200 and np.isfinite(a).all()
    purity = knn_purity(a[~fitted].astype(np.float64), labels[~fitted], k=5)
    assert purity.mean() >= 0.8  # 20 well separated blobs: placed items land inside their own blob


def test_fits_above_the_exact_limit_fall_back_to_umaps_own_neighbors(planted_store: Store,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from behemb_core.projection import fit

    monkeypatch.setattr(fit, "EXACT_KNN_MAX_FIT", 100)
    monkeypatch.setattr(fit, "_place", None)  # transform places the rest
    vectors = planted_store.load_version("planted16").embeddings.vectors
    xy, fitted = project_embeddings(vectors, {"max_fit_items": 200, "n_epochs": EPOCHS})
    assert fitted.sum() == 200 and np.isfinite(xy).all()


def test_warm_up_runs_a_tiny_projection_and_pynndescent_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    import pynndescent

    from behemb_core.projection import fit

    calls: list[ProjectionParams] = []
    real = fit.project_embeddings
    monkeypatch.setattr(fit, "project_embeddings", lambda x, params, **k: calls.append(params) or real(x, params, **k))
    monkeypatch.setattr(pynndescent, "NNDescent", None)  # any use would fail
    fit.warm_up(pynndescent=False)
    assert len(calls) == 1 and calls[0].max_fit_items < 60  # the fit and the placement path both ran


def test_stratified_sample_is_seeded_and_covers_each_decile() -> None:
    pop = np.random.default_rng(0).zipf(1.5, size=1000).astype(float)
    s = stratified_sample(pop, 100, seed=5)
    assert len(s) == 100 and len(np.unique(s)) == 100 and np.all(np.diff(s) > 0)
    np.testing.assert_array_equal(s, stratified_sample(pop, 100, seed=5))
    assert not np.array_equal(s, stratified_sample(pop, 100, seed=6))
    np.testing.assert_array_equal(stratified_sample(pop, 5000), np.arange(1000))
    assert len(stratified_sample(pop, 7, seed=1)) == 7  # fewer than one per decile


def test_align_projections_recovers_a_known_similarity_transform() -> None:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"item_id": np.arange(50), "x": rng.normal(size=50), "y": rng.normal(size=50)})
    theta, scale, shift = 0.7, 2.5, np.array([3.0, -1.5])
    rot = np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])
    for reflect in (False, True):
        r = rot @ np.diag([1.0, -1.0]) if reflect else rot
        moved = scale * ref[["x", "y"]].to_numpy() @ r + shift
        other = pd.DataFrame({"item_id": ref["item_id"], "x": moved[:, 0], "y": moved[:, 1], "tag": "t"})
        other = other.sample(frac=1.0, random_state=1).reset_index(drop=True)  # order does not matter
        aligned = align_projections(ref, other)
        back = aligned.set_index("item_id").loc[ref["item_id"], ["x", "y"]].to_numpy()
        np.testing.assert_allclose(back, ref[["x", "y"]].to_numpy(), atol=1e-6)
        report = aligned.attrs["alignment"]
        assert report["n_shared"] == 50 and report["rmse"] < 1e-9 and report["relative_residual"] < 1e-9
        assert report["scale"] == pytest.approx(1 / scale) and report["reflection"] is reflect
        assert aligned["tag"].eq("t").all()


def test_align_projections_uses_shared_items_only_and_transforms_the_rest() -> None:
    rng = np.random.default_rng(1)
    xy = rng.normal(size=(40, 2))
    ref = pd.DataFrame({"item_id": np.arange(0, 30), "x": xy[:30, 0], "y": xy[:30, 1]})
    moved = 0.5 * xy @ np.array([[0.0, 1.0], [-1.0, 0.0]]) + 7.0  # 90° rotation, scale, shift
    moved[:5] += rng.normal(scale=0.2, size=(5, 2))  # some disagreement on shared items -> residual > 0
    other = pd.DataFrame({"item_id": np.arange(0, 40), "x": moved[:, 0], "y": moved[:, 1]})
    other = other[other["item_id"] != 3].reset_index(drop=True)  # item 3 only in ref
    aligned = align_projections(ref, other)
    assert len(aligned) == 39 and aligned["item_id"].tolist() == other["item_id"].tolist()
    report = aligned.attrs["alignment"]
    assert report["n_shared"] == 29 and 0 < report["relative_residual"] < 0.2
    # Items only in `other` (30..39) are placed by the same transform, near where they belong.
    only = aligned.set_index("item_id").loc[30:39, ["x", "y"]].to_numpy()
    np.testing.assert_allclose(only, xy[30:], atol=0.3)
    # String ids on one side, integer on the other, still match.
    other_str = other.assign(item_id=other["item_id"].astype(str))
    assert fit_alignment(ref, other_str).n_shared == 29


def test_errors_name_the_problem(planted_store: Store) -> None:
    ref = pd.DataFrame({"item_id": [1, 2, 3], "x": [0.0, 1.0, 2.0], "y": [0.0, 1.0, 0.0]})
    with pytest.raises(InputError, match="share 2 items"):
        align_projections(ref, ref[ref["item_id"] != 3])
    with pytest.raises(InputError, match="more than once"):
        align_projections(ref, pd.concat([ref, ref]))
    with pytest.raises(InputError, match="lacks columns"):
        align_projections(ref, ref.drop(columns="y"))
    with pytest.raises(ConfigError, match="n_neighbors.*1"):
        project_version(planted_store, "planted16", {"n_neighbors": 1})
    with pytest.raises(ConfigError, match="min_dist.*2"):
        project_version(planted_store, "planted16", {"min_dist": 2})
    with pytest.raises(StoreError, match="nope"):
        project_version(planted_store, "nope")
    with pytest.raises(StoreError):
        load_cached_projection(planted_store, "../planted16")
    assert issubclass(InputError, BehembError)


def test_cache_works_on_a_non_local_fsspec_store(planted_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    stored = planted_store.load_version("planted16")
    mem = Store("memory://projection-test")
    mem.save_version(stored.embeddings, manifest={"method": "ppmi_svd"}, name="planted16",
                     item_stats=stored.item_stats)
    before = {p: mem.fs.cat_file(p) for p in mem.fs.find(f"{mem.root}/versions")}
    table = project_version(mem, "planted16", {"n_epochs": EPOCHS})
    parquet, meta = projection_cache_paths(mem, "planted16", {"n_epochs": EPOCHS})
    assert mem.fs.isfile(parquet) and mem.fs.isfile(meta)
    import umap

    monkeypatch.setattr(umap, "UMAP", None)  # any UMAP use would fail
    pd.testing.assert_frame_equal(project_version(mem, "planted16", {"n_epochs": EPOCHS}), table)
    assert {p: mem.fs.cat_file(p) for p in mem.fs.find(f"{mem.root}/versions")} == before
    mem.fs.rm(f"{mem.root}", recursive=True)


def test_projection_params_are_one_validated_config() -> None:
    p = ProjectionParams(n_neighbors=np.int64(10), min_dist=1, n_epochs=30)
    assert p.n_neighbors == 10 and p.min_dist == 1.0 and isinstance(p.min_dist, float)
    assert ProjectionParams.model_validate_json(p.model_dump_json()) == p  # JSON round trip
    assert as_params(p) is p and as_params(None) == ProjectionParams() and as_params({"seed": 4}).seed == 4
    # The cache key hashes this dict: its shape must not change (or every cached map is recomputed).
    assert ProjectionParams().to_dict() == {"n_neighbors": 15, "min_dist": 0.1, "max_fit_items": 20_000, "seed": 0,
                                            "n_epochs": None, "transform_chunk": 20_000}
    for bad, match in (({"n_neighbors": True}, "n_neighbors=True"), ({"n_neighbors": 5.0}, "n_neighbors=5.0"),
                       ({"max_fit_items": 5}, "max_fit_items=5"), ({"seed": -1}, "seed=-1"),
                       ({"n_epochs": 0}, "n_epochs=0"), ({"min_dist": "0.1"}, "min_dist='0.1'"),
                       ({"nope": 1}, "nope=1: unknown parameter")):
        with pytest.raises(ConfigError, match=match):
            ProjectionParams(**bad)
        with pytest.raises(ConfigError, match=match):
            as_params(bad)
    with pytest.raises(ConfigError, match="mapping"):
        as_params([("seed", 1)])  # type: ignore[arg-type]


# torn:1 / torn:2: the disk fills while the table / the sidecar is written; replaced:1 / replaced:2: an error right
# after the table / the sidecar is put in place.
CACHE_FAULTS = ["projection_cache.torn:1", "projection_cache.torn:2", "projection_cache.replaced:1",
                "projection_cache.replaced:2"]


@pytest.mark.parametrize("fault", CACHE_FAULTS)
def test_a_failed_cache_write_leaves_no_part_of_an_entry(planted_store: Store, monkeypatch: pytest.MonkeyPatch,
                                                        fault: str) -> None:
    from behemb_core.store import _faults

    params = {"n_epochs": 5, "seed": 100 + CACHE_FAULTS.index(fault)}  # a map not cached yet
    folder = Path(planted_store.root) / "cache" / "projections" / "planted16"
    before = sorted(p.name for p in folder.glob("*")) if folder.is_dir() else []
    monkeypatch.setattr(_faults, "_hits", {})
    monkeypatch.setenv(_faults.FAULTS_ENV, f"{fault}=raise")  # as a full disk would, at that point of the write
    with pytest.raises(StoreError, match="could not write the projection cache.*No space left"):
        project_version(planted_store, "planted16", params)
    assert sorted(p.name for p in folder.glob("*")) == before  # no table, no sidecar, no temporary file
    assert load_cached_projection(planted_store, "planted16", params) is None
    monkeypatch.delenv(_faults.FAULTS_ENV)
    assert project_version(planted_store, "planted16", params)["fitted"].all()
    assert load_cached_projection(planted_store, "planted16", params) is not None
