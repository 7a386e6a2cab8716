"""Compiled random walks over a weighted, undirected item graph (DeepWalk / node2vec corpora).

The graph is given in CSR form: ``indptr`` (int64, length ``n_nodes + 1``), ``indices`` (int32, column ids
sorted strictly ascending within each row) and ``weights`` (float32, finite and > 0), describing a symmetric
adjacency matrix (every edge ``u -> v`` has a twin ``v -> u`` of the same weight). This module checks the graph
and the parameters (before any compiled code runs), prepares the start nodes and the per-row cumulative weights,
and runs the walks in chunks for progress; the samplers themselves — a weighted first-order walk when
``p == q == 1``, an exact rejection-sampled node2vec walk in O(nnz) memory otherwise — are compiled with numba
and run in parallel over walks (:mod:`behemb_core._walk_kernels`).

Randomness is counter-based: walk ``i`` draws from an xorshift64* stream whose state is derived with
splitmix64 from ``(seed, i)`` only.  Results therefore do not depend on the number of numba threads, on
scheduling, or on how the walks are split into chunks for progress reporting.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from behemb_core._walk_kernels import walk_kernel
from behemb_core.errors import ConfigError
from behemb_core.parallel import KERNEL_LOCK

__all__ = ["generate_walks", "walk_corpus_stats"]

_MASK64 = (1 << 64) - 1
#: Number of progress chunks when a callback is given (results do not depend on it).
_PROGRESS_CHUNKS = 16
#: Rejections allowed per node2vec step before the step is sampled exactly by a scan of the neighbors.
_MAX_REJECTIONS = 64
#: One parallel kernel at a time per process (see behemb_core.parallel).
_KERNEL_LOCK = KERNEL_LOCK

# ---------------------------------------------------------------------------------------------------------
# Validation and preparation (Python, vectorised)
# ---------------------------------------------------------------------------------------------------------


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {name}={value!r}")
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {name}={value!r}")
    return int(value)


def _check_positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{name} must be a real number > 0, got {name}={value!r}")
    f = float(value)
    if not math.isfinite(f) or f <= 0.0:
        raise ConfigError(f"{name} must be > 0 and finite, got {name}={value!r}")
    return f


def _validate_graph(indptr: Any, indices: Any, weights: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check the CSR arrays (ValueError on any defect) and return (indptr int64, indices int32, weights f32)."""
    indptr_a = np.asarray(indptr)
    indices_a = np.asarray(indices)
    weights_a = np.asarray(weights)
    for name, arr in (("indptr", indptr_a), ("indices", indices_a), ("weights", weights_a)):
        if arr.ndim != 1:
            raise ValueError(f"malformed graph: {name} must be 1-D, got shape {arr.shape}")
    if indptr_a.size < 1:
        raise ValueError("malformed graph: indptr must have length n_nodes + 1 >= 1, got an empty array")
    for name, arr in (("indptr", indptr_a), ("indices", indices_a)):
        if arr.size and arr.dtype.kind not in "iu":
            raise ValueError(f"malformed graph: {name} must be integer, got dtype {arr.dtype}")
    if weights_a.size and weights_a.dtype.kind not in "fiu":
        raise ValueError(f"malformed graph: weights must be real numbers, got dtype {weights_a.dtype}")
    n_nodes = indptr_a.size - 1
    nnz = indices_a.size
    if weights_a.size != nnz:
        raise ValueError(
            f"malformed graph: indices and weights must have the same length, got {nnz} and {weights_a.size}"
        )
    if n_nodes >= 2**31:
        raise ValueError(f"graph too large for int32 node ids: {n_nodes} nodes")
    indptr64 = indptr_a.astype(np.int64, copy=False)
    if indptr64[0] != 0 or indptr64[-1] != nnz:
        raise ValueError(
            f"malformed graph: indptr must start at 0 and end at len(indices)={nnz}, "
            f"got indptr[0]={indptr64[0]}, indptr[-1]={indptr64[-1]}"
        )
    if n_nodes and np.any(np.diff(indptr64) < 0):
        raise ValueError("malformed graph: indptr must be non-decreasing")
    if nnz:
        lo, hi = indices_a.min(), indices_a.max()
        if lo < 0 or hi >= n_nodes:
            raise ValueError(f"malformed graph: indices must lie in [0, {n_nodes}), got values in [{lo}, {hi}]")
    indices32 = indices_a.astype(np.int32, copy=False)
    if nnz > 1:
        # Strictly ascending inside each row: every consecutive pair that is not across a row boundary.
        row_start = np.zeros(nnz, dtype=bool)
        row_start[indptr64[:-1][indptr64[:-1] < nnz]] = True
        bad = (np.diff(indices32) <= 0) & ~row_start[1:]
        if np.any(bad):
            pos = int(np.flatnonzero(bad)[0]) + 1
            row = int(np.searchsorted(indptr64, pos, side="right") - 1)
            raise ValueError(
                f"malformed graph: indices must be sorted strictly ascending within each row "
                f"(row {row} is not sorted or has a duplicate)"
            )
    weights32 = weights_a.astype(np.float32, copy=False)
    if nnz:
        finite = np.isfinite(weights32)
        if not np.all(finite & (weights32 > 0)):
            bad_w = weights32[~(finite & (weights32 > 0))][0]
            raise ValueError(f"malformed graph: weights must be finite and > 0, found {bad_w!r}")
        # Symmetry: the CSC form of A holds the CSR arrays of A.T (rows sorted, linear-time conversion); A is
        # symmetric iff they equal A's own CSR arrays.
        csc = sp.csr_array((weights32, indices32, indptr64), shape=(n_nodes, n_nodes)).tocsc()
        if not (
            np.array_equal(csc.indptr, indptr64)
            and np.array_equal(csc.indices, indices32)
            and np.array_equal(csc.data, weights32)
        ):
            raise ValueError("malformed graph: the adjacency must be symmetric (same edge and weight both ways)")
    return indptr64, indices32, weights32


def _row_cumsum(indptr: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per-row cumulative weights (float64, O(nnz)), computed with one global cumsum."""
    g = np.cumsum(weights, dtype=np.float64)
    base = np.concatenate(([0.0], g))[indptr[:-1]]
    return g - np.repeat(base, np.diff(indptr))


def _start_nodes(
    indptr: np.ndarray, start_nodes: np.ndarray | None, walks_per_node: int, seed: int
) -> np.ndarray:
    n_nodes = indptr.size - 1
    degree = np.diff(indptr)
    if start_nodes is None:
        base = np.flatnonzero(degree > 0).astype(np.int32)
        starts = np.tile(base, walks_per_node)
        return np.random.default_rng(seed).permutation(starts).astype(np.int32, copy=False)
    sn = np.asarray(start_nodes)
    if sn.ndim != 1 or (sn.size and sn.dtype.kind not in "iu"):
        raise ConfigError(
            f"start_nodes must be a 1-D integer array, got shape {sn.shape} and dtype {sn.dtype}"
        )
    if sn.size and (sn.min() < 0 or sn.max() >= n_nodes):
        raise ConfigError(
            f"start_nodes must lie in [0, {n_nodes}), got values in [{sn.min()}, {sn.max()}]"
        )
    sn = sn.astype(np.int64, copy=False)
    sn = sn[degree[sn] > 0].astype(np.int32)
    return np.tile(sn, walks_per_node)


def _run_walks(
    indptr: Any,
    indices: Any,
    weights: Any,
    *,
    walks_per_node: int,
    walk_length: int,
    p: float,
    q: float,
    seed: int,
    start_nodes: np.ndarray | None,
    progress: Callable[[float], None] | None,
    n_chunks: int,
    max_rejections: int = _MAX_REJECTIONS,
) -> tuple[np.ndarray, np.ndarray]:
    """Implementation of :func:`generate_walks` with the chunk count and rejection budget exposed (for tests)."""
    walks_per_node = _check_int("walks_per_node", walks_per_node, 1)
    walk_length = _check_int("walk_length", walk_length, 2)
    p = _check_positive("p", p)
    q = _check_positive("q", q)
    seed = _check_int("seed", seed, 0)
    indptr64, indices32, weights32 = _validate_graph(indptr, indices, weights)
    starts = _start_nodes(indptr64, start_nodes, walks_per_node, seed)

    n_walks = starts.size
    if n_walks == 0:
        if progress is not None:
            progress(1.0)
        return np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int32)

    cum = _row_cumsum(indptr64, weights32)
    first_order = p == 1.0 and q == 1.0
    # Key of the walk RNG streams: decorrelated from the numpy shuffle that also uses the seed.
    key = np.uint64((seed * 0xD1B54A32D192ED03 + 0x6A09E667F3BCC909) & _MASK64)
    out = np.empty((n_walks, walk_length), dtype=np.int32)
    lengths = np.empty(n_walks, dtype=np.int64)
    bounds = np.unique(np.linspace(0, n_walks, max(1, min(n_chunks, n_walks)) + 1).astype(np.int64))
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        with _KERNEL_LOCK:
            walk_kernel(
                indptr64, indices32, cum, starts, np.int64(lo), np.int64(hi), np.int64(walk_length),
                1.0 / p, 1.0 / q, first_order, np.int64(max_rejections), key, out, lengths,
            )
        if progress is not None:
            progress(float(hi) / n_walks)

    walk_indptr = np.zeros(n_walks + 1, dtype=np.int64)
    np.cumsum(lengths, out=walk_indptr[1:])
    if walk_indptr[-1] == out.size:
        walk_nodes = out.reshape(-1)
    else:
        walk_nodes = out[np.arange(walk_length)[None, :] < lengths[:, None]]
    return walk_indptr, walk_nodes


# ---------------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------------


def generate_walks(
    indptr: np.ndarray,
    indices: np.ndarray,
    weights: np.ndarray,
    *,
    walks_per_node: int,
    walk_length: int,
    p: float = 1.0,
    q: float = 1.0,
    seed: int,
    start_nodes: np.ndarray | None = None,
    progress: Callable[[float], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Random walks over a weighted undirected graph in CSR form, for a skip-gram trainer.

    Parameters
    ----------
    indptr, indices, weights:
        Symmetric CSR adjacency: ``indptr`` int64 of length ``n_nodes + 1`` starting at 0 and non-decreasing,
        ``indices`` int32 in ``[0, n_nodes)`` sorted strictly ascending within each row, ``weights`` finite
        and > 0; each edge must appear in both directions with the same weight.
    walks_per_node:
        Walks started from each start node (>= 1).
    walk_length:
        Nodes per walk, start node included (>= 2).
    p, q:
        node2vec return and in-out parameters (> 0).  ``p == q == 1`` gives the weighted first-order walk
        (DeepWalk); anything else the second-order node2vec walk, sampled exactly by rejection in O(nnz)
        memory (see :mod:`behemb_core._walk_kernels`).  The first step of every walk is first-order.
    seed:
        Non-negative integer; the output is a pure function of (graph, parameters, start nodes, seed).
    start_nodes:
        ``None`` (default): every node with degree > 0, each ``walks_per_node`` times, in an order shuffled
        with ``seed``.  Otherwise a 1-D integer array of node ids: it is repeated ``walks_per_node`` times
        (``np.tile``) in the given order, without shuffling; ids of degree-0 nodes are dropped.
    progress:
        Called from the calling thread with the fraction of walks done (in (0, 1], last call 1.0) between
        the ~16 chunks the walks are computed in.  An exception it raises (e.g.
        :class:`behemb_core.errors.Cancelled`) propagates and stops the job.

    Returns
    -------
    (walk_indptr, walk_nodes):
        ``walk_indptr`` int64 of length ``n_walks + 1`` and ``walk_nodes`` int32; walk ``i`` is
        ``walk_nodes[walk_indptr[i]:walk_indptr[i + 1]]``.  Memory: the walks are written into one
        ``n_walks × walk_length`` int32 buffer, which ``walk_nodes`` is a flat view of when no walk stopped
        early (always the case on a valid graph); apart from it the walker uses O(nnz + n_walks) memory.

    Guarantees
    ----------
    * Every consecutive pair in a walk is an edge of the graph; degree-0 nodes never appear.
    * A walk has exactly ``walk_length`` nodes unless it reaches a node with no neighbors, where it stops
      (on a valid symmetric graph with degree-0 start nodes excluded this cannot happen).
    * First order: ``P(x | v) = w(v, x) / Σ_y w(v, y)``.  Second order, from ``v`` reached from ``t``:
      ``P(x | t, v) ∝ w(v, x) · α(t, x)`` with ``α = 1/p`` if ``x == t``, ``1`` if ``x`` is a neighbor of
      ``t``, ``1/q`` otherwise.
    * Walk ``i`` depends only on (graph, parameters, start node ``i``, seed, ``i``): the result is identical
      whatever the number of numba threads or the chunking; a different seed gives different walks.

    Raises
    ------
    ConfigError
        A parameter is invalid (the message names it and its value).
    ValueError
        The CSR graph is malformed.  All checks run before any compiled code.
    """
    return _run_walks(
        indptr, indices, weights, walks_per_node=walks_per_node, walk_length=walk_length, p=p, q=q,
        seed=seed, start_nodes=start_nodes, progress=progress,
        n_chunks=_PROGRESS_CHUNKS if progress is not None else 1,
    )


def walk_corpus_stats(walk_indptr: np.ndarray) -> dict[str, float | int]:
    """Summary of a walk corpus for reports: ``n_walks``, ``n_steps`` (node visits, i.e. tokens) and
    ``mean_length`` (nodes per walk; 0.0 when there are no walks)."""
    ip = np.asarray(walk_indptr, dtype=np.int64)
    if ip.ndim != 1 or ip.size < 1:
        raise ValueError(f"walk_indptr must be a 1-D array of length n_walks + 1, got shape {ip.shape}")
    n_walks = int(ip.size - 1)
    n_steps = int(ip[-1] - ip[0])
    return {
        "n_walks": n_walks,
        "n_steps": n_steps,
        "mean_length": float(n_steps / n_walks) if n_walks else 0.0,
    }
