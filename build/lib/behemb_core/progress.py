"""Progress reporting through an injected callback.

The library never prints. Long-running functions accept ``progress: ProgressCallback | None`` and call it with
:class:`ProgressEvent` objects; the CLI renders them on stderr, the app as a progress bar. A callback may raise
:class:`behemb_core.errors.Cancelled` to stop the job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report.

    ``stage`` is a short machine-friendly name (``"read"``, ``"cooccurrence"``, ``"svd"``, ``"epoch"``…),
    ``fraction`` the share of the *whole job* done so far in [0, 1] when known, ``message`` a human sentence,
    and ``metrics`` stage-specific numbers (e.g. ``{"epoch": 3, "loss": 1234.5}``).
    """

    stage: str
    fraction: float | None = None
    message: str = ""
    metrics: Mapping[str, Any] = field(default_factory=dict)


ProgressCallback = Callable[[ProgressEvent], None]


def _noop(event: ProgressEvent) -> None:  # pragma: no cover - trivial
    return None


class Reporter:
    """Maps sub-stage progress into a slice ``[start, end]`` of the whole job and forwards it.

    Methods are composed of stages (count pairs, PPMI, SVD…); each stage reports its own 0..1 progress and the
    reporter rescales it, so the front end sees one monotone fraction for the whole job.
    """

    def __init__(
        self, callback: ProgressCallback | None, start: float = 0.0, end: float = 1.0, label: str | None = None
    ) -> None:
        self._callback = callback or _noop
        self.start = start
        self.end = end
        self.label = label

    def __call__(
        self, stage: str, fraction: float | None = None, message: str = "", **metrics: Any
    ) -> None:
        scaled = None
        if fraction is not None:
            f = min(max(float(fraction), 0.0), 1.0)
            scaled = self.start + (self.end - self.start) * f
        if self.label:
            message = f"{self.label}: {message}" if message else self.label
        self._callback(ProgressEvent(stage=stage, fraction=scaled, message=message, metrics=metrics))

    def sub(self, start: float, end: float, label: str | None = None) -> Reporter:
        """A reporter for a sub-stage covering ``[start, end]`` of this reporter's own range.

        ``label`` (e.g. ``"fit 2 of 3: evaluation split"``) prefixes every message of the sub-stage, so a job
        that runs the same stages several times says which run it is in."""
        span = self.end - self.start
        joined = ": ".join(x for x in (self.label, label) if x) or None
        return Reporter(self._callback, self.start + span * start, self.start + span * end, joined)


def as_reporter(progress: ProgressCallback | Reporter | None) -> Reporter:
    """Accept a bare callback, an existing reporter or ``None``."""
    if isinstance(progress, Reporter):
        return progress
    return Reporter(progress)
