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


def test_warm_up_trains_every_compiled_path(monkeypatch, tmp_path):
    from dataclasses import replace

    from behemb_core.methods.registry import METHODS

    monkeypatch.setattr(warmup, "_record_path", lambda: tmp_path / warmup.RECORD_NAME)

    fitted = []
    for name in ("ppmi_svd", "cooc_softmax", "item2vec", "graph"):
        spec = METHODS[name]

        def record(inputs, config, *, seed, progress=None, _fit=spec.fit, _name=name):
            fitted.append((_name, config.model_dump()))
            return _fit(inputs, config, seed=seed, progress=progress)

        monkeypatch.setitem(METHODS, name, replace(spec, fit=record))
    assert warmup.warm_up_training() > 0
    status = warmup.warm_up_status()
    assert status.done == status.total == sum(len(spec.warm_up) for spec in METHODS.values())
    record = warmup.read_record(tmp_path / warmup.RECORD_NAME)  # the next wait's estimate
    assert record is not None and len(record["seconds"]) == status.total
    assert {m for m, _ in fitted} == {"ppmi_svd", "cooc_softmax", "item2vec", "graph"}
    assert {c["softmax"] for m, c in fitted if m == "cooc_softmax"} == {"full", "sampled"}  # both estimators
    assert any(c["p"] != 1 or c["q"] != 1 for m, c in fitted if m == "graph")  # node2vec walks too
    assert {c["weighting"] for m, c in fitted if m == "ppmi_svd"} >= {"uniform", "harmonic"}


def test_a_job_waits_for_a_running_warm_up_and_says_so(fake_warm_up):
    events = []
    threading.Timer(0.3, fake_warm_up.set).start()
    warmup.wait_for_warm_up(events.append, poll_seconds=0.05)
    assert fake_warm_up.is_set()
    assert events and all(e.message.startswith(warmup.PREPARING) and e.stage == "compile" for e in events)
    assert all(e.fraction is None for e in events)  # the job's own bar is left to the job


def test_the_wait_shows_the_warm_up_moving(fake_warm_up, monkeypatch):
    """While the warm-up compiles, every report says more: steps done, seconds so far, and the share done by
    the step times recorded when it last compiled here (never decreasing)."""
    tracker = warmup._Tracker()
    monkeypatch.setattr(warmup, "_tracker", tracker)
    tracker.begin(4, (1.0, 2.0, 0.5, 0.5))
    events = []

    def advance():
        for _ in range(4):
            threading.Event().wait(0.12)
            tracker.step_done()
        fake_warm_up.set()

    threading.Thread(target=advance).start()
    warmup.wait_for_warm_up(events.append, poll_seconds=0.03)
    fractions = [e.metrics["warm_up_fraction"] for e in events]
    done = [e.metrics["steps_done"] for e in events]
    assert fractions == sorted(fractions) and fractions[-1] > fractions[0]
    assert done == sorted(done) and done[-1] >= 3 and {e.metrics["steps_total"] for e in events} == {4}
    assert len({e.message for e in events}) >= 3  # the message changes as steps finish
    assert "about 4 s when it last compiled here" in events[0].message


def test_status_fraction_uses_recorded_step_times_else_steps():
    timed = warmup.WarmUpStatus(done=1, total=3, elapsed=5.0, step_elapsed=1.0, expected=(2.0, 6.0, 2.0))
    assert timed.fraction == pytest.approx((2.0 + 1.0) / 10.0)
    stuck = warmup.WarmUpStatus(done=1, total=3, elapsed=50.0, step_elapsed=40.0, expected=(2.0, 6.0, 2.0))
    assert stuck.fraction == pytest.approx(0.8)  # a step counts at most its recorded time
    assert warmup.WarmUpStatus(done=2, total=4, elapsed=1.0, step_elapsed=0.0).fraction == 0.5
    assert warmup.WarmUpStatus(done=4, total=4, elapsed=1.0, step_elapsed=0.0).fraction == 0.99
    assert "when it last compiled" not in warmup.WarmUpStatus(done=0, total=4, elapsed=0, step_elapsed=0).message
    assert warmup.WarmUpStatus(done=0, total=0, elapsed=0, step_elapsed=0).message == warmup.PREPARING  # not begun


def test_the_slowest_complete_warm_up_is_recorded_and_bad_records_are_ignored(tmp_path):
    path = tmp_path / warmup.RECORD_NAME
    steps = ["a:{}", "b:{}"]
    warmup._save_record(steps, [20.0, 10.0], path)
    assert warmup._expected(steps, warmup.read_record(path)) == (20.0, 10.0)
    warmup._save_record(steps, [1.0, 1.0], path)  # a load from the cache does not replace the compile's times
    assert warmup._expected(steps, warmup.read_record(path)) == (20.0, 10.0)
    assert warmup._expected(["a:{}"], warmup.read_record(path)) == ()  # other steps: no estimate
    for junk in ("not json", '{"steps": ["a"], "seconds": [-1]}', '{"steps": ["a"], "seconds": []}', "[]"):
        path.write_text(junk)
        assert warmup.read_record(path) is None


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
