"""Neighbor evidence on sessions whose counts are known by hand."""

from __future__ import annotations

import numpy as np

from behemb_core.embeddings import make_embeddings
from behemb_core.explain import Evidence, explain_neighbors
from behemb_core.synthetic import sessions_from_lists
from behemb_core.vocab import Vocabulary

_sessions = sessions_from_lists


def test_counts_sessions_examples_and_unsupported_flag():
    sessions = _sessions([["a", "b", "c"], ["a", "b"], ["b", "c"], ["d", "e"], ["a", "x", "y", "z"]])
    ev = Evidence.build(sessions, window=5)
    # Embedding: a's nearest is b, then d (never seen with a), then c.
    vocab = Vocabulary(["a", "b", "c", "d", "e", "x", "y", "z"])
    vec = np.zeros((8, 4), dtype=np.float32)
    vec[:, 3] = 0.05
    vec[vocab.code("a")] = [1, 0, 0, 0]
    vec[vocab.code("b")] = [0.95, 0.3, 0, 0]
    vec[vocab.code("d")] = [0.9, 0, 0.45, 0]
    vec[vocab.code("c")] = [0.8, 0.6, 0, 0]
    emb = make_embeddings(vocab, vec)
    names = np.array([f"name-{i}" for i in vocab.ids], dtype=object)
    out = explain_neighbors(emb, ev, "a", k=3, names=names, examples=5)
    rows = {r["item_id"]: r for r in out["neighbors"]}
    assert [r["item_id"] for r in out["neighbors"]] == ["b", "d", "c"]
    assert rows["b"]["sessions_together"] == 2 and rows["b"]["cooccurrences"] == 2
    assert rows["c"]["sessions_together"] == 1 and rows["c"]["cooccurrences"] == 1
    assert rows["d"]["no_direct_support"] is True and rows["d"]["sessions_together"] == 0
    assert out["without_direct_support"] == 1 and out["query"]["sessions"] == 3
    ex = rows["b"]["examples"]
    assert {e["session_id"] for e in ex} == {"s0", "s1"}
    first = next(e for e in ex if e["session_id"] == "s0")
    assert [i["item_id"] for i in first["items"]] == ["a", "b", "c"]
    assert [i["is_pair"] for i in first["items"]] == [True, True, False]
    assert first["items"][0]["name"] == "name-a"
    assert rows["b"]["ppmi"] > 0


def test_window_limits_cooccurrence_but_not_session_support():
    sessions = _sessions([["a", "m1", "m2", "m3", "b"], ["a", "b"]])
    ev = Evidence.build(sessions, window=2)
    pair = ev.pair("a", "b")
    assert pair["sessions_together"] == 2 and pair["cooccurrences"] == 1  # distance 4 > window in s0


def _stored_on(sessions, manifest_extra=None):
    from behemb_core.store.filestore import StoredVersion

    rng = np.random.default_rng(0)
    emb = make_embeddings(sessions.vocab, rng.normal(size=(sessions.n_items, 4)))
    manifest = {"method": "ppmi_svd", "config": {"window": 2},
                "dataset": {"fingerprint": sessions.fingerprint()}, **(manifest_extra or {})}
    return StoredVersion(name="v", manifest=manifest, embeddings=emb, item_meta=None, item_stats=None)


def test_evidence_comes_from_the_versions_own_training_data():
    from behemb_core.explain import evidence_plan, explain_version

    trained = _sessions([["a", "m1", "m2", "m3", "b"], ["a", "b"], ["b", "c"]])
    version = _stored_on(trained)
    out = explain_version(version, trained, "a", k=3)
    assert out["evidence_source"] == "training_data" and out["note"] is None
    assert out["window"] == 2  # the version's own window, for the CLI and the app alike
    assert {r["item_id"]: r["cooccurrences"] for r in out["neighbors"]}["b"] == 1
    # graph's evidence window is its edges' co-occurrence window, not its skip-gram window over the walks
    assert evidence_plan({"method": "graph", "config": {"window": 2, "cooc_window": 3}}, "x").window == 3
    assert evidence_plan({"method": "fusion"}, "x").window == 5  # its default base method's default window
    fused = {"method": "fusion", "config": {"base_method": "ppmi_svd", "base_config": {"window": 0}}}
    assert evidence_plan(fused, "x").window == 0  # trained in-process on a whole-session base
    assert evidence_plan({**fused, "base_version": "b1"}, "x").window == 5  # a stored base: its window is not here
    assert evidence_plan({"method": "no_such_method", "config": {"window": 3}}, "x").window == 5


def test_a_basket_version_is_explained_over_the_whole_session():
    """window=0 ("the whole session", as for baskets) is a window, not a missing one: the evidence counts pairs
    at any distance, as the version was trained."""
    from behemb_core.explain import evidence_plan, explain_version

    trained = _sessions([["a", "m1", "m2", "m3", "m4", "m5", "m6", "b"], ["a", "c"]])
    version = _stored_on(trained, {"config": {"window": 0}})
    assert evidence_plan(version.manifest, trained.fingerprint()).window == 0
    out = explain_version(version, trained, "a", k=9)
    assert out["window"] == 0
    counts = {r["item_id"]: r["cooccurrences"] for r in out["neighbors"]}
    assert counts["b"] == 1  # 7 positions apart: a 5-position window would have shown 0 ("no support")
    assert counts["c"] == 1


def test_other_data_gives_no_misleading_zero_counts():
    from behemb_core.explain import explain_version

    trained = _sessions([["a", "b"], ["b", "c"], ["a", "c"]])
    other = _sessions([["p", "q"], ["q", "r"]])  # another catalogue: every count would be 0
    out = explain_version(_stored_on(trained), other, "a", k=2)
    assert out["evidence_source"] == "other_data" and "not the one this version was trained on" in out["note"]
    assert out["without_direct_support"] is None and out["query"]["sessions"] is None
    assert [sorted(r) for r in out["neighbors"]] == [["item_id", "rank", "score"]] * 2  # no counts at all


def test_a_version_without_recorded_training_data_is_counted_with_a_note():
    from behemb_core.explain import explain_version

    sessions = _sessions([["a", "b"], ["b", "c"]])
    version = _stored_on(sessions)
    version.manifest.pop("dataset")
    out = explain_version(version, sessions, "a", k=2)
    assert out["evidence_source"] == "unverified" and "does not record its training data" in out["note"]
    assert out["without_direct_support"] is not None
