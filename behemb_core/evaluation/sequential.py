"""The "next item" side of the evaluation: a sequential-rules baseline and the ranks of a directional pair.

* **sequential rules** (Ludewig & Jannach's "SR", the directional baseline session-based studies find hard to
  beat): every ordered pair of a training session — ``a`` at position ``i``, ``b ≠ a`` at ``j`` with
  ``i < j ≤ i + window`` — adds ``1 / (j − i)`` to ``score(a → b)``; ``a``'s list is the ``k`` items with the highest
  ``score(a → b)`` (ties: the lower code). Never ``b → a`` from the same pair: the rule knows the order.
* **next mode** of a :class:`~behemb_core.embeddings.DirectionalPair`: for query ``a`` every other item ``b`` ranked
  by ``Q_a · K_b`` (exact, in blocks), where the symmetric mode ranks by ``E_a · E_b``.

Both are scored on the same held-out consecutive pairs as every other row (:func:`.split.next_item_pairs`), whose
query precedes its target: the protocol has always been "what comes next".
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..embeddings import DirectionalPair, ItemEmbeddings
from ..errors import ConfigError
from ..neighbors import exact_top_k
from ..sessions import Sessions
from .metrics import metrics_from_ranks, ranks_from_lists, target_ranks
from .split import Pairs

#: The window of the sequential-rules baseline in reports: the default method's window, whatever the evaluated
#: method's config says, so the row is the same for every method on one split.
SEQUENTIAL_RULES_WINDOW = 10


def _check_window(window: int) -> int:
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 1:
        raise ConfigError(f"the sequential-rules window must be a whole number of positions >= 1, got {window!r}")
    return int(window)


#: Up to this window the weights are summed exactly, as integers over the common denominator lcm(1..window).
EXACT_WINDOW = 16


def sequential_rule_scores(train: Sessions, *, window: int = SEQUENTIAL_RULES_WINDOW) -> sp.csr_matrix:
    """``score(a → b)`` of every ordered pair as a sparse ``n_items × n_items`` float64 matrix (row = the earlier
    item).

    Built per distance ``d = 1..window`` over the concatenated session codes at once (pairs that cross a session
    border, and self pairs, masked out); one ``csr_matrix`` per distance sums the duplicates, so memory is bounded
    by the events, not by ``window × events``. Up to :data:`EXACT_WINDOW` the weights ``L / d`` (``L`` =
    lcm(1..window)) are whole numbers summed exactly and divided by ``L`` once at the end, so scores that are equal
    on paper (``1/3 + 1/6`` and ``1/2``) are equal here, and the tie goes to the lower code whatever the order of
    summation.
    """
    window = _check_window(window)
    n = train.n_items
    codes = np.asarray(train.codes, dtype=np.int64)
    sess = train.session_of_event()
    exact = window <= EXACT_WINDOW
    denom = float(math.lcm(*range(1, window + 1))) if exact else 1.0
    scores = sp.csr_matrix((n, n), dtype=np.float64)
    for d in range(1, min(window, max(len(codes) - 1, 0)) + 1):
        a, b = codes[:-d], codes[d:]
        ok = (sess[:-d] == sess[d:]) & (a != b)
        if not ok.any():
            continue
        w = np.full(int(ok.sum()), denom / d if exact else 1.0 / d)  # whole numbers when exact: sums are exact
        scores = scores + sp.csr_matrix((w, (a[ok], b[ok])), shape=(n, n))
    scores.sum_duplicates()
    scores.sort_indices()
    if exact:
        scores.data /= denom
    return scores


def top_k_rows(scores: sp.csr_matrix, query_codes: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` highest-scoring columns of each given row (codes, descending; ties: the lower code), ``-1``
    padded where a row holds fewer than ``k`` entries."""
    query_codes = np.asarray(query_codes, dtype=np.int64)
    out = np.full((len(query_codes), k), -1, dtype=np.int64)
    if len(query_codes) == 0 or k < 1:
        return out
    sub = scores[query_codes].tocsr()
    rows = np.repeat(np.arange(len(query_codes)), np.diff(sub.indptr))
    order = np.lexsort((sub.indices, -sub.data, rows))
    rank = np.arange(len(order)) - sub.indptr[rows[order]]
    keep = order[rank < k]
    out[rows[keep], rank[rank < k]] = sub.indices[keep]
    return out


def sequential_rules_neighbors(
    train: Sessions, query_codes: np.ndarray, k: int, *, window: int = SEQUENTIAL_RULES_WINDOW
) -> np.ndarray:
    """Top-``k`` sequential-rules recommendations (codes of ``train``'s vocabulary) for the given query codes."""
    return top_k_rows(sequential_rule_scores(train, window=window), query_codes, k)


def ranks_for_sequential_rules(
    train: Sessions, pairs: Pairs, k: int, *, window: int = SEQUENTIAL_RULES_WINDOW
) -> np.ndarray:
    """Rank (1..k, 0 = miss) of every target among its query's top-k by sequential rules built from ``train``;
    a query outside ``train``'s vocabulary, or never followed by anything, is a miss."""
    scores = sequential_rule_scores(train, window=window)
    return ranks_from_lists(train, pairs, lambda queries: top_k_rows(scores, queries, k))


def evaluate_sequential_rules(
    train: Sessions, pairs: Pairs, *, k: int = 10, window: int = SEQUENTIAL_RULES_WINDOW
) -> dict[str, float | int]:
    """HR/NDCG/MRR@k of the sequential-rules baseline (the quick form, like ``evaluate_item_knn``)."""
    out: dict[str, float | int] = metrics_from_ranks(ranks_for_sequential_rules(train, pairs, k, window=window), k)
    out["pairs"] = len(pairs)
    return out


def check_pair(emb: ItemEmbeddings, pair: DirectionalPair) -> None:
    """A directional pair must have one row per item of ``emb`` (its rows are the embeddings' rows)."""
    if len(pair.query) != len(emb):
        raise ConfigError(f"the directional pair has {len(pair.query)} rows but the embeddings have {len(emb)} items: "
                          "Q and K must be aligned with the embeddings' rows")


def ranks_for_directional(
    emb: ItemEmbeddings, pair: DirectionalPair, pairs: Pairs, k: int, *, block_size: int = 1024
) -> tuple[np.ndarray, int]:
    """The "next" mode's rank (1..k, 0 = miss) of every target among its query's top-k by ``Q_a · K_b``
    (``b ≠ a``; exact, ``block_size`` query rows at a time) and the number of queries without a vector.

    The pair's rows are ``emb``'s rows, so ``emb.vocab`` maps ids to rows, exactly as in
    :func:`.metrics.ranks_for_embeddings` — the two modes are scored on the same pairs with the same misses."""
    check_pair(emb, pair)
    q = emb.vocab.codes(pairs.queries)
    t = emb.vocab.codes(pairs.targets)
    has_q = q >= 0
    uniq, rows = np.unique(q[has_q], return_inverse=True)
    ranks = np.zeros(len(q), dtype=np.int64)
    kk = min(k, len(emb) - 1)
    if len(uniq) and kk > 0:
        lists = np.full((len(uniq), k), -1, dtype=np.int64)
        lists[:, :kk], _ = exact_top_k(pair.query[uniq], pair.candidate, kk, skip=uniq, block_size=block_size)
        ranks[has_q] = target_ranks(lists, rows, t[has_q])
    return ranks, int((~has_q).sum())


def versus(ours: float | None, theirs: float | None, against: str, k: int) -> dict[str, Any]:
    """HR@k of one row against another's: the difference and the ratio (None when the other is 0 or missing)."""
    return {
        "k": k, "against": against,
        "hr_minus": None if ours is None or theirs is None else ours - theirs,
        "hr_ratio": ours / theirs if ours is not None and theirs else None,
    }


__all__ = [
    "EXACT_WINDOW",
    "SEQUENTIAL_RULES_WINDOW",
    "check_pair",
    "evaluate_sequential_rules",
    "ranks_for_directional",
    "ranks_for_sequential_rules",
    "sequential_rule_scores",
    "sequential_rules_neighbors",
    "top_k_rows",
    "versus",
]
