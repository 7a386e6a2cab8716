"""Popularity-collapse diagnostics: hand-checked metric definitions, and verdicts on good and collapsed vectors."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from behemb_core.diagnostics import CollapseThresholds, align_popularity, gini, popularity_diagnostics
from behemb_core.embeddings import make_embeddings
from behemb_core.errors import BehembError, ConfigError
from behemb_core.methods.base import TrainingInputs
from behemb_core.methods.registry import get_method, parse_config
from behemb_core.neighbors import NeighborTable
from behemb_core.vocab import Vocabulary


def _tiny():
    """4 items (ids 10, 20, 30, 40); everyone's top-1 is item 10, whose own top-1 is item 20."""
    vocab = Vocabulary(np.array([10, 20, 30, 40]))
    emb = make_embeddings(vocab, np.eye(4, dtype=np.float32))
    table = NeighborTable(codes=np.array([[1], [0], [0], [0]]), scores=np.ones((4, 1), dtype=np.float32))
    pop = pd.Series([2.0, 3.0, 5.0, 10.0], index=[40, 30, 20, 10])  # by id, in another order
    return emb, table, pop


def test_metric_definitions_on_a_hand_made_example():
    emb, table, pop = _tiny()
    rep = popularity_diagnostics(emb, pop, k=1, neighbors=table, method="ppmi_svd")
    m = rep["metrics"]
    # N_k = [3, 1, 0, 0]: Gini = sum((2i - n - 1) x_(i)) / (n sum x) = ((-3)0 + (-1)0 + 1·1 + 3·3) / 16 = 0.625
    assert m["k_occurrence_gini"] == pytest.approx(0.625)
    assert m["k_occurrence_max"] == 3 and m["k_occurrence_max_item"] == 10
    assert m["anti_hub_share"] == 0.5 and m["coverage"] == 0.5
    assert m["hub_share"] == 0.0  # nobody is in more than 5·k = 5 lists
    # Head = top 1 % of 4 items → 1 item (id 10, 10 of 20 events); it fills 3 of the 4 slots.
    assert m["n_head_items"] == 1
    assert m["head_slot_share"] == 0.75 and m["head_catalogue_share"] == 0.25
    assert m["head_slot_lift"] == pytest.approx(3.0)
    assert m["head_interaction_share"] == 0.5 and m["head_slot_vs_interactions"] == pytest.approx(1.5)
    # Ranks of log-popularity [4, 3, 2, 1] vs neighbors' mean [1, 3, 3, 3] (ties averaged): r = -3 / sqrt(15).
    assert m["popularity_neighbor_spearman"] == pytest.approx(-3 / math.sqrt(15))
    # Gini 0.625 > 0.5, head/interactions 1.5 > 1, coverage 0.5 < 0.75; lift 3.0 is not > 3.0.
    assert {t["rule"] for t in rep["tripped"]} == {"k_occurrence_gini", "head_slot_vs_interactions", "coverage"}
    assert rep["verdict"] == "collapsed" and rep["hints"]
    assert rep["top_hubs"][0] == {"item_id": 10, "k_occurrence": 3, "events": 10.0}
    json.dumps(rep)


def test_hub_factor_and_warning_verdict():
    emb, table, pop = _tiny()
    th = CollapseThresholds(hub_factor=2, max_gini=None, max_head_slot_vs_interactions=None, min_coverage=None)
    rep = popularity_diagnostics(emb, pop, k=1, neighbors=table, thresholds=th)
    assert rep["metrics"]["hub_share"] == 0.25  # item 10 is in 3 > 2·1 lists
    assert [t["rule"] for t in rep["tripped"]] == ["hubs"] and rep["verdict"] == "warning"
    assert all(r["threshold"] is None for r in rep["rules"] if r["rule"] == "coverage")


def test_gini_edge_cases():
    assert gini(np.zeros(5)) == 0.0 and gini(np.full(5, 3)) == 0.0
    assert gini(np.array([0, 0, 0, 7])) == pytest.approx(0.75)  # (n - 1) / n for one holder of everything


def test_popularity_alignment_by_id():
    vocab = Vocabulary(np.array([1, 2, 3]))
    series = pd.Series([5, 7, 99], index=[3, 1, 42])  # 2 has no stats → 0; 42 is not in the vocabulary
    np.testing.assert_array_equal(align_popularity(vocab, series), [7.0, 0.0, 5.0])
    stats = pd.DataFrame({"item_id": [2, 3], "events": [4, 1], "sessions": [1, 1]})
    np.testing.assert_array_equal(align_popularity(vocab, stats), [0.0, 4.0, 1.0])
    assert align_popularity(vocab, None) is None
    with pytest.raises(ConfigError, match=r"\(3,\)"):
        align_popularity(vocab, np.ones(4))
    with pytest.raises(ConfigError, match="item 2"):
        align_popularity(vocab, pd.Series([-1.0], index=[2]))
    with pytest.raises(BehembError, match="more than once"):
        align_popularity(vocab, pd.Series([1, 2], index=[1, 1]))


def test_without_popularity_only_list_shape_rules_apply():
    emb, table, _ = _tiny()
    rep = popularity_diagnostics(emb, None, k=1, neighbors=table)
    assert rep["metrics"]["head_slot_lift"] is None and rep["metrics"]["popularity_neighbor_spearman"] is None
    assert {t["rule"] for t in rep["tripped"]} == {"k_occurrence_gini", "coverage"}
    with pytest.raises(ConfigError, match="k=0"):
        popularity_diagnostics(emb, None, k=0)
    with pytest.raises(ConfigError, match="k=3"):
        popularity_diagnostics(emb, None, k=3, neighbors=table)


@pytest.fixture(scope="module")
def planted_good(planted):
    spec = get_method("ppmi_svd")
    return spec.fit(TrainingInputs(sessions=planted.sessions), parse_config("ppmi_svd", {"dim": 32}), seed=0).embeddings


def _collapse(emb, events, *, c: float, seed: int = 0):
    """Half of each vector replaced by noise, plus a shared direction u weighted by log-popularity.

    The noise is needed: planted clusters are so tight (top-10 cosine ≈ 0.88 vs 0.06 between random items)
    that adding c·log(pop)·u to the clean vectors only sorts cluster-mates by popularity — no shared direction
    can beat a cluster-mate. With half the signal gone (as in an under-trained model), the direction makes
    popular items everybody's neighbors; the noise alone does not (see the control below).
    """
    rng = np.random.default_rng(seed)
    u = rng.normal(size=emb.dim)
    u /= np.linalg.norm(u)
    noise = rng.normal(size=emb.vectors.shape)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    v = np.sqrt(0.5) * emb.vectors + np.sqrt(0.5) * noise + c * np.log1p(events)[:, None] * u[None, :]
    return make_embeddings(emb.vocab, v)


def test_good_ppmi_svd_on_planted_clusters_is_ok(planted, planted_good):
    rep = popularity_diagnostics(planted_good, planted.sessions.item_stats(), method="ppmi_svd")
    # Measured: Gini 0.37, hubs 0, lift 1.85, head/interactions 0.06, coverage 0.92.
    assert rep["verdict"] == "ok", rep["tripped"]
    assert rep["hints"] == [] and rep["metrics"]["coverage"] > 0.85


@pytest.mark.parametrize("method, needle", [("ppmi_svd", "eig_weight"), ("item2vec", "ns_exponent"),
                                            ("fusion", "base"), (None, "min_count")])
def test_popularity_direction_collapses_and_is_named(planted, planted_good, method, needle):
    stats = planted.sessions.item_stats()
    events = align_popularity(planted_good.vocab, stats)
    rep = popularity_diagnostics(_collapse(planted_good, events, c=3.0), stats, method=method)
    # Measured (3 seeds): Gini 0.61-0.62, hub share 0.023-0.033, lift 9.2-10.6, coverage 0.86-0.89.
    assert rep["verdict"] == "collapsed"
    assert {"k_occurrence_gini", "hubs", "head_slot_lift"} <= {t["rule"] for t in rep["tripped"]}
    for t in rep["tripped"]:
        assert t["value"] > t["threshold"] if t["kind"] == "max" else t["value"] < t["threshold"]
    assert any(needle in h for h in rep["hints"])
    assert "collapsed" in rep["summary"].lower() or "popular" in rep["summary"]


def test_noise_without_popularity_direction_is_not_collapse(planted, planted_good):
    stats = planted.sessions.item_stats()
    events = align_popularity(planted_good.vocab, stats)
    rep = popularity_diagnostics(_collapse(planted_good, events, c=0.0), stats, method="ppmi_svd")
    assert rep["verdict"] == "ok", rep["tripped"]  # measured Gini 0.22, lift 1.2


def test_online_retail_ppmi_svd_is_not_collapsed(online_retail_dir):
    from behemb_core.demo import ONLINE_RETAIL_FILTERS
    from behemb_core.ingest import read_event_log

    dataset = read_event_log(online_retail_dir, filters=ONLINE_RETAIL_FILTERS, name_column="Description")
    cfg = parse_config("ppmi_svd", {"dim": 32, "alpha": 0.75, "eig_weight": 0.5})
    emb = get_method("ppmi_svd").fit(TrainingInputs(sessions=dataset.sessions), cfg, seed=0).embeddings
    rep = popularity_diagnostics(emb, dataset.sessions.item_stats(), method="ppmi_svd")
    # Measured: Gini 0.35, max N_k 43, hub share 0, lift 1.15, head/interactions 0.12, coverage 0.97.
    assert rep["verdict"] != "collapsed", rep["tripped"]
    assert rep["metrics"]["head_slot_lift"] < 3 and rep["metrics"]["coverage"] > 0.9
    json.dumps(rep)


# ------------------------------------------------------------------ judged against item-kNN on the same sessions
def test_planted_collapse_still_collapses_against_item_knn(planted, planted_good):
    from behemb_core.diagnostics import judge_collapse
    from behemb_core.evaluation.collapse import knn_reference

    stats = planted.sessions.item_stats()
    events = align_popularity(planted_good.vocab, stats)
    ref = knn_reference(planted.sessions)
    # Measured: item-kNN's lift 2.1, hubs 0, Gini 0.30; the collapsed versions' lift is 4.0-5.0× that, hubs 0.023+.
    assert ref["metrics"]["head_slot_lift"] < 3 and ref["metrics"]["hub_share"] == 0
    for c in (1.0, 3.0):
        for seed in (0, 1, 2):
            judged = judge_collapse(popularity_diagnostics(_collapse(planted_good, events, c=c, seed=seed), stats), ref)
            assert judged["basis"] == "item_knn" and judged["verdict"] == "collapsed", (c, seed, judged)
            assert {"hubs", "head_slot_lift"} <= set(judged["tripped_rules"])
    good = judge_collapse(popularity_diagnostics(planted_good, stats), ref)
    assert good["verdict"] == "ok" and not good["excused"]


def test_the_default_method_passes_the_gate_on_the_demo_data():
    """Issue 22 §2: the default method at its defaults trips the absolute head-slot rule on the demo data (lift
    3.4 > 3) but its lists lean on the head less than 3.5× item-kNN's (1.18) on the same sessions: ok."""
    from behemb_core.demo import load_demo_dataset
    from behemb_core.diagnostics import judge_collapse
    from behemb_core.evaluation.collapse import knn_reference
    from behemb_core.methods.registry import DEFAULT_METHOD

    sessions = load_demo_dataset().sessions
    spec = get_method(DEFAULT_METHOD)
    emb = spec.fit(TrainingInputs(sessions=sessions), spec.parse_config({"dim": 64}), seed=0).embeddings
    diag = popularity_diagnostics(emb, sessions.item_stats(), method=DEFAULT_METHOD)
    assert diag["verdict"] == "warning" and [t["rule"] for t in diag["tripped"]] == ["head_slot_lift"]
    judged = judge_collapse(diag, knn_reference(sessions))
    assert judged["verdict"] == "ok" and [e["rule"] for e in judged["excused"]] == ["head_slot_lift"]
