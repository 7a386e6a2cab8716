"""The target similarity ``T`` that ``cooc_softmax`` fits, and the sparse ranking by ``T`` itself.

``C_ab`` sums ``w(d)`` over every pair of items ``d ≤ window`` positions apart in a session (``w`` uniform,
harmonic ``1/d`` or linear), symmetric with a zero diagonal; ``d_a = Σ_b C_ab``; and

    T_ab = C_ab / (d_a^γ · d_b^γ).

γ is the popularity exponent: 0 keeps raw counts (hubs dominate every row), 0.5 is the cosine-like
normalisation the item-kNN baseline uses, small values in between keep popular items from swamping the rows
without promoting one-off pairs of rare items. ``T`` is as sparse as ``C`` (memory ∝ its non-zeros).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .cooccurrence import Weighting, count_cooccurrence
from .progress import Reporter
from .sessions import Sessions


@dataclass(frozen=True)
class TargetSimilarity:
    """``matrix`` is ``T`` over the codes of the sessions' vocabulary; ``degree`` is ``d_a = Σ_b C_ab``."""

    matrix: sp.csr_matrix
    degree: np.ndarray

    @property
    def has_signal(self) -> np.ndarray:
        """Items with at least one co-occurrence (the others can get no vector from ``T``)."""
        return np.diff(self.matrix.indptr) > 0


def popularity_normalize(counts: sp.csr_matrix, gamma: float) -> TargetSimilarity:
    """``T = D^-γ · C · D^-γ`` for a symmetric count matrix ``C`` (zero rows stay zero)."""
    c = counts.tocsr().astype(np.float64)
    degree = np.asarray(c.sum(axis=1)).ravel()
    scale = np.zeros_like(degree)
    np.power(degree, -float(gamma), out=scale, where=degree > 0)
    rows = np.repeat(np.arange(c.shape[0]), np.diff(c.indptr))
    data = c.data * scale[rows] * scale[c.indices]
    t = sp.csr_matrix((data.astype(np.float32), c.indices.astype(np.int32), c.indptr), shape=c.shape)
    t.eliminate_zeros()
    return TargetSimilarity(matrix=t, degree=degree)


def target_similarity(
    sessions: Sessions,
    *,
    window: int = 10,
    weighting: Weighting = "harmonic",
    gamma: float = 0.1,
    progress: Reporter | None = None,
) -> TargetSimilarity:
    """Count windowed co-occurrence in ``sessions`` and normalise it by popularity (see the module text)."""
    counts = count_cooccurrence(sessions, window=window, weighting=weighting, progress=progress)
    return popularity_normalize(counts, gamma)


def top_k_by_target(t: sp.csr_matrix, query_codes: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` items with the largest ``T`` for each query code (``-1`` pads short rows).

    Ties break towards the lower code, so the ranking is deterministic. This is the "target ranking": what
    the embedding would return if it reproduced ``T`` perfectly, and the cheap score the tuner's first stage
    optimises.
    """
    query_codes = np.asarray(query_codes, dtype=np.int64)
    out = np.full((len(query_codes), k), -1, dtype=np.int64)
    if len(query_codes) == 0 or k == 0:
        return out
    sub = t[query_codes].tocsr()
    sub.sort_indices()
    counts = np.diff(sub.indptr)
    r = np.repeat(np.arange(len(query_codes)), counts)
    order = np.lexsort((sub.indices, -sub.data.astype(np.float64), r))
    pos = np.arange(sub.nnz) - sub.indptr[r[order]]
    keep = pos < k
    out[r[order][keep], pos[keep]] = sub.indices[order][keep]
    return out
