"""The reference points every method is scored next to, on the same held-out pairs.

* **most-popular** — the K most frequent training items (minus the query) for every query;
* **item-kNN** — cosine over the sparse item × session incidence of the training sessions
  (``|S_a ∩ S_b| / sqrt(|S_a| |S_b|)``), the classic baseline session-based studies find hard to beat;
* **target ranking** — for methods that fit a target similarity (their entry's ``target``): the sparse ranking by that
  method's target ``T`` (:mod:`behemb_core.target_similarity`) built from the training sessions, i.e. what the
  embedding would return if it reproduced ``T`` perfectly. The gap between the method and this row is what the
  fit loses (or gains);
* **sequential rules** — the directional baseline (:mod:`.sequential`): ``b`` after ``a`` within the window,
  weighted ``1 / distance``; the reference for the "next item" mode, reported for every method.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..cooccurrence import Weighting
from ..graph_build import top_k_per_row
from ..methods.base import MethodConfig
from ..methods.registry import spec_for_config
from ..sessions import Sessions
from ..target_similarity import target_similarity, top_k_by_target
from ..vocab import Vocabulary, normalize_ids
from .metrics import metrics_from_ranks, ranks_from_lists, score_block, target_ranks
from .sequential import SEQUENTIAL_RULES_WINDOW, ranks_for_sequential_rules
from .split import Pairs


def ranks_for_most_popular(train: Sessions, pairs: Pairs, k: int) -> np.ndarray:
    counts = train.item_counts()
    top = np.argsort(-counts, kind="stable")[: k + 1]
    q = train.vocab.codes(pairs.queries)
    t = train.vocab.codes(pairs.targets)
    cand = np.broadcast_to(top, (len(q), len(top))).copy()
    cand[cand == q[:, None]] = -2  # the query is never its own recommendation
    keep = np.argsort(cand == -2, axis=1, kind="stable")[:, :k]
    lists = np.take_along_axis(cand, keep, axis=1)
    return target_ranks(lists, np.arange(len(q)), t)


def item_knn_neighbors(train: Sessions, query_codes: np.ndarray, k: int) -> np.ndarray:
    """Top-k item-kNN neighbor codes (cosine over item × session incidence) for the given query codes."""
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


def ranks_for_item_knn(train: Sessions, pairs: Pairs, k: int) -> np.ndarray:
    return ranks_from_lists(train, pairs, lambda queries: item_knn_neighbors(train, queries, k))


def ranks_for_target(
    train: Sessions, pairs: Pairs, k: int, *, window: int, weighting: Weighting, gamma: float
) -> np.ndarray:
    """Rank (1..k, 0 = miss) of every target in its query's top-k by the target similarity ``T`` of ``train``.

    ``T`` is built exactly as a method with this target builds it (same ``window``, ``weighting``, ``gamma``),
    so this is the ranking that method is trained to reproduce. A query without a row in ``T`` (not in the training
    vocabulary, or co-occurring with nothing) is a miss; rows shorter than k rank only what they hold.
    """
    t = target_similarity(train, window=window, weighting=weighting, gamma=gamma).matrix
    return ranks_from_lists(train, pairs, lambda queries: top_k_by_target(t, queries, k))


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
    """HR/NDCG/MRR@k of the sparse ranking by a method's target ``T`` (see :func:`ranks_for_target`)."""
    ranks = ranks_for_target(train, pairs, k, window=window, weighting=weighting, gamma=gamma)
    out: dict[str, float | int] = metrics_from_ranks(ranks, k)
    out["pairs"] = len(pairs)
    return out


def target_params(cfg: MethodConfig | None) -> dict[str, Any] | None:
    """The parameters of the target similarity ``cfg``'s method fits (its registry entry's ``target``), or None
    for a method that fits none."""
    if cfg is None:
        return None
    spec = spec_for_config(cfg)
    return spec.target(cfg).as_dict() if spec.target is not None else None


def baseline_blocks(
    train: Sessions, pairs: Pairs, ks: tuple[int, ...], n_boot: int, seed: int, cfg: MethodConfig | None = None,
    *, sr_window: int = SEQUENTIAL_RULES_WINDOW,
) -> dict[str, Any]:
    """Scored blocks of most-popular, item-kNN and sequential rules (window ``sr_window``, recorded in the block),
    and, for a method with a target, the target ranking."""
    kmax = max(ks)
    sr = score_block(ranks_for_sequential_rules(train, pairs, kmax, window=sr_window), ks, n_boot=n_boot, seed=seed)
    sr["window"] = sr_window
    out = {
        "most_popular": score_block(ranks_for_most_popular(train, pairs, kmax), ks, n_boot=n_boot, seed=seed),
        "item_knn": score_block(ranks_for_item_knn(train, pairs, kmax), ks, n_boot=n_boot, seed=seed),
        "sequential_rules": sr,
    }
    target = target_params(cfg)
    if target is not None:
        block = score_block(ranks_for_target(train, pairs, kmax, **target), ks, n_boot=n_boot, seed=seed)
        block["target"] = target
        out["target_ranking"] = block
    return out


def sessions_from_stats(stats: pd.DataFrame) -> Sessions:
    """A stand-in training set whose item counts equal the stored popularity (for the most-popular baseline)."""
    ids = normalize_ids(stats["item_id"])
    vocab = Vocabulary(ids)
    counts = np.zeros(len(vocab), dtype=np.int64)
    counts[vocab.codes(ids)] = stats["events"].to_numpy()
    codes = np.repeat(np.arange(len(vocab), dtype=np.int32), counts)
    return Sessions(
        vocab=vocab, indptr=np.array([0, len(codes)], dtype=np.int64), codes=codes,
        session_ids=np.array(["popularity"], dtype=object),
    )
