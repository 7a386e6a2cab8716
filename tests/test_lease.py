"""The lease that serialises lifecycle writers on an object store (S3 through s3fs, moto's server on loopback):
released only by its holder (a conditional delete), re-checked and renewed before every write made under it, so a
writer that outlived its lease writes nothing more and never deletes its successor's; and its age judged by the
server's clock, so a host whose clock is off neither takes over a live lease nor waits on a dead one.

The leases here are made stale for real (a shortened ``LEASE_SECONDS`` and a wait of about two seconds, as S3's
timestamps have whole-second resolution), never by writing an old time into them: only the server's clock counts.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from behemb_core.embeddings import make_embeddings
from behemb_core.errors import StoreError
from behemb_core.store import CheckResult, Store, _fsio, _lease, publish, read_audit_log
from behemb_core.store.lifecycle import published_version
from behemb_core.store.lifecycle import record_approval as approve  # the recording layer, checks given
from behemb_core.store.verify import verify_store
from behemb_core.vocab import Vocabulary

TESTS = Path(__file__).resolve().parent
CHECKS = [CheckResult(name="files intact", passed=True, value=0, threshold="0 problems", detail="")]
LEASE = 1.0  # the shortened lease of these tests, in seconds
STALE_AFTER = 2.05  # a lease written this long ago is older than LEASE by the server's whole-second timestamps
TAKEN_OVER = "held the lifecycle lease of .* for longer than 1 s and another writer took it over; nothing was " \
             "written: run it again"
DAY = 86400.0
REAL_TIME = time.time


def fresh_store(bucket: str, **options: object) -> Store:
    return Store(f"s3://{bucket}/lease-{uuid.uuid4().hex[:8]}", storage_options=options or None)


def save(st: Store, name: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    st.save_version(make_embeddings(Vocabulary([f"i{k}" for k in range(6)]), rng.normal(size=(6, 3))),
                    manifest={"method": "hand", "seed": seed}, name=name)


def store_with_a_published_version(bucket: str) -> Store:
    st = fresh_store(bucket)
    for i, name in enumerate(("a", "b")):
        save(st, name, i)
        approve(st, name, by="setup", checks=CHECKS)
    publish(st, "a", by="setup")
    return st


def lease_owner(st: Store) -> str | None:
    held = _lease._read_lease(st, st.join(_lease.LEASE_FILE))
    return None if held is None else held.get("owner")


def rival(st: Store) -> _lease._Lease:
    return _lease._Lease(st, st.join(_lease.LEASE_FILE), "rival")


def overwrite_lease(st: Store) -> None:
    """Another writer's lease replaces ours (as a take-over does), without waiting for ours to go stale."""
    st.fs.pipe_file(st.join(_lease.LEASE_FILE), json.dumps({"owner": "rival", "host": "elsewhere"}).encode())


def test_a_writer_that_outlived_its_lease_commits_nothing_and_keeps_off_its_successors_lease(
        s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A publish stalls inside the lock past its lease; another writer finds the lease stale by the server's clock
    and takes it over. The stalled publish's commit is refused with nothing written, and on release it leaves the
    new holder's lease alone."""
    st = store_with_a_published_version(s3_bucket)
    log_before = read_audit_log(st)
    monkeypatch.setattr(_lease, "LEASE_SECONDS", LEASE)
    take = _lease._take_lease
    successors: list[_lease._Lease] = []

    def stall_then_lose_it(lease: _lease._Lease) -> None:
        take(lease)
        time.sleep(STALE_AFTER)
        successor = rival(st)
        take(successor)  # another process: our lease is stale by the server's clock, so it takes it over at once
        successors.append(successor)

    monkeypatch.setattr(_lease, "_take_lease", stall_then_lose_it)
    with pytest.raises(StoreError, match=TAKEN_OVER):
        publish(st, "b", by="w1")
    monkeypatch.setattr(_lease, "_take_lease", take)
    assert lease_owner(st) == "rival"  # the stalled writer did not delete its successor's lease
    assert read_audit_log(st) == log_before and published_version(st) == "a"  # nothing was written
    _lease._release(successors[0])  # the successor is done
    assert lease_owner(st) is None
    publish(st, "b", by="w1")
    assert published_version(st) == "b" and verify_store(st)["problems"] == []


def test_a_slow_writer_whose_lease_nobody_took_renews_it_and_commits(
        s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    st = store_with_a_published_version(s3_bucket)
    monkeypatch.setattr(_lease, "LEASE_SECONDS", LEASE)
    take, put = _lease._take_lease, _lease._put_lease
    renewals: list[str | None] = []

    def stall(lease: _lease._Lease) -> None:
        take(lease)
        time.sleep(STALE_AFTER)

    def spy(lease: _lease._Lease, *, replacing: str | None) -> bool:
        renewals.append(replacing)
        return put(lease, replacing=replacing)

    monkeypatch.setattr(_lease, "_take_lease", stall)
    monkeypatch.setattr(_lease, "_put_lease", spy)
    publish(st, "b", by="w1")
    assert renewals[0] is None and len(renewals) > 1 and all(renewals[1:])  # created, then renewed by CAS
    assert published_version(st) == "b" and lease_owner(st) is None
    assert verify_store(st)["problems"] == []


def test_writes_under_a_lost_lease_are_refused_and_release_leaves_the_new_holders_lease(s3_bucket: str) -> None:
    st = fresh_store(s3_bucket)
    outside = f"s3://{s3_bucket}/elsewhere-{uuid.uuid4().hex[:8]}/x.json"
    with _fsio.locked(st):
        _fsio.write_atomic(st, st.join("first.json"), b"{}")  # ours: checked and written
        overwrite_lease(st)
        with pytest.raises(StoreError, match="another writer took it over; nothing was written"):
            _fsio.write_atomic(st, st.join("second.json"), b"{}")
        with pytest.raises(StoreError, match="another writer took it over"):
            _fsio.append_bytes(st, st.join("log.jsonl"), b"{}\n")
        _fsio.Staged(_fsio.Location(st.fs), outside, b"{}").install()  # not a file of the store: not its business
    assert st.fs.exists(st.join("first.json")) and not st.fs.exists(st.join("second.json"))
    assert not st.fs.exists(st.join("log.jsonl")) and st.fs.exists(outside)
    assert lease_owner(st) == "rival"


def test_a_lease_lost_after_the_commit_leaves_the_action_recorded_for_the_next_command(
        s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Taken over between the audit append and the pointer: the pointer is not written by a writer that no longer
    holds the lease (it could overwrite a newer one); the action is recorded and the next command completes it."""
    st = store_with_a_published_version(s3_bucket)
    append = _fsio._append_remote

    def append_then_lose_it(*args: Any) -> None:
        append(*args)
        overwrite_lease(st)

    monkeypatch.setattr(_fsio, "_append_remote", append_then_lose_it)
    with pytest.raises(StoreError, match="recorded in the audit log .*taken over by another writer.*completes it"):
        publish(st, "b", by="w1")
    monkeypatch.undo()
    assert read_audit_log(st)[-1]["version"] == "b" and published_version(st) == "a"
    assert lease_owner(st) == "rival"
    st.fs.rm(st.join(_lease.LEASE_FILE))  # the rival is done
    save(st, "c", 2)
    approve(st, "c", by="w2", checks=CHECKS)  # the next command rolls the pointer forward first
    assert published_version(st) == "b" and verify_store(st)["problems"] == []


# --------------------------------------------------------------------------------- the server's clock, not ours


@pytest.fixture(scope="module")
def own_clock_bucket() -> Iterator[tuple[str, dict[str, object]]]:
    """A bucket on a moto server in its own process, so that skewing this process's clock leaves the server's
    alone (the session's server runs in a thread of this process and would share it). Yields the bucket and the
    storage options that reach it."""
    pytest.importorskip("s3fs", reason="s3fs is not installed (pip install -r requirements-test.txt)")
    pytest.importorskip("moto.server", reason="moto[server] is not installed (pip install -r requirements-test.txt)")
    serve = "import sys, s3_server\nserver, url = s3_server.start()\nprint(url, flush=True)\nsys.stdin.read()\n"
    proc = subprocess.Popen([sys.executable, "-c", serve], cwd=TESTS, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        options: dict[str, object] = {"endpoint_url": url, "key": "testing", "secret": "testing"}
        Store("s3://lease-clock-tests", storage_options=options).fs.mkdir("lease-clock-tests")
        yield "lease-clock-tests", options
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def skew_clock(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """This process's clock (``time.time``) off by ``seconds``; the server's, in its own process, is not."""
    monkeypatch.setattr(time, "time", lambda: REAL_TIME() + seconds)


@pytest.mark.parametrize("skew", [DAY, -DAY, 10 * 365 * DAY])
def test_a_skewed_host_clock_does_not_make_a_fresh_lease_look_stale(
        own_clock_bucket: tuple[str, dict[str, object]], monkeypatch: pytest.MonkeyPatch, skew: float) -> None:
    bucket, options = own_clock_bucket
    st = fresh_store(bucket, **options)
    holder = rival(st)
    _lease._take_lease(holder)  # written by a host with a right clock
    skew_clock(monkeypatch, skew)
    monkeypatch.setattr(_lease, "LEASE_WAIT_SECONDS", 0.5)
    with pytest.raises(StoreError, match="stayed locked by"):
        _lease._take_lease(_lease._Lease(st, holder.path, "me"))
    assert lease_owner(st) == "rival"


def test_a_skewed_host_clock_does_not_make_a_stale_lease_look_fresh(
        own_clock_bucket: tuple[str, dict[str, object]], monkeypatch: pytest.MonkeyPatch) -> None:
    bucket, options = own_clock_bucket
    skews = (-DAY, DAY, -10 * 365 * DAY)
    stores = [fresh_store(bucket, **options) for _ in skews]
    for st in stores:
        _lease._take_lease(rival(st))  # a crashed writer's lease, its `at` from a host with a right clock
    monkeypatch.setattr(_lease, "LEASE_SECONDS", LEASE)
    monkeypatch.setattr(_lease, "LEASE_WAIT_SECONDS", 5.0)
    time.sleep(STALE_AFTER)
    for st, skew in zip(stores, skews, strict=True):
        skew_clock(monkeypatch, skew)
        started = time.monotonic()
        _lease._take_lease(_lease._Lease(st, st.join(_lease.LEASE_FILE), "me"))
        assert time.monotonic() - started < 1.0 and lease_owner(st) == "me", skew  # taken over at once


def test_the_lifecycle_works_under_a_skewed_host_clock(
        own_clock_bucket: tuple[str, dict[str, object]], monkeypatch: pytest.MonkeyPatch) -> None:
    bucket, options = own_clock_bucket
    st = fresh_store(bucket, **options)
    save(st, "a", 0)
    for skew in (DAY, -DAY):
        skew_clock(monkeypatch, skew)
        approve(st, "a", by=f"skewed {skew:+.0f}", checks=CHECKS)  # no wait on our own, no lease left behind
        assert lease_owner(st) is None
    assert [e["action"] for e in read_audit_log(st)] == ["approve", "approve"]


def test_without_a_date_header_the_time_comes_from_a_probe_object(s3_bucket: str) -> None:
    st = fresh_store(s3_bucket)
    st.fs.pipe_file(st.join("x"), b"x")
    head = _lease._s3(st, "head_object", st.join("x"))
    by_date = _lease._server_now(st, head)
    by_probe = _lease._server_now(st, {})
    assert abs((by_probe - by_date).total_seconds()) <= 2 and by_probe.tzinfo is not None
    assert st.fs.exists(st.join(_lease.CLOCK_FILE))
    assert abs((by_date - datetime.datetime.now(datetime.UTC)).total_seconds()) < 5  # same host here
