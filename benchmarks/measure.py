"""Wall time and peak memory (RSS) per stage.

Peak RSS per stage uses Linux's resettable high-water mark: writing ``5`` to ``/proc/self/clear_refs`` resets
``VmHWM`` to the current RSS, so the peak read at the end of a stage belongs to that stage alone. Where that
file is not writable (other kernels, some sandboxes) the peak is the process's peak so far, and the result
says so (``peak_is_process_wide``).

Stages of one library call are split by the stage names of the progress events the call emits (the library
announces the start of each stage), so the timings are of the library as it really runs — one call, not its
parts called separately.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from behemb_core.progress import ProgressEvent

_CLEAR_REFS = "/proc/self/clear_refs"


def status_kib(key: str, pid: int | str = "self") -> int | None:
    """A ``/proc/<pid>/status`` field in KiB (``VmRSS``, ``VmHWM``), or ``None`` where there is none."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_bytes() -> int:
    """Current resident set size."""
    kib = status_kib("VmRSS")
    return 0 if kib is None else kib * 1024


def _reset_peak() -> bool:
    try:
        with open(_CLEAR_REFS, "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_bytes() -> int:
    kib = status_kib("VmHWM")
    if kib is None:  # not Linux: ru_maxrss is KiB on Linux, bytes on macOS; both are process-wide
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return kib * 1024


PEAK_RESETTABLE = _reset_peak()


@dataclass
class StageResult:
    """One measured stage. ``extra`` holds stage-specific numbers (steps/s, recall, ratio to a peer…)."""

    group: str
    stage: str
    seconds: float
    peak_rss_bytes: int
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "stage": self.stage,
            "seconds": round(self.seconds, 3),
            "peak_rss_gib": round(self.peak_rss_bytes / 2**30, 3),
            **self.extra,
        }


class StageRecorder:
    """A progress callback that times the stages of one library call.

    A stage starts at the first event carrying its name (``aliases`` fold names together, e.g. per-epoch
    events into the skip-gram stage) and ends when the next stage starts or :meth:`finish` is called.
    """

    def __init__(self, group: str, aliases: dict[str, str] | None = None,
                 forward: Callable[[ProgressEvent], None] | None = None) -> None:
        self.group = group
        self.aliases = aliases or {}
        self.forward = forward
        self.results: list[StageResult] = []
        self._stage: str | None = None
        self._t0 = 0.0

    def start(self, first_stage: str) -> None:
        self._stage = first_stage
        _reset_peak()
        self._t0 = time.perf_counter()

    def _close(self, now: float) -> None:
        if self._stage is None:
            return
        peak = _peak_bytes()
        for r in self.results:  # a stage seen again (e.g. "done" twice) accumulates
            if r.stage == self._stage:
                r.seconds += now - self._t0
                r.peak_rss_bytes = max(r.peak_rss_bytes, peak)
                break
        else:
            self.results.append(StageResult(self.group, self._stage, now - self._t0, peak))

    def __call__(self, event: ProgressEvent) -> None:
        name = self.aliases.get(event.stage, event.stage)
        if name != self._stage:
            now = time.perf_counter()
            self._close(now)
            self._stage = name
            _reset_peak()
            self._t0 = time.perf_counter()
        if self.forward is not None:
            self.forward(event)

    def finish(self) -> list[StageResult]:
        self._close(time.perf_counter())
        self._stage = None
        return self.results


@contextmanager
def measure(group: str, stage: str, sink: list[StageResult], **extra: Any) -> Iterator[StageResult]:
    """Time a block; the yielded result can take more ``extra`` numbers inside the block."""
    _reset_peak()
    result = StageResult(group, stage, 0.0, 0, dict(extra))
    t0 = time.perf_counter()
    try:
        yield result
    finally:
        result.seconds = time.perf_counter() - t0
        result.peak_rss_bytes = _peak_bytes()
        sink.append(result)
