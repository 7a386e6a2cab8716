"""Training jobs that run in a background thread, so the app stays usable while a model trains.

A Streamlit script run blocks its session until it returns; a long fit inside it would freeze every page of
that session and die at the next interaction. Instead the Train page starts a :class:`TrainingJob` in a thread
and polls it from a fragment. The job keeps only plain state (fraction, message, losses, result); the library
reports into it through the ordinary progress callback, and cancelling sets a flag that makes the next callback
raise :class:`~behemb_core.errors.Cancelled` — the library stops cleanly and nothing is saved.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from behemb_core.boundary import describe, unexpected_message
from behemb_core.errors import Cancelled
from behemb_core.progress import ProgressEvent
from behemb_core.warmup import wait_for_warm_up

log = logging.getLogger(__name__)

STAGE_LABELS = {
    "read": "reading", "cooccurrence": "counting co-occurrences", "ppmi": "PPMI", "svd": "SVD",
    "epoch": "training", "fit": "fitting", "compile": "first start", "walks": "random walks",
    "evaluate": "evaluating", "baselines": "baselines", "noise_floor": "noise floor", "save": "saving", "done": "done",
    "tune": "tuning", "trial": "tuning",
}


@dataclass
class TrainingJob:
    """One background training run and everything the page shows about it."""

    key: str
    label: str
    owner: str | None = None  # the browser session's key (app_support.resume) that started it, found after a reload
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    status: str = "running"  # running | done | failed | cancelled
    fraction: float = 0.0
    text: str = "starting…"
    losses: list[float] = field(default_factory=list)
    result: dict[str, Any] | None = None
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None
    reported: bool = False  # its outcome was shown on the Train page (a reload does not bring it back again)
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _saving: bool = False

    def progress(self, event: ProgressEvent) -> None:
        """The library's progress callback. Cancelling is honoured until the version is being written."""
        if self._cancel.is_set() and not self._saving:
            raise Cancelled("training cancelled by the user")
        self._saving = self._saving or event.stage == "save"
        if event.fraction is not None:
            self.fraction = min(max(float(event.fraction), self.fraction), 1.0)
        if "loss" in event.metrics:
            self.losses.append(float(event.metrics["loss"]))
        label = STAGE_LABELS.get(event.stage, event.stage)
        self.text = f"{label}: {event.message}" if event.message else label

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelling(self) -> bool:
        """Cancel was pressed and the job has not stopped yet (it stops at its next progress step)."""
        return self.running and self._cancel.is_set()

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def seconds(self) -> float:
        return (self.finished or time.time()) - self.started


@st.cache_resource
def _registry() -> dict[str, TrainingJob]:
    """Jobs of this server process by id (shared by sessions; each session keeps only its job ids)."""
    return {}


MAX_FINISHED = 200  # finished jobs kept in the registry (each holds only its summary); reported, oldest go first


def start_job(key: str, label: str, work: Callable[[Callable[[ProgressEvent], None]], dict[str, Any]], *,
              owner: str | None = None) -> TrainingJob:
    """Run ``work(progress)`` in a daemon thread and return its job (the result is ``work``'s return value).
    ``owner`` is the key of the browser session that starts it: a reload of that session finds it again."""
    job = TrainingJob(key=key, label=label, owner=owner)

    def target() -> None:
        try:
            wait_for_warm_up(job.progress)  # compiled kernels: loaded (or built once per machine) at start-up
            job.result = work(job.progress)
            job.status = "done"
            job.fraction = 1.0
        except Cancelled:
            job.status = "cancelled"
        except Exception as exc:  # the job's error boundary (the same one as the CLI's)
            message = describe(exc)  # a user or environment error (full disk, read-only store…): its message
            if message is None:  # a bug: keep the traceback in the log, show a short message
                log.exception("training job %s failed", job.id)
                message = unexpected_message(exc, hint="see the server log")
            job.status, job.error = "failed", message
        finally:
            job.finished = time.time()

    registry = _registry()
    finished = sorted((j for j in registry.values() if not j.running),
                      key=lambda j: (not j.reported, j.finished or 0.0))
    for old in finished[: max(0, len(finished) + 1 - MAX_FINISHED)]:
        registry.pop(old.id, None)
    registry[job.id] = job
    threading.Thread(target=target, name=f"behemb-train-{job.id}", daemon=True).start()
    return job


def get_job(job_id: str | None) -> TrainingJob | None:
    return _registry().get(job_id) if job_id else None


def resumable(owner: str | None) -> TrainingJob | None:
    """The newest job of the browser session keyed ``owner`` that still runs or whose outcome was not shown yet:
    what a reload of that session shows again. ``None`` for no key, or when every job of it was reported."""
    if not owner:
        return None
    mine = [j for j in list(_registry().values()) if j.owner == owner and (j.running or not j.reported)]
    return max(mine, key=lambda j: j.started) if mine else None


def wait(job: TrainingJob, timeout: float = 300.0) -> TrainingJob:
    """Block until ``job`` ends (tests and scripts; the app polls instead)."""
    deadline = time.time() + timeout
    while job.running and time.time() < deadline:
        time.sleep(0.05)
    return job
