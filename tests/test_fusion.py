"""Fusion: the method contract with a stored base and content vectors; the base method trained first by the
orchestrator when no base is given; cold-start items get a mapped content vector that lands among their true
cluster-mates."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import pytest
from method_contract import MethodContract, tiny_planted

from behemb_core.content import ContentVectors, content_from_text, read_content_vectors
from behemb_core.errors import ConfigError, InputError
from behemb_core.methods.base import TrainingInputs
from behemb_core.methods.fusion import FusionConfig, fuse
from behemb_core.methods.registry import get_method, parse_config
from behemb_core.neighbors import top_k_neighbors
from behemb_core.train import fit_method
from behemb_core.vocab import Vocabulary


class TestFusionContract(MethodContract):
    """Fusion gets ready inputs: a small stored base version (ppmi_svd, dim 8) and content vectors for every item
    plus five cold-start items the sessions never mention."""

    method = "fusion"
    config = {}
    # With a given base and content table the seed only picks the held-out items that measure the map's fit;
    # the map itself is fitted on all shared items, so the vectors do not depend on it.
    seed_matters = False

    def inputs(self, data):
        return _fusion_inputs()

    def known_ids(self, data):
        return set(data.sessions.vocab.ids.tolist()) | set(_fusion_inputs().content.vocab.ids.tolist())


@lru_cache(maxsize=1)
def _fusion_inputs() -> TrainingInputs:
    data = tiny_planted()
    base = get_method("ppmi_svd").fit(TrainingInputs(sessions=data.sessions), parse_config("ppmi_svd", {"dim": 8}),
                                      seed=0).embeddings
    ids = np.concatenate([data.sessions.vocab.ids, np.arange(10_000, 10_005)])
    clusters = np.concatenate([data.cluster_of, np.arange(5) % data.n_clusters])
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((data.n_clusters, 12))[clusters] + 0.3 * rng.standard_normal((len(ids), 12))
    content = ContentVectors(vocab=Vocabulary(ids), vectors=vectors.astype(np.float32))
    return TrainingInputs(sessions=data.sessions, content=content, base=base, base_version="base_v1")


def _drop_items(sessions, drop_ids):
    """Sessions without the given items (their events removed), same vocabulary."""
    drop = np.isin(sessions.vocab.ids, drop_ids)
    keep_ev = ~drop[sessions.codes]
    from behemb_core.sessions import DropLog, RawSessions, SessionOptions, build_sessions

    lengths = np.add.reduceat(keep_ev.astype(np.int64), sessions.indptr[:-1]) if sessions.n_events else []
    raw = RawSessions(
        indptr=np.concatenate(([0], np.cumsum(lengths))).astype(np.int64),
        item_ids=sessions.vocab.take(sessions.codes[keep_ev]),
        session_ids=sessions.session_ids,
    )
    return build_sessions(raw, SessionOptions(), DropLog())


@pytest.fixture(scope="module")
def cold_setup(planted):
    all_ids = planted.sessions.vocab.ids
    cluster = dict(zip(all_ids.tolist(), planted.cluster_of.tolist(), strict=True))
    cold = all_ids[(all_ids // planted.n_clusters) % 10 == 3]  # 2 items in every cluster
    warm_sessions = _drop_items(planted.sessions, cold)
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((planted.n_clusters, 24))
    content = centers[[cluster[i] for i in all_ids]] + 0.35 * rng.standard_normal((len(all_ids), 24))
    cv = ContentVectors(vocab=Vocabulary(all_ids), vectors=content.astype(np.float32))
    return warm_sessions, cv, cold, cluster


@pytest.mark.parametrize("base_method", ["ppmi_svd", "cooc_softmax"])
def test_cold_start_items_get_cluster_mates(cold_setup, base_method):
    sessions, content, cold, cluster = cold_setup
    cfg = parse_config("fusion", {"base_method": base_method, "base_config": {"dim": 32}, "behavior_weight": 0.7})
    _, res, _ = fit_method("fusion", cfg, sessions=sessions, content=content, seed=3)  # trains the base first
    emb = res.embeddings
    classes = res.report["classes"]
    assert classes["content_only"] == len(cold)
    assert classes["fused"] == sessions.n_items and classes["behavior"] == 0
    src = dict(zip(emb.vocab.ids.tolist(), emb.source.tolist(), strict=True))
    assert all(src[c] == "content_only" for c in cold.tolist())
    nb = top_k_neighbors(emb, 10, queries=emb.vocab.codes(cold))
    labels = np.array([cluster[i] for i in emb.vocab.ids.tolist()])
    same = labels[nb.codes] == labels[emb.vocab.codes(cold)][:, None]
    # Measured 1.0 on this fixture (2 cold items in every cluster); random would be 1/30.
    assert same.mean() >= 0.8, same.mean()
    assert res.report["map_holdout_cosine"] > 0.5


def test_weight_one_keeps_behavior_vectors(cold_setup, planted):
    sessions, content, cold, _ = cold_setup
    from behemb_core.methods.registry import get_method

    base = get_method("ppmi_svd").fit(TrainingInputs(sessions=sessions), parse_config("ppmi_svd", {"dim": 32}), seed=1)
    emb, report = fuse(base.embeddings, content, FusionConfig(behavior_weight=1.0), seed=0)
    codes = emb.vocab.codes(base.embeddings.vocab.ids)
    np.testing.assert_allclose(emb.vectors[codes], base.embeddings.vectors, atol=1e-6)
    assert report["classes"]["content_only"] == len(cold)
    assert report["classes"]["behavior"] == len(base.embeddings)


def test_mismatched_ids_are_a_clear_error(cold_setup):
    sessions, content, _, _ = cold_setup
    other = ContentVectors(vocab=Vocabulary([f"x{i}" for i in range(50)]), vectors=np.ones((50, 4), np.float32))
    with pytest.raises(ConfigError, match="both behavior and content"):
        fit_method("fusion", parse_config("fusion", {"base_config": {"dim": 16}}), sessions=sessions, content=other)


def test_dim_mismatch_with_base_is_named(cold_setup):
    sessions, content, _, _ = cold_setup
    with pytest.raises(ConfigError, match="dim=16"):
        fit_method("fusion", parse_config("fusion", {"dim": 16, "base_config": {"dim": 32}}), sessions=sessions,
                   content=content)


def test_text_content_vectors_group_similar_names():
    names = {f"A{i}": f"red wooden heart decoration {i}" for i in range(20)}
    names |= {f"B{i}": f"blue ceramic mug set {i}" for i in range(20)}
    cv = content_from_text(pd.Series(names), dim=8, seed=0)
    assert len(cv.vocab) == 40 and cv.origin == "text"
    nb = top_k_neighbors_from(cv, "A3", 5)
    assert all(n.startswith("A") for n in nb)


def top_k_neighbors_from(cv, item, k):
    sims = cv.vectors @ cv.vectors[cv.vocab.code(item)]
    order = [c for c in np.argsort(-sims) if c != cv.vocab.code(item)][:k]
    return cv.vocab.take(np.array(order)).tolist()


def test_content_vector_files_parquet_csv_npy(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    ids = [10, 11, 12]
    vecs = np.arange(12, dtype=np.float32).reshape(3, 4) + 1
    pq.write_table(pa.table({"item_id": ids, "embedding": pa.array(vecs.tolist(), pa.list_(pa.float32()))}),
                   tmp_path / "c.parquet")
    pd.DataFrame({"item_id": ids, **{f"d{j}": vecs[:, j] for j in range(4)}}).to_csv(tmp_path / "c.csv", index=False)
    np.save(tmp_path / "c.npy", vecs)
    (tmp_path / "c.ids.json").write_text("[10, 11, 12]")
    for name in ("c.parquet", "c.csv", "c.npy"):
        cv = read_content_vectors(str(tmp_path / name))
        assert cv.vocab.ids.tolist() == ids
        np.testing.assert_allclose(cv.vectors[1], vecs[1] / np.linalg.norm(vecs[1]), rtol=1e-6)


def test_bad_content_files_name_the_problem(tmp_path):
    pd.DataFrame({"id": [1], "x": [1.0]}).to_csv(tmp_path / "noid.csv", index=False)
    with pytest.raises(InputError, match=r"noid.csv.*item_id"):
        read_content_vectors(str(tmp_path / "noid.csv"))
    pd.DataFrame({"item_id": [1, 1], "x": [1.0, 2.0]}).to_csv(tmp_path / "dup.csv", index=False)
    with pytest.raises(InputError, match="appears twice"):
        read_content_vectors(str(tmp_path / "dup.csv"))
    pd.DataFrame({"item_id": [1, 2], "x": ["a", "b"]}).to_csv(tmp_path / "text.csv", index=False)
    with pytest.raises(InputError, match="numeric"):
        read_content_vectors(str(tmp_path / "text.csv"))
    np.save(tmp_path / "lonely.npy", np.ones((2, 2), np.float32))
    with pytest.raises(InputError, match="ids"):
        read_content_vectors(str(tmp_path / "lonely.npy"))


def test_text_columns_from_metadata_and_missing_column_named(cold_setup):
    from behemb_core.metadata import ItemMetadata

    sessions, _, cold, cluster = cold_setup
    ids = sorted(cluster)
    meta = ItemMetadata(pd.DataFrame({
        "item_id": ids,
        "name": ["gadget"] * len(ids),
        "family": [f"fam{cluster[i]}|shelf{cluster[i]}" for i in ids],
    }))
    cfg = parse_config("fusion", {"base_config": {"dim": 16}, "text_columns": ["family"], "text_dim": 40})
    _, res, _ = fit_method("fusion", cfg, sessions=sessions, item_meta=meta, seed=0)
    assert res.report["classes"]["content_only"] == len(cold)
    nb = top_k_neighbors(res.embeddings, 5, queries=res.embeddings.vocab.codes(cold))
    labels = np.array([cluster[i] for i in res.embeddings.vocab.ids.tolist()])
    assert (labels[nb.codes] == labels[res.embeddings.vocab.codes(cold)][:, None]).mean() >= 0.8
    bad = parse_config("fusion", {"base_config": {"dim": 16}, "text_columns": ["colour"]})
    with pytest.raises(ConfigError, match="colour"):
        fit_method("fusion", bad, sessions=sessions, item_meta=meta)


def test_fusion_is_handed_its_behavior_vectors_and_says_where_they_came_from(cold_setup):
    sessions, content, _, _ = cold_setup
    cfg = parse_config("fusion", {"base_config": {"dim": 16}})
    with pytest.raises(ConfigError, match="needs behavior vectors"):  # the fit itself never trains one
        get_method("fusion").fit(TrainingInputs(sessions=sessions, content=content), cfg, seed=0)
    with pytest.raises(ConfigError, match="needs behavior vectors"):  # nor can the orchestrator without sessions
        fit_method("fusion", cfg, content=content)
    _, trained, _ = fit_method("fusion", cfg, sessions=sessions, content=content, seed=0)
    assert trained.report["base_method"] == "ppmi_svd" and trained.report["base_version"] is None
    assert trained.report["base_report"]["ppmi_nnz"] > 0 and trained.embeddings.dim == 16
    base = get_method("ppmi_svd").fit(TrainingInputs(sessions=sessions), parse_config("ppmi_svd", {"dim": 16}),
                                      seed=0).embeddings
    _, stored, _ = fit_method("fusion", cfg, content=content, base=base, base_version="beh_v1", seed=0)
    assert stored.report["base_method"] is None and stored.report["base_version"] == "beh_v1"
    assert "base_report" not in stored.report and stored.embeddings.behavior_version == "beh_v1"
    np.testing.assert_array_equal(stored.embeddings.vectors, trained.embeddings.vectors)  # same base, same seed


def test_train_version_follows_capabilities_not_names(tmp_path):
    """Sources a method cannot use are refused before anything is read; fusion's base candidates are the behavior
    versions; evaluation is skipped for fusion and a repeat of the same fusion job is found, not retrained."""
    from conftest import write_sessions_jsonl

    from behemb_core.ingest import read_session_jsonl
    from behemb_core.store import Store
    from behemb_core.train import base_version_choices, find_same_training, train_version

    dataset = read_session_jsonl(write_sessions_jsonl(tmp_path / "s.jsonl", tiny_planted().sessions))
    store = Store(str(tmp_path / "store"))
    content = _fusion_inputs().content
    with pytest.raises(ConfigError, match="ppmi_svd needs sessions to learn from$"):
        train_version(store, "ppmi_svd", {"dim": 8})
    train_version(store, "ppmi_svd", {"dim": 8}, dataset=dataset, name="base")
    with pytest.raises(ConfigError, match="ppmi_svd does not build on behavior vectors: it cannot use a base"):
        train_version(store, "ppmi_svd", {"dim": 8}, dataset=dataset, base_version="base")
    with pytest.raises(ConfigError, match="ppmi_svd cannot use content vectors"):
        train_version(store, "ppmi_svd", {"dim": 8}, dataset=dataset, content=content)
    with pytest.raises(ConfigError, match="fusion needs sessions to learn from or a base version"):
        train_version(store, "fusion", content=content)
    fused = train_version(store, "fusion", dataset=dataset, base_version="base", content=content, evaluate=True,
                          noise_floor=True)
    manifest = store.manifest(fused["version"])
    assert "evaluation" not in manifest and "noise_floor" not in manifest
    assert base_version_choices(store) == ["base"]
    assert find_same_training(store, "fusion", {}, dataset=dataset, seed=0, base_version="base", evaluate=True,
                              noise_floor=True) == fused["version"]
