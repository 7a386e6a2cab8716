"""Popularity collapse: the first way behavior embeddings fail.

Popular items occur in many sessions, so naive methods pull every vector towards them; the symptom is that a
few popular items become everybody's nearest neighbors ("hubs") while most of the catalogue is nobody's
neighbor ("anti-hubs"), and "similar items" turns into "bestsellers". This module measures that on the
top-K neighbor lists of the whole catalogue — exactly what users of the version would see — and turns it
into a verdict with concrete fixes for the method that produced the version.

Metrics (``k`` = list length, ``N_k(i)`` = number of other items whose top-``k`` list contains item ``i``):

* ``k_occurrence_gini`` — Gini coefficient of ``N_k`` over all items (0 = every item is equally often a
  neighbor, → 1 = all slots go to one item);
* ``k_occurrence_max`` / ``k_occurrence_max_item`` — the largest ``N_k`` and the item (id) that has it;
* ``hub_share`` — share of items with ``N_k > hub_factor · k`` (default 5·k: the item sits in five times as
  many lists as the average item does);
* ``anti_hub_share`` — share of items in nobody's list (``N_k = 0``); ``coverage = 1 − anti_hub_share``;
* head items = the top 1 % of items by popularity (at least one; ties broken by item order).
  ``head_slot_share`` = share of all neighbor slots taken by head items; ``head_slot_lift`` = that share
  divided by the head's share of the catalogue (1 = head items are neighbors as often as any item);
  ``head_slot_vs_interactions`` = slot share divided by the head's share of training events (above 1: the head
  takes more of the neighbor lists than even its share of all interactions);
* ``popularity_neighbor_spearman`` — Spearman rank correlation between an item's ``log(1 + events)`` and the
  mean ``log(1 + events)`` of its neighbors (high: popular items neighbor popular items, tail items are
  left with the tail — popularity, not content, organises the space).

Popularity-based metrics are ``None`` when no popularity is given or all counts are zero.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy.stats import spearmanr

from .embeddings import ItemEmbeddings
from .errors import ConfigError
from .methods.registry import METHODS
from .neighbors import NeighborTable, top_k_neighbors
from .stats import gini
from .vocab import Vocabulary

VERDICTS = ("ok", "warning", "collapsed")
HEAD_SHARE = 0.01

PopularityLike: TypeAlias = pd.Series | pd.DataFrame | np.ndarray | None


class CollapseThresholds(BaseModel):
    """When the neighbor lists count as collapsed onto popular items.

    Each rule trips when its metric crosses the threshold; a threshold of ``None`` reports the metric without
    judging it. One tripped rule gives ``"warning"`` (a single symptom can be a property of the data, e.g. a
    catalogue with a few genuinely central items); collapse shows as several symptoms at once, so
    ``collapse_min_rules`` or more tripped rules give ``"collapsed"``.

    Calibration (k = 10). "good": planted clusters (600 items, 30 clusters, Zipf popularity) with ppmi_svd and
    item2vec, dim 32; Online Retail (3,908 items) with ppmi_svd (alpha 0.75/1, eig_weight 0.5/1, window 5/0)
    and item2vec. "collapsed": planted ppmi_svd vectors mixed half with random noise plus
    ``c · log(1 + events) · u`` (shared unit ``u``, c = 1 or 3, three seeds; the noise alone stays "ok").

    ==========================  ==================  ==================  =========
    metric                      good (all runs)     collapsed           default
    ==========================  ==================  ==================  =========
    k_occurrence_gini           0.30 - 0.40         0.59 - 0.62         0.5
    hub_share (N_k > 5k)        0.000 - 0.002       0.023 - 0.033       0.01
    head_slot_lift              0.28 - 1.85         8.4 - 10.6          3.0
    head_slot_vs_interactions   0.01 - 0.13         0.28 - 0.35         1.0
    coverage                    0.92 - 0.99         0.86 - 0.90         0.75
    popularity_spearman         0.21 - 0.94         0.68 - 0.75         None
    ==========================  ==================  ==================  =========

    ``head_slot_lift`` separates far better than the share relative to interactions, whose scale depends on
    how skewed the data is (the top 1 % hold 31 % of planted events but 9.5 % of Online Retail's); the latter
    trips only at 1.0, where the head takes more of the lists than even its share of the data. The
    popularity correlation is high in good embeddings of real baskets (rare items are bought with rare items),
    so it is reported but judged only when a threshold is set. ``tests/test_diagnostics.py`` re-measures the
    planted and Online Retail cases.

    **Judged against item-kNN on the same sessions** (:func:`judge_collapse`, ``knn_margin``). On real data the
    absolute thresholds alone misjudge: item-kNN itself — the baseline every version is compared with — trips
    ``hubs`` (0.016-0.022) on all three real datasets and ``k_occurrence_gini`` (0.52-0.63) on MovieLens and
    the demo, and the default method's ``head_slot_lift`` is 3.4-3.9 on Online Retail and the demo (over 3)
    while its lists give the head far less than the head's share of events (``head_slot_vs_interactions``
    0.41). So a rule counts against a version only when its metric is past the threshold *and* more than
    ``knn_margin`` = 3.5 times item-kNN's on the version's own training sessions (coverage: below item-kNN's ÷
    3.5). ``python -m benchmarks.collapse_calibration`` (``benchmarks/results/collapse_calibration.md``; k = 10;
    lift ÷ item-kNN's lift):

    ====================================================  =====================  ==========================
    lists                                                  lift ÷ item-kNN's      relative verdict
    ====================================================  =====================  ==========================
    all five methods at defaults, 3 real datasets          0.1 - 2.7              ok (absolute: warning for
                                                                                  cooc_softmax on two)
    cooc_softmax on all sessions (what sign-off judges)    1.1 (ML) - 2.9 (demo)  ok
    target ranking cooc_softmax fits (best HR@10)          2.4 - 4.3              ok / warning (demo)
    planted collapse (c = 1, 3; three seeds)               4.0 - 5.0              collapsed (+ hubs vs 0)
    most-popular                                           41 - 78                collapsed
    ====================================================  =====================  ==========================

    The default method's defaults are right: γ 0.5 brings its lift to item-kNN's but costs HR@10 (Online
    Retail 0.371 → 0.366, MovieLens 0.062 → 0.050), so the thresholds, not the defaults, were wrong for real
    data. A ratio is never reachable for a bounded metric far above item-kNN's (Gini: item-kNN's ≥ 0.29 excuses
    it); ``hubs`` over a baseline with none always counts. Without a reference (no ``collapse_reference``
    stored: trained without an evaluation) the absolute verdict stands.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_gini: float | None = Field(0.5, ge=0, le=1, description="Largest acceptable Gini of the k-occurrence.")
    hub_factor: float = Field(5.0, gt=1, description="An item is a hub when it is in more than hub_factor·k lists.")
    max_hub_share: float | None = Field(0.01, ge=0, le=1, description="Largest acceptable share of hub items.")
    max_head_slot_lift: float | None = Field(
        3.0, gt=0, description="Largest acceptable head share of neighbor slots / head share of the catalogue."
    )
    max_head_slot_vs_interactions: float | None = Field(
        1.0, gt=0, description="Largest acceptable head share of neighbor slots / head share of training events."
    )
    max_popularity_correlation: float | None = Field(
        None, ge=-1, le=1, description="Largest acceptable Spearman(log-popularity, neighbors' log-popularity)."
    )
    min_coverage: float | None = Field(0.75, ge=0, le=1, description="Smallest acceptable share of items in some list.")
    collapse_min_rules: int = Field(2, ge=1, description="Tripped rules that make the verdict 'collapsed'.")
    knn_margin: float = Field(
        3.5, ge=1, description="Against a baseline (item-kNN on the same sessions) a tripped rule counts only when "
        "its metric is also this many times the baseline's (coverage: below the baseline's divided by this).",
    )


# Rule name → (metric, kind, threshold field). "max" trips when value > threshold, "min" when value < threshold.
_RULES: tuple[tuple[str, str, str, str], ...] = (
    ("k_occurrence_gini", "k_occurrence_gini", "max", "max_gini"),
    ("hubs", "hub_share", "max", "max_hub_share"),
    ("head_slot_lift", "head_slot_lift", "max", "max_head_slot_lift"),
    ("head_slot_vs_interactions", "head_slot_vs_interactions", "max", "max_head_slot_vs_interactions"),
    ("popularity_correlation", "popularity_neighbor_spearman", "max", "max_popularity_correlation"),
    ("coverage", "coverage", "min", "min_coverage"),
)

GENERIC_HINTS = [
    "raise min_count: items seen only a few times get noisy vectors that drift towards popular items",
]


def align_popularity(vocab: Vocabulary, popularity: PopularityLike) -> np.ndarray | None:
    """Training events per item of ``vocab`` (float64, code order); items without a count get 0.

    Accepts a Series indexed by item id, an ``item_stats`` frame (``item_id`` and ``events`` columns), an
    array already aligned with ``vocab``, or ``None`` (returns ``None``). Counts must be finite and >= 0.
    """
    if popularity is None:
        return None
    if isinstance(popularity, pd.DataFrame):
        if not {"item_id", "events"} <= set(popularity.columns):
            raise ConfigError(f"popularity table needs columns item_id and events, got {list(popularity.columns)}")
        popularity = pd.Series(popularity["events"].to_numpy(), index=popularity["item_id"].to_numpy())
    if isinstance(popularity, pd.Series):
        if not popularity.index.is_unique:
            dup = popularity.index[popularity.index.duplicated()][0]
            raise ConfigError(f"popularity lists item {_id(dup)!r} more than once")
        codes = vocab.codes(popularity.index.to_numpy())
        out = np.zeros(len(vocab), dtype=np.float64)
        ok = codes >= 0
        out[codes[ok]] = popularity.to_numpy(dtype=np.float64)[ok]
    else:
        out = np.asarray(popularity, dtype=np.float64)
        if out.shape != (len(vocab),):
            raise ConfigError(f"popularity array has shape {out.shape}, expected ({len(vocab)},) aligned with "
                              "the vocabulary; pass a Series indexed by item id to align by id")
    bad = ~np.isfinite(out) | (out < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ConfigError(
            f"popularity of item {_id(vocab.ids[i])!r} is {float(out[i])}; counts must be finite and >= 0"
        )
    return out


def k_occurrence(neighbor_codes: np.ndarray, n_items: int) -> np.ndarray:
    """``N_k``: how many lists contain each item (``-1`` entries, i.e. missing neighbors, are ignored)."""
    flat = neighbor_codes[neighbor_codes >= 0]
    return np.bincount(flat, minlength=n_items).astype(np.int64)


def head_mask(popularity: np.ndarray, share: float = HEAD_SHARE) -> np.ndarray:
    """The top ``share`` of items by popularity (at least one item; ties go to the lower code)."""
    n_head = max(1, int(np.ceil(share * len(popularity))))
    order = np.argsort(-popularity, kind="stable")
    mask = np.zeros(len(popularity), dtype=bool)
    mask[order[:n_head]] = True
    return mask


def _spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    value = float(spearmanr(x, y).statistic)
    return value if np.isfinite(value) else None


def _id(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _popularity_metrics(codes: np.ndarray, valid: np.ndarray, pop: np.ndarray) -> dict[str, Any]:
    """Head share of slots and the popularity correlation; all ``None`` when popularity carries no signal."""
    none = dict.fromkeys(("n_head_items", "head_catalogue_share", "head_interaction_share", "head_slot_share",
                          "head_slot_lift", "head_slot_vs_interactions", "popularity_neighbor_spearman"))
    if pop.sum() <= 0 or valid.sum() == 0:
        return none
    n = len(pop)
    head = head_mask(pop)
    slot_share = float(head[codes[valid]].sum() / valid.sum())
    cat_share = float(head.sum() / n)
    inter_share = float(pop[head].sum() / pop.sum())
    logp = np.log1p(pop)
    n_valid = valid.sum(axis=1)
    has = n_valid > 0
    nb_mean = np.where(valid, logp[np.where(valid, codes, 0)], 0.0).sum(axis=1)[has] / n_valid[has]
    return {
        "n_head_items": int(head.sum()),
        "head_catalogue_share": cat_share,
        "head_interaction_share": inter_share,
        "head_slot_share": slot_share,
        "head_slot_lift": slot_share / cat_share,
        "head_slot_vs_interactions": slot_share / inter_share,
        "popularity_neighbor_spearman": _spearman(logp[has], nb_mean),
    }


def _hints(method: str | None) -> list[str]:
    """The method's own collapse hints (its registry entry's ``collapse_hints``), then the generic ones."""
    spec = METHODS.get(method) if method is not None else None
    return [*(spec.collapse_hints if spec is not None else ()), *GENERIC_HINTS]


def popularity_diagnostics(
    emb: ItemEmbeddings,
    popularity: PopularityLike,
    *,
    k: int = 10,
    thresholds: CollapseThresholds = CollapseThresholds(),
    method: str | None = None,
    neighbors: NeighborTable | None = None,
) -> dict[str, Any]:
    """Measure popularity collapse of ``emb`` and return a JSON-able report with a verdict.

    ``popularity`` is the training events per item (see :func:`align_popularity`; ``None`` skips the
    popularity rules). ``neighbors`` (every item's top-``k``, code order) is reused when given, else computed
    exactly. ``method`` (the version's method name) selects the hints. Guarantees: ``verdict`` is one of
    ``"ok"``, ``"warning"``, ``"collapsed"``; ``tripped`` lists every rule over its threshold with value and
    threshold; ``hints`` is non-empty exactly when a rule tripped; all values are plain Python types.
    """
    if k < 1:
        raise ConfigError(f"k must be at least 1, got k={k}")
    if neighbors is None:
        neighbors = top_k_neighbors(emb, k)
    return list_diagnostics(np.asarray(neighbors.codes), emb.vocab, popularity, k=k, thresholds=thresholds,
                            method=method)


def list_diagnostics(
    codes: np.ndarray,
    vocab: Vocabulary,
    popularity: PopularityLike,
    *,
    k: int = 10,
    thresholds: CollapseThresholds = CollapseThresholds(),
    method: str | None = None,
) -> dict[str, Any]:
    """:func:`popularity_diagnostics` of given top-``k`` lists: ``codes`` holds one row per item of ``vocab`` (code
    order, ``-1`` where a list is shorter), from embeddings or from any other ranking (item-kNN, most-popular)."""
    if k < 1:
        raise ConfigError(f"k must be at least 1, got k={k}")
    n = len(vocab)
    pop = align_popularity(vocab, popularity)
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[0] != n:
        raise ConfigError(f"neighbors has {codes.shape[0] if codes.ndim else 0} rows, expected one per item ({n})")
    if codes.shape[1] < k:
        raise ConfigError(f"neighbors hold top-{codes.shape[1]} lists, fewer than k={k}")
    codes = codes[:, :k]
    valid = codes >= 0
    nk = k_occurrence(codes, n)
    top = int(np.argmax(nk)) if n else 0
    anti = float(np.mean(nk == 0)) if n else 0.0
    metrics: dict[str, Any] = {
        "k_occurrence_gini": gini(nk),
        "k_occurrence_max": int(nk[top]) if n else 0,
        "k_occurrence_max_item": _id(vocab.ids[top]) if n else None,
        "hub_share": float(np.mean(nk > thresholds.hub_factor * k)) if n else 0.0,
        "anti_hub_share": anti,
        "coverage": 1.0 - anti,
    }
    metrics.update(_popularity_metrics(codes, valid, pop if pop is not None else np.zeros(n)))

    rules, tripped = [], []
    for rule, metric, kind, field in _RULES:
        value, limit = metrics[metric], getattr(thresholds, field)
        hit = value is not None and limit is not None and (value > limit if kind == "max" else value < limit)
        rec = {"rule": rule, "metric": metric, "value": value, "threshold": limit, "kind": kind, "tripped": hit}
        rules.append(rec)
        if hit:
            tripped.append(rec)
    verdict = "ok" if not tripped else "collapsed" if len(tripped) >= thresholds.collapse_min_rules else "warning"

    hubs = np.argsort(-nk, kind="stable")[: min(10, n)]
    top_hubs = [
        {"item_id": _id(vocab.ids[c]), "k_occurrence": int(nk[c]),
         "events": None if pop is None else float(pop[c])}
        for c in hubs.tolist() if nk[c] > 0
    ]
    return {
        "k": k,
        "n_items": n,
        "method": method,
        "metrics": metrics,
        "hub_definition": f"N_k > {thresholds.hub_factor:g}·k = {thresholds.hub_factor * k:g} lists",
        "head_definition": f"top {HEAD_SHARE:.0%} of items by training events (at least 1)",
        "popularity_given": pop is not None and bool(pop.sum() > 0),
        "thresholds": thresholds.model_dump(),
        "rules": rules,
        "tripped": tripped,
        "verdict": verdict,
        "hints": _hints(method) if tripped else [],
        "summary": _summary(verdict, tripped, metrics, k),
        "top_hubs": top_hubs,
    }


def _summary(verdict: str, tripped: list[dict[str, Any]], m: dict[str, Any], k: int) -> str:
    cov = f"{m['coverage']:.0%} of items appear in some top-{k} list"
    if verdict == "ok":
        return f"No sign of popularity collapse: {cov}, k-occurrence Gini {m['k_occurrence_gini']:.2f}."
    names = ", ".join(f"{t['rule']} {t['value']:.3g} ({'>' if t['kind'] == 'max' else '<'} {t['threshold']:g})"
                      for t in tripped)
    lead = "Neighbor lists collapsed onto popular items" if verdict == "collapsed" else "Possible popularity bias"
    return f"{lead}: {names}; {cov}."


def judge_collapse(diag: dict[str, Any], reference: dict[str, Any] | None) -> dict[str, Any]:
    """The collapse verdict of ``diag`` (:func:`popularity_diagnostics`) judged against ``reference``: the
    diagnostics of item-kNN's lists on the sessions the version was trained on (``{"metrics": …}``, as
    :func:`behemb_core.evaluation.collapse.knn_reference` makes it), or ``None`` when there is none.

    With a reference, a rule that tripped on its absolute threshold counts only when its metric is also more
    popularity-bound than item-kNN's by the thresholds' ``knn_margin`` (a "max" metric above ``margin ×``
    item-kNN's, coverage below item-kNN's ``÷ margin``): a symptom item-kNN shows as strongly is a property of
    the data, not of the method. Rules item-kNN explains are listed under ``excused``. Without a reference the
    absolute verdict stands and ``basis`` says so. Returns ``basis`` (``"item_knn"`` / ``"absolute"``),
    ``verdict``, ``tripped_rules``, ``excused`` (rule, value, item-kNN's value), ``reference_metrics`` and
    ``summary`` (one sentence for people).
    """
    thresholds = diag.get("thresholds") or {}
    margin = float(thresholds.get("knn_margin", CollapseThresholds().knn_margin))
    min_rules = int(thresholds.get("collapse_min_rules", CollapseThresholds().collapse_min_rules))
    tripped = list(diag.get("tripped") or [])
    ref = (reference or {}).get("metrics") if reference is not None else None
    if not ref:
        return {"basis": "absolute", "verdict": diag["verdict"], "tripped_rules": [t["rule"] for t in tripped],
                "excused": [], "reference_metrics": None, "margin": margin,
                "summary": diag.get("summary", "") + " Judged on absolute thresholds only: no item-kNN reference "
                "on the version's training sessions."}
    counted, excused = [], []
    for t in tripped:
        base = ref.get(t["metric"])
        if base is None:
            counted.append(t)
            continue
        worse = t["value"] > base * margin if t["kind"] == "max" else t["value"] < base / margin
        if worse:
            counted.append({**t, "item_knn": base})
        else:
            excused.append({"rule": t["rule"], "metric": t["metric"], "value": t["value"], "item_knn": base})
    verdict = "ok" if not counted else "collapsed" if len(counted) >= min_rules else "warning"
    return {"basis": "item_knn", "verdict": verdict, "tripped_rules": [t["rule"] for t in counted],
            "excused": excused, "reference_metrics": {m: ref.get(m) for m in _REFERENCE_METRICS}, "margin": margin,
            "summary": _relative_summary(verdict, counted, excused, margin, diag)}


_REFERENCE_METRICS = ("k_occurrence_gini", "hub_share", "coverage", "head_slot_lift", "head_slot_vs_interactions",
                      "popularity_neighbor_spearman")


def _relative_summary(verdict: str, counted: list[dict[str, Any]], excused: list[dict[str, Any]], margin: float,
                      diag: dict[str, Any]) -> str:
    def both(t: dict[str, Any]) -> str:
        return f"{t['rule']} {t['value']:.3g} (item-kNN {t['item_knn']:.3g})"

    if verdict == "ok" and not excused:
        return diag.get("summary", "")
    parts = []
    if counted:
        lead = ("Neighbor lists collapsed onto popular items" if verdict == "collapsed"
                else "Possible popularity bias")
        parts.append(f"{lead}, over {margin:g}× item-kNN's on the same sessions: "
                     + ", ".join(both(t) if "item_knn" in t else f"{t['rule']} {t['value']:.3g}" for t in counted))
    else:
        parts.append("No more popularity-bound than item-kNN on the same sessions")
    if excused:
        parts.append(f"past the absolute threshold but within {margin:g}× item-kNN's (the data's, not the method's): "
                     + ", ".join(both(t) for t in excused))
    return "; ".join(parts) + "."
