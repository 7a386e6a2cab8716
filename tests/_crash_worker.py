"""A lifecycle action in its own process, for the crash tests (tests/test_crash_safety.py): the test sets
BEHEMB_FAULTS / BEHEMB_FAULT_TRACE in the environment, or kills this process at a random moment.

    python tests/_crash_worker.py STORE approve VERSION | publish VERSION | rollback | mark QUERY NEIGHBOR
    python tests/_crash_worker.py STORE loop SEED     (prints "ready", then acts until killed)
"""

from __future__ import annotations

import random
import sys

from behemb_core.store import CheckResult, Store, mark_pair, publish, rollback
from behemb_core.store.lifecycle import published_version
from behemb_core.store.lifecycle import record_approval as approve  # the recording layer, checks given

CHECKS = [CheckResult(name="files intact", passed=True, value=0, threshold="0 problems", detail="")]


def act(store: Store, action: str, args: list[str]) -> None:
    if action == "approve":
        approve(store, args[0], by="worker", checks=CHECKS, note="crash test")
    elif action == "publish":
        publish(store, args[0], by="worker")
    elif action == "rollback":
        rollback(store, by="worker")
    elif action == "mark":
        mark_pair(store, args[0], args[1], label="good", by="worker", note="crash test")
    else:
        raise SystemExit(f"unknown action {action}")


def loop(store: Store, seed: int) -> None:
    rng = random.Random(seed)
    print("ready", flush=True)
    while True:
        step = rng.randrange(4)
        if step == 0:
            act(store, "approve", [rng.choice(["v1", "v2", "v3"])])
        elif step == 1:
            current = published_version(store)
            act(store, "publish", ["v2" if current == "v1" else "v1"])
        elif step == 2:
            act(store, "mark", [str(rng.randrange(1, 6)), str(rng.randrange(6, 12))])
        else:
            act(store, "rollback", [])


if __name__ == "__main__":
    store = Store(sys.argv[1])
    if sys.argv[2] == "loop":
        loop(store, int(sys.argv[3]))
    else:
        act(store, sys.argv[2], sys.argv[3:])
