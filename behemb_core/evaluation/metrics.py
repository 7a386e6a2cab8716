"""Ranks and the metrics computed from them: HR@K (hit rate), NDCG@K (1/log2(rank+1)), MRR@K (1/rank).

A rank is the 1-based position of a pair's target in its query's top-K list, 0 for a miss. A query without a
vector is a miss and is counted separately, so a method that embeds fewer items is not flattered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..embeddings import ItemEmbeddings
from ..neighbors import top_k_neighbors
from ..sessions import Sessions
from .split import Pairs


def target_ranks(neighbor_codes: np.ndarray, rows: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """1-based rank of each target in its query's neighbor row (``neighbor_codes[rows]``), 0 when absent.

    A target outside the vocabulary (code -1) is a miss, never a match with a row's ``-1`` padding."""
    match = (neighbor_codes[rows] == targets[:, None]) & (targets[:, None] >= 0)
    found = match.any(axis=1)
    return np.where(found, match.argmax(axis=1) + 1, 0)


def ranks_from_lists(train: Sessions, pairs: Pairs, top_k: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Rank of every target in its query's list, where ``top_k(unique query codes)`` gives the lists (codes of
    ``train``'s vocabulary, ``-1`` padded); a query outside the training vocabulary is a miss. Shared by the
    baselines that rank from training-side lists (item-kNN, target ranking, sequential rules)."""
    q = train.vocab.codes(pairs.queries)
    t = train.vocab.codes(pairs.targets)
    has_q = q >= 0
    uniq, rows = np.unique(q[has_q], return_inverse=True)
    ranks = np.zeros(len(q), dtype=np.int64)
    if len(uniq):
        ranks[has_q] = target_ranks(top_k(uniq), rows, t[has_q])
    return ranks


def ranks_for_embeddings(emb: ItemEmbeddings, pairs: Pairs, k: int) -> tuple[np.ndarray, int]:
    """Rank (1..k, 0 = miss) of every target among its query's top-k; and the number of queries without vector."""
    q = emb.vocab.codes(pairs.queries)
    t = emb.vocab.codes(pairs.targets)
    has_q = q >= 0
    uniq, rows = np.unique(q[has_q], return_inverse=True)
    nb = top_k_neighbors(emb, k, queries=uniq)
    ranks = np.zeros(len(q), dtype=np.int64)
    ranks[has_q] = target_ranks(nb.codes, rows, t[has_q])
    return ranks, int((~has_q).sum())


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


def hr_by_popularity_decile(
    ranks: np.ndarray, targets: np.ndarray, train: Sessions, k: int
) -> list[dict[str, Any]]:
    """HR@k per popularity decile of the target (decile 1 = the least popular tenth of the catalogue)."""
    counts = train.item_counts()
    order = np.argsort(counts, kind="stable")
    decile_of = np.empty(len(counts), dtype=np.int64)
    decile_of[order] = np.minimum(10 * np.arange(len(counts)) // max(len(counts), 1), 9)
    t = train.vocab.codes(targets)
    dec = np.where(t >= 0, decile_of[np.maximum(t, 0)], -1)
    hit = (ranks > 0) & (ranks <= k)
    rows: list[dict[str, Any]] = []
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
