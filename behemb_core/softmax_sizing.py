"""How big a cosine-softmax fit's steps are, and on how many threads it runs: the batch, the shared negatives and
the thread count as functions of the catalogue's size (:mod:`behemb_core.softmax_fit` runs the fit).

Small catalogues (fewer than 16 full batches) get a cost that follows their size: batches shrink so an epoch still
takes ``MIN_STEPS_PER_EPOCH`` steps, the shared negatives are capped at a sixteenth of the catalogue, and the fit
runs on one thread."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import numba
from threadpoolctl import threadpool_limits

__all__ = ["MIN_NEGATIVES", "MIN_STEPS_PER_EPOCH", "NEGATIVE_SHARE", "effective_batch_size", "effective_negatives",
           "fit_threads", "thread_limit"]

# A small catalogue still takes this many steps per epoch: the batch shrinks to ceil(n / 16) below 16 batches.
# Adam needs steps, not passes: with 4 steps an epoch a 6,000-item catalogue ran 13 epochs of 4-6 steps; with
# 16 it reaches the same loss and held-out HR@10 in 7-10 (benchmarks/results/small-data-ablation.md).
MIN_STEPS_PER_EPOCH = 16
# Shared negatives per step are at most this share of the catalogue, and never fewer than MIN_NEGATIVES
# (see effective_negatives).
NEGATIVE_SHARE = 16
MIN_NEGATIVES = 64


def effective_batch_size(batch_size: int, n: int) -> int:
    """``batch_size``, or less for a small catalogue so that an epoch has ``MIN_STEPS_PER_EPOCH`` steps."""
    return max(1, min(batch_size, math.ceil(n / MIN_STEPS_PER_EPOCH)))


def effective_negatives(negatives: int, n: int) -> int:
    """Shared negatives per step: ``negatives``, but at most a ``NEGATIVE_SHARE``-th of the catalogue (never
    fewer than ``MIN_NEGATIVES``).

    The draws follow the smoothed column mass, so in a small catalogue a few hundred of them already repeat its
    popular items many times over; 2,048 of them made an epoch cost ``n · 2048`` item pairs, a third of the full
    softmax's ``n²`` at 6,000 items. With the cap an epoch costs at most ``n² / 16`` pairs, and held-out quality
    did not move (MovieLens-small HR@10 0.0617 with 375 negatives per step, 0.0618 with 997; the Diginetica-like
    sample's cluster precision 0.331 with 375 and 750 — benchmarks/results/small-data-ablation.md). From 32,768
    items up the cap is above the default 2,048 and changes nothing."""
    return min(negatives, max(MIN_NEGATIVES, math.ceil(n / NEGATIVE_SHARE)))


def fit_threads(batch_size: int, n: int) -> int:
    """Threads a fit of ``n`` items uses: one when the catalogue is smaller than ``MIN_STEPS_PER_EPOCH`` full
    batches (its batches were shrunk), else numba's thread count.

    A small fit's steps take milliseconds. Two threads then wait for each other at every compiled loop and BLAS
    product, and on a busy machine the wait for a thread another process holds costs more than the second
    thread gains (benchmarks/results/small-data-ablation.md). Which count a fit uses depends only on its size,
    so a seed still gives the same vectors (the compiled loops and OpenBLAS's products give the same bits at
    any thread count here)."""
    return 1 if n < MIN_STEPS_PER_EPOCH * batch_size else numba.get_num_threads()


@contextmanager
def thread_limit(threads: int) -> Iterator[None]:
    """Run numba's parallel loops (this thread only) and BLAS (process-wide, as ``svd`` does) on ``threads``
    threads when that is fewer than now; restore both afterwards."""
    previous = numba.get_num_threads()
    if threads >= previous:
        yield
        return
    numba.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads, user_api="blas"):
            yield
    finally:
        numba.set_num_threads(previous)
