"""The training warm-up: every compiled path runs on tiny data, and a job started meanwhile waits and says so."""

from __future__ import annotations

import threading

import pytest

from behemb_core import warmup
from behemb_core.errors import Cancelled


@pytest.fixture
def fake_warm_up(monkeypatch):
    """A warm-up 'running' in the background until the test sets the returned event."""
    done = threading.Event()
    monkeypatch.setattr(warmup, "_done", done)
    monkeypatch.setattr(warmup, "_thread", threading.current_thread())
    return done


def test_warm_up_trains_every_compiled_path(monkeypatch):
    from dataclasses import replace

    from behemb_core.methods.registry import METHODS

    fitted = []
    for name in ("ppmi_svd", "cooc_softmax", "item2vec", "graph"):
        spec = METHODS[name]

        def record(inputs, config, *, seed, progress=None, _fit=spec.fit, _name=name):
            fitted.append((_name, config.model_dump()))
            return _fit(inputs, config, seed=seed, progress=progress)

        monkeypatch.setitem(METHODS, name, replace(spec, fit=record))
    assert warmup.warm_up_training() > 0
    assert {m for m, _ in fitted} == {"ppmi_svd", "cooc_softmax", "item2vec", "graph"}
    assert {c["softmax"] for m, c in fitted if m == "cooc_softmax"} == {"full", "sampled"}  # both estimators
    assert any(c["p"] != 1 or c["q"] != 1 for m, c in fitted if m == "graph")  # node2vec walks too
    assert {c["weighting"] for m, c in fitted if m == "ppmi_svd"} >= {"uniform", "harmonic"}


def test_a_job_waits_for_a_running_warm_up_and_says_so(fake_warm_up):
    events = []
    threading.Timer(0.3, fake_warm_up.set).start()
    warmup.wait_for_warm_up(events.append, poll_seconds=0.05)
    assert fake_warm_up.is_set()
    assert events and all(e.message == warmup.PREPARING and e.stage == "compile" for e in events)


def test_waiting_can_be_cancelled(fake_warm_up):
    def cancel(event):
        raise Cancelled("stop")

    with pytest.raises(Cancelled):
        warmup.wait_for_warm_up(cancel, poll_seconds=0.05)
    fake_warm_up.set()


def test_no_wait_when_no_warm_up_runs(monkeypatch):
    monkeypatch.setattr(warmup, "_thread", None)
    events = []
    warmup.wait_for_warm_up(events.append)
    assert events == []
