"""Auto-tuning: the evaluation hold-out is never read, the validation split, the recorded search, the budget,
defaults first, determinism, refusals, the CLI and the Train page."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from behemb_core.cli import main
from behemb_core.errors import Cancelled, ConfigError, VersionExistsError
from behemb_core.evaluation import time_split
from behemb_core.ingest.dataset import Dataset
from behemb_core.methods.registry import METHODS
from behemb_core.sessions import SessionOptions, Sessions
from behemb_core.store import Store
from behemb_core.synthetic import planted_sessions, sessions_from_lists
from behemb_core.tuning import Stage, search_space, tune_and_train, tune_method, validation_split
from behemb_core.tuning import protocol as protocol_module
from behemb_core.tuning import scoring as scoring_module
from behemb_core.tuning import search as search_module

SMALL = {"dim": 8, "epochs": 2}  # cooc_softmax starting point small enough for tests
SECRETS = [90_001, 90_002, 90_003]  # items that occur only in the evaluation hold-out


@pytest.fixture(scope="module")
def sessions() -> Sessions:
    return planted_sessions(n_items=120, n_clusters=8, n_sessions=600, seed=5).sessions


@pytest.fixture
def small_space(monkeypatch: pytest.MonkeyPatch) -> None:
    """cooc_softmax's real stage 1 on a thinner grid and a two-by-two stage 2 (2 and 4 epochs), so a search takes
    a fraction of a second; the real table is exercised by the hold-out test and checked by the table test."""
    monkeypatch.setitem(METHODS, "cooc_softmax", dataclasses.replace(METHODS["cooc_softmax"], search_space=(
        Stage("target", "target", (("window", (10, 2)), ("weighting", ("harmonic", "uniform")), ("gamma", (0.1, 0.5)))),
        Stage("fit", "fit", (("tau", (0.1, 0.2)), ("epochs", (2, 4)))),
    )))


def without_seconds(trials: list[dict]) -> list[dict]:
    return [{k: v for k, v in t.items() if k != "seconds"} for t in trials]


# ----------------------------------------------------------------------------------------------- the table
def test_every_behavior_method_has_a_valid_search_space_with_defaults_first() -> None:
    spaces = {name: spec.search_space for name, spec in METHODS.items() if spec.tunable}
    assert set(spaces) == set(METHODS)  # fusion too: its blend weights (tests/test_fusion_tuning.py)
    for method, stages in spaces.items():
        cls = METHODS[method].config_class
        for stage in stages:
            for name, candidates in stage.grid:
                assert candidates[0] == cls.model_fields[name].default, (method, name)
                assert len(set(candidates)) == len(candidates)
                for value in candidates:
                    cls.model_validate({name: value})  # every candidate is a valid value
    # target, fit, and the "next item" stage (alpha; run only for a config with the directional tables)
    assert [s.scored_by for s in spaces["cooc_softmax"]] == ["target", "fit", "fit"]
    grid = dict(spaces["cooc_softmax"][0].grid)
    assert set(grid["window"]) == {1, 2, 3, 5, 10} and set(grid["gamma"]) == {0, 0.1, 0.2, 0.3, 0.5}
    assert set(grid["weighting"]) == {"uniform", "harmonic"}


def test_fusion_is_tuned_and_a_builder_without_a_search_space_is_refused_clearly(
    sessions: Sessions, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert [s.params for s in search_space("fusion")][0] == ("behavior_weight",)  # its blend: test_fusion_tuning.py
    # Fusion without content: every trial fails with the reason, after the base was fitted once.
    with pytest.raises(ConfigError, match="no trial could be trained.*fusion needs content"):
        tune_method(sessions, "fusion", base_config={"dim": 8, "base_config": {"dim": 8}})
    # A method that builds on behavior vectors and declares no search space is refused, pointing at its base.
    monkeypatch.setitem(METHODS, "fusion", dataclasses.replace(METHODS["fusion"], search_space=()))
    with pytest.raises(ConfigError, match="fusion cannot be tuned.*tune its base method"):
        tune_method(sessions, "fusion")
    with pytest.raises(ConfigError, match="fusion cannot be tuned"):
        search_space("fusion")
    # The CLI refuses before reading any data (the input does not even exist).
    code = main(["tune", "--input", str(tmp_path / "absent.jsonl"), "--method", "fusion", "--store", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: fusion cannot be tuned") and err.count("\n") == 1


# ------------------------------------------------------------------------------------------- the protocol
def with_secrets(base: Sessions, *, times: bool) -> Sessions:
    """``base`` with SECRETS appended to every session of the last 10 % by time (by file order without times)."""
    lists = base.to_lists()
    n = len(lists)
    rng = np.random.default_rng(0)
    start = rng.permutation(n).astype(np.int64) * 1_000_000_000 if times else None  # time order ≠ file order
    order = np.argsort(start) if times else np.arange(n)
    for i in order[n - int(round(n * 0.1)):]:
        lists[i] = [*lists[i], *SECRETS]
    return sessions_from_lists(lists, start_times=None if start is None else start.tolist())


@pytest.mark.parametrize("times", [True, False])
def test_the_evaluation_holdout_never_reaches_a_fit_a_count_or_a_score(
    sessions: Sessions, times: bool, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    if not times:  # the real table once (with times); the thinner one without
        request.getfixturevalue("small_space")
    data = with_secrets(sessions, times=times)
    _, held_out = time_split(data, holdout=0.1)  # exactly what evaluation holds out
    assert set(SECRETS) <= set(held_out.vocab.take(held_out.codes).tolist())
    held_ids = set(held_out.session_ids.tolist())
    secret_codes = data.vocab.codes(np.array(SECRETS))
    seen: list[tuple[str, Sessions]] = []

    spec = METHODS["cooc_softmax"]

    def fit(inputs, config, **kw):
        seen.append(("fit", inputs.sessions))
        return spec.fit(inputs, config, **kw)

    def count(s, **kw):
        seen.append(("count", s))
        return real_count(s, **kw)

    def pairs(s):
        seen.append(("pairs", s))
        return real_pairs(s)

    real_count, real_pairs = scoring_module.count_cooccurrence, protocol_module.next_item_pairs
    monkeypatch.setitem(METHODS, "cooc_softmax", dataclasses.replace(spec, fit=fit))
    monkeypatch.setattr(scoring_module, "count_cooccurrence", count)
    monkeypatch.setattr(protocol_module, "next_item_pairs", pairs)
    result = tune_method(data, "cooc_softmax", base_config=SMALL, budget_seconds=10_000)

    kinds = [k for k, _ in seen]
    fits = [t for t in result.trials if t["scored_by"] == "embeddings" and t["status"] == "ok"]
    grid = dict(METHODS["cooc_softmax"].search_space[0].grid)
    assert kinds.count("fit") == len(fits) >= 4 and kinds.count("pairs") == 1
    assert kinds.count("count") == len(grid["window"]) * len(grid["weighting"])  # once per (window, weighting)
    for kind, s in seen:
        assert not held_ids & set(s.session_ids.tolist()), kind
        assert s.item_counts()[secret_codes].sum() == 0, kind
    # The validation pairs come from the training part, and the protocol says so.
    p = result.protocol
    assert p["evaluation_holdout"] == {
        "excluded": True, "kind": "time" if times else "file order", "share": 0.1, "sessions": held_out.n_sessions
    }
    assert p["validation"]["kind"] == ("time" if times else "random")
    assert p["validation"]["train_sessions"] + p["validation"]["sessions"] + held_out.n_sessions == data.n_sessions
    assert "never read" in p["summary"]


def test_validation_is_the_last_tenth_by_time_when_sessions_have_times(sessions: Sessions) -> None:
    data = with_secrets(sessions, times=True)
    split = validation_split(data, seed=0)
    fit_part, _ = time_split(data, holdout=0.1)
    train_times = split.train.start_times
    by_time = np.sort(fit_part.start_times)
    cut = by_time[len(by_time) - split.protocol["validation"]["sessions"]]
    assert train_times.max() < cut  # every validation session starts after every validation-train session
    assert split.protocol["validation"]["kind"] == "time" and split.protocol["validation"]["seed"] is None
    assert split.train.session_ids.tolist() == validation_split(data, seed=99).train.session_ids.tolist()


def test_validation_is_a_seeded_random_tenth_without_times(sessions: Sessions) -> None:
    data = with_secrets(sessions, times=False)
    a, b, c = (validation_split(data, seed=s) for s in (0, 0, 1))
    assert a.protocol["validation"]["kind"] == "random" and a.protocol["validation"]["seed"] == 0
    assert a.train.session_ids.tolist() == b.train.session_ids.tolist()
    assert a.train.session_ids.tolist() != c.train.session_ids.tolist()
    fit_part, _ = time_split(data, holdout=0.1)
    valid = sorted(set(fit_part.session_ids.tolist()) - set(a.train.session_ids.tolist()))
    tail = fit_part.session_ids[-len(valid):].tolist()
    assert sorted(tail) != valid  # not simply the last sessions of the file


def test_too_few_sessions_is_a_clear_error() -> None:
    tiny = sessions_from_lists([[1, 2], [2, 3], [3, 4]])
    with pytest.raises(ConfigError, match="at least 20 sessions"):
        tune_method(tiny, "ppmi_svd")


# ------------------------------------------------------------------------------------------- the search
@pytest.fixture
def tuned(sessions: Sessions, small_space: None):
    return tune_method(sessions, "cooc_softmax", base_config=SMALL, seed=3)


def test_defaults_first_and_the_winner_is_never_worse_on_validation(tuned) -> None:
    first = tuned.trials[0]
    assert first["stage"] == "default" and first["status"] == "ok"
    assert first["params"] == {"window": 10, "weighting": "harmonic", "gamma": 0.1, "tau": 0.1, "epochs": 2}
    assert tuned.default_score == {"hr@10": first["hr@10"], "ndcg@10": first["ndcg@10"]}
    fitted = [t for t in tuned.trials if t["scored_by"] == "embeddings" and t["status"] == "ok"]
    best = max(fitted, key=lambda t: (t["hr@10"], t["ndcg@10"]))
    assert tuned.best_score["hr@10"] == best["hr@10"] >= first["hr@10"]
    winner = tuned.trials[tuned.best_trial - 1]
    assert winner["scored_by"] == "embeddings" and winner["hr@10"] == best["hr@10"]
    assert {k: getattr(tuned.best_config, k) for k in winner["params"]} == winner["params"]
    assert tuned.best_config.dim == 8  # parameters outside the search keep the starting values
    # Each stage starts where the search stands: stage 2's first trial carries stage 1's (target) winner.
    target = [t for t in tuned.trials if t["stage"] == "target"]
    top = max(target, key=lambda t: (t["hr@10"], t["ndcg@10"]))
    stage2 = [t for t in tuned.trials if t["stage"] == "fit"]
    assert len(target) == 8 and len(stage2) == 4
    assert all({k: t["params"][k] for k in ("window", "weighting", "gamma")} == top["params"] for t in stage2)
    assert stage2[0]["params"]["tau"] == 0.1 and stage2[0]["params"]["epochs"] == 2
    assert not tuned.stopped_early and all(t["status"] in ("ok", "repeat") for t in tuned.trials)


def test_same_seed_same_trials_and_winner(sessions: Sessions, tuned) -> None:
    again = tune_method(sessions, "cooc_softmax", base_config=SMALL, seed=3)
    assert without_seconds(again.trials) == without_seconds(tuned.trials)
    assert again.best_config == tuned.best_config and again.best_trial == tuned.best_trial
    assert json.loads(json.dumps(tuned.to_json()))["best_config"] == tuned.best_config.model_dump(mode="json")


def test_progress_names_every_trial_and_cancel_propagates(sessions: Sessions) -> None:
    events = []
    tune_method(sessions, "ppmi_svd", base_config={"dim": 8}, progress=events.append)
    lines = [e.message for e in events if e.stage == "trial"]
    assert len(lines) == 1 + 12 + 9
    assert lines[0].startswith("trial 1/22 (default): window=5 weighting=uniform α=0.75 eig_weight=0.5 → HR@10 0.")
    fractions = [e.fraction for e in events if e.fraction is not None]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0

    def cancel_at_trial_3(event) -> None:
        if event.metrics.get("trial") == 3:
            raise Cancelled("stop")

    with pytest.raises(Cancelled):
        tune_method(sessions, "ppmi_svd", base_config={"dim": 8}, progress=cancel_at_trial_3)


def test_the_budget_stops_early_and_keeps_the_best(
    sessions: Sessions, small_space: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [0.0]  # a fake clock: every fit costs 100 "seconds", the target ranking nothing
    spec = METHODS["cooc_softmax"]

    def slow_fit(inputs, config, **kw):
        now[0] += 100.0
        return spec.fit(inputs, config, **kw)

    monkeypatch.setattr(search_module, "_clock", lambda: now[0])
    monkeypatch.setitem(METHODS, "cooc_softmax", dataclasses.replace(spec, fit=slow_fit))
    result = tune_method(sessions, "cooc_softmax", base_config=SMALL, budget_seconds=250)
    status = [t["status"] for t in result.trials]
    ran = [t for t in result.trials if t["scored_by"] == "embeddings" and t["status"] == "ok"]
    # default (t=100), the 8 target trials (free), one fit (100 + 100 ≤ 250); the next would end at 300 > 250.
    assert len(ran) == 2 and result.stopped_early
    first_skipped = status.index("skipped")
    assert status[:9] == ["ok"] * 9 and set(status[:first_skipped]) <= {"ok", "repeat"}
    assert set(status[first_skipped:]) == {"skipped"} and len(status) - first_skipped >= 2
    skipped = result.trials[first_skipped:]
    assert all(t["hr@10"] is None and t["note"] == "budget reached" and t["params"] for t in skipped)
    best = max(ran, key=lambda t: (t["hr@10"], t["ndcg@10"]))
    assert result.best_trial == best["trial"] and result.best_score["hr@10"] == best["hr@10"]
    assert len(result.trials) == 1 + 8 + 4  # skipped trials are listed with their parameters

    now[0] = 0.0
    only_default = tune_method(sessions, "cooc_softmax", base_config=SMALL, budget_seconds=0)
    status = [t["status"] for t in only_default.trials]
    assert status[0] == "ok" and set(status[1:]) <= {"skipped", "repeat"} and status.count("skipped") >= 11
    assert only_default.best_trial == 1 and only_default.best_config.model_dump() == {
        **METHODS["cooc_softmax"].config_class().model_dump(), **SMALL}


def test_trials_the_data_cannot_support_are_recorded_and_all_failing_is_an_error(sessions: Sessions) -> None:
    with pytest.raises(ConfigError, match="no trial could be trained.*dim=200"):
        tune_method(sessions, "ppmi_svd", base_config={"dim": 200})


# ------------------------------------------------------------------------------ a version with its search
def dataset_of(sessions: Sessions) -> Dataset:
    return Dataset(sessions=sessions, drops={}, notes={}, source={"kind": "test"}, options=SessionOptions())


def test_tune_and_train_records_the_whole_search_in_the_manifest(
    sessions: Sessions, small_space: None, tmp_path: Path
) -> None:
    store = Store(tmp_path / "store")
    summary = tune_and_train(store, "cooc_softmax", dataset=dataset_of(sessions), budget_seconds=600, seed=3,
                             name="tuned", evaluate=True, base_config=SMALL)
    manifest = store.manifest("tuned")
    tuning = manifest["tuning"]
    assert manifest["config"] == tuning["best_config"] == summary["best_config"]
    assert len(tuning["trials"]) == 13 and tuning["best_trial"] == summary["best_trial"]
    for t in tuning["trials"]:
        assert {"trial", "stage", "scored_by", "params", "hr@10", "ndcg@10", "seconds", "status"} <= set(t)
        assert isinstance(t["hr@10"], float) and isinstance(t["ndcg@10"], float)
    assert tuning["protocol"]["evaluation_holdout"]["excluded"] is True
    assert tuning["best_score"]["hr@10"] >= tuning["default_score"]["hr@10"]
    assert "evaluation" in manifest  # scored on the hold-out the tuner never read
    assert manifest["evaluation"]["split"]["test_sessions"] == tuning["protocol"]["evaluation_holdout"]["sessions"]
    assert summary["version"] == "tuned" and summary["items"] == sessions.n_items
    with pytest.raises(VersionExistsError, match="already exists"):  # checked before any tuning
        tune_and_train(store, "cooc_softmax", dataset=dataset_of(sessions), name="tuned")


# ---------------------------------------------------------------------------------------------- the CLI
def test_cli_tune_end_to_end(sessions: Sessions, small_space: None, tmp_path: Path, capsys) -> None:
    path = tmp_path / "sessions.jsonl"
    with open(path, "w") as fh:
        for sid, items in zip(sessions.session_ids, sessions.to_lists(), strict=True):
            fh.write(json.dumps({"session_id": sid, "items": items}) + "\n")
    store = tmp_path / "store"
    code = main(["tune", "--input", str(path), "--method", "cooc_softmax", "--set", "dim=8", "--set", "epochs=2",
                 "--budget-minutes", "5", "--seed", "3", "--store", str(store), "--version", "cli-tuned"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.count("\n") == 1
    summary = json.loads(out)
    assert summary["version"] == "cli-tuned" and summary["method"] == "cooc_softmax"
    assert summary["best_config"]["dim"] == 8 and len(summary["trials"]) == 13
    assert summary["best_validation"]["hr@10"] >= summary["default_validation"]["hr@10"]
    assert "trial 1/13 (default)" in err and "never read" in summary["protocol"]
    assert Store(store).manifest("cli-tuned")["tuning"]["best_trial"] == summary["best_trial"]

    # Version problems are caught before the data is read; bad input is one line and exit 1.
    for argv, expected in [
        (["--input", str(path), "--version", "cli-tuned"], "already exists"),
        (["--input", str(tmp_path / "absent.jsonl"), "--version", "../escape"], "../escape"),
        (["--input", str(tmp_path / "absent.jsonl")], "absent.jsonl"),
        (["--input", str(path), "--set", "nope=1"], "nope"),
    ]:
        code = main(["tune", "--method", "cooc_softmax", "--store", str(store), "--quiet", *argv])
        err = capsys.readouterr().err
        assert code == 1 and err.startswith("error: ") and expected in err and err.count("\n") == 1, err


# ------------------------------------------------------------------------------------------ the Train page
def test_train_page_tunes_first_and_shows_the_search(tmp_path: Path, small_space: None, monkeypatch) -> None:
    pytest.importorskip("streamlit")
    from test_app_pages import finish_training, shown_errors, start

    store_dir = tmp_path / "store"
    monkeypatch.setenv("BEHEMB_STORE", str(store_dir))
    at = start(store_dir)
    at.switch_page("pages/2_Train.py").run()
    assert at.selectbox(key="train_method").value == "cooc_softmax"
    at.number_input(key="cfg_cooc_softmax_dim").set_value(8)
    at.number_input(key="cfg_cooc_softmax_epochs").set_value(2)
    at.checkbox(key="train_evaluate").uncheck()
    at.checkbox(key="train_tune").check().run()  # the budget is enabled once tuning is ticked
    at.number_input(key="train_budget").set_value(5.0)
    at.text_input(key="train_name").set_value("app-tuned")
    at.button(key="train_submit").click().run()
    job = finish_training(at)
    assert job.status == "done", job.error
    assert not at.exception and not shown_errors(at), shown_errors(at)
    assert any("Tuned first" in s.value for s in at.success)
    tuning = Store(store_dir).manifest("app-tuned")["tuning"]
    table = next(d.value for d in at.dataframe if "chosen" in d.value.columns)
    assert table["trial"].tolist() == list(range(1, len(tuning["trials"]) + 1))
    assert table.loc[table["chosen"] == "✓", "trial"].tolist() == [tuning["best_trial"]]
    assert {"stage", "params", "HR@10", "seconds"} <= set(table.columns)
    assert any("never read" in c.value for c in at.caption)

    at.selectbox(key="train_method").set_value("fusion").run()
    assert not at.checkbox(key="train_tune").disabled  # fusion's blend weights are tunable too


def test_train_page_can_ask_the_search_to_pass_the_collapse_gate(tmp_path: Path, small_space: None,
                                                                  monkeypatch) -> None:
    """Issue 22 §2: on the Train page the tuner can be asked for the best setting that passes the gate; the search
    records that, the table shows each fitted trial's verdict and the caption says what was chosen."""
    pytest.importorskip("streamlit")
    from test_app_pages import finish_training, shown_errors, start

    store_dir = tmp_path / "store"
    monkeypatch.setenv("BEHEMB_STORE", str(store_dir))
    at = start(store_dir)
    at.switch_page("pages/2_Train.py").run()
    assert at.checkbox(key="train_pass_gate").disabled  # only with tuning on
    at.number_input(key="cfg_cooc_softmax_dim").set_value(8)
    at.checkbox(key="train_evaluate").uncheck()
    at.checkbox(key="train_tune").check().run()
    assert not at.checkbox(key="train_pass_gate").disabled
    at.checkbox(key="train_pass_gate").check()
    at.text_input(key="train_name").set_value("app-gated")
    at.button(key="train_submit").click().run()
    job = finish_training(at)
    assert job.status == "done", job.error
    assert not at.exception and not shown_errors(at), shown_errors(at)
    tuning = Store(store_dir).manifest("app-gated")["tuning"]
    assert tuning["gate"]["required"] is True
    table = next(d.value for d in at.dataframe if "chosen" in d.value.columns)
    fitted = [t for t in tuning["trials"] if t.get("collapse")]
    assert fitted and set(table["collapse"]) >= {t["collapse"]["verdict"] for t in fitted}
    assert any("Parameter search" in m.value and "collapse check" in m.value for m in at.markdown)
