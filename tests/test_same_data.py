"""Two versions scored on the same, newest data: the paired HR@k difference with its interval tells "better now"
from chance, and the report says which sessions were held out and whose score is optimistic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from behemb_core.compare.same_data import compare_on_same_data
from behemb_core.embeddings import make_embeddings
from behemb_core.errors import ConfigError
from behemb_core.ingest import read_session_jsonl
from behemb_core.store import Store, StoredVersion
from behemb_core.synthetic import planted_sessions
from behemb_core.train import train_version


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from conftest import write_sessions_jsonl

    root = tmp_path_factory.mktemp("same")
    old = planted_sessions(n_items=300, n_clusters=15, n_sessions=3000, seed=1).sessions
    new = planted_sessions(n_items=300, n_clusters=15, n_sessions=1500, seed=2).sessions  # same clusters, new data
    old_data = read_session_jsonl(write_sessions_jsonl(root / "old.jsonl", old))
    new_data = read_session_jsonl(write_sessions_jsonl(root / "new.jsonl", new))
    store = Store(str(root / "store"))
    train_version(store, "ppmi_svd", {"dim": 16}, dataset=old_data, seed=0, name="a")
    train_version(store, "ppmi_svd", {"dim": 16}, dataset=old_data, seed=1, name="a_seed1")
    a = store.load_version("a")
    rng = np.random.default_rng(0)
    noise = make_embeddings(a.embeddings.vocab, rng.standard_normal((len(a.embeddings), 16)))
    bad = StoredVersion(name="random", manifest={}, embeddings=noise, item_meta=None, item_stats=None)
    return store, old_data, new_data, a, store.load_version("a_seed1"), bad


def test_cli_compare_with_input_scores_both_on_it(setup, tmp_path: Path, capsys) -> None:
    import json

    from behemb_core.cli import main

    store, _, new_data, _, _, _ = setup
    path = new_data.manifest_section()["source"]["paths"][0]
    assert main(["compare", "--store", store.root, "a", "a_seed1", "--input", path, "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    same = report["same_data"]
    assert same["held_out"] == "all" and same["a"]["name"] == "a" and same["b"]["name"] == "a_seed1"
    assert same["pairs"] > 0 and "next-item pairs" in same["sentence"]
    assert "overall" in report  # the stability report is still there


def test_a_real_difference_is_beyond_chance_and_a_reseed_is_not(setup) -> None:
    _, _, new_data, a, reseeded, bad = setup
    worse = compare_on_same_data(a, bad, new_data.sessions, k=10, n_boot=200)
    assert worse["held_out"] == "all" and worse["item_knn"] is None
    assert worse["a"]["hr"] > 0.2 and worse["b"]["hr"] < 0.08  # random lists hit ~10/300 of the time
    assert worse["beyond_chance"] and worse["difference_ci95"][1] < 0
    assert worse["difference"] == pytest.approx(worse["b"]["hr"] - worse["a"]["hr"])
    assert "random is worse beyond chance" in worse["sentence"]
    same = compare_on_same_data(a, reseeded, new_data.sessions, k=10, n_boot=200)
    assert not same["beyond_chance"] and same["difference_ci95"][0] <= 0 <= same["difference_ci95"][1]
    assert "within chance" in same["sentence"]
    assert same["pairs"] == worse["pairs"] > 0  # the same pairs for every comparison of this data


def test_training_data_is_split_by_time_and_said_to_be_optimistic(setup) -> None:
    _, old_data, _, a, reseeded, _ = setup
    report = compare_on_same_data(a, reseeded, old_data.sessions, k=10, n_boot=50)
    assert report["held_out"] == "last share by time" and report["item_knn"] is not None
    assert report["sessions"] < old_data.sessions.n_sessions
    assert "a and a_seed1 were trained on these sessions" in report["notes"][0]
    for block in (report["a"], report["b"], report["item_knn"]):
        lo, hi = block["ci95"]
        assert lo <= block["hr"] <= hi


def test_bad_arguments_are_named(setup) -> None:
    _, _, new_data, a, reseeded, _ = setup
    with pytest.raises(ConfigError, match="k must be at least 1"):
        compare_on_same_data(a, reseeded, new_data.sessions, k=0)
    with pytest.raises(ConfigError, match="n_boot"):
        compare_on_same_data(a, reseeded, new_data.sessions, n_boot=0)


def test_deterministic_for_a_seed(setup) -> None:
    _, _, new_data, a, reseeded, _ = setup
    one = compare_on_same_data(a, reseeded, new_data.sessions, n_boot=100, seed=3)
    two = compare_on_same_data(a, reseeded, new_data.sessions, n_boot=100, seed=3)
    assert one == two
