"""Named points in the store's write paths where a test can crash or fail the process (fault injection).

Off unless the environment asks for it, and then only in that process:

* ``BEHEMB_FAULTS="audit.append.torn:1=kill"`` — the first time the point ``audit.append.torn`` is reached the
  process kills itself with SIGKILL (nothing after it runs: no ``finally``, no flush); ``=raise`` raises
  ``OSError(ENOSPC)`` there instead, as a full disk would. Several rules are separated by commas.
* ``BEHEMB_FAULT_TRACE=<file>`` — every point reached is appended to ``<file>`` as ``name:n`` (the n-th time),
  so a test can list the write points of an action and then crash at each in turn.

A point whose name ends in ``.torn`` sits inside a write that the store then performs in two halves, so a kill
there leaves a half-written line or file, as a power cut can. The cost when nothing is set is one dictionary
lookup per point; points sit only in lifecycle writes, never in training or reading.
"""

from __future__ import annotations

import errno
import os
import signal

FAULTS_ENV = "BEHEMB_FAULTS"
TRACE_ENV = "BEHEMB_FAULT_TRACE"
_hits: dict[str, int] = {}


def _rules() -> list[tuple[str, int, str]]:
    out = []
    for item in os.environ.get(FAULTS_ENV, "").split(","):
        if not item.strip():
            continue
        point, _, action = item.strip().partition("=")
        name, _, count = point.partition(":")
        out.append((name, int(count or 1), action or "kill"))
    return out


def armed(name: str) -> bool:
    """True when a rule names ``name`` (a write then takes its slow, two-step path so it can be torn)."""
    return FAULTS_ENV in os.environ and any(rule[0] == name for rule in _rules())


def fault_point(name: str) -> None:
    """Crash or fail here when the environment says so (see the module docstring); otherwise nothing."""
    if FAULTS_ENV not in os.environ and TRACE_ENV not in os.environ:
        return
    n = _hits[name] = _hits.get(name, 0) + 1
    trace = os.environ.get(TRACE_ENV)
    if trace:
        with open(trace, "a", encoding="ascii") as fh:
            fh.write(f"{name}:{n}\n")
    for rule_name, count, action in _rules():
        if rule_name == name and count == n:
            if action == "raise":
                raise OSError(errno.ENOSPC, f"No space left on device (injected at {name})")
            os.kill(os.getpid(), signal.SIGKILL)
