"""Eight processes publishing and rolling back on one store at the same time, and what must hold afterwards:
every action that reported success is in the audit log once, ``seq`` runs 1, 2, 3…, each move's ``previous`` is
the version the move before it published, the pointer is the last move, and ``verify`` finds no problem.

With ``outlive_lease`` (object stores) every writer runs with a lease of :data:`LEASE_SECONDS`, and the first one
stalls inside the lock on its first action until another writer has taken its lease over (the lease is stale by
the server's clock after that long): that action must be refused with nothing written, and the writer must not
delete its successor's lease."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

from behemb_core.store import Store, read_audit_log
from behemb_core.store.lifecycle import published_version
from behemb_core.store.verify import verify_store

REPO = Path(__file__).resolve().parents[1]
LEASE_SECONDS = 3.0  # the shortened lease of an outlive_lease run (S3 timestamps have whole seconds)

WRITER = """
import json, os, random, sys, time
from behemb_core.errors import StoreError
from behemb_core.store import Store, _lease, publish, rollback
if os.environ.get("BEHEMB_TEST_LEASE_SECONDS"):
    _lease.LEASE_SECONDS = float(os.environ["BEHEMB_TEST_LEASE_SECONDS"])
if os.environ.get("BEHEMB_TEST_OUTLIVE_LEASE") == "1":  # stall in the lock until another writer takes the lease
    take = _lease._take_lease
    def stall(lease):
        take(lease)
        _lease._take_lease = take  # the first action only
        print("holding", flush=True)
        give_up = time.monotonic() + 60
        while _lease._still_ours(lease) and time.monotonic() < give_up:
            time.sleep(0.1)
    _lease._take_lease = stall
st = Store(sys.argv[1])
rng = random.Random(int(sys.argv[2]))
names = sys.argv[3].split(",")
done = lost = 0
first = None  # what became of the first action (the stalled one, for the staller)
for turn in range(4):
    try:
        if rng.random() < 0.3:
            rollback(st, by=f"w{sys.argv[2]}")
        else:
            publish(st, rng.choice(names), by=f"w{sys.argv[2]}")
        done += 1
        first = first or "done"
    except StoreError as exc:  # a real refusal: published already, nothing to roll back to, or the pointer moved
        # under a rollback between reading it and taking the lease (it re-reads under the lease and refuses), or
        # the action outlived its lease and another writer took it over before the commit
        assert any(why in str(exc) for why in ("already the published version", "nothing", "no earlier",
                                                "changed from")), exc
        lost += "another writer took it over; nothing was written" in str(exc)
        first = first or ("lost" if "another writer took it over" in str(exc) else "refused")
print(json.dumps({"done": done, "lost": lost, "first": first}))
"""


def run_concurrent_publishers(st: Store, names: list[str], tmp_path: Path, *, processes: int = 8,
                              outlive_lease: bool = False) -> int:
    """Run the writers on approved versions ``names`` (one of them published) and check the log and pointer;
    returns how many actions succeeded."""
    before = [e for e in read_audit_log(st) if e["action"] in ("publish", "rollback")]
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if outlive_lease:
        env["BEHEMB_TEST_LEASE_SECONDS"] = str(LEASE_SECONDS)

    def start(i: int, **extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, str(script), st.url, str(i), ",".join(names)], env={**env, **extra},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    procs = []
    if outlive_lease:  # the staller holds the lease before the others start, so they are there to take it over
        procs.append(start(0, BEHEMB_TEST_OUTLIVE_LEASE="1"))
        assert procs[0].stdout is not None
        first = procs[0].stdout.readline()
        assert first == "holding\n", (first, procs[0].communicate(timeout=60))
    procs += [start(i) for i in range(len(procs), processes)]
    outputs = [p.communicate(timeout=600) for p in procs]
    failed = [(p.returncode, err[-3000:]) for p, (_, err) in zip(procs, outputs, strict=True) if p.returncode]
    assert not failed, failed
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    if outlive_lease:
        # its stalled action never commits: refused because its lease was taken over, or — when the writers that
        # took the lease over moved the pointer meanwhile — refused on the state it re-reads under the lock (which
        # of the two depends on the order the others ran in)
        assert results[0]["first"] in ("lost", "refused"), (results[0], outputs[0][1][-3000:])
    succeeded = sum(r["done"] for r in results)
    log = read_audit_log(st)
    moves = [e for e in log if e["action"] in ("publish", "rollback")]
    assert len(moves) == len(before) + succeeded, (len(moves), succeeded)  # no action lost, none counted twice
    assert [e["seq"] for e in log] == list(range(1, len(log) + 1))
    assert all(m["previous"] == p["version"] for p, m in itertools.pairwise(moves))
    report = verify_store(st)
    assert report["problems"] == [] and not report["pending"], (report["problems"], report["pending"])
    assert published_version(st) == moves[-1]["version"]
    assert not st.fs.exists(st.join(".lifecycle.lease"))  # every holder released its own lease, none another's
    return succeeded
