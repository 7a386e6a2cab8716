"""Neighbor lists of the baselines over a whole catalogue, and their popularity diagnostics: the reference a
version's collapse verdict is judged against (a method whose lists lean on the head no more than item-kNN's on
the same sessions has not collapsed, whatever the absolute numbers say about the data).

- :func:`most_popular_lists` — every item's list is the ``k`` most frequent items (never itself): the fully
  popularity-bound reference;
- :func:`item_knn_lists` — cosine over the item × session incidence (:func:`.baselines.item_knn_neighbors`);
- :func:`knn_reference` — the item-kNN lists' diagnostics, JSON-able, as stored with a version
  (``collapse_reference``) and read by the sign-off check;
- :func:`collapse_diagnosis` — a version's diagnostics with the verdict judged against that reference (what
  training returns and stores as ``popularity_diagnosis``);
- :func:`usable_reference` / :func:`judged_diagnosis` — a stored version's reference when it can judge (same k,
  hub factor and training data), and its diagnostics judged by it (the sign-off check's and ``diagnose``'s).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..diagnostics import CollapseThresholds, judge_collapse, list_diagnostics, popularity_diagnostics
from ..embeddings import ItemEmbeddings
from ..neighbors import NeighborTable
from ..sessions import Sessions
from .baselines import item_knn_neighbors

__all__ = ["DIAGNOSE_AT_TRAINING_MAX_ITEMS", "collapse_diagnosis", "item_knn_lists", "judged_diagnosis",
           "knn_reference", "most_popular_lists", "usable_reference"]


def most_popular_lists(sessions: Sessions, k: int) -> np.ndarray:
    """``(n_items, k)`` codes: the ``k`` most frequent items for every item, the item itself left out."""
    counts = sessions.item_counts()
    n = len(counts)
    top = np.argsort(-counts, kind="stable")[: k + 1]
    cand = np.broadcast_to(top, (n, len(top))).copy()
    cand[cand == np.arange(n)[:, None]] = -2
    keep = np.argsort(cand == -2, axis=1, kind="stable")[:, :k]
    lists = np.take_along_axis(cand, keep, axis=1)
    lists[lists < 0] = -1
    if lists.shape[1] < k:  # a catalogue of k items or fewer
        lists = np.hstack([lists, np.full((n, k - lists.shape[1]), -1, dtype=lists.dtype)])
    return lists.astype(np.int64)


def item_knn_lists(sessions: Sessions, k: int) -> np.ndarray:
    """``(n_items, k)`` item-kNN neighbor codes of every item of ``sessions`` (``-1`` where fewer exist)."""
    return item_knn_neighbors(sessions, np.arange(sessions.n_items, dtype=np.int64), k)


def knn_reference(sessions: Sessions, *, k: int = 10, thresholds: CollapseThresholds = CollapseThresholds(),
                  fingerprint: str | None = None) -> dict[str, Any]:
    """Popularity diagnostics of item-kNN's top-``k`` lists on ``sessions`` (popularity: their events), with what it
    was computed on (``fingerprint``: the dataset's, when the caller has it; else the sessions'): the reference
    :func:`behemb_core.diagnostics.judge_collapse` compares a version with."""
    started = time.perf_counter()
    diag = list_diagnostics(item_knn_lists(sessions, k), sessions.vocab, sessions.item_counts().astype(np.float64),
                            k=k, thresholds=thresholds)
    return {
        "baseline": "item_knn",
        "k": k,
        "sessions": sessions.n_sessions,
        "items": sessions.n_items,
        "fingerprint": fingerprint if fingerprint is not None else sessions.fingerprint(),
        "hub_factor": thresholds.hub_factor,
        "metrics": diag["metrics"],
        "verdict": diag["verdict"],
        "seconds": round(time.perf_counter() - started, 3),
    }


#: Above this many items training does not diagnose the version: the exact top-k of the whole catalogue grows with
#: n² (about 2 s at 30,000 × 128, 22 s at 94,522, 36 min at 683,912: benchmarks/results/M-neighbors.md,
#: L-walks-neighbors-umap.md), and training at scale should not pay for it twice. The sign-off check (which caches
#: the lists for the other checks) and ``diagnose`` still do.
DIAGNOSE_AT_TRAINING_MAX_ITEMS = 30_000


def collapse_diagnosis(
    emb: ItemEmbeddings,
    item_stats: pd.DataFrame | None,
    *,
    reference: dict[str, Any] | None,
    method: str | None = None,
    k: int = 10,
    thresholds: CollapseThresholds = CollapseThresholds(),
    max_items: int | None = None,
) -> dict[str, Any]:
    """The popularity diagnosis of a version as the Train page shows it and the sign-off check judges it: the
    diagnostics of its top-``k`` lists (:func:`~behemb_core.diagnostics.popularity_diagnostics`) with the verdict
    judged against ``reference`` (:func:`knn_reference` of its training sessions; ``None``: absolute thresholds
    only) under ``"judged"``. JSON-able. A catalogue over ``max_items`` (None: :data:`DIAGNOSE_AT_TRAINING_MAX_ITEMS`)
    is not diagnosed: the record then holds only ``skipped`` (why, in words), ``n_items`` and ``k``."""
    max_items = DIAGNOSE_AT_TRAINING_MAX_ITEMS if max_items is None else max_items
    if len(emb) > max_items:
        return {"n_items": len(emb), "k": k, "skipped": (
            f"not diagnosed at training: {len(emb):,} items (over {max_items:,}) would take minutes for the exact "
            f"top-{k} of the whole catalogue; the Publish page's “no popularity collapse” check and `diagnose` "
            "compute it")}
    diag = popularity_diagnostics(emb, item_stats, k=k, thresholds=thresholds, method=method)
    return {**diag, "judged": judge_collapse(diag, reference)}


def usable_reference(manifest: Mapping[str, Any], *, k: int, thresholds: CollapseThresholds
                     ) -> tuple[dict[str, Any] | None, str]:
    """The version's stored item-kNN reference when it can judge at ``k`` under ``thresholds`` (same k and hub
    factor, made on the version's own training sessions), else ``None`` and why not, in words."""
    ref = manifest.get("collapse_reference")
    if not isinstance(ref, Mapping) or not isinstance(ref.get("metrics"), Mapping):
        return None, ("no item-kNN reference is stored with this version (train it with --evaluate, or "
                      "'Evaluate against baselines' on the Train page, to judge it against item-kNN)")
    if ref.get("k") != k:
        return None, f"the stored item-kNN reference is at k={ref.get('k')}, the policy judges k={k}"
    if ref.get("hub_factor") != thresholds.hub_factor:
        return None, (f"the stored item-kNN reference counts hubs at {ref.get('hub_factor')}·k, the policy at "
                      f"{thresholds.hub_factor:g}·k")
    trained_on = (manifest.get("dataset") or {}).get("fingerprint")
    if trained_on is not None and ref.get("fingerprint") != trained_on:
        return None, "the stored item-kNN reference was made on other sessions than the version's training data"
    return dict(ref), ""


def judged_diagnosis(stored: Any, *, k: int = 10, thresholds: CollapseThresholds = CollapseThresholds(),
                     neighbors: NeighborTable | None = None) -> dict[str, Any]:
    """A stored version's (``StoredVersion``) popularity diagnostics with the verdict judged against the item-kNN
    reference stored with it when that can judge (:func:`usable_reference`), else on the absolute thresholds
    (``judged["why_absolute"]`` says why). What the sign-off check, ``diagnose`` and Compare should show alike."""
    reference, why_not = usable_reference(stored.manifest, k=k, thresholds=thresholds)
    diag = popularity_diagnostics(stored.embeddings, stored.item_stats, k=k, thresholds=thresholds,
                                  method=stored.manifest.get("method"), neighbors=neighbors)
    judged = judge_collapse(diag, reference)
    judged["why_absolute"] = why_not or None
    return {**diag, "judged": judged}
