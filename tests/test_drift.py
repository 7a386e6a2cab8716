"""Drift of a version on new data (behemb_core.drift, ``python -m behemb_core drift``).

A planted drift on synthetic data — new items and reshuffled co-occurrences — must show in every part of the
report (coverage, decay, neighbor support, popularity) and make the verdict *stale* with exit code 4; data drawn
from the same clusters must be *fresh* (exit 0); nothing published, no overlap or no pairs *could not judge*
(exit 3), never fresh. On the shared Online Retail data the August version is stale on November.
"""

from __future__ import annotations

import glob
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import write_sessions_jsonl

from behemb_core.cli import main
from behemb_core.drift import (
    EXIT_COULD_NOT_JUDGE,
    EXIT_STALE,
    DriftThresholds,
    check_drift,
    drift_report,
    drift_reports,
    latest_drift_report,
    save_drift_report,
)
from behemb_core.errors import ConfigError, PermissionDenied
from behemb_core.sessions import DropLog, RawSessions, SessionOptions, Sessions, build_sessions
from behemb_core.store import Store, publish
from behemb_core.store.lifecycle import record_approval
from behemb_core.store.policy import StorePolicy, parse_policy
from behemb_core.synthetic import planted_arrays, sessions_from_lists
from behemb_core.train import train_version

N_OLD, N_NEW, CLUSTERS = 300, 60, 15


def _sessions(indptr: np.ndarray, items: np.ndarray, prefix: str) -> Sessions:
    n = len(indptr) - 1
    raw = RawSessions(indptr=indptr, item_ids=items, start_times=np.arange(n, dtype=np.int64) * 60_000_000_000,
                      session_ids=np.char.add(prefix, np.arange(n).astype(str)).astype(object))
    return build_sessions(raw, SessionOptions(), DropLog())


def _planted(seed: int, *, drift: bool) -> Sessions:
    """Without ``drift``: one half (seed 1: the training half, else the other) of 5,000 sessions over items
    0..N_OLD-1 in CLUSTERS clusters. With ``drift``: N_NEW new items join, the old items are shuffled between
    clusters (their co-occurrences change) and popularity is reordered."""
    if not drift:
        arr = planted_arrays(n_items=N_OLD, n_clusters=CLUSTERS, n_sessions=5000, seed=1)
        half = 0 if seed == 1 else 2500
        lo, hi = arr.indptr[half], arr.indptr[half + 2500]
        return _sessions(arr.indptr[half:half + 2501] - lo, arr.items[lo:hi], f"{seed}-")
    arr = planted_arrays(n_items=N_OLD + N_NEW, n_clusters=CLUSTERS, n_sessions=2500, seed=seed)
    perm = np.random.default_rng(99).permutation(N_OLD)
    items = np.where(arr.items < N_OLD, perm[np.minimum(arr.items, N_OLD - 1)], arr.items)
    return _sessions(arr.indptr, items, f"{seed}-")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("drift") / "store"
    store = Store(str(path))
    from behemb_core.ingest import Dataset

    train = _planted(1, drift=False)
    dataset = Dataset(sessions=train, drops={}, notes={}, source={"kind": "synthetic"}, options=SessionOptions())
    train_version(store, "cooc_softmax", {"dim": 32}, dataset=dataset, seed=0, evaluate=True, name="v1")
    return path


@pytest.fixture
def store(trained: Path, tmp_path: Path) -> Store:
    import shutil

    shutil.copytree(trained, tmp_path / "store")
    return Store(str(tmp_path / "store"))


def test_planted_drift_shows_in_every_part(store: Store) -> None:
    stored = store.load_version("v1")
    same = drift_report(stored, _planted(2, drift=False), n_boot=50)
    drifted = drift_report(stored, _planted(3, drift=True), n_boot=50)

    assert same["verdict"] == "fresh", same["reason"]
    assert same["reason"].startswith("every rule within its thresholds")
    assert same["coverage"] is not None and same["coverage"]["missing_events"] == 0
    assert drifted["verdict"] == "stale", drifted["reason"]
    assert drifted["reason"].startswith("retrain recommended")

    cov = drifted["coverage"]
    assert cov is not None
    assert cov["missing_items"] == N_NEW and cov["missing_items_share"] == pytest.approx(N_NEW / cov["items"])
    assert 0.08 < cov["missing_events_share"] < cov["missing_sessions_share"] < 1
    top_ids = [row["item_id"] for row in cov["top_missing"]]
    assert len(top_ids) == 10 and all(N_OLD <= i < N_OLD + N_NEW for i in top_ids)
    assert [r["events"] for r in cov["top_missing"]] == sorted((r["events"] for r in cov["top_missing"]), reverse=True)

    d_same, d_drift = same["decay"], drifted["decay"]
    assert d_same is not None and d_drift is not None
    assert d_same["stored_hr"] == d_drift["stored_hr"] and d_same["stored_hr"] is not None
    assert d_drift["hr"] is not None and d_same["hr"] is not None and d_drift["hr"] < 0.5 * d_same["hr"]
    assert d_drift["hr_ci95"] is not None and d_drift["hr_ci95"][0] <= d_drift["hr"] <= d_drift["hr_ci95"][1]
    assert d_same["hr_vs_stored"] is not None and d_same["hr_vs_stored"] > 0.9
    assert d_drift["hr_vs_item_knn"] is not None and d_drift["hr_vs_item_knn"] < 0.8  # kNN on the new data wins
    assert d_same["hr_vs_item_knn"] is not None and d_same["hr_vs_item_knn"] > 1.0
    assert d_drift["queries_without_vector"] > 0 and d_same["queries_without_vector"] == 0

    s_same, s_drift = same["neighbor_support"], drifted["neighbor_support"]
    assert s_same is not None and s_drift is not None
    assert s_same["mean_share"] is not None and s_same["mean_share"] > 0.9
    assert s_drift["mean_share"] is not None and s_drift["mean_share"] < s_same["mean_share"] - 0.2
    assert s_drift["items"] == 100 and len(s_drift["top"]) == 10

    p_drift = drifted["popularity"]
    assert p_drift is not None and p_drift["judged"]
    assert p_drift["head_overlap"] is not None and p_drift["head_overlap"] < 0.6
    assert p_drift["head_share_now"] is not None and p_drift["head_share_then"] is not None
    assert p_drift["head_share_now"] < p_drift["head_share_then"]
    assert p_drift["risers"] and any(r["training_rank"] is None for r in p_drift["risers"])  # new items rose

    states = {r["rule"]: r["state"] for r in drifted["rules"]}
    assert states["missing_events"] == "stale" and states["hr_vs_stored"] == "stale"
    assert states["hr_vs_item_knn"] == "stale" and states["neighbor_support"] in ("aging", "stale")
    assert {r["state"] for r in same["rules"]} == {"ok"}
    json.dumps(drifted)  # the report is JSON as it stands


def test_thresholds_come_from_the_policy_and_are_validated(store: Store) -> None:
    stored = store.load_version("v1")
    lenient = DriftThresholds(missing_events_aging=0.5, missing_events_stale=0.9, hr_vs_stored_aging=0.0,
                              hr_vs_stored_stale=0.0, hr_vs_item_knn_aging=0.0, hr_vs_item_knn_stale=0.0,
                              neighbor_support_aging=0.0, neighbor_support_stale=0.0)
    assert drift_report(stored, _planted(3, drift=True), thresholds=lenient, n_boot=0)["verdict"] == "fresh"
    with pytest.raises(ValueError, match="missing_events_stale"):
        DriftThresholds(missing_events_aging=0.2, missing_events_stale=0.1)
    with pytest.raises(ConfigError, match="drift.surprise"):
        parse_policy({"members": {"a@x.org": ["admin"]}, "drift": {"surprise": 1}}, "policy")
    policy = StorePolicy.model_validate({"members": {"a@x.org": ["admin"]}, "drift": {"min_pairs": 5}})
    assert policy.drift is not None and policy.drift.min_pairs == 5 and policy.drift.missing_events_stale == 0.08


def test_could_not_judge_is_never_fresh(store: Store) -> None:
    stored = store.load_version("v1")
    other = sessions_from_lists([["a", "b", "c"], ["b", "c"]])
    r = drift_report(stored, other)
    assert r["verdict"] == "could not judge" and "none of the 3 items" in r["reason"]
    single = sessions_from_lists([[1], [2]])
    r = drift_report(stored, single)
    assert r["verdict"] == "could not judge" and "no consecutive pairs" in r["reason"]
    few = sessions_from_lists([[1, 2, 3], [4, 5]])
    r = drift_report(stored, few)
    assert r["verdict"] == "could not judge" and "no decay rule could be judged" in r["reason"]
    r = check_drift(store, _planted(2, drift=False))  # nothing is published
    assert r["verdict"] == "could not judge" and r["version"] is None and "nothing is published" in r["reason"]


def test_reports_are_kept_beside_the_version(store: Store) -> None:
    assert latest_drift_report(store, "v1") is None
    first = drift_report(store.load_version("v1"), _planted(2, drift=False), n_boot=0)
    second = drift_report(store.load_version("v1"), _planted(3, drift=True), n_boot=0)
    before = {p: p.read_bytes() for p in Path(store.root, "versions").rglob("*") if p.is_file()}
    p1 = save_drift_report(store, first, by="cron")
    p2 = save_drift_report(store, second, by="cron")
    assert p1 != p2 and Path(p2).parent == Path(store.root, "drift", "v1")
    assert {p: p.read_bytes() for p in Path(store.root, "versions").rglob("*") if p.is_file()} == before
    kept = drift_reports(store, "v1")
    assert [r["verdict"] for r in kept] == ["fresh", "stale"]
    latest = latest_drift_report(store, "v1")
    assert latest is not None and latest["verdict"] == "stale" and latest["by"] and len(latest["sha256"]) == 64
    assert not list(Path(store.root, "drift", "v1").glob("*.tmp-*"))
    r = check_drift(store, _planted(2, drift=False))
    with pytest.raises(Exception, match="only be kept for a version"):
        save_drift_report(store, r, by="cron")


def test_keeping_a_report_needs_the_trainer_role(store: Store) -> None:
    from behemb_core.identity import Actor
    from behemb_core.store import set_policy

    def person(name: str) -> Actor:
        return Actor.from_claims({"iss": "https://idp.example.test", "sub": f"sub-{name}",
                                  "email": f"{name}@example.com"}, via="app sign-in")

    set_policy(store, {"members": {"ada@example.com": ["admin"], "tom@example.com": ["trainer"]},
                       "drift": {"missing_events_stale": 0.5}}, by="first admin")
    report = check_drift(store, _planted(2, drift=False), version="v1", n_boot=0)
    assert report["thresholds"]["missing_events_stale"] == 0.5  # the policy's thresholds are the ones in force
    with pytest.raises(PermissionDenied, match="keep a drift report.*trainer role.*tom@example.com"):
        save_drift_report(store, report, by=person("vic"))  # a signed-in viewer
    assert save_drift_report(store, report, by=person("tom"))
    assert drift_reports(store, "v1")[0]["by"] == "tom@example.com"


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else {}), err


def test_cli_exit_codes_and_the_published_version(store: Store, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    same = write_sessions_jsonl(tmp_path / "same.jsonl", _planted(2, drift=False))
    drifted = write_sessions_jsonl(tmp_path / "drifted.jsonl", _planted(3, drift=True))
    root = store.root
    code, report, err = _cli(capsys, "drift", "--store", root, "--input", str(same), "--quiet")
    assert code == EXIT_COULD_NOT_JUDGE == 3 and report["verdict"] == "could not judge"
    assert "nothing is published" in err and "saved" not in report
    record_approval(store, "v1", by="carol", checks=[])
    publish(store, "v1", by="dave")
    code, report, err = _cli(capsys, "drift", "--store", root, "--input", str(same), "--quiet", "--bootstrap", "20")
    assert code == 0 and report["verdict"] == "fresh" and report["version"] == "v1"
    assert err.startswith("fresh: v1: every rule within its thresholds")
    code, report, err = _cli(capsys, "drift", "--store", root, "--input", str(drifted), "--quiet", "--bootstrap", "0")
    assert code == EXIT_STALE == 4 and report["verdict"] == "stale" and err.startswith("stale: v1: retrain")
    assert Path(report["saved"]).is_file()
    assert latest_drift_report(store, "v1")["verdict"] == "stale"  # type: ignore[index]
    code, report, _ = _cli(capsys, "drift", "--store", root, "--version", "v1", "--input", str(drifted), "--quiet",
                           "--no-save", "--bootstrap", "0")
    assert code == 4 and "saved" not in report and len(drift_reports(store, "v1")) == 2


def test_cli_bad_input_is_one_line(store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"session_id": "s1", "items": [1, 2]}\n{"session_id": "s2", "items": [1, \n')
    code, _, err = _cli(capsys, "drift", "--store", store.root, "--version", "v1", "--input", str(bad), "--quiet")
    assert code == 1 and err.count("\n") == 1 and err.startswith("error: ") and "bad.jsonl" in err and "line 2" in err
    code, _, err = _cli(capsys, "drift", "--store", store.root, "--version", "nope", "--input", str(bad))
    assert code == 1 and "version 'nope' not found" in err and err.count("\n") == 1
    code, _, err = _cli(capsys, "drift", "--store", store.root, "--version", "v1", "--input", str(bad), "-k", "0",
                        "--quiet")
    assert code == 1 and err.count("\n") == 1


# ------------------------------------------------------------------------------------------------ real data

NOT_PRODUCTS = ["POST", "DOT", "M", "m", "C2", "D", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS"]


def _retail(folder: Path, first: str, last: str):
    from behemb_core.ingest import DatasetSpec, load

    paths = sorted(p for p in glob.glob(str(folder / "*.csv")) if first <= Path(p).name[:10] <= last)
    spec = DatasetSpec.create(paths=paths, name_column="Description",
                              filters={"exclude_items": NOT_PRODUCTS, "exclude_session_prefix": "C"})
    return load(spec)


@pytest.mark.slow
def test_online_retail_august_version_is_stale_on_november(online_retail_dir: Path, tmp_path: Path) -> None:
    store = Store(str(tmp_path / "store"))
    for name, last in (("aug", "2011-08-31"), ("oct", "2011-10-31")):
        train_version(store, "cooc_softmax", None, dataset=_retail(online_retail_dir, "2010-12-01", last), seed=0,
                      evaluate=True, name=name)
    sep = _retail(online_retail_dir, "2011-09-01", "2011-09-30")
    nov = _retail(online_retail_dir, "2011-11-01", "2011-11-30")
    rows = {}
    for name, label, data in (("aug", "sep", sep), ("aug", "nov", nov), ("oct", "nov", nov)):
        r = drift_report(store.load_version(name), data, n_boot=50)
        assert r["coverage"] is not None and r["decay"] is not None
        rows[name, label] = (r["verdict"], r["coverage"]["missing_events_share"], r["decay"]["hr"])
        assert r["coverage"]["top_missing"][0]["name"]  # missing items are named
    assert rows["aug", "nov"][0] == "stale" and rows["oct", "nov"][0] == "fresh" and rows["aug", "sep"][0] == "aging"
    expected = {("aug", "sep"): (0.046, 0.33), ("aug", "nov"): (0.10, 0.30), ("oct", "nov"): (0.007, 0.348)}
    for key, (missing, hr) in expected.items():
        assert rows[key][1] == pytest.approx(missing, abs=0.005) and rows[key][2] == pytest.approx(hr, abs=0.01), key
