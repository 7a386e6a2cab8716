"""Offline retrieval quality: held-out next-item prediction from item-to-item neighbours.

For every consecutive pair ``(a, b)``, ``a ≠ b``, of a held-out session, the query is ``a`` and the target ``b``.
The target's rank among ``a``'s top-K neighbours by cosine (``a`` excluded) gives HR@K (hit rate), NDCG@K
(1/log2(rank+1)) and MRR@K (1/rank). A query without a vector is a miss and is counted separately, so a method
that embeds fewer items is not flattered. Two reference points are computed on the same pairs:

* **most-popular** — the K most frequent training items (minus the query) for every query;
* **item-kNN** — cosine over the sparse item × session incidence of the training sessions
  (``|S_a ∩ S_b| / sqrt(|S_a| |S_b|)``), the classic baseline session-based studies find hard to beat.

A third, for methods that fit a target similarity (``cooc_softmax``):

* **target ranking** — the sparse ranking by that method's target ``T``
  (:mod:`behemb_core.target_similarity`) built from the training sessions: what the embedding would return if
  it reproduced ``T`` perfectly. The gap between the method and this row is what the fit loses (or gains).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .cooccurrence import Weighting
from .embeddings import ItemEmbeddings
from .graph_build import top_k_per_row
from .neighbors import top_k_neighbors
from .sessions import Sessions
from .target_similarity import target_similarity, top_k_by_target

DEFAULT_KS = (10,)


def time_split(sessions: Sessions, *, holdout: float = 0.1, seed: int | None = None) -> tuple[Sessions, Sessions]:
    """Split sessions into (train, test): the last ``holdout`` share by start time (file order when sessions have
    no time), or a random share when ``seed`` is given. Both keep the full vocabulary."""
    if not 0 < holdout < 1:
        from .errors import ConfigError

        raise ConfigError(f"holdout must be between 0 and 1, got holdout={holdout}")
    n = sessions.n_sessions
    n_test = max(1, int(round(n * holdout)))
    if seed is not None:
        order = np.random.default_rng(seed).permutation(n)
    elif sessions.start_times is not None:
        order = np.argsort(sessions.start_times, kind="stable")
    else:
        order = np.arange(n)
    test = np.zeros(n, dtype=bool)
    test[order[n - n_test :]] = True
    return sessions.select(~test), sessions.select(test)


@dataclass(frozen=True)
class Pairs:
    """Held-out (query, target) pairs as item ids."""

    queries: np.ndarray
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.queries)


def next_item_pairs(sessions: Sessions) -> Pairs:
    """Consecutive pairs with different items inside each session (vectorised)."""
    c = sessions.codes
    if len(c) < 2:
        empty = sessions.vocab.take(np.zeros(0, dtype=np.int64))
        return Pairs(empty, empty)
    sess = sessions.session_of_event()
    ok = (sess[1:] == sess[:-1]) & (c[1:] != c[:-1])
    return Pairs(sessions.vocab.take(c[:-1][ok]), sessions.vocab.take(c[1:][ok]))


# ------------------------------------------------------------------------------------------- ranking
def _ranks(neighbor_codes: np.ndarray, rows: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """1-based rank of each target in its query's neighbour row, 0 when absent.

    A target outside the vocabulary (code -1) is a miss, never a match with a row's ``-1`` padding."""
    match = (neighbor_codes[rows] == targets[:, None]) & (targets[:, None] >= 0)
    found = match.any(axis=1)
    return np.where(found, match.argmax(axis=1) + 1, 0)


def ranks_for_embeddings(emb: ItemEmbeddings, pairs: Pairs, k: int) -> tuple[np.ndarray, int]:
    """Rank (1..k, 0 = miss) of every target among its query's top-k; and the number of queries without vector."""
    q = emb.vocab.codes(pairs.queries)
    t = emb.vocab.codes(pairs.targets)
    has_q = q >= 0
    uniq, rows = np.unique(q[has_q], return_inverse=True)
    nb = top_k_neighbors(emb, k, queries=uniq)
    ranks = np.zeros(len(q), dtype=np.int64)
    ranks[has_q] = _ranks(nb.codes, rows, t[has_q])
    return ranks, int((~has_q).sum())


def ranks_for_most_popular(train: Sessions, pairs: Pairs, k: int) -> np.ndarray:
    counts = train.item_counts()
    top = np.argsort(-counts, kind="stable")[: k + 1]
    q = train.vocab.codes(pairs.queries)
    t = train.vocab.codes(pairs.targets)
    cand = np.broadcast_to(top, (len(q), len(top))).copy()
    cand[cand == q[:, None]] = -2  # the query is never its own recommendation
    keep = np.argsort(cand == -2, axis=1, kind="stable")[:, :k]
    lists = np.take_along_axis(cand, keep, axis=1)
    return _ranks(lists, np.arange(len(q)), t)


def item_knn_neighbors(train: Sessions, query_codes: np.ndarray, k: int) -> np.ndarray:
    """Top-k item-kNN neighbour codes (cosine over item × session incidence) for the given query codes."""
    n_items = train.n_items
    x = sp.csr_matrix(
        (np.ones(train.n_events, dtype=np.float32), (train.codes, train.session_of_event())),
        shape=(n_items, train.n_sessions),
    )
    x.data[:] = 1.0
    x.sum_duplicates()
    x.data[:] = 1.0  # incidence, not counts
    norms = np.sqrt(np.asarray(x.sum(axis=1)).ravel())
    out = np.full((len(query_codes), k), -1, dtype=np.int64)
    xt = x.T.tocsr()
    for start in range(0, len(query_codes), 4096):  # bounded memory: 4096 sparse rows at a time
        q = query_codes[start : start + 4096]
        co = (x[q] @ xt).tocsr().astype(np.float32)
        rows = np.repeat(np.arange(len(q)), np.diff(co.indptr))
        co.data /= norms[q][rows] * norms[co.indices]
        co.data[co.indices == q[rows]] = 0.0  # never the query itself
        co.eliminate_zeros()
        top = top_k_per_row(co, k)
        r = np.repeat(np.arange(len(q)), np.diff(top.indptr))
        pos = np.arange(top.nnz) - top.indptr[r]
        # top_k_per_row keeps rows sorted by column; order each row by score descending (ties: lower code)
        order = np.lexsort((top.indices, -top.data, r))
        out[start + r[order], pos] = top.indices[order]
    return out


def _ranks_from_lists(train: Sessions, pairs: Pairs, top_k: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Rank of every target in its query's list, where ``top_k(unique query codes)`` gives the lists (codes,
    ``-1`` padded); a query outside the training vocabulary is a miss."""
    q = train.vocab.codes(pairs.queries)
    t = train.vocab.codes(pairs.targets)
    has_q = q >= 0
    uniq, rows = np.unique(q[has_q], return_inverse=True)
    ranks = np.zeros(len(q), dtype=np.int64)
    if len(uniq):
        ranks[has_q] = _ranks(top_k(uniq), rows, t[has_q])
    return ranks


def ranks_for_item_knn(train: Sessions, pairs: Pairs, k: int) -> np.ndarray:
    return _ranks_from_lists(train, pairs, lambda queries: item_knn_neighbors(train, queries, k))


def ranks_for_target(
    train: Sessions, pairs: Pairs, k: int, *, window: int, weighting: Weighting, gamma: float
) -> np.ndarray:
    """Rank (1..k, 0 = miss) of every target in its query's top-k by the target similarity ``T`` of ``train``.

    ``T`` is built exactly as ``cooc_softmax`` builds it (same ``window``, ``weighting``, ``gamma``), so this
    is the ranking that method is trained to reproduce. A query without a row in ``T`` (not in the training
    vocabulary, or co-occurring with nothing) is a miss; rows shorter than k rank only what they hold.
    """
    t = target_similarity(train, window=window, weighting=weighting, gamma=gamma).matrix
    return _ranks_from_lists(train, pairs, lambda queries: top_k_by_target(t, queries, k))


# ------------------------------------------------------------------------------------------- metrics
def metrics_from_ranks(ranks: np.ndarray, k: int) -> dict[str, float]:
    hit = (ranks > 0) & (ranks <= k)
    n = max(len(ranks), 1)
    safe = np.where(hit, ranks, 1)
    return {
        f"hr@{k}": float(hit.sum() / n),
        f"ndcg@{k}": float(np.where(hit, 1.0 / np.log2(safe + 1), 0.0).sum() / n),
        f"mrr@{k}": float(np.where(hit, 1.0 / safe, 0.0).sum() / n),
    }


def bootstrap_interval(
    ranks: np.ndarray, k: int, *, n_boot: int = 200, level: float = 0.95, seed: int = 0
) -> dict[str, list[float]]:
    """Percentile bootstrap interval of each metric over queries (pairs resampled with replacement)."""
    if len(ranks) == 0:
        return {}
    rng = np.random.default_rng(seed)
    hit = ((ranks > 0) & (ranks <= k)).astype(np.float64)
    safe = np.where(hit > 0, ranks, 1)
    per = {
        f"hr@{k}": hit,
        f"ndcg@{k}": np.where(hit > 0, 1.0 / np.log2(safe + 1), 0.0),
        f"mrr@{k}": np.where(hit > 0, 1.0 / safe, 0.0),
    }
    # One resample of query indices serves all three metrics (consistent with each other); memory O(pairs).
    names = list(per)
    stacked = np.vstack([per[n] for n in names])
    means = np.empty((n_boot, len(names)))
    for b in range(n_boot):
        means[b] = stacked[:, rng.integers(0, len(ranks), len(ranks))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2], axis=0)
    return {n: [float(lo[i]), float(hi[i])] for i, n in enumerate(names)}


def hr_by_popularity_decile(ranks: np.ndarray, targets: np.ndarray, train: Sessions, k: int) -> list[dict]:
    """HR@k per popularity decile of the target (decile 1 = the least popular tenth of the catalogue)."""
    counts = train.item_counts()
    order = np.argsort(counts, kind="stable")
    decile_of = np.empty(len(counts), dtype=np.int64)
    decile_of[order] = np.minimum(10 * np.arange(len(counts)) // max(len(counts), 1), 9)
    t = train.vocab.codes(targets)
    dec = np.where(t >= 0, decile_of[np.maximum(t, 0)], -1)
    hit = (ranks > 0) & (ranks <= k)
    rows = []
    for d in range(10):
        m = dec == d
        rows.append({"decile": d + 1, "pairs": int(m.sum()), f"hr@{k}": float(hit[m].mean()) if m.any() else None})
    unseen = dec < 0
    if unseen.any():
        rows.append({"decile": "unseen", "pairs": int(unseen.sum()), f"hr@{k}": float(hit[unseen].mean())})
    return rows


def score_block(ranks: np.ndarray, ks: tuple[int, ...], *, n_boot: int, seed: int) -> dict[str, Any]:
    """Metrics for every K (ranks computed at max K) with bootstrap intervals."""
    out: dict[str, Any] = {}
    for k in ks:
        out.update(metrics_from_ranks(ranks, k))
    out["ci95"] = {}
    if n_boot:
        for k in ks:
            out["ci95"].update(bootstrap_interval(ranks, k, n_boot=n_boot, seed=seed))
    return out


def evaluate_embeddings(emb: ItemEmbeddings, pairs: Pairs, *, k: int = 10) -> dict[str, float | int]:
    """HR/NDCG/MRR@k of ``emb`` on ``pairs`` (the quick form used by tests and scripts)."""
    ranks, missing = ranks_for_embeddings(emb, pairs, k)
    out: dict[str, float | int] = metrics_from_ranks(ranks, k)
    out["pairs"] = len(pairs)
    out["queries_without_vector"] = missing
    return out


def evaluate_most_popular(train: Sessions, pairs: Pairs, *, k: int = 10) -> dict[str, float | int]:
    out: dict[str, float | int] = metrics_from_ranks(ranks_for_most_popular(train, pairs, k), k)
    out["pairs"] = len(pairs)
    return out


def evaluate_item_knn(train: Sessions, pairs: Pairs, *, k: int = 10) -> dict[str, float | int]:
    out: dict[str, float | int] = metrics_from_ranks(ranks_for_item_knn(train, pairs, k), k)
    out["pairs"] = len(pairs)
    return out


def evaluate_target_ranking(
    train: Sessions, pairs: Pairs, *, k: int = 10, window: int, weighting: Weighting, gamma: float
) -> dict[str, float | int]:
    """HR/NDCG/MRR@k of the sparse ranking by ``cooc_softmax``'s target ``T`` (see :func:`ranks_for_target`)."""
    ranks = ranks_for_target(train, pairs, k, window=window, weighting=weighting, gamma=gamma)
    out: dict[str, float | int] = metrics_from_ranks(ranks, k)
    out["pairs"] = len(pairs)
    return out
