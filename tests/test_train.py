"""train_version's job-level promises: each fit of a job says which pass it is, the job's wall time is reported,
and a stored version trained identically is found instead of training again."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from conftest import write_sessions_jsonl

from behemb_core.ingest import read_session_jsonl
from behemb_core.ingest.dataset import Dataset
from behemb_core.progress import Reporter
from behemb_core.store import Store
from behemb_core.train import find_same_training, train_version


@pytest.fixture(scope="module")
def dataset(planted, tmp_path_factory) -> Dataset:
    """2,000 planted sessions read back from session JSONL, as the CLI and the app would read them."""
    s = planted.sessions.select(np.arange(planted.sessions.n_sessions) < 2000)
    return read_session_jsonl(write_sessions_jsonl(tmp_path_factory.mktemp("train") / "sessions.jsonl", s))


def test_reporter_labels_prefix_messages_and_nest():
    events = []
    rep = Reporter(events.append).sub(0.0, 0.5, "fit 1 of 2: the version")
    rep("svd", 0.5, "iteration 1")
    rep.sub(0.5, 1.0, "inner")("x", 1.0)
    assert [e.message for e in events] == ["fit 1 of 2: the version: iteration 1", "fit 1 of 2: the version: inner"]
    assert [e.fraction for e in events] == [0.25, 0.5]


def test_each_fit_of_a_job_names_its_pass_and_the_job_time_is_reported(tmp_path, dataset):
    events = []
    summary = train_version(Store(str(tmp_path / "s")), "ppmi_svd", {"dim": 8}, dataset=dataset, seed=0,
                            evaluate=True, noise_floor=True, progress=events.append)
    prefixes = [e.message.split(":")[0] for e in events if e.message.startswith("fit ")]
    order = list(dict.fromkeys(prefixes))
    assert order == ["fit 1 of 3", "fit 2 of 3", "fit 3 of 3"]
    assert any(e.message.startswith("fit 2 of 3: evaluation split") for e in events)
    assert any(e.message.startswith("fit 3 of 3: noise floor") for e in events)
    fractions = [e.fraction for e in events if e.fraction is not None]
    assert fractions == sorted(fractions)
    assert summary["job_seconds"] >= summary["seconds"] > 0

    single = []
    train_version(Store(str(tmp_path / "t")), "ppmi_svd", {"dim": 8}, dataset=dataset, seed=0, progress=single.append)
    assert not any(e.message.startswith("fit 1 of") for e in single)  # one fit: nothing to number


def test_find_same_training_matches_data_method_config_and_seed_only(tmp_path, dataset):
    store = Store(str(tmp_path / "s"))
    assert find_same_training(store, "ppmi_svd", {"dim": 8}, dataset=dataset, seed=0) is None
    train_version(store, "ppmi_svd", {"dim": 8}, dataset=dataset, seed=0, name="first")
    train_version(store, "ppmi_svd", {"dim": 8}, dataset=dataset, seed=0, name="second")
    assert find_same_training(store, "ppmi_svd", {"dim": 8}, dataset=dataset, seed=0) == "first"
    assert find_same_training(store, "ppmi_svd", {"dim": 8, "window": 5}, dataset=dataset, seed=0) == "first"
    assert find_same_training(store, "ppmi_svd", {"dim": 8}, dataset=dataset, seed=1) is None
    assert find_same_training(store, "ppmi_svd", {"dim": 9}, dataset=dataset, seed=0) is None
    assert find_same_training(store, "cooc_softmax", {"dim": 8}, dataset=dataset, seed=0) is None
    assert find_same_training(store, "ppmi_svd", {"dim": 8}, dataset=dataset, seed=0, evaluate=True) is None
    fewer = dataset.sessions.select(np.arange(dataset.sessions.n_sessions) > 0)  # one session less
    assert find_same_training(store, "ppmi_svd", {"dim": 8}, dataset=replace(dataset, sessions=fewer), seed=0) is None
