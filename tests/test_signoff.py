"""The sign-off gate end to end: checks, approve, publish, rollback, verify and index skew, via the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from behemb_core.cli import main
from behemb_core.embeddings import make_embeddings
from behemb_core.signoff import SignoffPolicy, signoff_checks
from behemb_core.store import Store
from behemb_core.synthetic import planted_sessions


@pytest.fixture()
def workspace(tmp_path):
    planted = planted_sessions(n_items=300, n_clusters=15, n_sessions=3000, zipf_exponent=0.5, seed=5)
    path = tmp_path / "sessions.jsonl"
    with open(path, "w") as fh:
        for sid, items in zip(planted.sessions.session_ids, planted.sessions.to_lists(), strict=True):
            fh.write(json.dumps({"session_id": sid, "items": items}) + "\n")
    return tmp_path, path, planted


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _train(capsys, store, data, version, *extra):
    code, out, err = cli(capsys, "train", "--method", "ppmi_svd", "--input", data, "--store", store,
                         "--version", version, "--set", "dim=16", "--evaluate", "--noise-floor", "--quiet", *extra)
    assert code == 0, err
    return json.loads(out)


# Nothing published, no golden pair marked and no ANN index built: these four have nothing to judge — warnings,
# never passes. ("served neighbors match" cannot judge any version without an index, first or not: SERVED.)
SERVED = "served neighbors match"
FIRST = ("same catalogue as published", "stability vs published", "golden pairs", SERVED)
ACK_FIRST = [arg for name in FIRST for arg in ("--acknowledge", name)]
ACK_SERVED = ["--acknowledge", SERVED]


def test_good_version_passes_every_check_that_can_judge(workspace, capsys):
    tmp, data, _ = workspace
    _train(capsys, tmp / "s", data, "good")
    checks, details = signoff_checks(Store(tmp / "s"), "good")
    assert [c.name for c in checks] == [
        "files intact", "vectors valid", "unique ids", "quality vs item-kNN", "no popularity collapse",
        "same catalogue as published", "stability vs published", "golden pairs", "served neighbors match",
    ]
    judged = [c for c in checks if c.name not in FIRST]
    assert all(c.passed for c in judged), [c for c in judged if not c.passed]
    assert {c.state for c in judged} == {"pass"} and not any(c.could_not_judge for c in judged)
    first = [c for c in checks if c.name in FIRST]
    assert {c.state for c in first} == {"warning"} and all(c.could_not_judge and not c.passed for c in first)
    assert "nothing is published yet" in first[0].could_not_judge
    assert "first published version" in details["summary"]["sentence"]
    assert details["evaluation"]["comparison"]["beats_most_popular"]


def test_collapsed_version_needs_override_and_missing_evaluation_needs_ack(workspace, capsys):
    tmp, data, planted = workspace
    store = Store(tmp / "s")
    # A collapsed version: the 10 most popular items sit on one direction u and every other item leans
    # towards it, so the popular ten fill everybody's top-10 list.
    sessions = planted.sessions
    rng = np.random.default_rng(0)
    # (cos to a popular item 1/√2 ≈ 0.71 beats cos between two others ≈ (1 + r·r')/2 ≈ 0.6 in 128 dimensions)
    u = np.zeros(128)
    u[0] = 1.0
    vec = rng.normal(size=(sessions.n_items, 128))
    vec /= np.linalg.norm(vec, axis=1, keepdims=True)
    vec += u
    top = np.argsort(-sessions.item_counts())[:10]
    vec[top] = u + 0.01 * rng.normal(size=(10, 128))
    store.save_version(make_embeddings(sessions.vocab, vec), manifest={"method": "item2vec"}, name="bad",
                       item_stats=sessions.item_stats())
    checks, _ = signoff_checks(store, "bad")
    by_name = {c.name: c for c in checks}
    assert not by_name["no popularity collapse"].passed and not by_name["no popularity collapse"].acknowledgeable
    assert not by_name["quality vs item-kNN"].passed and by_name["quality vs item-kNN"].acknowledgeable
    code, out, err = cli(capsys, "approve", "--store", tmp / "s", "--version", "bad", "--by", "ana",
                         "--acknowledge", "quality vs item-kNN", "--quiet")
    assert code == 1 and "no popularity collapse" in err and "--override" in err
    code, out, err = cli(capsys, "approve", "--store", tmp / "s", "--version", "bad", "--by", "ana",
                         "--acknowledge", "quality vs item-kNN", "--override", "--note", "demo only", "--quiet")
    assert code == 0, err
    record = json.loads(out)
    assert record["override"] is True and "no popularity collapse" in record["failed"]


def test_publish_rollback_verify_and_index_skew(workspace, capsys, tmp_path):
    tmp, data, _ = workspace
    store = tmp / "s"
    _train(capsys, store, data, "v1")
    code, out, err = cli(capsys, "publish", "--store", store, "--version", "v1", "--by", "ana")
    assert code == 1 and "approved" in err  # a draft cannot be published
    code, _, err = cli(capsys, "approve", "--store", store, "--version", "v1", "--by", "ana", "--quiet")
    assert code == 1 and "same catalogue as published" in err  # nothing to compare with: a person decides
    assert cli(capsys, "approve", "--store", store, "--version", "v1", "--by", "ana", "--quiet", *ACK_FIRST)[0] == 0
    assert cli(capsys, "publish", "--store", store, "--version", "v1", "--by", "ana")[0] == 0
    published_bytes = (store / "versions" / "v1" / "embeddings.parquet").read_bytes()

    # An ANN index is built from v1's export and registered.
    assert cli(capsys, "export", "--store", store, "--version", "v1", "--format", "npy", "--out", tmp / "exp")[0] == 0
    assert cli(capsys, "register-index", "--store", store, "--index", "main-ann", "--export",
               tmp / "exp" / "export.json")[0] == 0
    code, out, _ = cli(capsys, "verify", "--store", store)
    assert code == 0 and json.loads(out)["ok"] is True

    # v2 (another seed) is compared with the published v1 inside the noise floor, approved and published.
    _train(capsys, store, data, "v2", "--seed", "3")
    checks, details = signoff_checks(Store(store), "v2")
    stability = next(c for c in checks if c.name == "stability vs published")
    assert stability.passed and details["stability"]["verdict"] == "within_noise"
    assert cli(capsys, "approve", "--store", store, "--version", "v2", "--by", "bo", "--quiet",
               "--acknowledge", "golden pairs", *ACK_SERVED)[0] == 0  # none marked yet, no index for v2
    assert cli(capsys, "publish", "--store", store, "--version", "v2", "--by", "bo")[0] == 0

    # The index still serves v1: verify reports index skew and fails.
    code, out, _ = cli(capsys, "verify", "--store", store)
    report = json.loads(out)
    assert code == 1 and not report["ok"]
    assert any("main-ann" in p and "v1" in p and "v2" in p for p in report["problems"])

    code, out, _ = cli(capsys, "rollback", "--store", store, "--by", "bo")
    assert code == 0 and json.loads(out)["version"] == "v1"
    code, out, _ = cli(capsys, "versions", "--store", store, "--json")
    status = {row["version"]: row["status"] for row in json.loads(out)}
    assert status == {"v1": "published", "v2": "approved"}
    code, out, _ = cli(capsys, "audit", "--store", store, "--json")
    actions = [(e["action"], e["version"]) for e in json.loads(out)]
    assert actions == [("approve", "v1"), ("publish", "v1"), ("approve", "v2"), ("publish", "v2"),
                       ("rollback", "v1")]
    assert (store / "versions" / "v1" / "embeddings.parquet").read_bytes() == published_bytes


def test_diagnose_and_compare_commands(workspace, capsys, tmp_path):
    tmp, data, _ = workspace
    store = tmp / "s"
    _train(capsys, store, data, "a")
    _train(capsys, store, data, "b", "--seed", "9")
    code, out, _ = cli(capsys, "diagnose", "--store", store, "--version", "a")
    assert code == 0 and json.loads(out)["verdict"] == "ok"
    code, out, err = cli(capsys, "compare", "--store", store, "a", "b", "--csv", tmp_path / "ov.csv")
    assert code == 0, err
    report = json.loads(out)
    assert report["verdict"] == "within_noise" and report["counts"]["shared"] > 250
    assert set(report["popularity"]) == {"a", "b"} and report["quality"]["a"]["hr@10"] > 0
    lines = (tmp_path / "ov.csv").read_text().splitlines()
    assert lines[0].startswith("item_id,") and len(lines) == report["counts"]["shared"] + 1


def test_policy_is_validated():
    with pytest.raises(ValueError):
        SignoffPolicy(knn_tolerance=-1)


def test_golden_pairs_are_rechecked_for_every_version(workspace, capsys):
    from behemb_core.neighbors import item_neighbors
    from behemb_core.store.golden import mark_pair

    tmp, data, _ = workspace
    _train(capsys, tmp / "s", data, "g1")
    store = Store(tmp / "s")
    emb = store.load_version("g1").embeddings
    query = int(emb.vocab.ids[0])
    top = [r["item_id"] for r in item_neighbors(emb, query, 10)]
    far = [int(i) for i in emb.vocab.ids if int(i) not in top and int(i) != query][-1]
    mark_pair(store, query, top[0], label="good", by="pm")
    checks, details = signoff_checks(store, "g1")
    golden = next(c for c in checks if c.name == "golden pairs")
    assert golden.passed and details["golden"]["good_kept"] == 1
    mark_pair(store, query, far, label="good", by="pm")  # a pair this version does not keep
    mark_pair(store, query, top[1], label="bad", by="pm")  # a pair it shows but should not
    checks, details = signoff_checks(store, "g1")
    golden = next(c for c in checks if c.name == "golden pairs")
    assert not golden.passed and golden.acknowledgeable
    assert details["golden"]["good_lost"] == 1 and details["golden"]["bad_present"] == 1


def _shifted_copy(data, path, offset):
    """The same sessions with every item id moved by ``offset``: a click log of another catalogue."""
    with open(data) as src, open(path, "w") as dst:
        for line in src:
            rec = json.loads(line)
            dst.write(json.dumps({"session_id": rec["session_id"], "items": [i + offset for i in rec["items"]]}) + "\n")
    return path


def test_version_for_another_catalogue_is_never_a_silent_pass(workspace, capsys):
    from behemb_core.neighbors import item_neighbors
    from behemb_core.store.golden import mark_pair

    tmp, data, _ = workspace
    store = Store(tmp / "s")
    _train(capsys, tmp / "s", data, "shopA")
    emb = store.load_version("shopA").embeddings
    query = int(emb.vocab.ids[0])
    top = [r["item_id"] for r in item_neighbors(emb, query, 10)]
    mark_pair(store, query, top[0], label="good", by="pm")
    mark_pair(store, query, top[1], label="good", by="pm")
    assert cli(capsys, "approve", "--store", tmp / "s", "--version", "shopA", "--by", "ana", "--quiet",
               *ACK_FIRST[:4], *ACK_SERVED)[0] == 0
    assert cli(capsys, "publish", "--store", tmp / "s", "--version", "shopA", "--by", "ana")[0] == 0

    _train(capsys, tmp / "s", _shifted_copy(data, tmp / "other.jsonl", 100_000), "shopB")
    checks, details = signoff_checks(store, "shopB")
    by_name = {c.name: c for c in checks}
    cat, stab, gold = (by_name[n] for n in ("same catalogue as published", "stability vs published", "golden pairs"))
    assert cat.state == "warning" and cat.value == 0.0 and "another catalogue" in cat.detail
    assert "different data" in cat.detail
    assert stab.state == "warning" and not stab.passed and "share no items" in stab.could_not_judge
    assert gold.state == "warning" and not gold.passed and "none of the 2 golden pairs" in gold.could_not_judge
    summary = details["summary"]
    assert (summary["added"], summary["removed"], summary["median_jaccard"]) == (300, 300, None)
    assert "300 items added and 300 removed" in summary["sentence"]

    code, out, err = cli(capsys, "approve", "--store", tmp / "s", "--version", "shopB", "--by", "ana", "--quiet")
    assert code == 1 and '--acknowledge "same catalogue as published"' in err
    assert '--acknowledge "stability vs published"' in err and '--acknowledge "golden pairs"' in err
    assert "[warning] golden pairs" in err and "override=True" not in err
    code, out, err = cli(capsys, "approve", "--store", tmp / "s", "--version", "shopB", "--by", "ana", "--quiet",
                         "--acknowledge", "stability vs published", "--acknowledge", "golden pairs", *ACK_SERVED)
    assert code == 1 and '“same catalogue as published” is a warning' in err
    code, out, err = cli(capsys, "approve", "--store", tmp / "s", "--version", "shopB", "--by", "ana", "--quiet",
                         "--acknowledge", "stability vs published", "--acknowledge", "golden pairs",
                         "--acknowledge", "same catalogue as published", *ACK_SERVED)
    assert code == 0, err
    assert set(json.loads(out)["acknowledged"]) == {"same catalogue as published", "stability vs published",
                                                    "golden pairs", SERVED}


def test_too_few_shared_items_cannot_be_judged(workspace, capsys):
    tmp, data, _ = workspace
    store = Store(tmp / "s")
    _train(capsys, tmp / "s", data, "shopA")
    assert cli(capsys, "approve", "--store", tmp / "s", "--version", "shopA", "--by", "ana", "--quiet",
               *ACK_FIRST)[0] == 0
    assert cli(capsys, "publish", "--store", tmp / "s", "--version", "shopA", "--by", "ana")[0] == 0
    _train(capsys, tmp / "s", data, "retrain")
    checks, _ = signoff_checks(store, "retrain", policy=SignoffPolicy(min_shared_items=1000))
    stab = next(c for c in checks if c.name == "stability vs published")
    assert stab.state == "warning" and "too few" in stab.could_not_judge and "1000" in stab.could_not_judge
    checks, details = signoff_checks(store, "retrain")
    by_name = {c.name: c for c in checks}
    assert by_name["same catalogue as published"].state == "pass"
    assert "same data" in by_name["same catalogue as published"].detail
    assert by_name["stability vs published"].could_not_judge is None
    assert details["summary"]["added"] == 0 and details["summary"]["quality_delta"] == 0.0
