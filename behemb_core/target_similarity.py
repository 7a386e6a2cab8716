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

from .cooccurrence import Weighting, cooccurrence_from_pairs, count_cooccurrence, count_pairs, forward_from_pairs
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
    t = damp(c, degree, gamma)
    return TargetSimilarity(matrix=t, degree=degree)


def damp(counts: sp.csr_matrix, degree: np.ndarray, gamma: float) -> sp.csr_matrix:
    """``M_ab / (d_a^γ · d_b^γ)`` (float32, explicit zeros dropped) for counts ``M`` and item degrees ``d``; an
    item of degree 0 keeps an empty row and column."""
    m = counts.tocsr().astype(np.float64, copy=False)
    scale = np.zeros_like(degree, dtype=np.float64)
    np.power(degree, -float(gamma), out=scale, where=degree > 0)
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    out = sp.csr_matrix(((m.data * scale[rows] * scale[m.indices]).astype(np.float32), m.indices.astype(np.int32),
                         m.indptr), shape=m.shape)
    out.eliminate_zeros()
    return out


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


@dataclass(frozen=True)
class DirectionalTarget:
    """What the "next item" tables are fitted to, from one directed count of the sessions: ``symmetric`` is the
    usual ``T`` (bit for bit what :func:`target_similarity` gives), ``forward`` is ``F_ab / (d_a^γ · d_b^γ)`` with
    ``F_ab`` the weighted counts of ``b`` coming after ``a`` within the window (``F + Fᵀ = C``) and the same
    degrees."""

    symmetric: TargetSimilarity
    forward: sp.csr_matrix

    def mixed(self, alpha: float, rows: np.ndarray) -> sp.csr_matrix:
        """``P_a = α · F̃_a / Σ F̃_a + (1 − α) · T_a / Σ T_a`` for the items ``rows`` (codes; the result is indexed
        by position in ``rows`` on both axes): rows sum to one. An item nothing ever followed has no forward row
        and keeps its symmetric one (α is 0 there)."""
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be within [0, 1], got {alpha}")
        t = _row_normalized(self.symmetric.matrix[rows][:, rows])
        f = _row_normalized(self.forward[rows][:, rows])
        has_forward = np.diff(f.indptr) > 0
        share = np.where(has_forward, alpha, 0.0)
        p = (sp.diags(share) @ f + sp.diags(1.0 - share) @ t).tocsr()
        p.eliminate_zeros()
        p.sort_indices()
        return p.astype(np.float32)


def _row_normalized(m: sp.csr_matrix) -> sp.csr_matrix:
    m = m.tocsr().astype(np.float64)
    mass = np.asarray(m.sum(axis=1)).ravel()
    inv = np.zeros_like(mass)
    np.divide(1.0, mass, out=inv, where=mass > 0)
    return (sp.diags(inv) @ m).tocsr()


def directional_target(
    sessions: Sessions,
    *,
    window: int = 10,
    weighting: Weighting = "harmonic",
    gamma: float = 0.1,
    progress: Reporter | None = None,
) -> DirectionalTarget:
    """Count the sessions' pairs once, keeping their order (:func:`~behemb_core.cooccurrence.count_pairs` with
    ``directed``), and derive both the symmetric target and the forward one from that table."""
    pairs = count_pairs(sessions, window=window, weighting=weighting, directed=True, progress=progress)
    symmetric = popularity_normalize(cooccurrence_from_pairs(pairs), gamma)
    # the forward counts damped by the symmetric degrees
    return DirectionalTarget(symmetric=symmetric, forward=damp(forward_from_pairs(pairs), symmetric.degree, gamma))
