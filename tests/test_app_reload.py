"""A browser reload (a new Streamlit session arriving with the address's ``?s=<key>``) brings the session back: the
running training job (progress, Cancel in the sidebar and on Train), the dataset and store in use — only for the
person and browser that made the key; otherwise, or when the server cannot honour the key, the page says loudly
that it is back on the demo. (``tests/test_browser_reload.py`` does the same in Chromium.)"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

from app_support import jobs, resume
from behemb_core.demo import DEMO_LABEL
from behemb_core.errors import Cancelled
from behemb_core.ingest import DatasetSpec
from behemb_core.progress import ProgressEvent
from behemb_core.store import Store

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def start(store: Path, token: str | None = None) -> AppTest:
    """A browser session of the app; with ``token``, a reload of the page whose address carries that key."""
    at = AppTest.from_file(APP, default_timeout=120)
    if token is None:
        at.session_state["store_path"] = str(store)
    else:
        at.query_params[resume.PARAM] = token
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def notices(at: AppTest) -> list[str]:
    """The reload notices shown (``resume.show_notice``), not the page's other warnings."""
    return [w.value for w in at.warning if w.icon == ":material/restart_alt:"]


def sessions_file(tmp_path: Path) -> Path:
    path = tmp_path / "mine.jsonl"
    lines = [{"session_id": str(i), "items": [i % 7, (i + 1) % 7, (i + 3) % 7]} for i in range(60)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def slow_work(started: threading.Event):
    """A job that reports progress every 20 ms until cancelled (the library's way: the callback raises)."""

    def work(progress):
        started.set()
        for i in range(3000):
            progress(ProgressEvent(stage="epoch", fraction=i / 3000, message=f"epoch {i}"))
            time.sleep(0.02)
        return {"version": "never", "items": 0, "dim": 0, "seconds": 0.0}

    return work


def test_a_reload_finds_the_running_job_and_the_dataset_and_store_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "store"
    monkeypatch.setenv("BEHEMB_STORE", str(tmp_path / "default-store"))  # what a reload would fall back to
    at = start(store)
    token = at.session_state[resume.TOKEN]
    assert at.query_params[resume.PARAM] == token and resume.TOKEN_PATTERN.fullmatch(token)

    # The Data page read an uploaded file: the session holds its spec (a handle) and label.
    spec = DatasetSpec.create(paths=[str(sessions_file(tmp_path))])
    at.session_state["dataset_spec"] = spec.to_json()
    at.session_state["dataset_label"] = spec.label()
    at.run()
    started = threading.Event()
    job = jobs.start_job("k-reload", "Slow test job, seed 0", slow_work(started), owner=token)
    at.session_state["train_job"] = job.id
    assert started.wait(10)

    try:
        again = start(store, token)  # the reload: a new session, nothing in it but the address
        assert again.session_state[resume.TOKEN] == token
        assert again.query_params[resume.PARAM] == token
        assert again.session_state["dataset_spec"] == spec.to_json()
        assert again.session_state["dataset_label"] == spec.label()
        assert again.session_state["store_path"] == str(store)
        assert again.session_state["train_job"] == job.id
        assert not notices(again)  # nothing was lost: no notice
        bars = again.sidebar.get("progress")
        assert bars and "Slow test job" in bars[0].proto.text
        assert again.sidebar.button(key="sidebar_train_cancel")

        again.switch_page("pages/2_Train.py").run()
        assert not again.exception, [e.value for e in again.exception]
        assert any("mine" in c.value for c in again.caption if "Training data" in c.value)  # the restored data
        assert again.get("progress"), "the Train page shows the job's progress after the reload"
        again.button(key="train_cancel").click().run()
        jobs.wait(job, 30)
        assert job.status == "cancelled"
        again.run()
        assert any("was cancelled; nothing was saved" in w.value for w in again.warning)
        assert not Store(store).list_versions()
        assert job.reported
        # Its outcome was shown: another reload does not bring it back.
        assert "train_job" not in start(store, token).session_state
    finally:
        job.cancel()
        jobs.wait(job, 30)


def test_the_sidebar_cancel_stops_the_job_after_a_reload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEHEMB_STORE", str(tmp_path / "store"))
    token = start(tmp_path / "store").session_state[resume.TOKEN]
    started = threading.Event()
    job = jobs.start_job("k-side", "Slow sidebar job", slow_work(started), owner=token)
    assert started.wait(10)
    try:
        again = start(tmp_path / "store", token)
        # Widgets drawn before st.navigation get other ids on a session's first run than on later ones; in a
        # browser the sidebar's fragment redraws itself every 2 s, here one more run does it.
        again.run()
        again.sidebar.button(key="sidebar_train_cancel").click().run()
        assert job.cancelling or not job.running
        jobs.wait(job, 30)
        assert job.status == "cancelled"
    finally:
        job.cancel()
        jobs.wait(job, 30)


def test_a_key_made_in_another_browser_is_refused_and_the_page_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEHEMB_STORE", str(tmp_path / "store"))
    theirs = "someone-elses-key-0123456789"
    other_browser = resume.binding_of(None, "ab" * 16)
    spec = DatasetSpec.create(paths=[str(sessions_file(tmp_path))])
    resume.shelf().put(theirs, other_browser, {"dataset_spec": spec.to_json(), "dataset_label": spec.label()})
    started = threading.Event()
    job = jobs.start_job("k-theirs", "Their job", slow_work(started), owner=theirs)
    assert started.wait(10)
    try:
        at = start(tmp_path / "store", theirs)
        assert at.session_state[resume.TOKEN] != theirs
        assert at.query_params[resume.PARAM] == at.session_state[resume.TOKEN]
        assert at.session_state["dataset_label"] == DEMO_LABEL
        assert "train_job" not in at.session_state
        assert not at.sidebar.get("progress") and not at.sidebar.button  # nothing of theirs, no Cancel
        assert any("another person or browser" in n for n in notices(at))
        assert job.running  # untouched
        # Their record is intact: their own browser still gets it back.
        assert resume.shelf().take(theirs, other_browser).values["dataset_label"] == spec.label()
    finally:
        job.cancel()
        jobs.wait(job, 30)


def test_a_key_the_server_does_not_know_says_loudly_it_is_back_on_the_demo(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEHEMB_STORE", str(tmp_path / "store"))
    at = start(tmp_path / "store", "a-key-from-before-a-restart-0001")
    notice = [n for n in notices(at) if "no longer knows this browser session" in n]
    assert notice and "bundled demo" in notice[0]
    assert at.session_state["dataset_label"] == DEMO_LABEL
    fresh = at.session_state[resume.TOKEN]
    assert fresh != "a-key-from-before-a-restart-0001"  # an unknown key is never adopted: it may be another's
    assert at.query_params[resume.PARAM] == fresh
    assert not notices(start(tmp_path / "store", fresh))  # the new key is known: its reload is quiet


def test_the_notice_can_be_dismissed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEHEMB_STORE", str(tmp_path / "store"))
    at = start(tmp_path / "store", "a-key-from-before-a-restart-0002")
    assert any("no longer knows" in w.value for w in at.warning)
    at.button(key="resume_notice_ok").click().run()
    assert not notices(at)


def test_a_restored_dataset_whose_files_are_gone_falls_back_to_the_demo_loudly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEHEMB_STORE", str(tmp_path / "store"))
    at = start(tmp_path / "store")
    token = at.session_state[resume.TOKEN]
    path = sessions_file(tmp_path)
    spec = DatasetSpec.create(paths=[str(path)])
    at.session_state["dataset_spec"] = spec.to_json()
    at.session_state["dataset_label"] = spec.label()
    at.run()
    path.unlink()  # uploads are pruned after a day; a restart may clear /tmp
    again = start(tmp_path / "store", token)
    assert again.session_state["dataset_label"] == DEMO_LABEL
    assert any("files are gone" in n and "mine.jsonl" in n for n in notices(again))
    assert not again.error, [e.value for e in again.error]  # no "file not found" error in place of the notice


# ------------------------------------------------------------------------------------------ the pieces
def test_the_shelf_is_bounded_and_forgets_idle_keys() -> None:
    shelf = resume.Shelf(max_records=3, max_idle_s=60)
    for i in range(5):
        shelf.put(f"key-{i}", "b", {"i": i})
    assert len(shelf) == 3
    assert shelf.take("key-0", "b") is None and shelf.take("key-1", "b") is None
    assert shelf.take("key-4", "b").values == {"i": 4}
    shelf.take("key-2", "b")  # used: now the most recent
    shelf.put("key-5", "b", {})
    assert shelf.take("key-2", "b") is not None and shelf.take("key-3", "b") is None
    shelf._records["key-2"].touched -= 61
    assert shelf.take("key-2", "b") is None  # idle too long


def test_the_shelf_never_hands_a_record_to_another_binding() -> None:
    shelf = resume.Shelf()
    shelf.put("key", "mine", {"dataset_label": "mine"})
    with pytest.raises(resume.ForeignKey):
        shelf.take("key", "theirs")
    shelf.put("key", "theirs", {"dataset_label": "theirs"})  # cannot overwrite it either
    assert shelf.take("key", "mine").values == {"dataset_label": "mine"}


def test_the_browser_secret_is_stable_across_the_cookies_changing_masks() -> None:
    # Two _streamlit_xsrf cookies one Chromium got from one server (before and after a reload).
    first = resume.browser_secret({resume.XSRF_COOKIE: "2|02fe93f7|0ccf370cab229d5ce77ce3e692a1c721|1796311937"})
    second = resume.browser_secret({resume.XSRF_COOKIE: "2|48e7a5c7|46d6013ce13bab6cad65d5d6d8b8f111|1796311937"})
    assert first == second == "0e31a4fba9dc0eabe5827011905f54d6"
    assert resume.browser_secret({}) == resume.browser_secret({resume.XSRF_COOKIE: "garbage"}) == ""
    assert resume.binding_of(None, first) != resume.binding_of(None, "") != resume.binding_of("ann@x", "")


def test_resumable_finds_only_the_owners_unreported_job() -> None:
    done = jobs.TrainingJob(key="a", label="a", owner="owner-1", status="done")
    running = jobs.TrainingJob(key="b", label="b", owner="owner-2")
    for j in (done, running):
        jobs._registry()[j.id] = j
    assert jobs.resumable("owner-1") is done
    done.reported = True
    assert jobs.resumable("owner-1") is None
    assert jobs.resumable("owner-2") is running
    assert jobs.resumable(None) is None and jobs.resumable("") is None
    assert not done.cancelling and not running.cancelling
    running.cancel()
    assert running.cancelling


def test_the_job_registry_keeps_a_bounded_number_of_finished_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    registry: dict[str, jobs.TrainingJob] = {}
    monkeypatch.setattr(jobs, "_registry", lambda: registry)
    monkeypatch.setattr(jobs, "MAX_FINISHED", 3)
    monkeypatch.setattr(jobs, "wait_for_warm_up", lambda progress: None)
    unreported = jobs.TrainingJob(key="u", label="u", status="done", finished=1.0)
    registry[unreported.id] = unreported
    for i in range(4):
        old = jobs.TrainingJob(key=f"r{i}", label="r", status="done", finished=2.0 + i, reported=True)
        registry[old.id] = old
    job = jobs.wait(jobs.start_job("new", "new", lambda progress: {"version": "v"}), 10)
    assert job.status == "done" and job.id in registry
    assert unreported.id in registry  # an outcome nobody saw yet is dropped last
    assert len([j for j in registry.values() if j is not job]) == 2


def test_cancelling_raises_at_the_next_progress_step() -> None:
    job = jobs.TrainingJob(key="c", label="c")
    job.progress(ProgressEvent(stage="epoch", fraction=0.1, message="epoch 1"))
    job.cancel()
    with pytest.raises(Cancelled):
        job.progress(ProgressEvent(stage="epoch", fraction=0.2, message="epoch 2"))


def test_what_one_session_can_make_the_shelf_hold_is_bounded_and_a_lost_dataset_is_said(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shelf outlives a session for a day: a huge value (a store path or dataset description of megabytes) is not
    kept, and a reload that cannot bring the dataset back because of it says so."""
    monkeypatch.setenv("BEHEMB_STORE", str(tmp_path / "store"))
    at = start(tmp_path / "store")
    token = at.session_state[resume.TOKEN]
    huge = "x" * (resume.MAX_VALUE_CHARS + 1)
    state = {resume.TOKEN: token, "store_path": huge, "dataset_spec": huge, "dataset_label": "mine"}
    resume.remember(state)
    kept = resume.shelf().take(token, resume.binding_of(None, ""))
    assert kept is not None and "store_path" not in kept.values and "dataset_spec" not in kept.values
    assert all(len(str(v)) <= resume.MAX_VALUE_CHARS for v in kept.values.values())
    resume.remember(state)
    again = start(tmp_path / "store", token)
    assert again.session_state["dataset_label"] == DEMO_LABEL
    assert any("too much text" in n for n in notices(again))
