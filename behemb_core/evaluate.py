"""Deprecated path: the evaluation lives in :mod:`behemb_core.evaluation` (split, metrics, baselines, report).

A thin re-export kept while ``train.py`` and ``cli.py`` still import from here; it goes once they import
:mod:`behemb_core.evaluation`.
"""

from __future__ import annotations

from .evaluation import (  # noqa: F401
    Pairs,
    bootstrap_interval,
    evaluate_embeddings,
    evaluate_item_knn,
    evaluate_most_popular,
    evaluate_target_ranking,
    hr_by_popularity_decile,
    item_knn_neighbors,
    metrics_from_ranks,
    next_item_pairs,
    ranks_for_embeddings,
    ranks_for_item_knn,
    ranks_for_most_popular,
    ranks_for_target,
    score_block,
    time_split,
)
