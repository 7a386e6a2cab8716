"""Fit the "next item" tables: query vectors ``Q`` and candidate vectors ``K`` (unit rows) whose cosine softmax
``softmax_b(Q_a · K_b / τ)`` reproduces a directional target ``P`` (rows summing to one, see
:meth:`behemb_core.target_similarity.DirectionalTarget.mixed`):

    L(Q, K) = Σ_a w_a · Σ_b P_ab · (−log softmax_{b≠a}(Q_a·K_b / τ)).

The estimators are :mod:`behemb_core.softmax_fit`'s, on the two tables stacked as one (``Q`` rows ``0..n-1``, ``K``
rows ``n..2n-1``): a batch's rows are query rows, and every positive and negative is a candidate row, so the
sampled softmax's compiled kernels, its shared negatives (drawn from the candidates' column mass) and its lazy
Adam on the touched rows serve unchanged; the full softmax multiplies a batch of ``Q`` by all of ``K``. The same
seed and data give the same tables on a machine, as for the symmetric fit.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from .progress import Reporter
from .softmax_fit import SoftmaxFitParams, SoftmaxFitResult, SoftmaxTrainer, random_unit_rows, run_fit
from .softmax_sizing import effective_negatives

__all__ = ["DirectionalFitResult", "fit_directional_softmax"]


class DirectionalFitResult(SoftmaxFitResult):
    """:class:`~behemb_core.softmax_fit.SoftmaxFitResult` whose ``vectors`` are ``Q`` stacked on ``K``."""

    @property
    def query(self) -> np.ndarray:
        return self.vectors[: len(self.vectors) // 2]

    @property
    def candidate(self) -> np.ndarray:
        return self.vectors[len(self.vectors) // 2:]


class _TwoTableTrainer(SoftmaxTrainer):
    """The trainer on ``e = [Q; K]`` with ``p`` shifted onto the candidate rows; the full softmax over ``K``."""

    def __init__(self, params: SoftmaxFitParams, p: sp.csr_matrix, w: np.ndarray, e: np.ndarray,
                 rng: np.random.Generator) -> None:
        n = p.shape[0]
        shifted = sp.csr_matrix((p.data, (p.indices + n).astype(np.int32), p.indptr), shape=(n, 2 * n))
        super().__init__(params, shifted, w, e, rng, candidates_from=n)
        self.p_local = p

    def full_gradient(self, rows: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Exact weighted loss of ``rows`` (summed) and the gradient of its batch mean: ``Q`` rows of the batch
        from the candidates, every ``K`` row from the batch."""
        e, inv_tau, n = self.e, self.inv_tau, self.offset
        qa = e[rows]
        k = e[n:]
        logits = qa @ k.T
        logits *= inv_tau
        logits[np.arange(len(rows)), rows] = -np.inf
        mx = logits.max(axis=1)
        logits -= mx[:, None]
        np.exp(logits, out=logits)
        z = logits.sum(axis=1)
        logits /= z[:, None]
        pb = self.p_local[rows]
        pos_term = np.einsum("ij,ij->i", pb @ k, qa) * inv_tau
        loss_rows = np.log(z) + mx - pos_term
        br = np.repeat(np.arange(len(rows)), np.diff(pb.indptr))
        logits[br, pb.indices] -= pb.data
        coef = self.w[rows] * (inv_tau / len(rows))
        logits *= coef[:, None]
        # Only the batch's Q rows and every K row have a gradient: the other Q rows are not touched (a zero
        # gradient would still move them through Adam's momentum).
        touched = np.concatenate((rows, np.arange(n, 2 * n)))
        grad = np.empty((len(touched), e.shape[1]), dtype=e.dtype)
        grad[: len(rows)] = logits @ k
        grad[len(rows):] = logits.T @ qa
        return float((loss_rows * self.w[rows]).sum()), touched, grad


def fit_directional_softmax(
    p: sp.csr_matrix,
    row_weights: np.ndarray,
    params: SoftmaxFitParams,
    *,
    seed: int = 0,
    full: bool,
    progress: Reporter | None = None,
    start: np.ndarray | None = None,
) -> DirectionalFitResult:
    """Fit ``Q`` and ``K`` (``n × dim`` float32 unit rows each) to ``p`` (``n × n``, rows summing to one, sorted
    int32 indices, no diagonal) with row weights ``row_weights`` (mean 1), with the full or the sampled softmax;
    early stopping as :func:`behemb_core.softmax_fit.fit_cosine_softmax`.

    With ``start`` (``n × dim``, e.g. the symmetric fit's vectors of the same items) both tables start from it;
    else from the seeded random start (drawn either way, so both are deterministic for a seed)."""
    n = p.shape[0]
    p = p.tocsr()
    p.sort_indices()
    if p.shape != (n, n) or (np.diff(p.indptr) == 0).any():
        raise ValueError("the directional target must be square with a positive entry in every row")
    p = sp.csr_matrix((p.data.astype(np.float32), p.indices.astype(np.int32), p.indptr.astype(np.int64)),
                      shape=p.shape)
    w = np.asarray(row_weights, dtype=np.float32)
    params = replace(params, negatives=effective_negatives(params.negatives, n))
    rng = np.random.default_rng(seed)
    e = random_unit_rows(rng, 2 * n, params.dim)
    if start is not None:
        if start.shape != (n, params.dim):
            raise ValueError(f"start vectors {start.shape}, fit of {n} × {params.dim}")
        e[:n] = start
        e[n:] = start
        e /= np.linalg.norm(e, axis=1, keepdims=True)
    return run_fit(_TwoTableTrainer(params, p, w, e, rng), DirectionalFitResult(vectors=e), params, n, rng,
                   full=full, progress=progress)
