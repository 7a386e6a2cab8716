"""The "next item" evidence: forward co-occurrence (b after a) on planted sequences whose counts are known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from behemb_core.embeddings import DirectionalPair, l2_normalize, make_embeddings
from behemb_core.errors import ConfigError
from behemb_core.explain import ForwardEvidence, evidence_plan, explain_version, implied_weighting
from behemb_core.methods.registry import DEFAULT_METHOD, get_method
from behemb_core.store.filestore import StoredVersion
from behemb_core.synthetic import sessions_from_lists

# a → b always (b right after a, or two after), never b before a; c shares sessions with a but only before it.
PLANTED = [["a", "b"], ["a", "b", "x"], ["c", "a", "b"], ["a", "y", "b"], ["c", "x"], ["y", "x"]]


def _weighted_method() -> tuple[str, dict]:
    """The default method with a harmonic (1/d) pair weighting, if it fits a target (it weighs pairs so)."""
    spec = get_method(DEFAULT_METHOD)
    assert spec.target is not None and "directional" in spec.config_class.model_fields
    return spec.name, {"window": 2, "weighting": "harmonic", "directional": True}


def test_forward_support_of_b_from_a_is_positive_and_of_a_from_b_zero():
    sessions = sessions_from_lists(PLANTED)
    fwd = ForwardEvidence.build(sessions, window=2, weighting="harmonic")
    ab, ba = fwd.pair("a", "b"), fwd.pair("b", "a")
    # a→b: distance 1 in s0, s1, s2; distance 2 in s3 (harmonic: 1/2).
    assert ab["forward_count"] == 4 and ab["forward"] == pytest.approx(3.5)
    assert ab["backward_count"] == 0
    assert ba["forward_count"] == 0 and ba["forward"] == 0.0 and ba["backward_count"] == 4
    # c comes before a (once), never after it.
    assert fwd.pair("a", "c")["forward_count"] == 0 and fwd.pair("c", "a")["forward_count"] == 1
    # The window bounds it: b two after a is not counted with window 1.
    assert ForwardEvidence.build(sessions, window=1).pair("a", "b")["forward_count"] == 3
    # Unknown ids have no evidence rather than an error.
    assert fwd.pair("a", "nope") == {"forward": 0.0, "forward_count": 0, "backward_count": 0}


def _directional_version(sessions, manifest_extra=None, *, with_pair=True) -> StoredVersion:
    """A version over ``sessions`` whose "next item" list of a is b, c, x, y (Q_a · K_·) — c scored above x on
    purpose: it shares sessions with a but never follows it — and whose symmetric list differs."""
    vocab = sessions.vocab
    n = len(vocab)
    rng = np.random.default_rng(0)
    emb = make_embeddings(vocab, rng.normal(size=(n, 4)))
    q = np.tile(np.array([[0.0, 0.0, 0.0, 1.0]], dtype=np.float32), (n, 1))
    k = np.tile(np.array([[1.0, 0.0, 0.0, 0.0]], dtype=np.float32), (n, 1))
    q[vocab.code("a")] = [1, 0, 0, 0]
    for item, s in (("b", 0.9), ("c", 0.7), ("x", 0.5), ("y", 0.3), ("a", -1.0)):
        k[vocab.code(item)] = [s, float(np.sqrt(1 - s * s)), 0, 0]
    pair = DirectionalPair(query=l2_normalize(q), candidate=l2_normalize(k), alpha=0.75)
    method, config = _weighted_method()
    manifest = {"method": method, "config": config, "dataset": {"fingerprint": sessions.fingerprint()},
                **(manifest_extra or {})}
    return StoredVersion(name="dir", manifest=manifest, embeddings=emb, item_meta=None, item_stats=None,
                         directional=pair if with_pair else None)


def test_explain_version_in_next_mode_lists_the_next_items_with_their_forward_support():
    sessions = sessions_from_lists(PLANTED)
    version = _directional_version(sessions)
    names = np.array([f"name-{i}" for i in version.embeddings.vocab.ids], dtype=object)
    out = explain_version(version, sessions, "a", k=4, names=names, mode="next")
    assert out["mode"] == "next" and out["evidence_source"] == "training_data"
    assert out["window"] == 2 and out["weighting"] == "harmonic"  # the method's own window and weighting
    rows = {r["item_id"]: r for r in out["neighbors"]}
    assert [r["item_id"] for r in out["neighbors"]] == ["b", "c", "x", "y"]
    assert rows["b"]["forward_count"] == 4 and rows["b"]["forward"] == pytest.approx(3.5)
    assert rows["b"]["no_direct_support"] is False and rows["b"]["name"] == "name-b"
    # c is in a session with a (so the symmetric evidence sees them together) but never after it: flagged.
    assert rows["c"]["sessions_together"] == 1 and rows["c"]["forward_count"] == 0
    assert rows["c"]["backward_count"] == 1 and rows["c"]["no_direct_support"] is True
    # x after a within 2 positions once (s1: a b x); y once (s3: a y b).
    assert rows["x"]["forward_count"] == 1 and rows["x"]["forward"] == pytest.approx(0.5)
    assert rows["y"]["forward_count"] == 1 and rows["y"]["forward"] == pytest.approx(1.0)
    assert out["without_direct_support"] == 1
    # From b, a is never "next": a's forward support from b is zero whatever the list says.
    fwd = ForwardEvidence.build(sessions, window=2, weighting="harmonic")
    assert fwd.pair("b", "a")["forward_count"] == 0

    # The symmetric mode of the same version is unchanged: no forward fields, its own list.
    also = explain_version(version, sessions, "a", k=4)
    assert also["mode"] == "also" and "forward_count" not in also["neighbors"][0]


def test_next_mode_needs_the_tables_and_the_training_data():
    sessions = sessions_from_lists(PLANTED)
    with pytest.raises(ConfigError, match="no \"next item\" tables"):
        explain_version(_directional_version(sessions, with_pair=False), sessions, "a", k=3, mode="next")
    other = sessions_from_lists([["p", "q"], ["q", "r"]])
    out = explain_version(_directional_version(sessions), other, "a", k=3, mode="next")
    assert out["evidence_source"] == "other_data" and out["without_direct_support"] is None
    assert [r["item_id"] for r in out["neighbors"]] == ["b", "c", "x"]  # listed, without any counts
    assert all("forward_count" not in r for r in out["neighbors"])
    with pytest.raises(ConfigError, match="mode"):
        evidence_plan({}, "x", mode="sideways")  # type: ignore[arg-type]


def test_the_plan_weighs_forward_pairs_as_the_method_does():
    method, config = _weighted_method()
    manifest = {"method": method, "config": config}
    assert implied_weighting(manifest) == "harmonic"
    assert implied_weighting({"method": method, "config": {**config, "weighting": "uniform"}}) == "uniform"
    assert evidence_plan(manifest, "x", mode="next").weighting == "harmonic"
    assert evidence_plan(manifest, "x").weighting == "uniform"  # the symmetric evidence counts raw pairs
    assert implied_weighting({"method": "no_such_method"}) == "uniform"


def test_the_command_line_explains_next_mode_with_forward_support(tmp_path, capsys):
    """`neighbors --mode next --explain --input …` prints each next item's forward and backward counts; the planted
    follower b has forward support from a, and the JSON carries the same counts as the library."""
    import json

    from behemb_core.cli import main
    from behemb_core.store import Store

    sessions = sessions_from_lists(PLANTED * 20)
    data = tmp_path / "s.jsonl"
    data.write_text("".join(json.dumps({"session_id": f"s{i}", "items": s}) + "\n"
                            for i, s in enumerate(PLANTED * 20)))
    store = Store(str(tmp_path / "store"))
    version = _directional_version(sessions)
    store.save_version(version.embeddings, manifest=version.manifest, name="dir", directional=version.directional)
    args = ["neighbors", "--store", str(tmp_path / "store"), "--version", "dir", "--item", "a", "-k", "3",
            "--mode", "next", "--explain", "--input", str(data)]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {r["item_id"]: r for r in report["neighbors"]}
    assert rows["b"]["forward_count"] == 80 and rows["b"]["backward_count"] == 0
    assert rows["c"]["forward_count"] == 0 and rows["c"]["no_direct_support"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "forward_count" in out and "never came after the item" in out
