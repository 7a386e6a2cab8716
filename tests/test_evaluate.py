"""Evaluation metrics, baselines and reports against hand-computed answers and brute-force oracles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from behemb_core.embeddings import make_embeddings
from behemb_core.errors import ConfigError
from behemb_core.evaluation import (
    Pairs,
    bootstrap_interval,
    evaluate_item_knn,
    evaluate_method,
    evaluate_most_popular,
    evaluate_version,
    item_knn_neighbors,
    metrics_from_ranks,
    next_item_pairs,
    ranks_for_target,
    time_split,
)
from behemb_core.synthetic import sessions_from_lists
from behemb_core.target_similarity import target_similarity, top_k_by_target
from behemb_core.vocab import Vocabulary


def _sessions(lists, times=None):
    return sessions_from_lists(lists, start_times=times)


def test_metrics_from_hand_made_ranks():
    ranks = np.array([1, 2, 0, 10, 11])  # 11 is beyond K=10: a miss
    m = metrics_from_ranks(ranks, 10)
    assert m["hr@10"] == pytest.approx(3 / 5)
    assert m["mrr@10"] == pytest.approx((1 + 1 / 2 + 1 / 10) / 5)
    assert m["ndcg@10"] == pytest.approx((1 + 1 / np.log2(3) + 1 / np.log2(11)) / 5)


def test_pairs_skip_repeats_and_session_borders():
    s = _sessions([[1, 2, 2, 3], [4, 5]])
    p = next_item_pairs(s)
    assert list(zip(p.queries.tolist(), p.targets.tolist(), strict=True)) == [(1, 2), (2, 3), (4, 5)]


def test_time_split_holds_out_the_latest_sessions():
    s = _sessions([[1, 2], [3, 4], [5, 6], [7, 8]], times=[40, 10, 30, 20])
    train, test = time_split(s, holdout=0.25)
    assert test.to_lists() == [[1, 2]] and train.n_sessions == 3
    with pytest.raises(ConfigError, match="holdout"):
        time_split(s, holdout=1.5)


def test_most_popular_never_recommends_the_query():
    train = _sessions([[1, 2], [1, 3], [1, 2], [4, 1]])  # popularity: 1 > 2 > 3, 4
    pairs = Pairs(queries=np.array([1, 2]), targets=np.array([2, 1]))
    r = evaluate_most_popular(train, pairs, k=1)
    assert r["hr@1"] == 1.0  # query 1 → top is 1 (skipped) → 2 ✓; query 2 → 1 ✓


def test_item_knn_matches_dense_cosine_oracle():
    rng = np.random.default_rng(0)
    lists = [list(rng.choice(30, size=rng.integers(2, 7), replace=False)) for _ in range(200)]
    train = _sessions(lists)
    x = np.zeros((train.n_items, train.n_sessions))
    x[train.codes, train.session_of_event()] = 1
    cos = (x @ x.T) / np.sqrt(np.outer(x.sum(1), x.sum(1)))
    np.fill_diagonal(cos, -1)
    queries = np.arange(train.n_items)
    got = item_knn_neighbors(train, queries, 5)
    for q in queries:
        expected_scores = np.sort(cos[q])[::-1][:5]
        np.testing.assert_allclose(cos[q, got[q]], expected_scores, rtol=1e-5)


def test_bootstrap_interval_brackets_the_estimate_and_narrows_with_data():
    rng = np.random.default_rng(1)
    small = np.where(rng.random(200) < 0.3, 1, 0)
    large = np.where(rng.random(20000) < 0.3, 1, 0)
    ci_small = bootstrap_interval(small, 10)["hr@10"]
    ci_large = bootstrap_interval(large, 10)["hr@10"]
    assert ci_small[0] <= small.mean() <= ci_small[1]
    assert ci_large[1] - ci_large[0] < (ci_small[1] - ci_small[0]) / 3


def test_report_on_planted_data_beats_most_popular_and_has_every_section():
    from behemb_core.synthetic import planted_sessions

    # Mild popularity skew: next items are decided by the clusters, not by popularity.
    planted = planted_sessions(n_items=600, n_clusters=30, n_sessions=6000, zipf_exponent=0.3, seed=2)
    report = evaluate_method(planted.sessions, "ppmi_svd", {"dim": 32}, seeds=[0, 1], ks=[5, 10], n_boot=50)
    m, base = report["method"], report["baselines"]
    assert set(report["k"]) == {5, 10}
    assert m["hr@10"] > 3 * base["most_popular"]["hr@10"]
    assert m["ci95"]["hr@10"][0] <= m["hr@10"] <= m["ci95"]["hr@10"][1] + m["seed_spread"]["hr@10"]["max"]
    assert m["seed_spread"]["hr@10"]["std"] >= 0
    assert sum(row["pairs"] for row in m["by_popularity_decile"]) == report["split"]["pairs"]
    assert report["comparison"]["beats_most_popular"] is True
    assert "item_knn" in base and 0 < base["item_knn"]["hr@10"] <= 1


def test_evaluate_version_uses_stored_popularity(planted):
    train, test = time_split(planted.sessions, holdout=0.2)
    pairs = next_item_pairs(test)
    rng = np.random.default_rng(0)
    emb = make_embeddings(train.vocab, rng.standard_normal((train.n_items, 8)))
    report = evaluate_version(emb, test, item_stats=train.item_stats())
    expected = evaluate_most_popular(train, pairs)["hr@10"]
    assert report["baselines"]["most_popular"]["hr@10"] == pytest.approx(expected)
    assert "item_knn" not in report["baselines"] and report["notes"]
    full = evaluate_version(emb, test, train=train)
    assert full["baselines"]["item_knn"]["hr@10"] == pytest.approx(evaluate_item_knn(train, pairs)["hr@10"])


def test_missing_query_vectors_are_misses_and_counted(planted):
    train, test = time_split(planted.sessions, holdout=0.2)
    keep = train.vocab.ids[: train.n_items // 2]
    rng = np.random.default_rng(0)
    emb = make_embeddings(Vocabulary(keep), rng.standard_normal((len(keep), 8)))
    report = evaluate_version(emb, test)
    pairs = next_item_pairs(test)
    assert report["method"]["queries_without_vector"] == int((~np.isin(pairs.queries, keep)).sum()) > 0
    _ = pd  # pandas used via item_stats above


# ------------------------------------------------------------------------------------ the target-ranking row
def test_target_ranking_by_hand():
    # window 1, uniform: C_12 = 2, C_23 = 1, C_15 = 1, so d_1 = 3, d_2 = 3, d_3 = 1, d_5 = 1; item 4 has no row.
    train = _sessions([[1, 2, 3], [1, 2], [1, 5], [4]])
    pairs = Pairs(queries=np.array([1, 3, 4, 2, 9]), targets=np.array([2, 2, 1, 3, 1]))
    raw = ranks_for_target(train, pairs, 2, window=1, weighting="uniform", gamma=0.0)
    # Query 2 by raw counts: 1 (2) before 3 (1). Item 4 has no row, item 9 is unknown: both misses.
    assert raw.tolist() == [1, 1, 0, 2, 0]
    # gamma 1: T_21 = 2 / (3·3) < T_23 = 1 / (3·1), so 3 moves to the top of item 2's row; likewise
    # T_12 = 2 / 9 < T_15 = 1 / 3, so item 1's target 2 drops to rank 2.
    damped = ranks_for_target(train, pairs, 2, window=1, weighting="uniform", gamma=1.0)
    assert damped.tolist() == [2, 1, 0, 1, 0]
    # Only one slot: query 2's target 3 is not in its top-1 by raw counts.
    assert ranks_for_target(train, pairs, 1, window=1, weighting="uniform", gamma=0.0).tolist() == [1, 1, 0, 0, 0]


def test_target_ranking_row_for_cooc_softmax_only(planted):
    config = {"dim": 16, "epochs": 3, "window": 4, "gamma": 0.3}
    report = evaluate_method(planted.sessions, "cooc_softmax", config, n_boot=20)
    assert len(report["method"]["fit_seconds"]) == 1 and report["method"]["fit_seconds"][0] > 0
    block = report["baselines"]["target_ranking"]
    assert block["target"] == {"window": 4, "weighting": "harmonic", "gamma": 0.3}
    assert block["ci95"]["hr@10"][0] <= block["hr@10"] <= block["ci95"]["hr@10"][1]
    # The same number straight from top_k_by_target on T of the training part, pair by pair.
    train, test = time_split(planted.sessions, holdout=0.1)
    pairs = next_item_pairs(test)
    t = target_similarity(train, window=4, weighting="harmonic", gamma=0.3).matrix
    q, tg = train.vocab.codes(pairs.queries), train.vocab.codes(pairs.targets)
    top = top_k_by_target(t, q, 10)
    hits = [target in row for row, target in zip(top.tolist(), tg.tolist(), strict=True)]
    assert block["hr@10"] == pytest.approx(np.mean(hits))
    assert block["hr@10"] > report["baselines"]["most_popular"]["hr@10"]
    # The comparison stays against item-kNN.
    knn = report["baselines"]["item_knn"]["hr@10"]
    assert report["comparison"]["hr_minus_item_knn"] == pytest.approx(report["method"]["hr@10"] - knn)

    other = evaluate_method(planted.sessions, "ppmi_svd", {"dim": 16}, n_boot=0)
    assert set(other["baselines"]) == {"most_popular", "item_knn", "sequential_rules"}


def test_evaluation_table_shows_the_target_ranking_row(planted):
    from app_support.views import evaluation_table

    report = evaluate_method(planted.sessions, "cooc_softmax", {"dim": 16, "epochs": 2}, n_boot=20)
    table = evaluation_table(report)
    assert table["model"].tolist() == [
        "cooc_softmax", "most-popular", "item-kNN", "sequential rules (directional)",
        "target ranking (what the method fits)",
    ]
    row = table.set_index("model").loc["target ranking (what the method fits)"]
    assert row["HR@10"] == pytest.approx(report["baselines"]["target_ranking"]["hr@10"])
    lo, hi = report["baselines"]["target_ranking"]["ci95"]["hr@10"]
    assert row["HR@10 95% CI"] == f"{lo:.3f}–{hi:.3f}"
    sr = table.set_index("model").loc["sequential rules (directional)"]
    assert sr["HR@10"] == pytest.approx(report["baselines"]["sequential_rules"]["hr@10"])
    # A report without the row (any other method) renders the other baselines only; one written before sequential
    # rules existed lacks that row too.
    del report["baselines"]["target_ranking"]
    assert len(evaluation_table(report)) == 4
    del report["baselines"]["sequential_rules"]
    assert evaluation_table(report)["model"].tolist() == ["cooc_softmax", "most-popular", "item-kNN"]


def test_evaluation_table_shows_the_next_mode_row(planted):
    from app_support.views import NEXT_LABEL, evaluation_table

    report = evaluate_method(planted.sessions, "cooc_softmax", {"dim": 16, "epochs": 2, "directional": True},
                             n_boot=20)
    assert "next" in report
    table = evaluation_table(report).set_index("model")
    assert table.index.tolist()[:2] == ["cooc_softmax", NEXT_LABEL]  # right under the version's own row
    assert table.loc[NEXT_LABEL, "HR@10"] == pytest.approx(report["next"]["method"]["hr@10"])
    lo, hi = report["next"]["method"]["ci95"]["hr@10"]
    assert table.loc[NEXT_LABEL, "HR@10 95% CI"] == f"{lo:.3f}–{hi:.3f}"
