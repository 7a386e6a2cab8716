"""The Train page says what is true for the job and the data (issue 22 §5): the outcome names only the extra fits
that were asked for; the hold-out of basket data is in file order, not "by time"; a method that needs item names
says so before Train is pressed and offers no Train that would fail; the tuning budget is editable only with
tuning on; and revisiting the page logs no Streamlit warning about widget defaults set through Session State."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

from app_support.train_view import (
    content_refusal,
    extra_fits,
    holdout_words,
    missing_text_columns,
    outcome_sentence,
    session_order,
)
from behemb_core.ingest import DatasetSpec, load
from behemb_core.metadata import ItemMetadata
from behemb_core.methods.registry import METHODS
from behemb_core.store import Store

APP = str(Path(__file__).resolve().parents[1] / "app.py")
CONTENT_METHOD = next(m for m, s in METHODS.items() if s.accepts_content)
SESSION_METHOD = next(m for m, s in METHODS.items() if s.learns_from_sessions and s.tunable)


@pytest.fixture
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "store"
    monkeypatch.setenv("BEHEMB_STORE", str(path))
    return path


def train_page(store: Path, **state: object) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["store_path"] = str(store)
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    at.switch_page("pages/2_Train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def nameless_sessions(tmp_path: Path) -> DatasetSpec:
    path = tmp_path / "nameless.jsonl"
    path.write_text("".join(json.dumps({"session_id": str(i), "items": [i % 9, (i + 1) % 9, (i + 4) % 9]}) + "\n"
                            for i in range(120)))
    return DatasetSpec.create(paths=[str(path)])


def baskets(tmp_path: Path) -> DatasetSpec:
    path = tmp_path / "baskets.txt"
    path.write_text("".join(",".join(f"i{(i + j * (1 + i % 3)) % 12}" for j in range(4)) + "\n" for i in range(300)))
    return DatasetSpec.create(format="baskets", paths=[str(path)], delimiter=",")


# ------------------------------------------------------------------------------------------ the page
def test_the_tuning_budget_is_editable_only_with_tuning_on(store_dir: Path) -> None:
    at = train_page(store_dir)
    assert at.number_input(key="train_budget").disabled
    at.checkbox(key="train_tune").check().run()
    assert not at.number_input(key="train_budget").disabled
    at.checkbox(key="train_tune").uncheck().run()
    assert at.number_input(key="train_budget").disabled


def test_a_method_needing_names_says_so_before_train_on_data_without_names(store_dir: Path, tmp_path: Path) -> None:
    spec = nameless_sessions(tmp_path)
    at = train_page(store_dir, dataset_spec=spec.to_json(), dataset_label=spec.label())
    at.selectbox(key="train_method").set_value(CONTENT_METHOD).run()
    warned = [w.value for w in at.warning if "needs item names" in w.value]
    assert warned and "item name" in warned[0] and "Data page" in warned[0]
    assert at.button(key="train_submit").disabled  # (AppTest, like a browser, cannot press it)
    # On data with names (the demo) the method is offered as before.
    demo = train_page(store_dir)
    demo.selectbox(key="train_method").set_value(CONTENT_METHOD).run()
    assert not [w for w in demo.warning if "needs item names" in w.value]
    assert not demo.button(key="train_submit").disabled


def test_the_outcome_names_only_the_fits_that_were_asked_for(store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import behemb_core.train

    def fake_train(store, method, config, **kw):  # a job that took longer than its fit (reading, evaluation…)
        return {"version": "v1", "method": method, "items": 10, "dim": 8, "seconds": 1.0, "job_seconds": 5.0}

    monkeypatch.setattr(behemb_core.train, "train_version", fake_train)
    at = train_page(store_dir)
    at.selectbox(key="train_method").set_value(SESSION_METHOD).run()
    at.checkbox(key="train_evaluate").check()
    at.checkbox(key="train_noise_floor").uncheck()
    at.button(key="train_submit").click().run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    said: list[str] = []
    for _ in range(100):  # the fake job ends at once; the page shows its outcome on the next run at the latest
        said = [s.value for s in at.success if "Saved version" in s.value]
        if said:
            break
        time.sleep(0.1)
        at.run()
    assert said and "with its evaluation fit, took 5.0 s" in said[0], said
    assert "noise" not in said[0]


def test_basket_data_is_held_out_in_file_order_not_by_time(store_dir: Path, tmp_path: Path) -> None:
    from behemb_core.train import train_version

    spec = baskets(tmp_path)
    train_version(Store(store_dir), SESSION_METHOD, {"dim": 4}, dataset=load(spec), seed=0, name="bask",
                  evaluate=True)
    at = train_page(store_dir, dataset_spec=spec.to_json(), dataset_label=spec.label(), last_version="bask")
    heading = [m.value for m in at.markdown if "Held-out next-item evaluation" in m.value]
    assert heading and "in file order" in heading[0] and "by time" not in heading[0], heading
    # Shown while another dataset is in use, the manifest alone still tells baskets apart.
    at = train_page(store_dir, last_version="bask")
    heading = [m.value for m in at.markdown if "Held-out next-item evaluation" in m.value]
    assert heading and "in file order" in heading[0], heading


def test_revisiting_train_logs_no_widget_default_warning(store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.elements.lib import policies

    logged: list[str] = []
    monkeypatch.setattr(policies, "_shown_default_value_warning", False)
    monkeypatch.setattr(policies._LOGGER, "warning", lambda msg, *args, **kw: logged.append(msg % args))
    at = train_page(store_dir)
    at.session_state["train_seed"] = 3  # a value kept from an earlier visit
    at.switch_page("pages/3_Neighbors.py").run()
    at.switch_page("pages/2_Train.py").run()
    at.run()
    assert at.number_input(key="train_seed").value == 3  # the kept value, not the default
    assert not [m for m in logged if "default value" in m], logged


# ------------------------------------------------------------------------------------------ the words
def test_extra_fits_follow_what_was_asked_and_what_the_method_does() -> None:
    learns = METHODS[SESSION_METHOD]
    assert extra_fits(learns, evaluate=True, noise_floor=False) == ["evaluation"]
    assert extra_fits(learns, evaluate=False, noise_floor=True) == ["noise-floor"]
    assert extra_fits(learns, evaluate=True, noise_floor=True) == ["evaluation", "noise-floor"]
    assert extra_fits(METHODS[CONTENT_METHOD], evaluate=True, noise_floor=True) == []  # skipped by the library


def test_outcome_sentence() -> None:
    r = {"version": "v", "items": 1234, "dim": 16, "seconds": 2.0, "job_seconds": 9.0}
    assert "(the whole job, with its evaluation and noise-floor fits, took 9.0 s)." in outcome_sentence(
        r, ["evaluation", "noise-floor"])
    assert "with its noise-floor fit, took" in outcome_sentence(r, ["noise-floor"])
    assert "(the whole job, with writing the version, took 9.0 s)." in outcome_sentence(r, [])
    quick = outcome_sentence({**r, "job_seconds": 2.2}, ["evaluation"])
    assert quick.endswith("fitted in 2.0 s.") and "whole job" not in quick
    tuned = outcome_sentence({**r, "tuning_seconds": 61.0, "trials": [1, 2, 3]}, [])
    assert tuned.endswith("Tuned first in 61 s (3 trials).")


def test_holdout_words_are_true_for_the_data() -> None:
    split = {"kind": "time", "holdout": 0.1}
    assert holdout_words(split, session_order({"kind": "event_log"})) == "latest 10% of sessions by time"
    assert "in file order" in holdout_words(split, session_order({"kind": "baskets"}))
    assert holdout_words(split, session_order({"kind": "sessions_jsonl", "timestamp": {"column": "t"}})) \
        == "latest 10% of sessions by time"
    unknown = holdout_words(split, session_order({"kind": "sessions_jsonl"}))
    assert "by time" not in unknown and "file order" in unknown
    assert "file order" in holdout_words(split, session_order({"kind": "event_log"}, has_times=False))
    assert holdout_words({"kind": "random", "holdout": 0.2}, "time") == "a random 20% of sessions"


def test_the_evaluation_records_the_order_of_its_hold_out_and_the_words_follow_it() -> None:
    """A plain session file may or may not carry times: the evaluation records which order it held out in, so the
    words need no guess from the manifest's source."""
    import dataclasses

    from behemb_core.evaluation import evaluate_method
    from behemb_core.synthetic import planted_sessions

    timed = planted_sessions(n_items=120, n_clusters=6, n_sessions=600, seed=0).sessions
    assert timed.start_times is not None
    untimed = dataclasses.replace(timed, start_times=None)
    report = evaluate_method(untimed, "ppmi_svd", {"dim": 8}, n_boot=0)
    assert report["split"]["order"] == "file order"
    assert "in file order" in holdout_words(report["split"], session_order({"kind": "sessions_jsonl"}))
    report = evaluate_method(timed, "ppmi_svd", {"dim": 8}, n_boot=0)
    assert report["split"]["order"] == "start time"
    assert holdout_words(report["split"], None) == "latest 10% of sessions by time"


def test_content_refusal_and_text_columns() -> None:
    import pandas as pd

    spec = METHODS[CONTENT_METHOD]
    meta = ItemMetadata(pd.DataFrame({"item_id": ["a"], "name": ["A"], "genre": ["x"]}))
    assert content_refusal(METHODS[SESSION_METHOD], dataset_meta=None, base_version=None, base_meta=None) is None
    assert content_refusal(spec, dataset_meta=meta, base_version=None, base_meta=None) is None
    assert content_refusal(spec, dataset_meta=None, base_version="b", base_meta=meta) is None
    said = content_refusal(spec, dataset_meta=None, base_version="b", base_meta=None)
    assert said is not None and "version b stores none" in said
    assert missing_text_columns(spec, {"text_columns": ["genre"]}, meta) is None
    said = missing_text_columns(spec, {"text_columns": ["genre", "plot"]}, meta)
    assert said is not None and "plot" in said and "genre" not in said.split("(")[0]
