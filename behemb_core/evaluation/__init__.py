"""Offline retrieval quality: held-out next-item prediction from item-to-item neighbors, next to baselines.

- :mod:`.split` — the held-out sessions (by time, or at random) and their (query, target) pairs;
- :mod:`.metrics` — ranks of targets among a query's top-K, HR/NDCG/MRR@K, bootstrap intervals, HR by decile;
- :mod:`.baselines` — most-popular, item-kNN, sequential rules and (for ``cooc_softmax``) the ranking by the
  method's target;
- :mod:`.sequential` — the sequential-rules baseline and the "next item" mode's ranks of a directional pair;
- :mod:`.bands` — a builder (fusion) against the behavior-only vectors it builds on, by popularity band of the
  query (:func:`evaluate_builder`);
- :mod:`.report` — :func:`evaluate_method` (train on a split, score with the baselines) and
  :func:`evaluate_version` (score vectors on given sessions) and :func:`evaluate_stored` (a stored version, with
  the note when the sessions are its own training data).
"""

from __future__ import annotations

from .bands import evaluate_builder, hr_by_popularity_band, popularity_bands
from .baselines import (
    evaluate_item_knn,
    evaluate_most_popular,
    evaluate_target_ranking,
    item_knn_neighbors,
    ranks_for_item_knn,
    ranks_for_most_popular,
    ranks_for_target,
)
from .metrics import (
    bootstrap_interval,
    evaluate_embeddings,
    hr_by_popularity_decile,
    metrics_from_ranks,
    ranks_for_embeddings,
    ranks_from_lists,
    score_block,
)
from .report import evaluate_method, evaluate_stored, evaluate_version
from .sequential import (
    SEQUENTIAL_RULES_WINDOW,
    evaluate_sequential_rules,
    ranks_for_directional,
    ranks_for_sequential_rules,
    sequential_rule_scores,
    sequential_rules_neighbors,
)
from .split import Pairs, next_item_pairs, time_split

__all__ = [
    "SEQUENTIAL_RULES_WINDOW",
    "Pairs",
    "bootstrap_interval",
    "evaluate_embeddings",
    "evaluate_item_knn",
    "evaluate_method",
    "evaluate_most_popular",
    "evaluate_sequential_rules",
    "evaluate_stored",
    "evaluate_builder",
    "evaluate_target_ranking",
    "evaluate_version",
    "hr_by_popularity_band",
    "hr_by_popularity_decile",
    "item_knn_neighbors",
    "metrics_from_ranks",
    "next_item_pairs",
    "popularity_bands",
    "ranks_for_directional",
    "ranks_for_embeddings",
    "ranks_for_item_knn",
    "ranks_for_most_popular",
    "ranks_for_sequential_rules",
    "ranks_for_target",
    "ranks_from_lists",
    "score_block",
    "sequential_rule_scores",
    "sequential_rules_neighbors",
    "time_split",
]
