"""Sparse windowed co-occurrence counts and their PPMI transform.

Memory is proportional to the number of distinct co-occurring pairs: counts live in a ``scipy.sparse`` CSR
matrix, never a dense items × items array. A compiled pass writes one int64 key per pair and counting is one
in-place sort of those keys, so the work is proportional to the number of pairs, in whole-session mode too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import scipy.sparse as sp
from numba import njit

from .progress import Reporter
from .sessions import Sessions
from .vocab import Vocabulary

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
def _pair_keys(indptr, codes, s_lo, s_hi, window, n, n_offsets, directed, out):  # pragma: no cover - compiled
    """Write the key of every pair within ``window`` (0 = whole session) of sessions ``s_lo..s_hi-1``: the lower
    code first, or with ``directed`` the earlier item first."""
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
                key = (a * n + b) if (directed or a < b) else (b * n + a)
                if n_offsets > 1:
                    key = key * n_offsets + (j - i - 1)
                out[m] = key
                m += 1
    return m


@njit(cache=True, nogil=True)
def _count_runs(keys, out_keys, out_n):  # pragma: no cover - compiled
    """Collapse sorted keys into unique keys with how many times each occurs; returns how many keys."""
    m = -1
    prev = -1
    for i in range(len(keys)):
        k = keys[i]
        if k != prev:
            m += 1
            out_keys[m] = k
            out_n[m] = 1
            prev = k
        else:
            out_n[m] += 1
    return m + 1


@njit(cache=True, nogil=True)
def _fold_offsets(keys, counts, n_offsets, offset_weights, out_pairs, out_w):  # pragma: no cover - compiled
    """Per pair, ``Σ count(d) · weight(d)`` summed in float64 in increasing ``d`` (keys sorted); returns how
    many pairs."""
    m = -1
    prev = -1
    for i in range(len(keys)):
        pair = keys[i] // n_offsets
        w = counts[i] * offset_weights[keys[i] % n_offsets]
        if pair != prev:
            m += 1
            out_pairs[m] = pair
            out_w[m] = w
            prev = pair
        else:
            out_w[m] += w
    return m + 1


@dataclass(frozen=True)
class PairCounts:
    """Exact co-occurrence counts before weighting: the table both engines produce.

    One row per (pair, offset): ``key = (a · n_items + b) · n_offsets + offset`` with item codes ``a < b``,
    ``offset = d − 1`` for items ``d`` positions apart when the weight depends on the distance (else 0), and
    ``count`` how many times that pair occurred at that offset. Keys are sorted and unique. Counts are integers,
    so a table counted in chunks, on several machines or in another order is the same table; the float weights
    are applied once, by :func:`cooccurrence_from_pairs`.

    A ``directed`` table keeps the order: ``a`` is the item that came first, ``b`` the one ``d`` positions after
    it (any codes). :meth:`undirected` folds it into the symmetric table — the very table :func:`count_pairs`
    counts without ``directed`` — and :func:`forward_from_pairs` weighs it into the forward counts.
    """

    keys: np.ndarray  # int64, sorted, unique
    counts: np.ndarray  # int64
    vocab: Vocabulary  # names the codes
    window: int
    weighting: Weighting
    directed: bool = False

    def undirected(self) -> PairCounts:
        """The symmetric table of a directed one: ``a → b`` and ``b → a`` at the same offset add their integer
        counts under the key with the lower code first (equal, bit for bit, to counting without ``directed``)."""
        if not self.directed:
            return self
        n, n_off = self.n_items, self.n_offsets
        pair, offset = np.divmod(self.keys, n_off)
        a, b = np.divmod(pair, n) if n else (pair, pair)
        keys = (np.minimum(a, b) * n + np.maximum(a, b)) * n_off + offset
        order = np.argsort(keys, kind="stable")
        keys, counts = keys[order], self.counts[order]
        if len(keys):
            starts = np.concatenate(([0], np.flatnonzero(np.diff(keys)) + 1))
            keys, counts = keys[starts], np.add.reduceat(counts, starts)
        return replace(self, keys=keys, counts=counts.astype(np.int64), directed=False)

    @property
    def n_items(self) -> int:
        return len(self.vocab)

    @property
    def n_offsets(self) -> int:
        return pair_offsets(self.window, self.weighting)

    def reweighted(self, weighting: Weighting) -> PairCounts:
        """The same counts under another weighting with as many offsets (per-distance counts serve every
        distance-dependent weighting)."""
        if pair_offsets(self.window, weighting) != self.n_offsets:
            raise ValueError(f"counts with {self.n_offsets} offsets cannot be weighted {weighting!r}")
        return PairCounts(self.keys, self.counts, self.vocab, self.window, weighting)


def pair_offsets(window: int, weighting: Weighting) -> int:
    """How many distances a pair key distinguishes: ``window`` when the weight depends on it, else 1."""
    return max(window, 1) if (weighting != "uniform" and window > 0) else 1


def pair_keys_fit(n_items: int, window: int, weighting: Weighting) -> None:
    """Refuse a table whose keys would overflow 64 bits."""
    if n_items > 0 and float(n_items) * n_items * pair_offsets(window, weighting) >= 2.0**62:
        raise ValueError(f"count_cooccurrence: {n_items:,} items × window {window} overflow 64-bit pair keys")


def count_pairs(
    sessions: Sessions,
    *,
    window: int = 5,
    weighting: Weighting = "uniform",
    directed: bool = False,
    progress: Reporter | None = None,
) -> PairCounts:
    """The exact :class:`PairCounts` of ``sessions`` (see :func:`count_cooccurrence` for what counts as a pair);
    with ``directed`` each pair keeps which item came first (see :class:`PairCounts`).

    Each pair becomes one int64 key written by a compiled pass over the sessions; one in-place sort and a
    run-length pass count them. Sessions are taken in chunks of at most ``_PAIR_BUFFER`` pairs, so memory stays
    bounded in whole-session mode too; chunks are merged by adding their integer counts.
    """
    n = sessions.n_items
    pair_keys_fit(n, window, weighting)
    n_offsets = pair_offsets(window, weighting)
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
        m = _pair_keys(indptr, codes, s_lo, s_hi, window, n, n_offsets, directed, buf)
        if m:
            parts.append(_count(buf[:m]))
        del buf
        s_lo = s_hi
        if progress is not None:
            progress("cooccurrence", cum[s_lo] / max(total, 1), f"counted pairs of {s_lo:,}/{n_sess:,} sessions")
    if len(parts) == 1:
        keys, counts = parts[0]
    elif parts:  # several counted chunks: add the counts of equal keys across them
        all_keys = np.concatenate([k for k, _ in parts])
        all_n = np.concatenate([c for _, c in parts])
        order_k = np.argsort(all_keys, kind="stable")
        all_keys, all_n = all_keys[order_k], all_n[order_k]
        starts = np.concatenate(([0], np.flatnonzero(np.diff(all_keys)) + 1))
        keys, counts = all_keys[starts], np.add.reduceat(all_n, starts)
    else:
        keys, counts = np.zeros(0, np.int64), np.zeros(0, np.int64)
    return PairCounts(keys=keys, counts=counts.astype(np.int64), vocab=sessions.vocab, window=window,
                      weighting=weighting, directed=directed)


def _count(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort pair keys in place and count them into ``(unique key, count)``."""
    keys.sort()
    out_keys = np.empty(len(keys), dtype=np.int64)
    out_n = np.empty(len(keys), dtype=np.int64)
    m = _count_runs(keys, out_keys, out_n)
    return out_keys[:m].copy(), out_n[:m].copy()


def cooccurrence_from_pairs(pairs: PairCounts) -> sp.csr_matrix:
    """The symmetric float32 CSR of weighted counts from a :class:`PairCounts` table (a directed one is folded
    first).

    A pair's weight is ``Σ_d count(d) · weight(d)``, added in float64 in increasing distance and then rounded
    to float32 once: a fixed order, so the same table gives the same bits whichever engine counted it.
    """
    upper = _weighted(pairs.undirected())
    sym = (upper + upper.T).tocsr()
    sym.sort_indices()
    return sym.astype(np.float32, copy=False)


def forward_from_pairs(pairs: PairCounts) -> sp.csr_matrix:
    """``F_ab``: the weighted counts of ``b`` coming after ``a`` (within the window) from a directed table, as a
    float32 CSR with sorted indices; ``F + Fᵀ`` is :func:`cooccurrence_from_pairs` of the same table (up to
    float32 rounding: that one adds both directions' counts before weighing them)."""
    if not pairs.directed:
        raise ValueError("forward counts need a directed pair table (count_pairs(..., directed=True))")
    f = _weighted(pairs)
    f.sort_indices()
    return f


def _weighted(pairs: PairCounts) -> sp.csr_matrix:
    """The weighted counts of the table's keys as a CSR (rows: the keys' first item), float32."""
    n = pairs.n_items
    n_offsets = pairs.n_offsets
    offset_weights = np.array([_offset_weight(d, pairs.window, pairs.weighting) for d in range(1, n_offsets + 1)])
    out_pairs = np.empty(len(pairs.keys), dtype=np.int64)
    out_w = np.empty(len(pairs.keys), dtype=np.float64)
    m = _fold_offsets(pairs.keys, pairs.counts, n_offsets, offset_weights, out_pairs, out_w)
    keys, weights = out_pairs[:m], out_w[:m]
    rows, cols = np.divmod(keys, n) if n else (keys, keys)
    # Keys are sorted, so (rows, cols) is already in CSR order: build the upper triangle directly.
    upper_indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=upper_indptr[1:])
    return sp.csr_matrix((weights.astype(np.float32), cols, upper_indptr), shape=(n, n))


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

    The exact integer counts come first (:func:`count_pairs`), the weights once at the end
    (:func:`cooccurrence_from_pairs`) — the split the Spark engine uses too.
    """
    return cooccurrence_from_pairs(count_pairs(sessions, window=window, weighting=weighting, progress=progress))


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
