"""The peers behemb is held to, run on the same data in the same process.

- :func:`reference_ppmi_svd` — what a competent engineer writes with numpy/scipy/scikit-learn in an afternoon:
  ``json.loads`` per line, ``np.unique`` vocabulary, pair counting vectorised per window offset, COO→CSR,
  PPMI on the sparse values, scikit-learn's ``randomized_svd``. Same cleaning (consecutive repeats collapsed,
  sessions shorter than two dropped) and the same hyper-parameters as ``ppmi_svd``, so the work is the same.
  Its BLAS runs one thread, its fastest setting on this 2-core machine (as behemb's SVD does).
- :func:`raw_gensim` — gensim ``Word2Vec`` on the same corpus file in its fastest mode (``corpus_file``).
- :func:`dense_seed_method` — the textbook sketch behemb replaced: a dense items × items matrix filled by a
  Python loop per event, dense PPMI, full SVD (S only: it is quadratic in memory and cubic in time).
- :func:`python_walks` — the pure-Python walk loop, ``rng.choice`` per step.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from behemb_core.embeddings import ItemEmbeddings
from behemb_core.neighbors import NeighborTable

from .measure import StageResult, measure


def _read_sessions_plain(path: Path) -> tuple[np.ndarray, np.ndarray]:
    lengths: list[int] = []
    chunks: list[list[int]] = []
    with open(path) as fh:
        for line in fh:
            items = json.loads(line)["items"]
            lengths.append(len(items))
            chunks.append(items)
    flat = np.fromiter((i for items in chunks for i in items), dtype=np.int64, count=sum(lengths))
    return np.asarray(lengths, dtype=np.int64), flat


def _clean(lengths: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Collapse consecutive repeats within a session, drop sessions shorter than two."""
    session = np.repeat(np.arange(len(lengths)), lengths)
    keep = np.ones(len(items), dtype=bool)
    keep[1:] = (items[1:] != items[:-1]) | (session[1:] != session[:-1])
    items, session = items[keep], session[keep]
    lengths = np.bincount(session, minlength=len(lengths))
    long_enough = np.repeat(lengths >= 2, lengths)
    return lengths[lengths >= 2], items[long_enough]


def reference_ppmi_svd(
    path: Path, *, window: int, alpha: float, dim: int, n_iter: int, n_oversamples: int, seed: int,
    sink: list[StageResult],
) -> tuple[np.ndarray, np.ndarray]:
    """Returns ``(item_ids, vectors)``; stage timings go to ``sink`` (group ``reference ppmi→svd``)."""
    from sklearn.utils.extmath import randomized_svd

    g = "reference ppmi→svd"
    with measure(g, "json parsing", sink):
        lengths, raw_items = _read_sessions_plain(path)
    with measure(g, "vocabulary + cleaning", sink):
        lengths, raw_items = _clean(lengths, raw_items)
        ids, codes = np.unique(raw_items, return_inverse=True)
        n = len(ids)
        session = np.repeat(np.arange(len(lengths)), lengths)
    with measure(g, "pair counting", sink):
        rows, cols = [], []
        for d in range(1, window + 1):
            same = session[:-d] == session[d:]
            a, b = codes[:-d][same], codes[d:][same]
            differ = a != b
            rows += [a[differ], b[differ]]
            cols += [b[differ], a[differ]]
        r, c = np.concatenate(rows), np.concatenate(cols)
    with measure(g, "COO→CSR", sink):
        counts = sp.coo_matrix((np.ones(len(r), dtype=np.float64), (r, c)), shape=(n, n)).tocsr()
        del r, c, rows, cols
    with measure(g, "PPMI", sink):
        row_sum = np.asarray(counts.sum(axis=1)).ravel()
        col_sum = np.asarray(counts.sum(axis=0)).ravel()
        col_alpha = col_sum**alpha
        coo = counts.tocoo()
        pmi = (np.log(coo.data) - np.log(row_sum[coo.row]) - alpha * np.log(col_sum[coo.col])
               + np.log(col_alpha.sum()))
        positive = pmi > 0
        m = sp.csr_matrix((pmi[positive], (coo.row[positive], coo.col[positive])), shape=(n, n))
        keep = np.flatnonzero(np.diff(m.indptr) > 0)
        m = m[keep][:, keep]
    with measure(g, "randomized SVD (scikit-learn)", sink) as st, threadpool_limits(limits=1, user_api="blas"):
        u, s, _ = randomized_svd(m, dim, n_oversamples=n_oversamples, n_iter=n_iter, random_state=seed)
        st.extra["note"] = "BLAS 1 thread (2 threads took twice as long here)"
    return ids[keep], (u * np.sqrt(s)).astype(np.float32)


def raw_gensim(corpus_path: Path, params: dict[str, Any], *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train gensim on a corpus file of integer tokens; returns ``(tokens as int64, vectors)`` in gensim's order.

    The caller times it: the benchmark measures this whole call as one stage."""
    from gensim.models import Word2Vec

    model = Word2Vec(corpus_file=str(corpus_path), sg=1, hs=0, seed=seed, **params)
    tokens = np.asarray(model.wv.index_to_key).astype(np.int64)
    return tokens, np.asarray(model.wv.vectors, dtype=np.float32)


def dense_seed_method(
    path: Path, *, window: int, alpha: float, dim: int, full_svd: bool, sink: list[StageResult],
    svd_probe: int = 2000,
) -> tuple[np.ndarray, np.ndarray] | None:
    """The dense sketch. A full SVD of a 10k × 10k matrix takes most of an hour on 2 cores, so unless
    ``full_svd`` its time is extrapolated (n³) from the SVD of a ``svd_probe``-sized leading block and the
    stage says so; vectors are then not produced (returns ``None``)."""
    g = "dense sketch (seed)"
    with measure(g, "json parsing + vocabulary", sink):
        lengths, raw_items = _read_sessions_plain(path)
        lengths, raw_items = _clean(lengths, raw_items)
        ids = sorted(set(raw_items.tolist()))
        index = {item: i for i, item in enumerate(ids)}
        sessions = []
        pos = 0
        for n_s in lengths.tolist():
            sessions.append([index[i] for i in raw_items[pos:pos + n_s].tolist()])
            pos += n_s
        n = len(ids)
    with measure(g, "dense counting (Python loop per event)", sink) as st:
        counts = np.zeros((n, n), dtype=np.float32)
        for items in sessions:
            for i, a in enumerate(items):
                for b in items[i + 1:i + 1 + window]:
                    if a != b:
                        counts[a, b] += 1
                        counts[b, a] += 1
        st.extra["matrix_gib"] = round(counts.nbytes / 2**30, 3)
    with measure(g, "dense PPMI", sink):
        row = counts.sum(axis=1, keepdims=True)
        col = counts.sum(axis=0, keepdims=True)
        col_a = col**alpha
        with np.errstate(divide="ignore", invalid="ignore"):
            pmi = np.log(counts) - np.log(row) - alpha * np.log(col) + np.log(col_a.sum())
        ppmi = np.where(np.isfinite(pmi) & (pmi > 0), pmi, 0).astype(np.float32)
        del pmi
    if full_svd:
        with measure(g, "full SVD", sink), threadpool_limits(limits=1, user_api="blas"):
            u, s, _ = np.linalg.svd(ppmi, full_matrices=False)
        return np.asarray(ids), (u[:, :dim] * np.sqrt(s[:dim])).astype(np.float32)
    probe = min(svd_probe, n)
    t0 = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"):  # the faster setting for LAPACK's SVD here
        np.linalg.svd(ppmi[:probe, :probe], full_matrices=False)
    probe_s = time.perf_counter() - t0
    sink.append(StageResult(g, "full SVD (extrapolated)", probe_s * (n / probe) ** 3, 0,
                            {"note": f"SVD of a {probe}×{probe} block took {probe_s:.2f} s; scaled by n³"}))
    return None


def python_walks(indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray, *, n_steps: int,
                 walk_length: int, seed: int) -> float:
    """Weighted first-order walks in a Python loop (``rng.choice`` per step); returns steps per second."""
    rng = np.random.default_rng(seed)
    starts = np.flatnonzero(np.diff(indptr) > 0)
    steps = 0
    t0 = time.perf_counter()
    while steps < n_steps:
        v = int(rng.choice(starts))
        for _ in range(walk_length - 1):
            lo, hi = indptr[v], indptr[v + 1]
            if lo == hi:
                break
            w = weights[lo:hi]
            v = int(rng.choice(indices[lo:hi], p=w / w.sum()))
            steps += 1
    return steps / (time.perf_counter() - t0)


def approximate_top_k_neighbors(
    emb: ItemEmbeddings, k: int = 10, *, seed: int = 0, n_jobs: int | None = None
) -> NeighborTable:
    """Approximate top-``k`` of every item with pynndescent (NN-descent graph): the peer the neighbors benchmark
    sets against the library's exact :func:`~behemb_core.neighbors.top_k_neighbors` (which the app and the CLI
    use). Recall against it is checked in tests/test_benchmarks.py (≥ 0.95 at k = 10 on clustered data) and
    measured in ``benchmarks/results/library-measurements.md``.

    The NN-descent graph keeps ``max(3k, 30)`` neighbors per item, twice pynndescent's usual 15 at k = 10: the
    larger graph is what lifts recall above 0.95 (see the results file)."""
    from pynndescent import NNDescent

    vectors = np.ascontiguousarray(emb.vectors, dtype=np.float32)
    n = len(vectors)
    kk = min(k, n - 1)
    index = NNDescent(
        vectors, metric="dot", n_neighbors=min(n - 1, max(3 * kk, 30)), random_state=seed, n_jobs=n_jobs,
        low_memory=True, compressed=False,
    )
    idx, dist = index.neighbor_graph
    # Drop each item itself from its own list; keep the best kk others.
    self_mask = idx == np.arange(n)[:, None]
    order = np.argsort(self_mask, axis=1, kind="stable")
    idx = np.take_along_axis(idx, order, axis=1)[:, :kk]
    dist = np.take_along_axis(dist, order, axis=1)[:, :kk]
    codes = np.full((n, k), -1, dtype=np.int64)
    scores = np.full((n, k), np.nan, dtype=np.float32)
    codes[:, :kk] = idx
    scores[:, :kk] = 1.0 - dist  # pynndescent's "dot" distance is 1 - dot
    return NeighborTable(codes, scores)
