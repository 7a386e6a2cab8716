"""Eight processes publishing and rolling back on one store at the same time, and what must hold afterwards:
every action that reported success is in the audit log once, ``seq`` runs 1, 2, 3…, each move's ``previous`` is
the version the move before it published, the pointer is the last move, and ``verify`` passes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from behemb_core.store import Store, read_audit_log
from behemb_core.store.lifecycle import published_version
from behemb_core.store.verify import verify_store

REPO = Path(__file__).resolve().parents[1]

WRITER = """
import random, sys
from behemb_core.errors import StoreError
from behemb_core.store import Store, publish, rollback
st = Store(sys.argv[1])
rng = random.Random(int(sys.argv[2]))
names = sys.argv[3].split(",")
done = 0
for _ in range(4):
    try:
        if rng.random() < 0.3:
            rollback(st, by=f"w{sys.argv[2]}")
        else:
            publish(st, rng.choice(names), by=f"w{sys.argv[2]}")
        done += 1
    except StoreError as exc:  # a real refusal: published already, nothing to roll back to, or the pointer moved
        # under a rollback between reading it and taking the lease (it re-reads under the lease and refuses)
        assert any(why in str(exc) for why in ("already the published version", "nothing", "no earlier",
                                                "changed from")), exc
print(done)
"""


def run_concurrent_publishers(st: Store, names: list[str], tmp_path: Path, *, processes: int = 8) -> int:
    """Run the writers on approved versions ``names`` (one of them published) and check the log and pointer;
    returns how many actions succeeded."""
    before = [e for e in read_audit_log(st) if e["action"] in ("publish", "rollback")]
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, str(script), st.url, str(i), ",".join(names)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(processes)]
    outputs = [p.communicate(timeout=600) for p in procs]
    failed = [(p.returncode, err[-3000:]) for p, (_, err) in zip(procs, outputs) if p.returncode]
    assert not failed, failed
    succeeded = sum(int(out.strip()) for out, _ in outputs)
    log = read_audit_log(st)
    moves = [e for e in log if e["action"] in ("publish", "rollback")]
    assert len(moves) == len(before) + succeeded, (len(moves), succeeded)  # no action lost, none counted twice
    assert [e["seq"] for e in log] == list(range(1, len(log) + 1))
    assert all(m["previous"] == p["version"] for p, m in zip(moves, moves[1:]))
    report = verify_store(st)
    assert report["ok"] and not report["pending"], (report["problems"], report["pending"])
    assert published_version(st) == moves[-1]["version"]
    return succeeded
