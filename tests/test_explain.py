"""Neighbour evidence on sessions whose counts are known by hand."""

from __future__ import annotations

import numpy as np

from behemb_core.embeddings import make_embeddings
from behemb_core.explain import Evidence, explain_neighbors
from behemb_core.vocab import Vocabulary
from behemb_core.synthetic import sessions_from_lists


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
