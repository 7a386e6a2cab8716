"""Compile — or, normally, load from numba's disk cache — the kernels training uses, before a user waits on them.

numba compiles a kernel the first time it runs in a process, unless its machine code is in the disk cache
(:mod:`behemb_core._numba_cache`). On a machine that has never trained, the first training of the session
would spend a minute or more compiling inside "SVD" or "epoch 1" with a frozen progress bar. :func:`warm_up_training`
runs every method's compiled paths once on tiny data, one step per ``warm_up`` config of each method: the first
call on a machine compiles and fills the cache, every later process only loads it (a few seconds).

:func:`start_background_warm_up` runs it once per process in a daemon thread; :func:`wait_for_warm_up` lets a job
that starts meanwhile wait for it instead of compiling the same kernels a second time in parallel — and says how
far it is: steps done of all, seconds so far and, once a warm-up has run to the end on this machine, about how
long the slowest one took (kept next to the numba cache, ``behemb-warm-up.json``; plain JSON, read defensively).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._numba_cache import cache_dir
from .progress import ProgressCallback, as_reporter

_lock = threading.Lock()
_thread: threading.Thread | None = None
_done = threading.Event()

PREPARING = "preparing compiled code (once per machine)"
RECORD_NAME = "behemb-warm-up.json"


@dataclass(frozen=True)
class WarmUpStatus:
    """Where a warm-up is: ``done`` of ``total`` steps after ``elapsed`` seconds, the current step running for
    ``step_elapsed`` seconds; ``expected`` holds each step's seconds in the slowest complete warm-up recorded on
    this machine (empty when none was, or when its steps differ from these)."""

    done: int
    total: int
    elapsed: float
    step_elapsed: float
    expected: tuple[float, ...] = ()

    @property
    def fraction(self) -> float:
        """Share done, below 1 until the warm-up ends: by the recorded step times when there are any (each step
        counts at most its recorded time), else by steps."""
        if self.total <= 0:
            return 0.0
        if len(self.expected) == self.total and sum(self.expected) > 0:
            now = sum(self.expected[: self.done])
            if self.done < self.total:
                now += min(self.step_elapsed, self.expected[self.done])
            return min(now / sum(self.expected), 0.99)
        return min(self.done / self.total, 0.99)

    @property
    def message(self) -> str:
        if self.total <= 0:  # not begun yet
            return PREPARING
        text = f"{PREPARING}: {self.done} of {self.total} steps done, {self.elapsed:.0f} s so far"
        if len(self.expected) == self.total and self.expected:
            text += f" (about {sum(self.expected):.0f} s when it last compiled here)"
        return text


class _Tracker:
    """The running warm-up's step counter (written by the warm-up thread, read by waiting jobs)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started = self.step_started = 0.0
        self.done = self.total = 0
        self.expected: tuple[float, ...] = ()

    def begin(self, total: int, expected: tuple[float, ...]) -> None:
        with self._lock:
            self.started = self.step_started = time.perf_counter()
            self.done, self.total = 0, total
            self.expected = expected if len(expected) == total else ()

    def step_done(self) -> None:
        with self._lock:
            self.done += 1
            self.step_started = time.perf_counter()

    def status(self) -> WarmUpStatus:
        with self._lock:
            now = time.perf_counter()
            started = self.started or now
            step_started = self.step_started or now
            return WarmUpStatus(done=self.done, total=self.total, elapsed=now - started,
                                step_elapsed=now - step_started, expected=self.expected)


_tracker = _Tracker()


def _record_path() -> Path | None:
    folder = cache_dir()
    return None if folder is None else folder / RECORD_NAME


def read_record(path: Path | None = None) -> dict[str, Any] | None:
    """The recorded slowest complete warm-up (``{"steps": [...], "seconds": [...], "numba": ...}``), or ``None``
    when there is none or the file is not one this module wrote."""
    path = path or _record_path()
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = (isinstance(data, dict) and isinstance(data.get("steps"), list) and isinstance(data.get("seconds"), list)
          and len(data["steps"]) == len(data["seconds"])
          and all(isinstance(s, (int, float)) and s >= 0 for s in data["seconds"]))
    return data if ok else None


def _expected(steps: list[str], record: dict[str, Any] | None) -> tuple[float, ...]:
    import numba

    if record is None or record["steps"] != steps or record.get("numba") != numba.__version__:
        return ()
    return tuple(float(s) for s in record["seconds"])


def _save_record(steps: list[str], seconds: list[float], path: Path | None = None) -> None:
    """Keep the step times of the slowest complete warm-up of these steps with this numba (a compile, not a load
    from the cache: that is when someone waits)."""
    import numba

    path = path or _record_path()
    if path is None:
        return
    old = read_record(path)
    if old is not None and _expected(steps, old) and sum(old["seconds"]) >= sum(seconds):
        return
    try:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"steps": steps, "seconds": [round(s, 2) for s in seconds],
                                   "numba": numba.__version__}), encoding="utf-8")
        tmp.replace(path)
    except OSError:  # a read-only cache folder: no estimate next time, nothing else lost
        return


def warm_up_training() -> float:
    """Run every compiled training path once on tiny data (each method's ``warm_up`` configs, merged over
    ``{"dim": 8}``); returns the seconds it took."""
    from .methods.base import TrainingInputs
    from .methods.registry import METHODS
    from .synthetic import planted_sessions

    t0 = time.perf_counter()
    steps = [(spec, values) for spec in list(METHODS.values()) for values in spec.warm_up]
    names = [f"{spec.name}:{json.dumps(values, sort_keys=True)}" for spec, values in steps]
    _tracker.begin(len(steps), _expected(names, read_record()))
    sessions = planted_sessions(n_items=120, n_clusters=6, n_sessions=600, seed=0).sessions
    inputs = TrainingInputs(sessions=sessions)
    seconds = []
    for spec, values in steps:  # each method's entry names the configs that run its compiled paths
        start = time.perf_counter()
        spec.fit(inputs, spec.parse_config({"dim": 8, **values}), seed=0)
        seconds.append(time.perf_counter() - start)
        _tracker.step_done()
    _save_record(names, seconds)
    return time.perf_counter() - t0


def warm_up_status() -> WarmUpStatus:
    """Where the current (or last) warm-up of this process is."""
    return _tracker.status()


def _run() -> None:
    try:
        warm_up_training()
    except Exception:  # a failed warm-up only means the first real job compiles for itself
        import logging

        logging.getLogger(__name__).exception("warming up the training kernels failed")
    finally:
        _done.set()


def start_background_warm_up() -> bool:
    """Start the warm-up in a daemon thread, once per process; ``False`` when it was already started."""
    global _thread
    with _lock:
        if _thread is not None:
            return False
        _thread = threading.Thread(target=_run, name="behemb-training-warm-up", daemon=True)
        _thread.start()
        return True


def warm_up_running() -> bool:
    """Whether a background warm-up was started and has not finished yet."""
    return _thread is not None and not _done.is_set()


def wait_for_warm_up(progress: ProgressCallback | None = None, *, poll_seconds: float = 0.5) -> None:
    """Block until a running background warm-up ends, reporting where it is every ``poll_seconds`` (a callback
    that raises :class:`~behemb_core.errors.Cancelled` stops the wait). Returns at once when none is running.

    Each event's message starts with :data:`PREPARING` and names the steps done, the seconds so far and the
    recorded duration; its metrics carry ``warm_up_fraction`` (never decreasing), ``steps_done``,
    ``steps_total`` and ``elapsed_seconds``. The event's own ``fraction`` stays ``None``: the wait is not part of
    the job's work, and a job's bar that only moves forward would otherwise stall after it."""
    rep = as_reporter(progress)
    shown = 0.0
    while warm_up_running():
        status = warm_up_status()
        shown = max(shown, status.fraction)
        rep("compile", None, status.message, warm_up_fraction=round(shown, 3), steps_done=status.done,
            steps_total=status.total, elapsed_seconds=round(status.elapsed, 1))
        _done.wait(poll_seconds)
