"""The command line end to end: train every method, list, neighbors, export, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import write_sessions_jsonl

from behemb_core.cli import main
from behemb_core.synthetic import planted_sessions

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    planted = planted_sessions(n_items=200, n_clusters=10, n_sessions=2500, seed=3)
    write_sessions_jsonl(root / "sessions.jsonl", planted.sessions)
    with open(root / "items.csv", "w") as fh:
        fh.write("item_id,name\n")
        for i in range(200):
            fh.write(f"{i},product {i} of family {i % 10}\n")
        for i in range(200, 210):  # catalogue items nobody has interacted with yet: cold start
            fh.write(f"{i},new product {i} of family {i % 10}\n")
    return root


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_train_all_methods_then_list_and_query(workspace, capsys):
    store = workspace / "store"
    common = ["--input", workspace / "sessions.jsonl", "--item-meta", workspace / "items.csv", "--store", store,
              "--quiet", "--set", "dim=16"]
    versions = {}
    for method, extra in [
        ("ppmi_svd", []),
        ("item2vec", ["--set", "epochs=3", "--set", "workers=1"]),
        ("graph", ["--set", "epochs=2", "--set", "walks_per_node=4", "--set", "workers=1"]),
    ]:
        code, out, err = run(capsys, "train", "--method", method, *common, *extra)
        assert code == 0, err
        summary = json.loads(out)
        assert summary["method"] == method and summary["dim"] == 16 and summary["items"] >= 195
        versions[method] = summary["version"]
    # Fusion over a stored base version, content from the item names; cold-start items get vectors.
    code, out, err = run(capsys, "train", "--method", "fusion", "--base-version", versions["ppmi_svd"],
                         "--item-meta", workspace / "items.csv", "--store", store, "--version", "fused-1", "--quiet")
    assert code == 0, err
    assert json.loads(out)["items"] == 210

    code, out, _ = run(capsys, "versions", "--store", store, "--json")
    listed = {row["version"]: row for row in json.loads(out)}
    assert set(listed) == {*versions.values(), "fused-1"}
    assert all(row["status"] == "draft" for row in listed.values())

    code, out, _ = run(capsys, "neighbors", "--store", store, "--version", versions["ppmi_svd"], "--item", "7",
                       "-k", "5", "--json")
    result = json.loads(out)
    assert result["query"]["name"] == "product 7 of family 7"
    assert len(result["neighbors"]) == 5
    assert all(n["name"].endswith("family 7") for n in result["neighbors"][:4])

    # Training popularity travels with every version (and from the base version to the fused one).
    from behemb_core.store import Store

    for name in (versions["ppmi_svd"], "fused-1"):
        stats = Store(store).load_version(name).item_stats
        n_events = sum(len(json.loads(line)["items"]) for line in open(workspace / "sessions.jsonl"))
        assert stats["events"].sum() == n_events
        assert (stats["sessions"] <= stats["events"]).all() and (stats["sessions"] >= 1).all()

    table = pq.read_table(store / "versions" / "fused-1" / "embeddings.parquet")
    sources = table.column("source").to_pylist()
    assert sources.count("content_only") == 10
    assert set(table.column("behavior_emb_version").to_pylist()) == {versions["ppmi_svd"]}


def test_export_formats(workspace, capsys, tmp_path):
    store = workspace / "store-export"
    code, out, err = run(capsys, "train", "--method", "ppmi_svd", "--input", workspace / "sessions.jsonl",
                         "--store", store, "--version", "v1", "--set", "dim=8", "--quiet")
    assert code == 0, err
    code, out, err = run(capsys, "export", "--store", store, "--version", "v1", "--format", "npy",
                         "--out", tmp_path / "npy")
    assert code == 0, err
    vectors = np.load(tmp_path / "npy" / "embeddings.npy", allow_pickle=False)
    ids = json.loads((tmp_path / "npy" / "ids.json").read_text())
    assert vectors.shape == (len(ids), 8)
    code, out, err = run(capsys, "export", "--store", store, "--version", "v1", "--format", "jsonl",
                         "--out", tmp_path / "e.jsonl")
    assert code == 0, err
    lines = (tmp_path / "e.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert len(lines) == len(ids) and first["id"] == ids[0]
    np.testing.assert_array_equal(np.float32(first["embedding"]), vectors[0])


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["train", "--method", "ppmi_svd", "--input", "missing.jsonl"], "missing.jsonl"),
        (["train", "--method", "ppmi_svd", "--input", "{sessions}", "--set", "alpha=7"], "alpha=7"),
        (["train", "--method", "ppmi_svd", "--input", "{sessions}", "--set", "nope=1"], "nope"),
        (["train", "--method", "ppmi_svd", "--input", "{sessions}", "--version", "../escape"], "../escape"),
        (["train", "--method", "fusion", "--store", "{store}"], "--input"),
        (["neighbors", "--store", "{store}", "--version", "absent", "--item", "1"], "absent"),
        (["summarize", "--input", "{bad}"], "line 2"),
    ],
)
def test_bad_input_is_one_line_error_with_exit_1(workspace, capsys, argv, needle):
    bad = workspace / "bad.jsonl"
    bad.write_text('{"session_id": "a", "items": [1, 2]}\n{"session_id": "b", "items": [1, \n')
    argv = [a.format(sessions=workspace / "sessions.jsonl", store=workspace / "store-err", bad=bad) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 1
    assert out == ""
    errors = [line for line in err.strip().splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and err.strip().splitlines()[-1] == errors[0] and needle in errors[0], err
    assert "Traceback" not in err


def test_existing_version_is_refused_and_unchanged(workspace, capsys):
    store = workspace / "store-immutable"
    args = ["train", "--method", "ppmi_svd", "--input", workspace / "sessions.jsonl", "--store", store,
            "--version", "keep", "--set", "dim=8", "--quiet"]
    assert run(capsys, *args)[0] == 0
    before = (store / "versions" / "keep" / "embeddings.parquet").read_bytes()
    code, out, err = run(capsys, *args[:-3], "--set", "dim=12", "--quiet")
    assert code == 1 and "already exists" in err
    assert (store / "versions" / "keep" / "embeddings.parquet").read_bytes() == before


def test_module_entry_point_progress_on_stderr(workspace, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "behemb_core", "train", "--method", "ppmi_svd", "--input",
         str(workspace / "sessions.jsonl"), "--store", str(tmp_path / "s"), "--set", "dim=8"],
        capture_output=True, text=True, cwd=REPO, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["method"] == "ppmi_svd"
    assert "svd" in proc.stderr and "%" in proc.stderr


def test_evaluate_method_and_stored_version(workspace, capsys):
    code, out, err = run(capsys, "evaluate", "--input", workspace / "sessions.jsonl", "--method", "ppmi_svd",
                         "--set", "dim=16", "--k", "5,10", "--seeds", "0,1", "--bootstrap", "20", "--quiet")
    assert code == 0, err
    report = json.loads(out)
    assert report["k"] == [5, 10] and report["method"]["seeds"] == [0, 1]
    assert {"most_popular", "item_knn"} <= set(report["baselines"])
    # (quality claims are tested on data with a known answer in test_evaluate/test_real_data)
    assert 0 < report["method"]["hr@10"] <= 1 and report["comparison"]["k"] == 10

    store = workspace / "store-eval"
    assert run(capsys, "train", "--method", "ppmi_svd", "--input", workspace / "sessions.jsonl", "--store", store,
               "--version", "e1", "--set", "dim=16", "--quiet")[0] == 0
    code, out, err = run(capsys, "evaluate", "--input", workspace / "sessions.jsonl", "--store", store,
                         "--version", "e1", "--bootstrap", "0", "--quiet")
    assert code == 0, err
    report = json.loads(out)
    assert report["method"]["name"] == "e1" and "item_knn" in report["baselines"]
    assert any("optimistic" in note for note in report["notes"])  # trained on the very same sessions
    code, out, err = run(capsys, "evaluate", "--input", workspace / "sessions.jsonl", "--quiet")
    assert code == 1 and "--method" in err


def test_neighbors_explain_needs_and_uses_sessions(workspace, capsys):
    store = workspace / "store-explain"
    assert run(capsys, "train", "--method", "ppmi_svd", "--input", workspace / "sessions.jsonl", "--store", store,
               "--version", "x1", "--set", "dim=16", "--item-meta", workspace / "items.csv", "--quiet")[0] == 0
    code, out, err = run(capsys, "neighbors", "--store", store, "--version", "x1", "--item", "7", "--explain")
    assert code == 1 and "--input" in err
    code, out, err = run(capsys, "neighbors", "--store", store, "--version", "x1", "--item", "7", "--explain",
                         "--input", workspace / "sessions.jsonl", "--json", "--quiet")
    assert code == 0, err
    report = json.loads(out)
    assert report["query"]["name"] == "product 7 of family 7"
    assert all(n["sessions_together"] >= 0 and "ppmi" in n for n in report["neighbors"])
    assert report["without_direct_support"] == sum(n["no_direct_support"] for n in report["neighbors"])
    assert report["evidence_source"] == "training_data" and report["window"] == 5  # ppmi_svd's default window


def test_neighbors_explain_over_other_data_says_so_without_counts(workspace, capsys, tmp_path):
    store = workspace / "store-explain-other"
    assert run(capsys, "train", "--method", "ppmi_svd", "--input", workspace / "sessions.jsonl", "--store", store,
               "--version", "x1", "--set", "dim=16", "--quiet")[0] == 0
    other = tmp_path / "other.jsonl"
    with open(other, "w") as fh:
        for s in range(50):
            fh.write(json.dumps({"session_id": f"o{s}", "items": [s % 7, 7, (s + 3) % 11]}) + "\n")
    args = ["neighbors", "--store", store, "--version", "x1", "--item", "7", "--explain", "--input", other, "--quiet"]
    code, out, err = run(capsys, *args, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["evidence_source"] == "other_data" and report["without_direct_support"] is None
    assert not any("cooccurrences" in n for n in report["neighbors"])
    code, out, err = run(capsys, *args)
    assert code == 0 and "not the one this version was trained on" in out and "no direct" not in out


def test_compare_versions_of_different_catalogues_exits_0_with_the_reason(workspace, capsys, tmp_path):
    """A reference with a noise floor against a version trained on another dataset (no shared item)."""
    other = tmp_path / "other.jsonl"
    with open(other, "w") as fh:
        for s in range(300):
            fh.write(json.dumps({"session_id": f"o{s}", "items": [f"x{(s + j) % 40}" for j in range(4)]}) + "\n")
    store = tmp_path / "store"
    base = ["--store", store, "--quiet", "--set", "dim=8", "--method", "ppmi_svd"]
    assert run(capsys, "train", "--input", workspace / "sessions.jsonl", *base, "--noise-floor",
               "--version", "ref")[0] == 0
    assert run(capsys, "train", "--input", other, *base, "--version", "other")[0] == 0
    code, out, err = run(capsys, "compare", "--store", store, "ref", "other")
    assert code == 0, err
    report = json.loads(out)
    assert report["verdict"] is None and report["counts"]["shared"] == 0
    assert "no items in common" in report["no_verdict_reason"] and "different data" in report["no_verdict_reason"]
    assert set(report["popularity"]) == {"ref", "other"}


def test_settings_show_and_set_the_interaction_verb_used_by_neighbors(workspace, capsys, tmp_path):
    store = tmp_path / "store"
    code, out, _ = run(capsys, "train", "--input", workspace / "sessions.jsonl", "--store", store,
                       "--method", "ppmi_svd", "--set", "dim=8", "--version", "v", "--quiet")
    assert code == 0
    code, out, _ = run(capsys, "settings", "--store", store)
    assert code == 0 and json.loads(out) == {"interaction": None}
    code, out, _ = run(capsys, "neighbors", "--store", store, "--version", "v", "--item", "3", "-k", "2")
    assert code == 0 and out.startswith("# People who bought 3 also bought:")  # sessions, no event types: bought
    code, out, _ = run(capsys, "settings", "--store", store, "--interaction", "viewed")
    assert code == 0 and json.loads(out) == {"interaction": "viewed"}
    code, out, _ = run(capsys, "neighbors", "--store", store, "--version", "v", "--item", "3", "-k", "2")
    assert out.startswith("# People who viewed 3 also viewed:")
    code, out, _ = run(capsys, "settings", "--store", store, "--interaction", "automatic")
    assert json.loads(out) == {"interaction": None}
    (store / "settings.json").write_text('{"interaction": "liked"}')
    code, _, err = run(capsys, "settings", "--store", store)
    assert code == 1 and "settings.json" in err and "'liked'" in err
