"""Compiled random walks over a weighted, undirected item graph (DeepWalk / node2vec corpora).

The graph is given in CSR form: ``indptr`` (int64, length ``n_nodes + 1``), ``indices`` (int32, column ids
sorted strictly ascending within each row) and ``weights`` (float32, finite and > 0), describing a symmetric
adjacency matrix (every edge ``u -> v`` has a twin ``v -> u`` of the same weight).

Two samplers, both compiled with numba and run in parallel over walks:

* ``p == q == 1`` — weighted first-order walk (DeepWalk with weights): the next node is a neighbour of the
  current node chosen with probability proportional to the edge weight, by binary search in a per-row
  cumulative-weight array computed once (vectorised, O(nnz) memory).
* otherwise — node2vec second-order walk, sampled on the fly by rejection (KnightKing style), so memory stays
  O(nnz) with no Σdeg² transition table.  From current node ``v`` reached from ``t``, the next node ``x`` has
  probability ∝ ``w(v, x) * α(t, x)`` with ``α = 1/p`` if ``x == t``, ``1`` if ``x`` is a neighbour of ``t``
  (binary search in ``t``'s sorted row) and ``1/q`` otherwise.  A candidate is proposed from the first-order
  distribution of ``v`` and accepted with probability ``α / α_max``.  Three refinements keep this fast without
  changing the distribution: when ``1/p`` is the largest factor, the return edge is treated as an "outlier"
  (sampled from its own share of the envelope, as in KnightKing) so the other candidates are accepted against
  ``max(1, 1/q)`` instead of ``1/p``; a candidate whose acceptance draw falls below ``min(1, 1/q)`` is
  accepted without the neighbour search; and after a bounded number of rejections the step is sampled exactly
  by a scan over ``v``'s neighbours (the accepted value of a rejection sampler has the target distribution
  whatever the iteration it stops at, so the mixture is still exact).  The first step of every walk is
  first-order.

The walks are bound by memory latency, so each thread advances a group of walks in lockstep and prefetches
the rows they will read next (see :func:`_walk_kernel`); this reorders memory traffic only.

Randomness is counter-based: walk ``i`` draws from an xorshift64* stream whose state is derived with
splitmix64 from ``(seed, i)`` only.  Results therefore do not depend on the number of numba threads, on
scheduling, or on how the walks are split into chunks for progress reporting.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import llvmlite
import numpy as np
import scipy.sparse as sp
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from behemb_core.errors import ConfigError
from behemb_core.parallel import KERNEL_LOCK

__all__ = ["generate_walks", "walk_corpus_stats"]

_MASK64 = (1 << 64) - 1
#: Number of progress chunks when a callback is given (results do not depend on it).
_PROGRESS_CHUNKS = 16
#: Rejections allowed per node2vec step before the step is sampled exactly by a scan of the neighbours.
_MAX_REJECTIONS = 64
#: Walks advanced in lockstep by one thread (memory-level parallelism); does not affect results.
_GROUP = 16
#: One parallel kernel at a time per process (see behemb_core.parallel).
_KERNEL_LOCK = KERNEL_LOCK

# ---------------------------------------------------------------------------------------------------------
# Counter-based RNG (numba)
# ---------------------------------------------------------------------------------------------------------

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SM_M1 = np.uint64(0xBF58476D1CE4E5B9)
_SM_M2 = np.uint64(0x94D049BB133111EB)
_XS_MULT = np.uint64(0x2545F4914F6CDD1D)
_FALLBACK_STATE = np.uint64(0x853C49E6748FEA9B)
_U30 = np.uint64(30)
_U27 = np.uint64(27)
_U31 = np.uint64(31)
_U12 = np.uint64(12)
_U25 = np.uint64(25)
_U11 = np.uint64(11)
_U0 = np.uint64(0)
_TWO_M53 = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True, nogil=True, inline="always")
def _splitmix64(x: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    z = x + _GOLDEN
    z = (z ^ (z >> _U30)) * _SM_M1
    z = (z ^ (z >> _U27)) * _SM_M2
    return z ^ (z >> _U31)


@njit(cache=True, nogil=True, inline="always")
def _walk_state(key: np.uint64, walk: np.int64) -> np.uint64:  # pragma: no cover - compiled
    """Initial xorshift state of walk ``walk``: a function of (key, walk) only; never zero."""
    s = _splitmix64(key ^ _splitmix64(np.uint64(walk)))
    if s == _U0:
        s = _FALLBACK_STATE
    return s


@njit(cache=True, nogil=True, inline="always")
def _next_uniform(s: np.uint64) -> tuple[np.uint64, float]:  # pragma: no cover - compiled
    """xorshift64*: returns (new state, uniform double in [0, 1) from the top 53 bits)."""
    s ^= s >> _U12
    s ^= s << _U25
    s ^= s >> _U27
    r = s * _XS_MULT
    return s, np.float64(r >> _U11) * _TWO_M53


# ---------------------------------------------------------------------------------------------------------
# Software prefetch (numba intrinsic around llvm.prefetch)
# ---------------------------------------------------------------------------------------------------------

# llvm.prefetch is overloaded on the pointer type: "p0" with opaque pointers (LLVM >= 15, numba >= 0.60 by
# default), "p0i8" with typed pointers.
_PREFETCH_NAME = "llvm.prefetch.p0" if getattr(llvmlite, "opaque_pointers_enabled", True) else "llvm.prefetch.p0i8"


@intrinsic
def _prefetch(typingctx: Any, arr: Any, idx: Any) -> Any:  # pragma: no cover - compiled
    """Hint the CPU to load the cache line of ``arr[idx]`` (read, high locality).  A hint only: it never
    faults and has no effect on results; ``idx`` must nevertheless lie inside the array."""
    if not isinstance(arr, types.Array) or not isinstance(idx, types.Integer):
        return None
    sig = types.void(arr, idx)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = builder.gep(ary.data, [args[1]])
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, _PREFETCH_NAME)
        # (address, rw=0 read, locality=3 keep in all cache levels, cache type=1 data)
        flags = [ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)]
        builder.call(fn, [builder.bitcast(ptr, i8p), *flags])
        return context.get_dummy_value()

    return sig, codegen


# ---------------------------------------------------------------------------------------------------------
# Sampling kernels (numba)
# ---------------------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True, inline="always")
def _sample_edge(cum: np.ndarray, start: np.int64, end: np.int64, u: float) -> np.int64:  # pragma: no cover
    """Edge index in [start, end) with probability ∝ weight, by binary search in the row's cumulative sums."""
    r = u * cum[end - 1]
    lo = start
    hi = end - 1
    while lo < hi:
        mid = (lo + hi) >> 1
        if cum[mid] > r:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(cache=True, nogil=True, inline="always")
def _has_edge(indptr: np.ndarray, indices: np.ndarray, t: np.int64, x: np.int32) -> bool:  # pragma: no cover
    """Whether ``x`` is in ``t``'s sorted neighbour list (binary search)."""
    lo = indptr[t]
    hi = indptr[t + 1]
    while lo < hi:
        mid = (lo + hi) >> 1
        c = indices[mid]
        if c < x:
            lo = mid + 1
        elif c > x:
            hi = mid
        else:
            return True
    return False


@njit(cache=True, nogil=True, inline="always")
def _alpha(
    indptr: np.ndarray, indices: np.ndarray, t: np.int64, x: np.int32, inv_p: float, inv_q: float
) -> float:  # pragma: no cover - compiled
    if x == t:
        return inv_p
    if inv_q == 1.0:  # neighbour or not, the factor is 1: skip the search
        return 1.0
    if _has_edge(indptr, indices, t, x):
        return 1.0
    return inv_q


@njit(cache=True, nogil=True)
def _exact_second_order(
    indptr: np.ndarray,
    indices: np.ndarray,
    cum: np.ndarray,
    t: np.int64,
    start: np.int64,
    end: np.int64,
    inv_p: float,
    inv_q: float,
    u: float,
) -> np.int64:  # pragma: no cover - compiled
    """Exact node2vec step by two scans of ``v``'s row (no allocation): edge index with prob ∝ w·α."""
    total = 0.0
    prev = 0.0
    for k in range(start, end):
        total += (cum[k] - prev) * _alpha(indptr, indices, t, indices[k], inv_p, inv_q)
        prev = cum[k]
    r = u * total
    acc = 0.0
    prev = 0.0
    for k in range(start, end):
        acc += (cum[k] - prev) * _alpha(indptr, indices, t, indices[k], inv_p, inv_q)
        prev = cum[k]
        if acc > r:
            return k
    return end - 1


@njit(cache=True, nogil=True, inline="always")
def _step(
    indptr: np.ndarray,
    indices: np.ndarray,
    cum: np.ndarray,
    s: np.uint64,
    v: np.int64,
    t: np.int64,
    w_last: float,
    inv_p: float,
    inv_q: float,
    first_order: bool,
    max_rejections: np.int64,
) -> tuple[np.uint64, np.int64, float]:  # pragma: no cover - compiled
    """One step from ``v`` (reached from ``t``, -1 at the start, over an edge of weight ``w_last``).

    Returns (new RNG state, next node or -1 if ``v`` has no neighbours, weight of the edge taken).
    """
    start = indptr[v]
    end = indptr[v + 1]
    if start == end:
        return s, np.int64(-1), w_last
    if first_order or t < 0:
        s, u = _next_uniform(s)
        k = _sample_edge(cum, start, end, u)
    else:
        m = max(1.0, inv_q)  # envelope factor of the non-return candidates
        fold = inv_p > m  # the return edge is the envelope's outlier (KnightKing)
        amax = max(inv_p, m)
        env = m if fold else amax  # envelope factor of the candidates drawn from the first-order proposal
        a_lo = min(1.0, inv_q)  # lower bound of α for x != t: below it, accept without the neighbour search
        W = cum[end - 1]
        # Envelope when folding: m·w(v,x) for every x plus (1/p - m)·w(v,t) extra mass on the return edge,
        # whose share is sampled directly and always accepted.  w(v,t) == w(t,v) == w_last by symmetry.
        extra = (inv_p - m) * w_last if fold else 0.0
        tries = 0
        while True:
            if tries >= max_rejections:
                s, u = _next_uniform(s)
                k = _exact_second_order(indptr, indices, cum, t, start, end, inv_p, inv_q, u)
                break
            tries += 1
            s, u = _next_uniform(s)
            if fold:
                r = u * (m * W + extra)
                if r < extra:
                    return s, t, w_last
                u = (r - extra) / (m * W)  # uniform in [0, 1) again (clamped by the search if rounding hits 1)
            k = _sample_edge(cum, start, end, u)
            x = indices[k]
            if x == t:
                if inv_p >= env:  # α/envelope >= 1 (always the case when folding)
                    break
                s, u = _next_uniform(s)
                if u * env < inv_p:
                    break
                continue
            s, u = _next_uniform(s)
            threshold = u * env
            if threshold < a_lo:  # accepted whatever x's relation to t
                break
            if inv_q != 1.0 and not _has_edge(indptr, indices, t, x):
                a = inv_q
            else:
                a = 1.0
            if threshold < a:
                break
    w = cum[k] - cum[k - 1] if k > start else cum[k]
    return s, np.int64(indices[k]), w


@njit(cache=True, nogil=True, inline="always")
def _prefetch_row(
    arr: np.ndarray, start: np.int64, end: np.int64, per_line: np.int64
) -> None:  # pragma: no cover - compiled
    """Prefetch ``arr[start:end]``: every cache line of short rows (up to 16 lines), the top four levels of
    the binary-search tree of long ones (the 15 sixteenth points) and the last element."""
    d = end - start
    if d <= 0:
        return
    if d <= 16 * per_line:
        for o in range(start, end, per_line):
            _prefetch(arr, o)
    else:
        for j in range(1, 16):
            _prefetch(arr, start + ((d * j) >> 4))
    _prefetch(arr, end - 1)


@njit(cache=True, nogil=True, parallel=True)
def _walk_kernel(
    indptr: np.ndarray,
    indices: np.ndarray,
    cum: np.ndarray,
    starts: np.ndarray,
    walk_lo: np.int64,
    walk_hi: np.int64,
    walk_length: np.int64,
    inv_p: float,
    inv_q: float,
    first_order: bool,
    max_rejections: np.int64,
    key: np.uint64,
    out: np.ndarray,
    lengths: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Fill rows ``walk_lo..walk_hi-1`` of ``out``/``lengths``; walk ``i`` depends only on (key, i, graph).

    The walks are memory-latency bound (random rows of a graph larger than the caches), so each thread
    advances a group of ``_GROUP`` walks in lockstep: first it prefetches the rows every walk of the group
    will read in this round, then it takes one step of each.  This only reorders memory traffic; every walk
    is computed exactly as if alone.
    """
    n_walks = walk_hi - walk_lo
    n_groups = (n_walks + _GROUP - 1) // _GROUP
    for gi in prange(n_groups):
        lo = walk_lo + gi * _GROUP
        m = min(walk_hi, lo + _GROUP) - lo
        ss = np.empty(m, dtype=np.uint64)  # RNG states
        vv = np.empty(m, dtype=np.int64)  # current nodes
        tt = np.full(m, -1, dtype=np.int64)  # previous nodes (-1 before the first step)
        ww = np.zeros(m, dtype=np.float64)  # weights of the last edges taken
        alive = np.ones(m, dtype=np.bool_)
        for g in range(m):
            ss[g] = _walk_state(key, lo + g)
            vv[g] = starts[lo + g]
            out[lo + g, 0] = vv[g]
            lengths[lo + g] = walk_length
        n_alive = m
        for n in range(1, walk_length):
            if n_alive == 0:
                break
            for g in range(m):
                if alive[g]:
                    v = vv[g]
                    _prefetch_row(cum, indptr[v], indptr[v + 1], 8)
                    if not first_order:
                        _prefetch_row(indices, indptr[v], indptr[v + 1], 16)
                        t = tt[g]
                        if t >= 0:
                            _prefetch_row(indices, indptr[t], indptr[t + 1], 16)
            for g in range(m):
                if not alive[g]:
                    continue
                s, x, w = _step(
                    indptr, indices, cum, ss[g], vv[g], tt[g], ww[g], inv_p, inv_q, first_order, max_rejections
                )
                ss[g] = s
                if x < 0:  # dead end: the walk stops here
                    alive[g] = False
                    n_alive -= 1
                    lengths[lo + g] = n
                    continue
                _prefetch(indptr, x)
                out[lo + g, n] = x
                tt[g] = vv[g]
                vv[g] = x
                ww[g] = w


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
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        with _KERNEL_LOCK:
            _walk_kernel(
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
        memory (see the module docstring).  The first step of every walk is first-order.
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
    * A walk has exactly ``walk_length`` nodes unless it reaches a node with no neighbours, where it stops
      (on a valid symmetric graph with degree-0 start nodes excluded this cannot happen).
    * First order: ``P(x | v) = w(v, x) / Σ_y w(v, y)``.  Second order, from ``v`` reached from ``t``:
      ``P(x | t, v) ∝ w(v, x) · α(t, x)`` with ``α = 1/p`` if ``x == t``, ``1`` if ``x`` is a neighbour of
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
