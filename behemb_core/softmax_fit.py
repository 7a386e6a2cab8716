"""Fit unit-norm item vectors whose cosine softmax reproduces a target similarity's rows.

Given a sparse non-negative target ``T`` (items × items, every row non-empty), minimise

    L(E) = Σ_a w_a · Σ_b P_ab · (−log softmax_{b≠a}(E_a·E_b / τ)),   P_a = T_a / Σ_b T_ab,

over rows ``E_a`` of unit length (re-normalised after every Adam step). Row weights ``w_a ∝ (Σ_b T_ab)^e``
(mean 1) let well-observed items count more.

Two estimators of the same gradient:

* **full** — the exact softmax over all items, three BLAS matrix products per batch
  (``O(batch · n · dim)``). Exact; affordable up to a few ten thousand items.
* **sampled** — the positives of each row (the non-zeros of ``P_a``) enter the partition function exactly,
  everything else through ``negatives`` items shared by the batch, drawn from the smoothed column mass of
  ``P`` and importance-weighted by ``1/(m·q_j)`` (the log-Q correction); negatives that are the row's own item
  or one of its positives are masked, so nothing is counted twice. A step costs
  ``O(batch · (positives + negatives) · dim)``: compiled per-row work, one BLAS product for the shared
  negatives, and a lazy Adam update of the touched rows only — no ``O(n · dim)`` pass per step and no
  ``n × n`` block. Memory ∝ ``nnz(T) + n · dim``.

Both are deterministic for a seed on a given machine: every random draw comes from one seeded generator,
compiled loops write disjoint rows (or disjoint column blocks), and reductions run in a fixed order.

Small catalogues take smaller batches and fewer negatives, on one thread (:mod:`.softmax_sizing`). Which
estimator a method uses is its choice (``cooc_softmax``'s ``softmax="auto"`` compares their costs per epoch).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import TypeVar

import numpy as np
import scipy.sparse as sp
from numba import njit, prange

from .progress import Reporter
from .softmax_sizing import effective_batch_size, effective_negatives, fit_threads, thread_limit
from .warm_start import EarlyStop, WarmRows

_BETA1, _BETA2, _EPS = 0.9, 0.999, 1e-8


@dataclass(frozen=True)
class SoftmaxFitParams:
    dim: int = 128
    tau: float = 0.1
    epochs: int = 20
    lr: float = 0.01
    batch_size: int = 1024
    negatives: int = 2048
    row_weight_exponent: float = 0.5
    negative_exponent: float = 0.75
    # Early stopping (:class:`~behemb_core.warm_start.EarlyStop`): ``epochs`` is then the most epochs run.
    min_epochs: int = 1
    tol: float = 0.0
    patience: int = 1


@dataclass
class SoftmaxFitResult:
    vectors: np.ndarray
    epoch_losses: list[float] = field(default_factory=list)
    estimator: str = "full"
    batch_size: int = 0
    seconds_per_epoch: list[float] = field(default_factory=list)
    threads: int = 0
    negatives: int = 0  # shared negatives per step (sampled softmax; 0 for the full one)

    @property
    def epochs_run(self) -> int:
        return len(self.epoch_losses)


def row_distribution(t: sp.csr_matrix, row_weight_exponent: float) -> tuple[sp.csr_matrix, np.ndarray]:
    """``P`` (rows of ``T`` summing to one, float32, sorted int32 indices) and the row weights (mean 1)."""
    t = t.tocsr()
    t.sort_indices()
    mass = np.asarray(t.sum(axis=1), dtype=np.float64).ravel()
    if (mass <= 0).any():
        raise ValueError("every row of the target similarity needs a positive entry")
    rows = np.repeat(np.arange(t.shape[0]), np.diff(t.indptr))
    p = sp.csr_matrix(
        ((t.data / mass[rows]).astype(np.float32), t.indices.astype(np.int32), t.indptr.astype(np.int64)),
        shape=t.shape,
    )
    w = np.power(mass, row_weight_exponent)
    return p, (w / w.mean()).astype(np.float32)


def fit_cosine_softmax(
    t: sp.csr_matrix,
    params: SoftmaxFitParams,
    *,
    seed: int = 0,
    full: bool,
    progress: Reporter | None = None,
    warm: WarmRows | None = None,
) -> SoftmaxFitResult:
    """Fit ``E`` (``n × dim`` float32, unit rows) to ``T`` with the full or the sampled softmax.

    With ``warm`` the rows it names start from its vectors and the others from the seeded random start (drawn
    as for a cold fit, so a warm fit is as deterministic for a seed). Runs at most ``params.epochs`` epochs and
    stops earlier once the loss stops improving (``params.tol``, ``params.patience``, ``params.min_epochs``)."""
    n = t.shape[0]
    params = replace(params, negatives=effective_negatives(params.negatives, n))
    p, w = row_distribution(t, params.row_weight_exponent)
    rng = np.random.default_rng(seed)
    e = random_unit_rows(rng, n, params.dim)
    if warm is not None:
        if warm.n_items != n or warm.vectors.shape[1:] != (params.dim,):
            raise ValueError(f"warm start for {warm.n_items} items × {warm.vectors.shape[1:]}, "
                             f"fit of {n} × {params.dim}")
        e[warm.codes] = warm.vectors
        e /= np.linalg.norm(e, axis=1, keepdims=True)
    return run_fit(SoftmaxTrainer(params, p, w, e, rng), SoftmaxFitResult(vectors=e), params, n, rng,
                   full=full, progress=progress)


def random_unit_rows(rng: np.random.Generator, rows: int, dim: int) -> np.ndarray:
    """The seeded random start: ``rows × dim`` float32 rows drawn from a normal and scaled to unit length."""
    e = rng.standard_normal((rows, dim)).astype(np.float32)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    return e


R = TypeVar("R", bound=SoftmaxFitResult)


def run_fit(step: SoftmaxTrainer, result: R, params: SoftmaxFitParams, n: int, rng: np.random.Generator, *,
            full: bool, progress: Reporter | None) -> R:
    """Run ``step``'s epochs over ``n`` query rows with ``params``' early stopping, batch size and threads, and
    fill ``result`` (whose ``vectors`` are the trainer's table, updated in place) with the estimator, the sizes,
    the losses and the seconds of each epoch. Shared by the symmetric and the two-table fit."""
    stop = EarlyStop(max_epochs=params.epochs, min_epochs=params.min_epochs, tol=params.tol, patience=params.patience)
    batch_size = effective_batch_size(params.batch_size, n)
    threads = fit_threads(params.batch_size, n)
    result.estimator = "full" if full else "sampled"
    result.batch_size, result.threads = batch_size, threads
    result.negatives = 0 if full else params.negatives
    with thread_limit(threads):
        _run_epochs(result, step, stop, params, n, batch_size, rng, full, progress)
    return result


def _run_epochs(
    result: SoftmaxFitResult, step: SoftmaxTrainer, stop: EarlyStop, params: SoftmaxFitParams, n: int,
    batch_size: int, rng: np.random.Generator, full: bool, progress: Reporter | None,
) -> None:
    w = step.w
    batches = math.ceil(n / batch_size)
    last_report = time.perf_counter()
    for epoch in range(params.epochs):
        t0 = time.perf_counter()
        order = rng.permutation(n)
        loss_sum = 0.0
        for b in range(batches):
            rows = np.sort(order[b * batch_size : (b + 1) * batch_size])
            loss_sum += step.full(rows) if full else step.sampled(rows)
            now = time.perf_counter()
            if progress is not None and now - last_report > 0.5:
                last_report = now
                done = (epoch + (b + 1) / batches) / params.epochs
                progress("epoch", done, f"epoch {epoch + 1}/{params.epochs}: batch {b + 1}/{batches}")
        loss = float(loss_sum / float(w.sum()))
        result.epoch_losses.append(loss)
        result.seconds_per_epoch.append(round(time.perf_counter() - t0, 3))
        if progress is not None:
            progress(
                "epoch", (epoch + 1) / params.epochs, f"epoch {epoch + 1}/{params.epochs}: loss {loss:.4f}",
                epoch=epoch + 1, loss=loss,
            )
        if stop.should_stop(result.epoch_losses):
            break


class SoftmaxTrainer:
    """Gradients of either estimator and the Adam steps that apply them; updates ``e`` in place.

    ``p`` and ``w`` come from :func:`row_distribution`; ``rng`` draws the shared negatives.
    """

    def __init__(
        self, params: SoftmaxFitParams, p: sp.csr_matrix, w: np.ndarray, e: np.ndarray, rng: np.random.Generator,
        *, candidates_from: int = 0,
    ) -> None:
        """``p`` has a row per query row of ``e`` and a column per row of ``e``; candidates (positives and
        negatives) are the rows of ``e`` from ``candidates_from`` on — 0 for one table that is both, ``n`` for a
        query table stacked on a candidate table (:mod:`behemb_core.directional_fit`), where item ``a``'s own
        candidate row is ``a + candidates_from``."""
        self.params, self.p, self.w, self.e, self.rng = params, p, w, e, rng
        self.m1 = np.zeros_like(e)
        self.m2 = np.zeros_like(e)
        self.t = 0
        self.inv_tau = np.float32(1.0 / params.tau)
        self.offset = candidates_from
        if params.negatives > 0:
            mass = np.asarray(p.multiply(w[:, None]).sum(axis=0), dtype=np.float64).ravel()[candidates_from:]
            q = np.power(np.maximum(mass, 1e-12), params.negative_exponent)
            self.q = q / q.sum()
            self.cum_q = np.cumsum(self.q)
            self.cum_q[-1] = 1.0
        self.slot_of = np.full(len(e), -1, dtype=np.int64)

    def full(self, rows: np.ndarray) -> float:
        loss, touched, grad = self.full_gradient(rows)
        self._apply(touched, grad)
        return loss

    def sampled(self, rows: np.ndarray) -> float:
        loss, touched, grad = self.sampled_gradient(rows)
        self._apply(touched, grad)
        return loss

    def _apply(self, touched: np.ndarray, grad: np.ndarray) -> None:
        self.t += 1
        _adam_rows(self.e, self.m1, self.m2, grad, touched, np.arange(len(touched)), self.params.lr, self.t)

    # ---------------------------------------------------------------------------------------------- full
    def full_gradient(self, rows: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Exact weighted loss of ``rows`` (summed) and the gradient of its batch mean for every row of E."""
        e, p, inv_tau = self.e, self.p, self.inv_tau
        ea = e[rows]
        logits = ea @ e.T
        logits *= inv_tau
        logits[np.arange(len(rows)), rows] = -np.inf
        mx = logits.max(axis=1)
        logits -= mx[:, None]
        np.exp(logits, out=logits)
        z = logits.sum(axis=1)
        logits /= z[:, None]  # now the softmax
        pb = p[rows]
        pos_term = np.einsum("ij,ij->i", pb @ e, ea) * inv_tau
        loss_rows = np.log(z) + mx - pos_term
        br = np.repeat(np.arange(len(rows)), np.diff(pb.indptr))
        logits[br, pb.indices] -= pb.data
        coef = self.w[rows] * (inv_tau / len(rows))
        logits *= coef[:, None]
        grad = logits.T @ ea
        grad[rows] += logits @ e
        return float((loss_rows * self.w[rows]).sum()), np.arange(len(e)), grad

    # ------------------------------------------------------------------------------------------- sampled
    def sampled_gradient(self, rows: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Estimated weighted loss of ``rows`` and gradient rows for the touched items (``grad[i]`` belongs to
        ``touched[i]``); one fresh draw of shared negatives."""
        e, p, inv_tau = self.e, self.p, self.inv_tau
        m = self.params.negatives
        drawn = np.sort(np.searchsorted(self.cum_q, self.rng.random(m), side="right").astype(np.int64))
        log_mq = np.log(m * self.q[drawn]).astype(np.float32)
        neg = drawn + self.offset
        ea = e[rows]
        en = e[neg]
        # Logits of the shared negatives with the log-Q correction (BLAS, then numpy's SIMD exp and sums).
        neg_logits = (ea * inv_tau) @ en.T
        neg_logits -= log_mq[None, :]
        counts = np.diff(p.indptr)[rows]
        edge_off = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(counts, out=edge_off[1:])
        edge_g = np.empty(int(edge_off[-1]), dtype=np.float32)
        pos_max = np.empty(len(rows), dtype=np.float32)
        pos_sum = np.empty(len(rows), dtype=np.float64)
        _positive_logits(e, ea, rows, p.indptr, p.indices, p.data, neg, neg_logits, inv_tau, edge_off, edge_g,
                         pos_max, pos_sum, self.offset)
        mx = np.maximum(neg_logits.max(axis=1), pos_max)
        neg_logits -= mx[:, None]
        np.exp(neg_logits, out=neg_logits)  # masked draws: exp(-inf) = 0
        z_neg = neg_logits.sum(axis=1, dtype=np.float64)
        grad_a = np.zeros_like(ea)
        loss = np.empty(len(rows), dtype=np.float64)
        row_scale = np.empty(len(rows), dtype=np.float32)
        coef = self.w[rows] * (inv_tau / len(rows))
        _positive_gradients(e, rows, p.indptr, p.indices, p.data, edge_off, edge_g, mx, z_neg, pos_sum, coef,
                            grad_a, loss, row_scale)
        neg_logits *= row_scale[:, None]  # now the gradient coefficient of every (row, negative) pair
        grad_a += neg_logits @ en
        grad_n = neg_logits.T @ ea
        touched = _assign_slots(rows, neg, p.indptr, p.indices, self.slot_of)
        grad = np.zeros((len(touched), e.shape[1]), dtype=np.float32)
        _scatter_grads(grad, self.slot_of, rows, grad_a, neg, grad_n, p.indptr, p.indices, edge_off, edge_g, ea)
        self.slot_of[touched] = -1
        return float((loss * self.w[rows]).sum()), touched, grad


# -------------------------------------------------------------------------------------- compiled kernels
@njit(cache=True, nogil=True, parallel=True, fastmath={"reassoc", "contract", "arcp"})
def _adam_rows(e, m1, m2, grad, rows, slots, lr, t):  # pragma: no cover - compiled
    """Adam on ``e[rows]`` with ``grad[slots]`` (float32), then re-normalise each updated row to unit length."""
    c1 = 1.0 - 0.9**t
    c2 = 1.0 - 0.999**t
    step = np.float32(lr * math.sqrt(c2) / c1)
    eps = np.float32(1e-8 * math.sqrt(c2))
    b1, b2 = np.float32(0.9), np.float32(0.999)
    a1, a2 = np.float32(0.1), np.float32(0.001)
    d = e.shape[1]
    for i in prange(len(rows)):
        r = rows[i]
        g = grad[slots[i]]
        x, u, v = e[r], m1[r], m2[r]
        norm = np.float32(0.0)
        for k in range(d):
            u[k] = b1 * u[k] + a1 * g[k]
            v[k] = b2 * v[k] + a2 * g[k] * g[k]
            x[k] -= step * u[k] / (np.sqrt(v[k]) + eps)
            norm += x[k] * x[k]
        if norm > 0:
            inv = np.float32(1.0) / np.sqrt(norm)
            for k in range(d):
                x[k] *= inv


_FAST = {"reassoc", "contract"}  # lets LLVM vectorise dot products; no assumption about inf or NaN


@njit(cache=True, nogil=True, fastmath=_FAST)
def _dot(x, y):  # pragma: no cover - compiled
    s = np.float32(0.0)
    for i in range(len(x)):
        s += x[i] * y[i]
    return s


@njit(cache=True, nogil=True, fastmath=_FAST)
def _axpy(alpha, x, y):  # pragma: no cover - compiled
    """``y += alpha · x`` in float32."""
    a = np.float32(alpha)
    for i in range(len(x)):
        y[i] += a * x[i]


@njit(cache=True, nogil=True)
def _lower_bound(sorted_values, x):  # pragma: no cover - compiled
    lo, hi = 0, len(sorted_values)
    while lo < hi:
        mid = (lo + hi) // 2
        if sorted_values[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, nogil=True)
def _mask(neg, logits_row, item):  # pragma: no cover - compiled
    """Mask every draw of ``item`` among the sorted negatives (draws are with replacement)."""
    j = _lower_bound(neg, item)
    while j < len(neg) and neg[j] == item:
        logits_row[j] = -np.inf
        j += 1


@njit(cache=True, nogil=True, parallel=True)
def _positive_logits(
    e, ea, rows, indptr, indices, data, neg, neg_logits, inv_tau, edge_off, edge_g, pos_max, pos_sum, self_offset
):  # pragma: no cover - compiled
    """Per batch row: the logits of its positives (into ``edge_g``), their maximum and ``Σ_b P_ab·s_ab``;
    and masking of the sorted shared negatives that are the row's own item (its candidate row: ``a +
    self_offset``) or one of its positives."""
    for r in prange(len(rows)):
        a = rows[r]
        lo, hi = indptr[a], indptr[a + 1]
        e0 = edge_off[r]
        mx = np.float32(-np.inf)
        acc = 0.0
        for k in range(lo, hi):
            s = _dot(ea[r], e[indices[k]]) * inv_tau
            edge_g[e0 + k - lo] = s
            acc += data[k] * s
            if s > mx:
                mx = s
        pos_max[r] = mx
        pos_sum[r] = acc
        row = neg_logits[r]
        _mask(neg, row, a + self_offset)
        for k in range(lo, hi):
            _mask(neg, row, indices[k])


@njit(cache=True, nogil=True, parallel=True)
def _positive_gradients(
    e, rows, indptr, indices, data, edge_off, edge_g, mx, z_neg, pos_sum, coef, grad_a, loss, row_scale
):  # pragma: no cover - compiled
    """Per batch row: the partition function (exact positives + the negatives' sum ``z_neg``), the loss, the
    gradient coefficient of every positive (into ``edge_g``), the positives' part of the row's gradient, and
    ``row_scale`` that turns the negatives' ``exp`` into their coefficients."""
    for r in prange(len(rows)):
        a = rows[r]
        lo, hi = indptr[a], indptr[a + 1]
        e0 = edge_off[r]
        m = mx[r]
        z = z_neg[r]
        for k in range(hi - lo):
            ex = math.exp(edge_g[e0 + k] - m)
            edge_g[e0 + k] = ex
            z += ex
        inv_z = 1.0 / z
        loss[r] = math.log(z) + m - pos_sum[r]
        c_r = coef[r]
        for k in range(lo, hi):
            g = c_r * (edge_g[e0 + k - lo] * inv_z - data[k])
            edge_g[e0 + k - lo] = g
            _axpy(g, e[indices[k]], grad_a[r])
        row_scale[r] = c_r * inv_z


@njit(cache=True, nogil=True)
def _assign_slots(rows, neg, indptr, indices, slot_of):  # pragma: no cover - compiled
    """Give every row a step touches one gradient slot (first appearance order); returns the touched rows."""
    total = len(rows) + len(neg)
    for r in range(len(rows)):
        total += indptr[rows[r] + 1] - indptr[rows[r]]
    touched = np.empty(total, dtype=np.int64)
    n = 0
    for r in range(len(rows)):
        x = rows[r]
        if slot_of[x] < 0:
            slot_of[x] = n
            touched[n] = x
            n += 1
    for j in range(len(neg)):
        x = neg[j]
        if slot_of[x] < 0:
            slot_of[x] = n
            touched[n] = x
            n += 1
    for r in range(len(rows)):
        a = rows[r]
        for k in range(indptr[a], indptr[a + 1]):
            x = indices[k]
            if slot_of[x] < 0:
                slot_of[x] = n
                touched[n] = x
                n += 1
    return touched[:n]


@njit(cache=True, nogil=True, parallel=True, fastmath=_FAST)
def _scatter_grads(
    grad, slot_of, rows, grad_a, neg, grad_n, indptr, indices, edge_off, edge_g, ea
):  # pragma: no cover - compiled
    """Sum every gradient contribution into its row's slot.

    Threads own disjoint column blocks, so no two write the same number, and every number is summed in the
    same order whatever the number of blocks: the result does not depend on the thread count.
    """
    d = grad.shape[1]
    n_blocks = 2 if d >= 32 else 1
    width = (d + n_blocks - 1) // n_blocks
    for blk in prange(n_blocks):
        x0 = blk * width
        x1 = min(d, x0 + width)
        for r in range(len(rows)):
            _axpy(1.0, grad_a[r, x0:x1], grad[slot_of[rows[r]], x0:x1])
        for j in range(len(neg)):
            _axpy(1.0, grad_n[j, x0:x1], grad[slot_of[neg[j]], x0:x1])
        for r in range(len(rows)):
            a = rows[r]
            e0 = edge_off[r]
            lo = indptr[a]
            src = ea[r, x0:x1]
            for k in range(lo, indptr[a + 1]):
                _axpy(edge_g[e0 + k - lo], src, grad[slot_of[indices[k]], x0:x1])
