"""Seeded randomized truncated SVD for sparse matrices (Halko, Martinsson & Tropp 2011), in float32.

What it does, and why (the timings behind each choice are in ``benchmarks/results/library-measurements.md``):

- sparse × dense products run in a compiled row-parallel kernel that uses every core and skips the extra copy of
  ``Aᵀ`` scipy's ``csr.T @ X`` makes (scipy's products are single-threaded);
- the tall-skinny blocks are re-orthonormalised by Cholesky QR — ``R = chol(YᵀY)``, ``Q = Y R⁻¹``, two matrix
  products — in float64, as orthogonal as Householder QR for the condition numbers a power iteration produces
  (each block is ``A`` times an orthonormal block); it repeats itself when the block is ill-conditioned
  ("CholeskyQR2", Fukaya et al. 2014) and falls back to Householder QR if the Gram matrix is not numerically
  positive definite.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from numba import njit, prange
from threadpoolctl import threadpool_limits

from .parallel import KERNEL_LOCK
from .progress import Reporter


@njit(parallel=True, cache=True, nogil=True)
def _csr_times_dense(indptr, indices, data, x, out):  # pragma: no cover - compiled
    n_rows, width = out.shape
    for i in prange(n_rows):
        acc = np.zeros(width, dtype=np.float32)
        for p in range(indptr[i], indptr[i + 1]):
            v = data[p]
            row = x[indices[p]]
            for j in range(width):
                acc[j] += v * row[j]
        out[i] = acc


def _matmul(a: sp.csr_matrix, x: np.ndarray) -> np.ndarray:
    """``a @ x`` for float32 CSR ``a`` and C-contiguous float32 ``x``, on every numba thread."""
    out = np.empty((a.shape[0], x.shape[1]), dtype=np.float32)
    with KERNEL_LOCK:
        _csr_times_dense(a.indptr, a.indices, a.data, np.ascontiguousarray(x, dtype=np.float32), out)
    return out


def orthonormalize(y: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the columns of tall ``y`` (float32), by Cholesky QR in float64.

    One pass leaves an orthogonality error of about ``1e-16 · cond(y)²``; a second pass runs when ``R``'s
    diagonal spans more than four orders of magnitude (CholeskyQR2), and a Gram matrix that is not positive
    definite (numerically rank-deficient ``y``) falls back to Householder QR.
    """
    q = y.astype(np.float64)
    for _ in range(2):
        try:
            r = scipy.linalg.cholesky(q.T @ q, lower=False, check_finite=False)
        except np.linalg.LinAlgError:
            q, _ = scipy.linalg.qr(y, mode="economic", check_finite=False)
            break
        # Q = Y R⁻¹ as one matrix product (a width × width inverse is cheap; trsm on a tall block is not).
        q = q @ scipy.linalg.solve_triangular(r, np.eye(len(r)), lower=False, check_finite=False)
        d = np.abs(np.diag(r))
        if d.min() > 1e-4 * d.max():
            break
    if not np.isfinite(q).all():
        q, _ = scipy.linalg.qr(y, mode="economic", check_finite=False)
    return np.ascontiguousarray(q, dtype=np.float32)


def _small_svd(bt: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-``k`` SVD of the short, wide ``B`` from its tall transpose ``bt``.

    Through the eigen-decomposition of the width × width Gram matrix ``B Bᵀ`` in float64 (much faster than LAPACK's
    SVD of the wide block; see the measurements file). Relative error of ``σᵢ`` is about
    ``1e-16 · (σ₁/σᵢ)²``; if the Gram matrix is not numerically positive definite on the top ``k``, it falls
    back to the direct SVD.
    """
    b64 = bt.astype(np.float64)
    evals, evecs = scipy.linalg.eigh(b64.T @ b64, check_finite=False)
    order = np.argsort(evals)[::-1][:k]
    evals, ub = evals[order], evecs[:, order]
    if evals[-1] <= 1e-12 * max(evals[0], 1e-300):
        ub, s, vt = scipy.linalg.svd(np.ascontiguousarray(bt.T), full_matrices=False, check_finite=False)
        return ub[:, :k].astype(np.float32), s[:k].astype(np.float32), vt[:k].astype(np.float32)
    s = np.sqrt(evals)
    vt = ((b64 @ ub) / s).T
    return ub.astype(np.float32), s.astype(np.float32), np.ascontiguousarray(vt, dtype=np.float32)


def randomized_svd(
    a: sp.spmatrix,
    k: int,
    *,
    n_oversamples: int = 10,
    n_iter: int = 3,
    seed: int = 0,
    progress: Reporter | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-``k`` singular triplets ``(U, S, Vt)`` of ``a``.

    Range finder with ``n_iter`` power iterations, each block re-orthonormalised so float32 stays accurate.
    Deterministic for a given seed on a given machine (the compiled products sum each row in a fixed order,
    whatever the thread count); signs are fixed so that the largest-magnitude entry of each column of ``U`` is
    positive, which keeps results comparable across runs.
    """
    # Dense work here is small matrix products; several OpenBLAS threads only add contention on 2 cores.
    with threadpool_limits(limits=1, user_api="blas"):
        return _randomized_svd(a, k, n_oversamples=n_oversamples, n_iter=n_iter, seed=seed, progress=progress)


def _randomized_svd(
    a: sp.spmatrix, k: int, *, n_oversamples: int, n_iter: int, seed: int, progress: Reporter | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if progress is not None:
        progress("svd", 0.0, "randomized SVD")
    n_rows, n_cols = a.shape
    width = min(k + n_oversamples, min(n_rows, n_cols))
    rng = np.random.default_rng(seed)
    a = sp.csr_matrix(a, dtype=np.float32)
    a.sort_indices()
    at = a.T.tocsr()
    omega = rng.standard_normal((n_cols, width), dtype=np.float32)
    q = orthonormalize(_matmul(a, omega))
    for it in range(n_iter):
        z = orthonormalize(_matmul(at, q))
        q = orthonormalize(_matmul(a, z))
        if progress is not None:
            progress("svd", (it + 1) / (n_iter + 1), f"power iteration {it + 1}/{n_iter}")
    bt = _matmul(at, q)  # Bᵀ = Aᵀ Q, n_cols × width
    ub, s, vt = _small_svd(bt, k)
    u = q @ ub
    signs = np.sign(u[np.argmax(np.abs(u), axis=0), np.arange(u.shape[1])])
    signs[signs == 0] = 1
    u *= signs
    vt *= signs[:, None]
    if progress is not None:
        progress("svd", 1.0, "SVD done")
    return u.astype(np.float32), s.astype(np.float32), vt.astype(np.float32)
