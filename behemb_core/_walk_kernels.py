"""The compiled kernels of :mod:`behemb_core.walks`: counter-based RNG, software prefetch and the two samplers.

* ``p == q == 1`` — weighted first-order walk (DeepWalk with weights): the next node is a neighbor of the
  current node chosen with probability proportional to the edge weight, by binary search in a per-row
  cumulative-weight array computed once (vectorised, O(nnz) memory).
* otherwise — node2vec second-order walk, sampled on the fly by rejection (KnightKing style), so memory stays
  O(nnz) with no Σdeg² transition table.  From current node ``v`` reached from ``t``, the next node ``x`` has
  probability ∝ ``w(v, x) * α(t, x)`` with ``α = 1/p`` if ``x == t``, ``1`` if ``x`` is a neighbor of ``t``
  (binary search in ``t``'s sorted row) and ``1/q`` otherwise.  A candidate is proposed from the first-order
  distribution of ``v`` and accepted with probability ``α / α_max``.  Three refinements keep this fast without
  changing the distribution: when ``1/p`` is the largest factor, the return edge is treated as an "outlier"
  (sampled from its own share of the envelope, as in KnightKing) so the other candidates are accepted against
  ``max(1, 1/q)`` instead of ``1/p``; a candidate whose acceptance draw falls below ``min(1, 1/q)`` is
  accepted without the neighbor search; and after a bounded number of rejections the step is sampled exactly
  by a scan over ``v``'s neighbors (the accepted value of a rejection sampler has the target distribution
  whatever the iteration it stops at, so the mixture is still exact).  The first step of every walk is
  first-order.

The walks are bound by memory latency, so each thread advances a group of walks in lockstep and prefetches
the rows they will read next (see :func:`walk_kernel`); this reorders memory traffic only.

Nothing here validates its inputs: :mod:`behemb_core.walks` checks the graph and the parameters first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import llvmlite
import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

#: Walks advanced in lockstep by one thread (memory-level parallelism); does not affect results.
_GROUP = 16

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
def _prefetch_intrinsic(typingctx: Any, arr: Any, idx: Any) -> Any:  # pragma: no cover - compiled
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


# Called from jitted code as ``_prefetch(arr, idx)``; numba's stubs type an intrinsic's call with the typing
# context as a first argument, so the signature seen from jitted code is spelled out here.
_prefetch = cast(Callable[[np.ndarray, Any], None], _prefetch_intrinsic)


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
    """Whether ``x`` is in ``t``'s sorted neighbor list (binary search)."""
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
    if inv_q == 1.0:  # neighbor or not, the factor is 1: skip the search
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
            return np.int64(k)
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

    Returns (new RNG state, next node or -1 if ``v`` has no neighbors, weight of the edge taken).
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
        a_lo = min(1.0, inv_q)  # lower bound of α for x != t: below it, accept without the neighbor search
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
    arr: np.ndarray, start: np.int64, end: np.int64, per_line: int
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
def walk_kernel(
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
