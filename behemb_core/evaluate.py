"""Offline retrieval quality: held-out next-item prediction from item-to-item neighbours.

For every consecutive pair ``(a, b)``, ``a ≠ b``, of a held-out session, the query is ``a`` and the target ``b``:
a hit at K when ``b`` is among ``a``'s top-K neighbours by cosine (``a`` itself excluded). A query item without
a vector is a miss, counted separately, so methods that embed fewer items are not flattered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .embeddings import ItemEmbeddings
from .neighbors import top_k_neighbors
from .sessions import Sessions


def time_split(sessions: Sessions, *, holdout: float = 0.1, seed: int | None = None) -> tuple[Sessions, Sessions]:
    """Split sessions into (train, test): the last ``holdout`` share by start time (file order when sessions have
    no time), or a random share when ``seed`` is given. Both keep the full vocabulary."""
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


def next_item_pairs(sessions: Sessions) -> Pairs:
    """Consecutive pairs with different items inside each session (vectorised)."""
    c = sessions.codes
    if len(c) < 2:
        empty = sessions.vocab.take(np.zeros(0, dtype=np.int64))
        return Pairs(empty, empty)
    sess = sessions.session_of_event()
    ok = (sess[1:] == sess[:-1]) & (c[1:] != c[:-1])
    return Pairs(sessions.vocab.take(c[:-1][ok]), sessions.vocab.take(c[1:][ok]))


def _ranks(neighbor_codes: np.ndarray, rows: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """1-based rank of each target in its query's neighbour row, 0 when absent."""
    match = neighbor_codes[rows] == targets[:, None]
    found = match.any(axis=1)
    return np.where(found, match.argmax(axis=1) + 1, 0)


def _metrics(ranks: np.ndarray, k: int) -> dict[str, float]:
    hit = (ranks > 0) & (ranks <= k)
    n = max(len(ranks), 1)
    safe = np.where(hit, ranks, 1)
    return {
        f"hr@{k}": float(hit.sum() / n),
        f"ndcg@{k}": float(np.where(hit, 1.0 / np.log2(safe + 1), 0.0).sum() / n),
        f"mrr@{k}": float(np.where(hit, 1.0 / safe, 0.0).sum() / n),
    }


def evaluate_embeddings(emb: ItemEmbeddings, pairs: Pairs, *, k: int = 10) -> dict[str, float | int]:
    """HR/NDCG/MRR@k of ``emb`` on ``pairs``; queries or targets without a vector count as misses."""
    q = emb.vocab.codes(pairs.queries)
    t = emb.vocab.codes(pairs.targets)
    has_q = q >= 0
    uniq, rows = np.unique(q[has_q], return_inverse=True)
    nb = top_k_neighbors(emb, k, queries=uniq)
    ranks = np.zeros(len(q), dtype=np.int64)
    ranks[has_q] = _ranks(nb.codes, rows, t[has_q])
    out: dict[str, float | int] = _metrics(ranks, k)
    out["pairs"] = int(len(q))
    out["queries_without_vector"] = int((~has_q).sum())
    return out


def evaluate_most_popular(train: Sessions, pairs: Pairs, *, k: int = 10) -> dict[str, float | int]:
    """The most-popular baseline: the K most frequent training items (minus the query) for every query."""
    counts = train.item_counts()
    top = np.argsort(-counts, kind="stable")[: k + 1]
    top_ids = train.vocab.take(top)
    q = train.vocab.codes(pairs.queries)
    t = train.vocab.codes(pairs.targets)
    cand = np.broadcast_to(top, (len(q), len(top))).copy()
    cand[cand == q[:, None]] = -2  # the query is never its own recommendation
    keep = np.argsort(cand == -2, axis=1, kind="stable")[:, :k]
    lists = np.take_along_axis(cand, keep, axis=1)
    ranks = _ranks(lists, np.arange(len(q)), t)
    out: dict[str, float | int] = _metrics(ranks, k)
    out["pairs"] = int(len(q))
    del top_ids
    return out
