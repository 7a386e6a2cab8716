"""Crash safety of the lifecycle: kill or fail approve, publish, rollback and golden marks at every write point
(and at random moments, many times), then check that the next command or ``repair --apply`` leaves a store that
``verify`` passes, with no version and no audit entry lost, none invented, and each action done wholly or not at
all.

The actions run in their own process (``tests/_crash_worker.py``); the store's fault points
(``behemb_core/store/_faults.py``) kill it with SIGKILL or raise ENOSPC at a chosen point. The write points of
each action are not listed by hand: a first run records every point the action passes, and each is then hit in
turn — also its ``.torn`` twin, where the write is cut in half first, as a power cut would.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from behemb_core.embeddings import make_embeddings
from behemb_core.errors import StoreError
from behemb_core.store import CheckResult, Store, golden_pairs, mark_pair, publish, read_audit_log
from behemb_core.store.lifecycle import approvals, published_version
from behemb_core.store.lifecycle import record_approval as approve  # the recording layer, checks given
from behemb_core.store.recovery import inspect_store
from behemb_core.store.repair import repair
from behemb_core.store.verify import verify_store
from behemb_core.vocab import Vocabulary

pytestmark = pytest.mark.slow  # see pyproject.toml: CI runs it, `-m 'not slow'` skips it while editing

REPO = Path(__file__).resolve().parents[1]
WORKER = REPO / "tests" / "_crash_worker.py"
CHECKS = [CheckResult(name="files intact", passed=True, value=0, threshold="0 problems", detail="")]
ACTIONS = {"approve": ["approve", "v3"], "publish": ["publish", "v1"], "rollback": ["rollback"],
           "mark": ["mark", "1", "7"]}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1, v2 approved; v1 then v2 published; v3 a draft; one golden pair marked."""
    root = tmp_path_factory.mktemp("crash") / "store"
    st = Store(root)
    rng = np.random.default_rng(0)
    for v in ("v1", "v2", "v3"):
        st.save_version(make_embeddings(Vocabulary([str(i) for i in range(1, 12)]), rng.normal(size=(11, 4))),
                        manifest={"method": "hand"}, name=v)
    approve(st, "v1", by="setup", checks=CHECKS)
    approve(st, "v2", by="setup", checks=CHECKS)
    publish(st, "v1", by="setup")
    publish(st, "v2", by="setup")
    mark_pair(st, "2", "8", label="bad", by="setup")
    return root


def run_worker(store: Path, argv: list[str], **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(REPO), **env}
    return subprocess.run([sys.executable, str(WORKER), str(store), *argv], env=full, capture_output=True,
                          text=True, timeout=120)


def write_points(pristine: Path, tmp: Path, argv: list[str]) -> list[str]:
    """Every fault point the action passes (``name:n``), plus the ``.torn`` twin of each write."""
    store = tmp / "traced"
    shutil.copytree(pristine, store)
    trace = tmp / "trace.txt"
    done = run_worker(store, argv, BEHEMB_FAULT_TRACE=str(trace))
    assert done.returncode == 0, done.stderr
    points = trace.read_text().split()
    torn = []
    for p in points:
        name, n = p.rsplit(":", 1)
        base, _, last = name.rpartition(".")
        if last in ("written", "tmp_written", "created") and f"{base}.torn:{n}" not in torn:
            torn.append(f"{base}.torn:{n}")
    return points + torn


def snapshot(root: Path) -> dict:
    st = Store(root)
    return {"versions": {v.name: st.verify_version(v.name) for v in st.list_versions()},
            "hashes": {v.name: (root / "versions" / v.name / "manifest.json").read_bytes() for v in st.list_versions()},
            "log": (root / "audit.log").read_bytes(), "golden": len(golden_pairs(st))}


def check_outcome(root: Path, before: dict, action: str) -> None:
    """verify passes; no version changed or lost; the old log is a prefix of the new one; the new entries are the
    action at most once (plus recover/repair entries); and the action is wholly there or wholly absent."""
    st = Store(root)
    report = verify_store(st)
    assert report["ok"], report["problems"]
    assert not report["pending"], report["pending"]
    after = snapshot(root)
    assert after["versions"] == before["versions"] and after["hashes"] == before["hashes"]
    assert after["log"].startswith(before["log"])  # no committed entry lost or changed
    new = [json.loads(line) for line in after["log"][len(before["log"]):].splitlines()]
    done = [e for e in new if e["action"] not in ("recover", "repair")]
    assert all(e["action"] in ("recover", "repair") for e in new if e not in done)
    if action == "mark":
        assert not done and after["golden"] in (before["golden"], before["golden"] + 1)
        happened = after["golden"] == before["golden"] + 1
        assert happened == (("1", "7") in {(str(q), str(n)) for q, n in
                                           golden_pairs(st)[["query_id", "neighbor_id"]].values})
        return
    assert len(done) <= 1 and all(e["action"] == action for e in done), new
    if action == "approve":
        assert (st.status("v3") == "approved") == bool(done)
        assert len(approvals(st, "v3")) == len(done)
    else:
        expected = "v1" if done else "v2"
        assert published_version(st) == expected
        assert json.loads((root / "published.json").read_text()) == (done[0] if done else
                                                                     read_audit_log(st)[-1 - len(new)])


@pytest.mark.parametrize("action", list(ACTIONS))
def test_every_write_point_killed_or_failed_then_the_next_command_recovers(pristine, tmp_path, action):
    argv = ACTIONS[action]
    points = write_points(pristine, tmp_path, argv)
    assert len(points) >= 5, points
    for point in points:
        for how in ("kill", "raise"):
            store = tmp_path / f"{point}-{how}".replace(":", "_")
            shutil.copytree(pristine, store)
            before = snapshot(store)
            done = run_worker(store, argv, BEHEMB_FAULTS=f"{point}={how}")
            if how == "kill":
                assert done.returncode == -signal.SIGKILL, (point, done.returncode, done.stderr)
            # The next lifecycle command (another golden mark) completes or undoes what was interrupted first.
            mark_pair(store, "3", "9", label="good", by="next")
            check_outcome_ignoring_next_mark(store, before, action, point, how)


def check_outcome_ignoring_next_mark(store: Path, before: dict, action: str, point: str, how: str) -> None:
    before = {**before, "golden": before["golden"] + 1}  # the next command's own mark
    try:
        check_outcome(store, before, action)
    except AssertionError as exc:
        raise AssertionError(f"after {how} at {point}: {exc}") from exc
    assert repair(store)["findings"] == [], f"after {how} at {point}: something left to repair"


def test_repair_apply_recovers_every_crash_point_without_another_command(pristine, tmp_path):
    """The same crashes, recovered by ``repair --apply`` alone (what an operator runs first)."""
    argv = ACTIONS["publish"]
    for point in write_points(pristine, tmp_path, argv):
        store = tmp_path / f"r-{point}".replace(":", "_")
        shutil.copytree(pristine, store)
        before = snapshot(store)
        run_worker(store, argv, BEHEMB_FAULTS=f"{point}=kill")
        dry = repair(store)
        assert not dry["applied"] and snapshot(store)["log"] == (store / "audit.log").read_bytes()
        result = repair(store, apply=True, by="ops")
        assert result["needs_a_person"] == [], (point, result)
        check_outcome(store, before, "publish")
        if result["done"]:  # recorded in the audit log
            assert read_audit_log(Store(store))[-1]["action"] == "repair"


def test_random_kills_of_a_busy_writer(pristine, tmp_path):
    """A process approving, publishing, rolling back and marking in a loop, killed at random moments 20 times;
    after each kill recovery (the next command, or repair) leaves a store that verifies, and the log only grows."""
    store = tmp_path / "busy"
    shutil.copytree(pristine, store)
    rng = random.Random(7)
    log = (store / "audit.log").read_bytes()
    versions = snapshot(store)["hashes"]
    for i in range(20):
        proc = subprocess.Popen([sys.executable, str(WORKER), str(store), "loop", str(i)],
                                env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.25))
        proc.kill()
        proc.wait(timeout=30)
        if i % 2:
            repair(store, apply=True, by="ops")
        else:
            mark_pair(store, "4", "10", label="good", by="next")
        report = verify_store(store)
        assert report["ok"] and not report["pending"], (i, report["problems"], report["pending"])
        now = (store / "audit.log").read_bytes()
        assert now.startswith(log), i
        log = now
        assert snapshot(store)["hashes"] == versions
    assert len(read_audit_log(Store(store))) > 12  # the loop did work between the kills


# ------------------------------------------------------------------------------------------------ hand edits


def test_repair_handles_what_hands_leave(pristine, tmp_path):
    """States this code cannot produce by crashing but hand edits can: the next command refuses to act and names
    them; repair --apply sets the odd file aside (never deletes it) and verify passes."""
    store = tmp_path / "edited"
    shutil.copytree(pristine, store)
    st = Store(store)
    # A pointer edited by hand: it names v1, the log's last publish does not.
    pointer = json.loads((store / "published.json").read_text())
    (store / "published.json").write_text(json.dumps({**pointer, "version": "v1", "seq": 99}))
    # An approval record without its audit line (a file added by hand).
    orphan = store / "lifecycle" / "v3" / "000001-approved.json"
    orphan.parent.mkdir(parents=True)
    orphan.write_text(json.dumps({"status": "approved", "version": "v3", "by": "ghost"}))
    # Temporary files of interrupted writes.
    (store / "published.json.tmp-0123").write_text("{")
    kinds = {f.kind for f in inspect_store(st)}
    assert {"pointer differs", "record without audit entry", "leftover temporary file"} <= kinds
    with pytest.raises(StoreError, match="needs repair") as refused:
        mark_pair(st, "1", "9", label="good", by="x")
    assert "published.json" in str(refused.value) and "000001-approved.json" in str(refused.value)
    report = verify_store(st)
    assert not report["ok"] and any("published.json" in p and "not what the audit log" in p for p in report["problems"])
    assert any("000001-approved.json has no audit entry" in p for p in report["problems"])
    entries = len(read_audit_log(st))
    result = repair(st, apply=True, by="ops")
    assert result["needs_a_person"] == [] and len(result["done"]) == 3
    assert verify_store(st)["ok"]
    assert published_version(st) == "v2" and st.status("v3") == "draft"
    kept = sorted(p.name for p in (store / "recovered").iterdir())
    assert any(n.endswith("published.json") for n in kept) and any("000001-approved.json" in n for n in kept)
    log = read_audit_log(st)
    assert len(log) == entries + 1 and log[-1]["action"] == "repair" and log[-1]["by"] == "ops"
    mark_pair(st, "1", "9", label="good", by="x")  # the lifecycle works again
