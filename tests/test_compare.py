"""Version comparison: overlap metrics on hand-made lists, catalogue churn, and the noise-floor verdict."""

from __future__ import annotations

import dataclasses
import io
import json

import numpy as np
import pandas as pd
import pytest

from behemb_core.compare import (
    compare_versions,
    most_moved,
    neighbor_overlap,
    noise_floor,
    overlap_table,
    popularity_bands,
    rbo_and_jaccard,
)
from behemb_core.embeddings import ItemEmbeddings
from behemb_core.errors import ConfigError
from behemb_core.metadata import ItemMetadata
from behemb_core.methods.base import TrainingInputs
from behemb_core.methods.registry import get_method, parse_config
from behemb_core.store.filestore import StoredVersion

I2V = {"dim": 32, "workers": 1, "epochs": 5}


def _fit(sessions, seed, method="item2vec", cfg=I2V):
    return get_method(method).fit(TrainingInputs(sessions=sessions), parse_config(method, cfg), seed=seed).embeddings


@pytest.fixture(scope="module")
def noise(planted):
    return noise_floor(planted.sessions, "item2vec", I2V, seeds=(1, 2))


@pytest.fixture(scope="module")
def base(planted):
    return _fit(planted.sessions, 1)


def _version(emb, planted, name):
    meta = ItemMetadata(pd.DataFrame({"item_id": emb.vocab.ids, "name": [f"item {i}" for i in emb.vocab.ids]}))
    stats = planted.sessions.item_stats()
    return StoredVersion(name=name, manifest={}, embeddings=emb, item_meta=meta, item_stats=stats)


# ------------------------------------------------------------------ metrics on hand-made lists
def test_rbo_and_jaccard_known_values():
    a = np.array([[0, 1, 2], [0, 1, 2], [0, 1, 2], [0, 1, 2], [0, 1, -1], [-1, -1, -1]])
    b = np.array([[0, 1, 2], [3, 4, 5], [0, 2, 1], [1, 2, 3], [0, 1, -1], [-1, -1, -1]])
    rbo, jac = rbo_and_jaccard(a, b, p=0.5)
    # weights p^(d-1) = 1, 0.5, 0.25 (sum 1.75); prefix agreements A_d = |a[:d] ∩ b[:d]| / d
    expected_rbo = [
        1.0,                                   # identical
        0.0,                                   # disjoint
        (1 * 1 + 0.5 * 0.5 + 0.25 * 1) / 1.75,  # swap at 2-3: A = 1, 1/2, 1 → 0.857
        (1 * 0 + 0.5 * 0.5 + 0.25 * 2 / 3) / 1.75,  # shifted by one: A = 0, 1/2, 2/3 → 0.238
        1.0,                                   # identical short lists (depth = 2)
        1.0,                                   # both empty
    ]
    np.testing.assert_allclose(rbo, expected_rbo)
    np.testing.assert_allclose(jac, [1.0, 0.0, 1.0, 2 / 4, 1.0, 1.0])
    with pytest.raises(ConfigError, match="rbo_p=1"):
        rbo_and_jaccard(a, b, p=1)


def test_rbo_is_a_normalised_truncation_at_depth_k():
    rng = np.random.default_rng(0)
    a = np.stack([rng.permutation(30)[:10] for _ in range(50)])
    b = np.stack([rng.permutation(30)[:10] for _ in range(50)])
    rbo, jac = rbo_and_jaccard(a, b, p=0.9)
    # Reference: the textbook loop over depths.
    w = 0.9 ** np.arange(10) * 0.1 / (1 - 0.9**10)
    ref = [sum(w[d - 1] * len(set(x[:d]) & set(y[:d])) / d for d in range(1, 11)) for x, y in zip(a, b, strict=True)]
    ref_j = [len(set(x) & set(y)) / len(set(x) | set(y)) for x, y in zip(a, b, strict=True)]
    np.testing.assert_allclose(rbo, ref, rtol=1e-6)
    np.testing.assert_allclose(jac, ref_j)


def test_popularity_bands_by_rank():
    bands = popularity_bands(np.arange(20, dtype=float))  # item 19 most popular
    assert bands[18:].tolist() == ["head", "head"] and (bands[:10] == "tail").all() and (bands[10:18] == "torso").all()
    assert popularity_bands(np.array([5.0])).tolist() == ["head"]


# ------------------------------------------------------------------ versions
def test_identical_versions_overlap_fully_and_are_within_noise(planted, base, noise):
    res = neighbor_overlap(base, base)
    assert (res.jaccard == 1).all() and (res.rbo == pytest.approx(1.0))
    assert len(res.added) == 0 and len(res.removed) == 0
    rep = compare_versions(_version(base, planted, "v1"), _version(base, planted, "v1b"), noise=noise)
    assert rep["verdict"] == "within_noise" and rep["overall"]["jaccard"]["quantiles"]["q10"] == 1.0
    assert "within retraining noise" in rep["sentence"] and "v1b" in rep["sentence"]
    json.dumps(rep)


def test_retraining_with_another_seed_moves_lists_only_a_little(planted, base, noise):
    other = _fit(planted.sessions, 3)
    res = neighbor_overlap(base, other)
    # Measured (item2vec dim 32, 5 epochs): median Jaccard@10 0.82, mean 0.71; noise floor (seeds 1, 2) alike.
    assert res.jaccard.mean() < 0.95 and np.median(res.jaccard) >= 0.6 and res.rbo.mean() > 0.5
    assert 0.6 <= noise["overall"]["jaccard"]["median"] < 1.0
    assert set(noise["bands"]) == {"head", "torso", "tail"}
    # Tail items (fewest events) are the least stable under retraining.
    assert noise["bands"]["tail"]["jaccard"]["mean"] < noise["bands"]["head"]["jaccard"]["mean"]
    rep = compare_versions(base, other, noise=noise, popularity=planted.sessions.item_stats())
    assert rep["verdict"] == "within_noise", rep["noise"]


def test_corrupted_training_data_is_beyond_noise(planted, base, noise):
    s = planted.sessions
    perm = np.random.default_rng(0).permutation(s.n_items)  # every item takes another item's behavior
    corrupted = _fit(dataclasses.replace(s, codes=perm[s.codes].astype(s.codes.dtype)), 1)
    rep = compare_versions(_version(base, planted, "v1"), _version(corrupted, planted, "v2"), noise=noise)
    assert rep["overall"]["jaccard"]["median"] < 0.1  # measured 0.0
    assert rep["verdict"] == "beyond_noise"
    assert all(scope["beyond_noise"] for scope in rep["noise"]["scopes"].values())
    assert rep["sentence"].startswith("v2 differs from v1 beyond retraining noise")
    moved = rep["most_moved"]
    assert len(moved) == 20 and moved[0]["jaccard"] <= moved[-1]["jaccard"]
    assert moved[0]["name"] == f"item {moved[0]['item_id']}" and len(moved[0]["old_neighbor_names"]) == 5


def test_added_and_removed_items_are_listed_and_shared_ones_compared(planted):
    a = _fit(planted.sessions, 0, "ppmi_svd", {"dim": 16})
    drop = np.arange(0, len(a), 20)  # every 20th item
    keep = np.setdiff1d(np.arange(len(a)), drop)
    b = ItemEmbeddings(vocab=a.vocab.subset(keep), vectors=a.vectors[keep], source=a.source[keep])
    res = neighbor_overlap(a, b)
    assert sorted(res.removed.tolist()) == a.vocab.ids[drop].tolist() and len(res.added) == 0
    np.testing.assert_array_equal(res.ids, b.vocab.ids)
    # Same vectors: a list changes exactly when it contained a dropped item (matched by id, not by row).
    lists_a = res.neighbors_a
    had_dropped = np.isin(res.universe.ids[np.maximum(lists_a, 0)], a.vocab.ids[drop]).any(axis=1)
    assert had_dropped.any() and (~had_dropped).any()
    assert (res.jaccard[~had_dropped] == 1).all() and (res.jaccard[had_dropped] < 1).all()
    back = compare_versions(b, a, noise=None)
    assert back["counts"] == {"a_items": len(b), "b_items": len(a), "shared": len(b), "added": len(drop),
                              "removed": 0}
    assert back["verdict"] is None and "no noise floor" in back["sentence"]
    assert [row["item_id"] for row in back["added_examples"]] == a.vocab.ids[drop][:20].tolist()


def test_string_ids_and_disjoint_catalogues():
    from behemb_core.embeddings import make_embeddings
    from behemb_core.vocab import Vocabulary

    rng = np.random.default_rng(1)
    a = make_embeddings(Vocabulary(["A1", "B2", "C3", "D4"]), rng.normal(size=(4, 3)))
    b = make_embeddings(Vocabulary(["X", "Y", "Z"]), rng.normal(size=(3, 3)))
    rep = compare_versions(a, b)
    assert rep["counts"]["shared"] == 0 and rep["counts"]["added"] == 3 and rep["counts"]["removed"] == 4
    assert "share no items" in rep["sentence"]


def test_most_moved_and_overlap_table(planted, base):
    other = _fit(planted.sessions, 3)
    res = neighbor_overlap(base, other)
    names = pd.Series([f"n{i}" for i in base.vocab.ids], index=base.vocab.ids)
    stats = planted.sessions.item_stats()
    rows = most_moved(res, n=10, names=names, popularity=stats)
    assert len(rows) == 10 and [r["jaccard"] for r in rows] == sorted(r["jaccard"] for r in rows)
    assert rows[0]["jaccard"] == res.jaccard.min()
    assert rows[0]["name"] == f"n{rows[0]['item_id']}" and rows[0]["popularity"] > 0
    assert all(len(r["new_neighbors"]) == 5 for r in rows)
    table = overlap_table(res, names=names, popularity=stats)
    assert list(table.columns) == ["item_id", "name", "popularity", "jaccard", "rbo"] and len(table) == len(res.ids)
    again = pd.read_csv(io.StringIO(table.to_csv(index=False)))
    np.testing.assert_allclose(again["jaccard"], res.jaccard)
    assert overlap_table(res)["name"].eq("").all()


def test_noise_floor_needs_two_seeds_and_matching_k(planted, base, noise):
    with pytest.raises(ConfigError, match=r"seeds=\(4, 4\)"):
        noise_floor(planted.sessions, "ppmi_svd", {"dim": 16}, seeds=(4, 4))
    with pytest.raises(ConfigError, match="k=5"):
        compare_versions(base, base, k=5, noise=noise)


# ------------------------------------------------------------------ catalogues that barely overlap


def _stored(emb, name, fingerprint, noise=None):
    manifest = {"dataset": {"fingerprint": fingerprint}}
    if noise is not None:
        manifest["noise_floor"] = noise
    return StoredVersion(name=name, manifest=manifest, embeddings=emb, item_meta=None, item_stats=None)


def _random_emb(ids, seed):
    from behemb_core.embeddings import make_embeddings
    from behemb_core.vocab import Vocabulary

    return make_embeddings(Vocabulary(ids), np.random.default_rng(seed).normal(size=(len(ids), 8)))


def test_disjoint_stored_versions_explain_why_and_keep_diagnostics(noise):
    """The reported crash: A (with a noise floor) vs B trained on another dataset sharing no item."""
    from behemb_core.compare import compare_stored

    a = _stored(_random_emb([f"S{i}" for i in range(40)], 0), "retail", "fp-retail", noise=noise)
    b = _stored(_random_emb(list(range(30)), 1), "movies", "fp-movies")
    rep = compare_stored(a, b, include_overlaps=True)
    assert rep["verdict"] is None and rep["noise"] is None and rep["noise_floor_from"] is None
    assert rep["counts"]["shared"] == 0 and rep["per_item_jaccard"] == []
    assert rep["catalogues"]["comparable"] is False and rep["catalogues"]["same_training_data"] is False
    assert "no items in common" in rep["no_verdict_reason"] and "different data" in rep["no_verdict_reason"]
    assert set(rep["popularity"]) == {"retail", "movies"} and set(rep["evaluations"]) == {"retail", "movies"}
    json.dumps(rep)


def test_few_shared_items_give_no_verdict_but_their_overlap(noise):
    ids_a = [f"i{i}" for i in range(100)]
    ids_b = [f"i{i}" for i in range(90, 190)]  # 10 shared
    a = _stored(_random_emb(ids_a, 0), "A", "fp1", noise=noise)
    b = _stored(_random_emb(ids_b, 1), "B", "fp2", noise=noise)
    rep = compare_versions(a, b, noise=noise)
    assert rep["counts"]["shared"] == 10 and rep["overall"]["jaccard"]["n"] == 10
    assert rep["verdict"] is None and rep["noise"] is None
    assert "share only 10 of the 100 items" in rep["no_verdict_reason"]
    assert "too few shared items" in rep["sentence"]


def test_enough_shared_items_keep_the_verdict(planted, base, noise):
    rep = compare_versions(_version(base, planted, "v1"), _version(base, planted, "v1b"), noise=noise)
    assert rep["catalogues"]["comparable"] and rep["no_verdict_reason"] is None
    assert rep["catalogues"]["same_training_data"] is None  # no fingerprints in these manifests
