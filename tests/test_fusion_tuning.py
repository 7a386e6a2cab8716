"""Fusion's behavior/content weights learned by the tuner: on planted data whose rare items have noisy behavior and
whose content knows the clusters, the learned band weights lean on content for the rare items and beat the default
on validation; the base is fitted once; same seed, same search; the manifest records the weights; the CLI tunes
fusion; the evaluation compares fused and behavior-only vectors by popularity band of the query."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from behemb_core.cli import main
from behemb_core.content import ContentVectors
from behemb_core.errors import ConfigError
from behemb_core.evaluation import evaluate_builder, hr_by_popularity_band, popularity_bands
from behemb_core.ingest.dataset import Dataset
from behemb_core.methods.fusion import FusionConfig, popularity_band
from behemb_core.methods.registry import get_method, parse_config
from behemb_core.sessions import SessionOptions, Sessions
from behemb_core.store import Store
from behemb_core.synthetic import planted_arrays, sessions_from_lists
from behemb_core.tuning import search_space, tune_and_train, tune_method

START = {"dim": 16, "base_config": {"dim": 16}}


@lru_cache(maxsize=1)
def noisy_tail() -> tuple[Sessions, np.ndarray, int]:
    """Planted sessions (20 clusters) whose rarest 40 % of items have random behavior in the first 80 % of the
    sessions — their occurrences there are shuffled among themselves, so their counts stay and their
    co-occurrences are noise — and the true one afterwards (validation and hold-out). Returns the sessions, each
    item's cluster and the event count below which an item is rare."""
    a = planted_arrays(n_items=400, n_clusters=20, n_sessions=3000, seed=1, noise=0.1, zipf_exponent=1.0)
    items = a.items.copy()
    n = len(a.indptr) - 1
    session_of = np.repeat(np.arange(n), np.diff(a.indptr))
    counts = np.bincount(items, minlength=400)
    rare_below = int(np.quantile(counts, 0.4))
    rare = counts < rare_below
    moved = np.flatnonzero(rare[items] & (session_of < int(0.8 * n)))
    items[moved] = items[np.random.default_rng(0).permutation(moved)]
    lists = [items[a.indptr[i]:a.indptr[i + 1]].tolist() for i in range(n)]
    sessions = sessions_from_lists(lists, start_times=list(range(n)))
    return sessions, a.cluster_of_item[sessions.vocab.ids.astype(np.int64)], rare_below


def cluster_content(sessions: Sessions, cluster: np.ndarray) -> ContentVectors:
    """Content that carries cluster identity (a centre per cluster plus a little noise)."""
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((int(cluster.max()) + 1, 48))[cluster] + 0.3 * rng.standard_normal((len(cluster), 48))
    return ContentVectors(vocab=sessions.vocab, vectors=vectors.astype(np.float32))


def start_config() -> dict:
    _, _, rare_below = noisy_tail()
    return {**START, "tail_events": rare_below}


@pytest.fixture(scope="module")
def tuned():
    sessions, cluster, _ = noisy_tail()
    return tune_method(sessions, "fusion", base_config=start_config(), content=cluster_content(sessions, cluster),
                       seed=0)


def test_fusion_has_a_blend_search_space() -> None:
    stages = search_space("fusion")
    assert [s.params for s in stages] == [("behavior_weight",), ("tail_weight",), ("torso_weight",), ("head_weight",)]
    assert all(s.scored_by == "fit" for s in stages)
    assert dict(stages[0].grid)["behavior_weight"][0] == 0.7
    assert all(dict(s.grid)[s.params[0]][0] is None for s in stages[1:])  # an empty band follows the one weight


def test_learned_band_weights_lean_on_content_for_rare_items_and_beat_the_default(tuned) -> None:
    best = tuned.best_config
    weights = best.band_weights()
    assert best.per_band
    assert weights["tail"] <= 0.5, weights  # rare items lean on their content
    assert weights["tail"] < weights["head"], weights
    assert tuned.best_score["hr@10"] > tuned.default_score["hr@10"] + 0.01
    assert tuned.trials[0]["params"] == {"behavior_weight": 0.7, "tail_weight": None, "torso_weight": None,
                                         "head_weight": None}
    assert len(tuned.trials) == 1 + 11 + 3 * 12


def test_the_base_is_fitted_once_and_only_the_blend_is_searched(tuned, monkeypatch: pytest.MonkeyPatch) -> None:
    assert tuned.protocol["base"]["fits"] == 1 and tuned.protocol["base"]["method"] == "ppmi_svd"
    assert "never read" in tuned.protocol["summary"]
    # trials after the first are blends: a fraction of the first (which fitted the base)
    later = [t["seconds"] for t in tuned.trials[1:] if t["status"] == "ok"]
    assert max(later) < max(tuned.trials[0]["seconds"], 0.05) * 2 + 0.5


def test_same_seed_same_search(tuned) -> None:
    sessions, cluster, _ = noisy_tail()
    again = tune_method(sessions, "fusion", base_config=start_config(), content=cluster_content(sessions, cluster),
                        seed=0)
    strip = [{k: v for k, v in t.items() if k != "seconds"} for t in tuned.trials]
    assert [{k: v for k, v in t.items() if k != "seconds"} for t in again.trials] == strip
    assert again.best_config == tuned.best_config


def test_band_weights_need_event_counts_and_are_reported() -> None:
    sessions, cluster, rare_below = noisy_tail()
    spec = get_method("fusion")
    base = get_method("ppmi_svd").fit(_inputs(sessions), parse_config("ppmi_svd", {"dim": 16}), seed=0)
    content = cluster_content(sessions, cluster)
    cfg = parse_config("fusion", {**START, "tail_events": rare_below, "tail_weight": 0.0, "head_weight": 1.0})
    from behemb_core.methods.base import TrainingInputs

    with pytest.raises(ConfigError, match="event counts"):
        spec.fit(TrainingInputs(base=base.embeddings, content=content), cfg, seed=0)
    report = spec.fit(TrainingInputs(sessions=sessions, base=base.embeddings, content=content), cfg, seed=0).report
    assert report["weights"]["rule"] == "by popularity band"
    assert report["weights"]["band_weights"] == {"tail": 0.0, "torso": 0.7, "head": 1.0}
    bands = report["weights"]["bands"]
    assert sum(b["items_with_both"] for b in bands.values()) == report["shared_items"] == len(sessions.vocab)
    counts = sessions.item_counts()
    assert bands["tail"]["items_with_both"] == int((counts < rare_below).sum())
    # head items at w = 1 are behavior only, and are labelled so
    assert report["classes"]["behavior"] == int((counts >= 100).sum())
    with pytest.raises(ConfigError, match="head_events"):
        parse_config("fusion", {"tail_events": 50, "head_events": 50})


def _inputs(sessions: Sessions):
    from behemb_core.methods.base import TrainingInputs

    return TrainingInputs(sessions=sessions)


def test_popularity_bands_agree() -> None:
    counts = np.array([0, 1, 9, 10, 99, 100, 5000])
    assert popularity_band(counts, 10, 100).tolist() == [0, 0, 0, 1, 1, 2, 2]
    assert popularity_bands(counts).tolist() == [0, 1, 1, 2, 2, 3, 3]
    assert FusionConfig().band_weights() == {"tail": 0.7, "torso": 0.7, "head": 0.7} and not FusionConfig().per_band


def test_evaluation_compares_fused_and_behavior_only_vectors_by_band(tuned) -> None:
    sessions, cluster, rare_below = noisy_tail()
    report = evaluate_builder(sessions, "fusion", {"default": start_config(), "tuned": tuned.best_config},
                              content=cluster_content(sessions, cluster), edges=(rare_below, 100))
    assert set(report["built"]) == {"default", "tuned"} and report["base"]["method"] == "ppmi_svd"
    assert report["split"]["pairs"] == sum(b["pairs"] for b in report["base"]["by_popularity_band"])
    base_tail = next(b for b in report["base"]["by_popularity_band"] if b["band"] == "tail")
    tuned_tail = next(b for b in report["built"]["tuned"]["by_popularity_band"] if b["band"] == "tail")
    assert base_tail["pairs"] > 20 and tuned_tail["hr@10"] > base_tail["hr@10"]  # rare queries gain from content
    assert len(report["base"]["by_query_popularity_decile"]) >= 10
    with pytest.raises(ConfigError, match="does not build on"):
        evaluate_builder(sessions, "ppmi_svd", {"a": {}})


def test_hr_by_popularity_band_counts_unseen_queries_as_no_behavior() -> None:
    train = sessions_from_lists([[1, 2, 3]] * 12 + [[4, 5]])
    ranks = np.array([1, 0, 3, 0])
    rows = hr_by_popularity_band(ranks, np.array([1, 4, 99, 5]), train, 10)
    got = {r["band"]: (r["pairs"], r["hr@10"]) for r in rows}
    assert got == {"no behavior": (1, 1.0), "tail": (2, 0.0), "torso": (1, 1.0), "head": (0, None)}


def test_tune_and_train_records_the_learned_weights(tmp_path: Path) -> None:
    sessions, cluster, _ = noisy_tail()
    store = Store(tmp_path / "store")
    dataset = Dataset(sessions=sessions, drops={}, notes={}, source={"kind": "test"}, options=SessionOptions())
    summary = tune_and_train(store, "fusion", dataset=dataset, seed=0, name="fused", base_config=start_config(),
                             content=cluster_content(sessions, cluster), evaluate=True)
    manifest = store.manifest("fused")
    tuning = manifest["tuning"]
    assert manifest["config"] == tuning["best_config"] == summary["best_config"]
    for key in ("behavior_weight", "tail_weight", "torso_weight", "head_weight"):
        assert key in tuning["tuned_params"] and key in tuning["best_config"]
    assert manifest["fit_report"]["weights"]["band_weights"] == FusionConfig(**tuning["best_config"]).band_weights()
    assert tuning["protocol"]["base"]["fits"] == 1
    held = manifest["builder_evaluation"]
    assert set(held["built"]) == {"default", "tuned"} and "base" in held
    assert summary["holdout"]["hr@10"]["tuned"] == held["built"]["tuned"]["hr@10"]
    assert "evaluation" not in manifest  # fusion is not retrained on a split by train_version


def test_cli_tunes_fusion_with_item_names(tmp_path: Path, capsys) -> None:
    sessions, cluster, rare_below = noisy_tail()
    path = tmp_path / "sessions.jsonl"
    with open(path, "w") as fh:
        for sid, items in zip(sessions.session_ids, sessions.to_lists(), strict=True):
            fh.write(json.dumps({"session_id": sid, "items": items}) + "\n")
    words = np.array(["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
                      "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango"])
    names = pd.DataFrame({"item_id": sessions.vocab.ids, "name": [f"{words[c]} {words[c]} thing {i % 7}"
                                                                   for i, c in enumerate(cluster)]})
    meta = tmp_path / "items.csv"
    names.to_csv(meta, index=False)
    store = tmp_path / "store"
    code = main(["tune", "--input", str(path), "--item-meta", str(meta), "--method", "fusion", "--set", "dim=16",
                 "--set", 'base_config={"dim": 16}', "--set", "text_dim=24", "--set", f"tail_events={rare_below}",
                 "--seed", "0", "--store", str(store), "--version", "cli-fused", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out)
    assert summary["method"] == "fusion" and len(summary["trials"]) == 48
    assert summary["best_validation"]["hr@10"] >= summary["default_validation"]["hr@10"]
    manifest = Store(store).manifest("cli-fused")
    assert manifest["tuning"]["best_config"] == summary["best_config"] == manifest["config"]
    assert manifest["fit_report"]["weights"]


def test_fusion_without_content_is_a_clear_error() -> None:
    sessions, _, _ = noisy_tail()
    with pytest.raises(ConfigError, match="no trial could be trained.*fusion needs content"):
        tune_method(sessions, "fusion", base_config=START)


def test_a_base_version_is_refitted_on_validation_train_for_the_search_and_fused_at_the_end(tmp_path: Path) -> None:
    from behemb_core.train import train_version

    sessions, cluster, _ = noisy_tail()
    store = Store(tmp_path / "store")
    dataset = Dataset(sessions=sessions, drops={}, notes={}, source={"kind": "test"}, options=SessionOptions())
    train_version(store, "ppmi_svd", {"dim": 16, "window": 3}, dataset=dataset, name="beh")
    tune_and_train(store, "fusion", dataset=dataset, name="fused-beh", base_version="beh", seed=0,
                   base_config={"tail_events": start_config()["tail_events"]},
                   content=cluster_content(sessions, cluster))
    manifest = store.manifest("fused-beh")
    base = manifest["tuning"]["protocol"]["base"]
    assert base["method"] == "ppmi_svd" and base["config"]["window"] == 3 and base["fits"] == 1
    assert manifest["base_version"] == "beh" and manifest["config"]["base_config"]["window"] == 3


def test_cli_tunes_fusion_on_a_stored_base_version(tmp_path: Path, capsys) -> None:
    """`tune --base-version` builds on the stored behavior version (refitted on the validation split for the
    search only); a method that builds on nothing refuses the option before any data is read."""
    sessions, cluster, rare_below = noisy_tail()
    path = tmp_path / "sessions.jsonl"
    with open(path, "w") as fh:
        for sid, items in zip(sessions.session_ids, sessions.to_lists(), strict=True):
            fh.write(json.dumps({"session_id": sid, "items": items}) + "\n")
    names = pd.DataFrame({"item_id": sessions.vocab.ids, "name": [f"group{c} group{c} item" for c in cluster]})
    meta = tmp_path / "items.csv"
    names.to_csv(meta, index=False)
    store = tmp_path / "store"
    assert main(["train", "--input", str(path), "--method", "ppmi_svd", "--set", "dim=16", "--store", str(store),
                 "--version", "beh", "--quiet"]) == 0
    capsys.readouterr()
    code = main(["tune", "--input", str(path), "--item-meta", str(meta), "--method", "fusion", "--base-version",
                 "beh", "--set", "text_dim=24", "--store", str(store), "--version", "fused", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    manifest = Store(store).manifest("fused")
    assert manifest["base_version"] == "beh" and manifest["tuning"]["best_config"] == manifest["config"]
    assert json.loads(out)["version"] == "fused"
    code = main(["tune", "--input", str(tmp_path / "absent.jsonl"), "--method", "ppmi_svd", "--base-version", "beh",
                 "--store", str(store), "--quiet"])
    err = capsys.readouterr().err
    assert code != 0 and "cannot use --base-version" in err and "absent" not in err
