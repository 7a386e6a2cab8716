"""The "next item" mode in the evaluation: ranks by Q_a·K_b against brute force, and the report's both blocks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from behemb_core.embeddings import DirectionalPair, FitResult, make_embeddings
from behemb_core.errors import ConfigError
from behemb_core.evaluation import (
    Pairs,
    evaluate_method,
    evaluate_sequential_rules,
    evaluate_stored,
    evaluate_version,
    metrics_from_ranks,
    next_item_pairs,
    ranks_for_directional,
    time_split,
)
from behemb_core.evaluation import report as report_module
from behemb_core.methods.registry import get_method
from behemb_core.reports import stored_evaluation
from behemb_core.store.filestore import StoredVersion
from behemb_core.synthetic import sessions_from_lists
from behemb_core.vocab import Vocabulary


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _random_pair(n: int, dim: int, seed: int, alpha: float = 0.75) -> DirectionalPair:
    rng = np.random.default_rng(seed)
    return DirectionalPair(_unit(rng.standard_normal((n, dim))), _unit(rng.standard_normal((n, dim))), alpha)


def _brute_force(emb, pair: DirectionalPair, pairs: Pairs, k: int) -> list[int]:
    s = pair.query.astype(np.float64) @ pair.candidate.astype(np.float64).T
    np.fill_diagonal(s, -np.inf)
    out = []
    for qid, tid in zip(pairs.queries.tolist(), pairs.targets.tolist(), strict=True):
        q, t = emb.vocab.code(qid) if qid in emb.vocab else -1, emb.vocab.code(tid) if tid in emb.vocab else -1
        if q < 0 or t < 0:
            out.append(0)
            continue
        order = np.argsort(-s[q], kind="stable")[:k].tolist()
        out.append(order.index(t) + 1 if t in order else 0)
    return out


def test_next_ranks_equal_brute_force_on_random_tables():
    n = 300
    vocab = Vocabulary(np.arange(n) * 7)
    rng = np.random.default_rng(1)
    emb = make_embeddings(vocab, rng.standard_normal((n, 16)))
    pair = _random_pair(n, 16, seed=2)
    q = vocab.ids[rng.integers(0, n, 500)]
    t = vocab.ids[rng.integers(0, n, 500)]
    q[:5] = -1  # queries without a vector
    t[5:8] = -3  # targets outside the vocabulary
    pairs = Pairs(q, t)
    # Guarantee hits: make some targets the query's true top-1 by Q·K.
    best = np.argmax(np.where(np.eye(n, dtype=bool), -np.inf, pair.query @ pair.candidate.T), axis=1)
    t[10:60] = vocab.ids[best[vocab.codes(q[10:60])]]
    for k in (1, 10, 50):
        got, missing = ranks_for_directional(emb, pair, pairs, k, block_size=64)
        assert got.tolist() == _brute_force(emb, pair, pairs, k)
        assert missing == 5
    assert (got[10:60] == 1).all()


def test_k_larger_than_the_catalogue_and_misaligned_pair():
    vocab = Vocabulary(np.arange(4))
    emb = make_embeddings(vocab, np.eye(4))
    pair = _random_pair(4, 3, seed=0)
    ranks, _ = ranks_for_directional(emb, pair, Pairs(np.array([0, 1]), np.array([1, 0])), 10)
    assert ranks.tolist() == _brute_force(emb, pair, Pairs(np.array([0, 1]), np.array([1, 0])), 10)
    assert (ranks > 0).all()  # only 3 candidates: both targets are somewhere in a 10-long list
    with pytest.raises(ConfigError, match="rows"):
        ranks_for_directional(emb, _random_pair(5, 3, seed=0), Pairs(np.array([0]), np.array([1])), 10)


def _chain_data():
    """Every session walks a fixed cycle 0→1→…→19→0 from a random start: what follows a is always succ(a)."""
    rng = np.random.default_rng(0)
    lists = []
    for _ in range(400):
        start, length = int(rng.integers(0, 20)), int(rng.integers(3, 8))
        lists.append([(start + i) % 20 for i in range(length)])
    return sessions_from_lists(lists)


def test_query_side_and_candidate_side_are_not_swapped():
    s = _chain_data()
    train, test = time_split(s, holdout=0.2)
    pairs = next_item_pairs(test)
    codes = train.vocab.codes(np.arange(20))
    succ = train.vocab.codes((np.arange(20) + 1) % 20)
    q = np.zeros((20, 20), dtype=np.float32)
    kk = np.zeros((20, 20), dtype=np.float32)
    q[codes, succ] = 1.0  # Q_a points at the slot of a's successor …
    kk[codes, codes] = 1.0  # … and K_b sits in b's own slot: Q_a·K_b = 1 exactly when b = succ(a)
    emb = make_embeddings(train.vocab, np.eye(20))
    forward = DirectionalPair(q, kk, 1.0)
    ranks, _ = ranks_for_directional(emb, forward, pairs, 1)
    assert (ranks == 1).all()
    backward, _ = ranks_for_directional(emb, DirectionalPair(kk, q, 1.0), pairs, 1)  # roles swapped: predecessor
    assert (backward == 0).all()


def test_report_with_a_pair_has_both_blocks(planted):
    train, test = time_split(planted.sessions, holdout=0.2)
    pairs = next_item_pairs(test)
    rng = np.random.default_rng(0)
    emb = make_embeddings(train.vocab, rng.standard_normal((train.n_items, 8)))
    pair = _random_pair(train.n_items, 8, seed=3, alpha=0.5)
    plain = evaluate_version(emb, test, train=train, ks=(5, 10), n_boot=30)
    both = evaluate_version(emb, test, train=train, ks=(5, 10), n_boot=30, directional=pair, name="v1")
    assert "next" not in plain
    nxt = both["next"]
    ranks10 = np.array(_brute_force(emb, pair, pairs, 10))
    for k in (5, 10):
        expected = metrics_from_ranks(ranks10, k)
        for key in (f"hr@{k}", f"mrr@{k}", f"ndcg@{k}"):
            assert nxt["method"][key] == pytest.approx(expected[key])
        lo, hi = nxt["method"]["ci95"][f"hr@{k}"]
        assert lo <= nxt["method"][f"hr@{k}"] <= hi
    assert nxt["method"]["name"] == "v1 (next)" and nxt["alpha"] == 0.5
    assert len(nxt["method"]["by_popularity_decile"]) >= 10
    # The symmetric block and the baselines are those of the report without a pair.
    assert both["method"]["hr@10"] == plain["method"]["hr@10"] and both["baselines"] == plain["baselines"]
    knn = both["baselines"]["item_knn"]["hr@10"]
    sr = both["baselines"]["sequential_rules"]["hr@10"]
    assert nxt["comparison"]["hr_minus_item_knn"] == pytest.approx(nxt["method"]["hr@10"] - knn)
    assert nxt["vs_symmetric"]["hr_minus"] == pytest.approx(nxt["method"]["hr@10"] - both["method"]["hr@10"])
    assert nxt["vs_sequential_rules"]["hr_minus"] == pytest.approx(nxt["method"]["hr@10"] - sr)
    # The report (as stored in a manifest) passes the manifest's shape check.
    assert stored_evaluation({"evaluation": both}) is both


def test_report_without_a_pair_adds_the_sequential_rules_baseline(planted):
    train, test = time_split(planted.sessions, holdout=0.2)
    pairs = next_item_pairs(test)
    rng = np.random.default_rng(0)
    emb = make_embeddings(train.vocab, rng.standard_normal((train.n_items, 8)))
    report = evaluate_version(emb, test, train=train, n_boot=20)
    assert set(report["baselines"]) == {"most_popular", "item_knn", "sequential_rules"}
    block = report["baselines"]["sequential_rules"]
    assert block["window"] == 10
    assert block["hr@10"] == pytest.approx(evaluate_sequential_rules(train, pairs, k=10)["hr@10"])
    assert block["hr@10"] > report["baselines"]["most_popular"]["hr@10"]
    # Without the training sessions neither item-kNN nor sequential rules can be scored, and the note says so.
    alone = evaluate_version(emb, test, item_stats=train.item_stats())
    assert "sequential_rules" not in alone["baselines"] and "sequential rules" in alone["notes"][0]
    # Determinism: the same inputs give the same report.
    assert evaluate_version(emb, test, train=train, n_boot=20) == report


@dataclass
class _WithPair:
    """A method spec whose fit also returns a directional pair: Q = K = the symmetric vectors (so the next mode
    must score exactly as the symmetric one), or random tables."""

    inner: Any
    kind: str

    def fit(self, inputs, cfg, *, seed, progress=None):
        result = self.inner.fit(inputs, cfg, seed=seed, progress=progress)
        v = result.embeddings.vectors
        pair = (DirectionalPair(v.copy(), v.copy(), 0.25) if self.kind == "same"
                else _random_pair(len(v), v.shape[1], seed=seed + 10))
        return FitResult(result.embeddings, result.report, pair)


def test_evaluate_method_scores_the_fit_s_own_pair(planted, monkeypatch):
    spec = get_method("ppmi_svd")
    monkeypatch.setattr(report_module, "get_method", lambda name: _WithPair(spec, "same"))
    report = evaluate_method(planted.sessions, "ppmi_svd", {"dim": 16}, n_boot=20)
    nxt = report["next"]
    assert nxt["method"]["hr@10"] == report["method"]["hr@10"] and nxt["vs_symmetric"]["hr_minus"] == 0
    assert nxt["alpha"] == 0.25 and nxt["method"]["name"] == "ppmi_svd (next)"
    assert nxt["comparison"]["hr_minus_item_knn"] == pytest.approx(report["comparison"]["hr_minus_item_knn"])
    assert "sequential_rules" in report["baselines"]

    monkeypatch.setattr(report_module, "get_method", lambda name: _WithPair(spec, "random"))
    two = evaluate_method(planted.sessions, "ppmi_svd", {"dim": 16}, seeds=[0, 1], n_boot=0)
    spread = two["next"]["method"]["seed_spread"]["hr@10"]
    assert spread["min"] <= two["next"]["method"]["hr@10"] <= spread["max"]
    assert two["next"]["method"]["hr@10"] < report["method"]["hr@10"]  # random tables rank worse than the fit


def test_evaluate_stored_uses_the_version_s_pair(planted):
    train, _ = time_split(planted.sessions, holdout=0.1)
    rng = np.random.default_rng(0)
    emb = make_embeddings(train.vocab, rng.standard_normal((train.n_items, 8)))
    pair = _random_pair(train.n_items, 8, seed=4)
    with_pair = StoredVersion("v2", {}, emb, None, train.item_stats(), pair)
    without = StoredVersion("v1", {}, emb, None, train.item_stats())
    a = evaluate_stored(with_pair, planted.sessions, n_boot=0)
    b = evaluate_stored(without, planted.sessions, n_boot=0)
    assert "next" in a and "next" not in b
    assert {**a["method"], "name": None} == {**b["method"], "name": None}
    newer = evaluate_stored(with_pair, planted.sessions, all_heldout=True, n_boot=0)
    assert "next" in newer and "comparison" not in newer["next"]  # no training sessions: no item-kNN to compare
