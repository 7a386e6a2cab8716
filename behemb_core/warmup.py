"""Compile — or, normally, load from numba's disk cache — the kernels training uses, before a user waits on them.

numba compiles a kernel the first time it runs in a process, unless its machine code is in the disk cache
(:mod:`behemb_core._numba_cache`). On a machine that has never trained, the first training of the session
would spend a minute or more compiling inside "SVD" or "epoch 1" with a frozen progress bar. :func:`warm_up_training`
runs every method's compiled paths once on a tiny planted dataset: the first call on a machine compiles and fills
the cache, every later process only loads it (a few seconds).

:func:`start_background_warm_up` runs it once per process in a daemon thread; :func:`wait_for_warm_up` lets a job
that starts meanwhile wait for it (and say so) instead of compiling the same kernels a second time in parallel.
"""

from __future__ import annotations

import threading
import time

from .progress import ProgressCallback, as_reporter

_lock = threading.Lock()
_thread: threading.Thread | None = None
_done = threading.Event()

PREPARING = "preparing compiled code (once per machine)"


def warm_up_training() -> float:
    """Run every compiled training path once on tiny data (each method's ``warm_up`` configs, merged over
    ``{"dim": 8}``); returns the seconds it took."""
    from .methods.base import TrainingInputs
    from .methods.registry import METHODS
    from .synthetic import planted_sessions

    t0 = time.perf_counter()
    sessions = planted_sessions(n_items=120, n_clusters=6, n_sessions=600, seed=0).sessions
    inputs = TrainingInputs(sessions=sessions)
    for spec in list(METHODS.values()):
        for values in spec.warm_up:  # each method's entry names the configs that run its compiled paths
            spec.fit(inputs, spec.parse_config({"dim": 8, **values}), seed=0)
    return time.perf_counter() - t0


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
    """Block until a running background warm-up ends, reporting :data:`PREPARING` meanwhile (a callback that
    raises :class:`~behemb_core.errors.Cancelled` stops the wait). Returns at once when none is running."""
    rep = as_reporter(progress)
    while warm_up_running():
        rep("compile", None, PREPARING)
        _done.wait(poll_seconds)
