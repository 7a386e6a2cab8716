"""Sparse windowed co-occurrence counts and their PPMI transform.

Memory is proportional to the number of distinct co-occurring pairs: counts live in a ``scipy.sparse`` CSR
matrix, never a dense items × items array. A compiled pass writes one int64 key per pair and counting is one
in-place sort of those keys, so the work is proportional to the number of pairs, in whole-session mode too.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp
from numba import njit

from .progress import Reporter
from .sessions import Sessions

Weighting = Literal["uniform", "harmonic", "linear"]

# Pair keys sorted and compressed at a time (bounds peak memory: 8 bytes a key, 512 MB).
_PAIR_BUFFER = 64_000_000


def _offset_weight(d: int, window: int, weighting: Weighting) -> float:
    if weighting == "uniform" or window == 0:
        return 1.0
    if weighting == "harmonic":
        return 1.0 / d
    return (window - d + 1) / window  # "linear": word2vec's dynamic-window expectation


@njit(cache=True, nogil=True)
def _pair_keys(indptr, codes, s_lo, s_hi, window, n, n_offsets, out):  # pragma: no cover - compiled
    """Write the key of every pair within ``window`` (0 = whole session) of sessions ``s_lo..s_hi-1``."""
    m = 0
    for s in range(s_lo, s_hi):
        start, end = indptr[s], indptr[s + 1]
        for i in range(start, end - 1):
            a = codes[i]
            last = end if window == 0 else min(end, i + window + 1)
            for j in range(i + 1, last):
                b = codes[j]
                if a == b:
                    continue
                key = (a * n + b) if a < b else (b * n + a)
                if n_offsets > 1:
                    key = key * n_offsets + (j - i - 1)
                out[m] = key
                m += 1
    return m


@njit(cache=True, nogil=True)
def _sum_runs(keys, n_offsets, offset_weights, out_keys, out_w):  # pragma: no cover - compiled
    """Collapse sorted keys into unique pairs with summed weights; returns how many pairs."""
    m = -1
    prev = -1
    for i in range(len(keys)):
        k = keys[i]
        pair = k // n_offsets
        w = offset_weights[k % n_offsets]
        if pair != prev:
            m += 1
            out_keys[m] = pair
            out_w[m] = w
            prev = pair
        else:
            out_w[m] += w
    return m + 1


def _compress(keys: np.ndarray, n_offsets: int, offset_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort pair keys in place and sum them into ``(unique pair, weight)``.

    With ``n_offsets > 1`` a key is ``pair * n_offsets + (d - 1)``, so one sort orders pairs and carries the
    distance that decides the weight.
    """
    keys.sort()
    out_keys = np.empty(len(keys), dtype=np.int64)
    out_w = np.empty(len(keys), dtype=np.float64)
    m = _sum_runs(keys, n_offsets, offset_weights, out_keys, out_w)
    return out_keys[:m].copy(), out_w[:m].copy()


def _pairs_per_session(lengths: np.ndarray, window: int) -> np.ndarray:
    """Upper bound of the pairs each session yields (self pairs are skipped later)."""
    lengths = lengths.astype(np.int64)
    if window == 0:
        return lengths * (lengths - 1) // 2
    w = np.minimum(window, np.maximum(lengths - 1, 0))
    return w * (lengths - w) + w * (w - 1) // 2


def count_cooccurrence(
    sessions: Sessions,
    *,
    window: int = 5,
    weighting: Weighting = "uniform",
    progress: Reporter | None = None,
) -> sp.csr_matrix:
    """Symmetric ``n_items × n_items`` float32 CSR of (weighted) co-occurrence counts.

    Items ``d`` positions apart in a session (``1 ≤ d ≤ window``; ``window = 0`` means the whole session, as
    for baskets) add ``weight(d)`` to both ``(a, b)`` and ``(b, a)``. Pairs of an item with itself (``A B A``)
    are not counted: they say nothing about similarity between items. Rows are sorted, duplicates summed.

    Each pair becomes one int64 key (``min · n + max``, times the window when the weight depends on the
    distance), written by a compiled pass over the sessions; one in-place sort and a run-length pass count
    them — the floor of this work, several times faster than summing duplicates in scipy. Sessions are taken
    in chunks of at most ``_PAIR_BUFFER`` pairs, so memory stays bounded in whole-session mode too.
    """
    n = sessions.n_items
    weighted = weighting != "uniform" and window > 0
    n_offsets = max(window, 1) if weighted else 1
    if n > 0 and float(n) * n * n_offsets >= 2.0**62:
        raise ValueError(f"count_cooccurrence: {n:,} items × window {window} overflow 64-bit pair keys")
    offset_weights = np.array([_offset_weight(d, window, weighting) for d in range(1, n_offsets + 1)])
    codes = sessions.codes.astype(np.int64)
    indptr = sessions.indptr.astype(np.int64)
    per_session = _pairs_per_session(sessions.lengths, window)
    cum = np.concatenate(([0], np.cumsum(per_session)))
    total = int(cum[-1])

    if progress is not None:
        progress("cooccurrence", 0.0, "counting co-occurring pairs")
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    s_lo = 0
    n_sess = sessions.n_sessions
    while s_lo < n_sess:
        # As many whole sessions as fit the buffer (at least one, however long).
        s_hi = int(np.searchsorted(cum, cum[s_lo] + _PAIR_BUFFER, side="right")) - 1
        s_hi = min(max(s_hi, s_lo + 1), n_sess)
        buf = np.empty(int(cum[s_hi] - cum[s_lo]), dtype=np.int64)
        m = _pair_keys(indptr, codes, s_lo, s_hi, window, n, n_offsets, buf)
        if m:
            parts.append(_compress(buf[:m], n_offsets, offset_weights))
        del buf
        s_lo = s_hi
        if progress is not None:
            progress("cooccurrence", cum[s_lo] / max(total, 1), f"counted pairs of {s_lo:,}/{n_sess:,} sessions")
    if len(parts) == 1:
        keys, weights = parts[0]
    elif parts:  # several compressed chunks: merge equal keys across them
        all_keys = np.concatenate([k for k, _ in parts])
        all_w = np.concatenate([w for _, w in parts])
        order_k = np.argsort(all_keys, kind="stable")
        keys, weights = _compress_merged(all_keys[order_k], all_w[order_k])
    else:
        keys, weights = np.zeros(0, np.int64), np.zeros(0)
    rows, cols = np.divmod(keys, n) if n else (keys, keys)
    # Keys are sorted, so (rows, cols) is already in CSR order: build the upper triangle directly.
    upper_indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=upper_indptr[1:])
    upper = sp.csr_matrix((weights.astype(np.float32), cols, upper_indptr), shape=(n, n))
    sym = (upper + upper.T).tocsr()
    sym.sort_indices()
    return sym.astype(np.float32, copy=False)


def _compress_merged(keys: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum the weights of equal keys in a sorted key array (chunks merged)."""
    starts = np.concatenate(([0], np.flatnonzero(np.diff(keys)) + 1))
    return keys[starts], np.add.reduceat(weights, starts)


def ppmi(counts: sp.csr_matrix, *, alpha: float = 0.75, shift: float = 1.0) -> sp.csr_matrix:
    """Positive PMI with context-distribution smoothing (Levy, Goldberg & Dagan 2015).

    ``PMI(i, j) = log C_ij − log C_i· − α·log C_·j + log Σ_j C_·j^α − log(shift)``; negative values are
    dropped (the matrix stays sparse). ``alpha = 0.75`` dampens the pull of popular contexts — the main defence
    against popularity domination; ``shift = k`` gives shifted PPMI (SPPMI).
    """
    counts = counts.tocsr().astype(np.float64)
    row = np.asarray(counts.sum(axis=1)).ravel()
    col = np.asarray(counts.sum(axis=0)).ravel()
    col_alpha = np.power(col, alpha, where=col > 0, out=np.zeros_like(col))
    log_norm = np.log(col_alpha.sum()) if col_alpha.sum() > 0 else 0.0
    rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    with np.errstate(divide="ignore"):
        pmi = (
            np.log(counts.data)
            - np.log(row[rows])
            - alpha * np.log(col[counts.indices])
            + log_norm
            - np.log(shift)
        )
    out = sp.csr_matrix((pmi.astype(np.float32), counts.indices.copy(), counts.indptr.copy()), shape=counts.shape)
    out.data[~np.isfinite(out.data)] = 0.0
    out.data[out.data < 0] = 0.0
    out.eliminate_zeros()
    return out
