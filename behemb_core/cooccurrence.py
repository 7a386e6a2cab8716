"""Sparse windowed co-occurrence counts and their PPMI transform.

Memory is proportional to the number of distinct co-occurring pairs: counts live in a ``scipy.sparse`` CSR
matrix, never a dense items × items array. Pair generation is vectorised per window offset and touches only
positions that still have a partner at that offset, so the work is proportional to the number of pairs even
in whole-session mode.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp

from .progress import Reporter
from .sessions import Sessions

Weighting = Literal["uniform", "harmonic", "linear"]

# Flush accumulated pairs into the sparse sum once this many are buffered (bounds peak memory).
_PAIR_BUFFER = 40_000_000


def _offset_weight(d: int, window: int, weighting: Weighting) -> float:
    if weighting == "uniform" or window == 0:
        return 1.0
    if weighting == "harmonic":
        return 1.0 / d
    return (window - d + 1) / window  # "linear": word2vec's dynamic-window expectation


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
    """
    n = sessions.n_items
    codes = sessions.codes.astype(np.int32, copy=False)
    lengths = sessions.lengths
    ends = np.repeat(sessions.indptr[1:], lengths)
    remaining = ends - np.arange(len(codes), dtype=np.int64) - 1  # partners to the right in the session
    order = np.argsort(-remaining, kind="stable")
    rem_sorted_neg = -remaining[order]  # ascending
    max_d = int(remaining.max()) if len(remaining) else 0
    if window > 0:
        max_d = min(max_d, window)

    if progress is not None:
        progress("cooccurrence", 0.0, "counting co-occurring pairs")
    total = sp.csr_matrix((n, n), dtype=np.float32)
    buf_a: list[np.ndarray] = []
    buf_b: list[np.ndarray] = []
    buf_w: list[np.ndarray] = []
    buffered = 0

    def flush() -> None:
        nonlocal total, buffered
        if not buffered:
            return
        a = np.concatenate(buf_a)
        b = np.concatenate(buf_b)
        w = np.concatenate(buf_w)
        buf_a.clear(), buf_b.clear(), buf_w.clear()
        m = sp.coo_matrix((w, (a, b)), shape=(n, n)).tocsr()
        m.sum_duplicates()
        total = total + m
        buffered = 0

    for d in range(1, max_d + 1):
        n_active = int(np.searchsorted(rem_sorted_neg, -d, side="right"))
        if n_active == 0:
            break
        pos = order[:n_active]
        a = codes[pos]
        b = codes[pos + d]
        keep = a != b
        a, b = a[keep], b[keep]
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        buf_a.append(lo)
        buf_b.append(hi)
        buf_w.append(np.full(len(lo), _offset_weight(d, window, weighting), dtype=np.float32))
        buffered += len(lo)
        if buffered >= _PAIR_BUFFER:
            flush()
        if progress is not None and (d == max_d or d % 8 == 0):
            progress("cooccurrence", d / max_d, f"counted pairs at distance {d}/{max_d}")
    flush()
    upper = total.tocsr()
    sym = (upper + upper.T).tocsr()
    sym.sort_indices()
    return sym.astype(np.float32, copy=False)


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
