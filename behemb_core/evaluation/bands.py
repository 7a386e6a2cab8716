"""How a method that builds on behavior vectors (fusion) does on items with little behavior, against the
behavior-only vectors it builds on.

:func:`evaluate_builder` splits the sessions as every evaluation does (the last ``holdout`` share by time), fits
the base method once on the training part, builds each given config on top of it and scores the base vectors and
every built version on the same held-out next-item pairs: overall, by popularity band of the *query* (its
training events: no behavior / tail / torso / head, :func:`hr_by_popularity_band`) and by popularity decile of the
query (:func:`~.metrics.hr_by_popularity_decile`). A query without a vector is a miss, so vectors that reach
items the base cannot are credited for it, and the band table says where the difference comes from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..content import ContentVectors
from ..embeddings import FitResult, ItemEmbeddings
from ..errors import ConfigError
from ..metadata import ItemMetadata
from ..methods.base import MethodConfig, MethodSpec, TrainingInputs
from ..methods.registry import get_method
from ..progress import ProgressCallback, Reporter, as_reporter
from ..sessions import Sessions
from .metrics import hr_by_popularity_decile, metrics_from_ranks, ranks_for_embeddings
from .split import Pairs, next_item_pairs, time_split

#: Training events that bound the bands: tail < 10 ≤ torso < 100 ≤ head (fusion's default band edges).
BAND_EDGES = (10, 100)
BAND_NAMES = ("no behavior", "tail", "torso", "head")


def popularity_bands(counts: np.ndarray, edges: tuple[int, int] = BAND_EDGES) -> np.ndarray:
    """Band index per item from its training events: 0 no behavior (0 events), 1 tail (< ``edges[0]``), 2 torso,
    3 head (≥ ``edges[1]``); see :data:`BAND_NAMES`."""
    counts = np.asarray(counts)
    return ((counts > 0).astype(np.int64) + (counts >= edges[0]).astype(np.int64)
            + (counts >= edges[1]).astype(np.int64))


def hr_by_popularity_band(
    ranks: np.ndarray, queries: np.ndarray, train: Sessions, k: int, *, edges: tuple[int, int] = BAND_EDGES
) -> list[dict[str, Any]]:
    """HR@k per popularity band of the query item (its events in ``train``; a query outside ``train``'s
    vocabulary has no behavior)."""
    counts = train.item_counts()
    q = train.vocab.codes(queries)
    band = np.where(q >= 0, popularity_bands(counts, edges)[np.maximum(q, 0)], 0)
    hit = (ranks > 0) & (ranks <= k)
    bounds = {"no behavior": "0", "tail": f"1–{edges[0] - 1}", "torso": f"{edges[0]}–{edges[1] - 1}",
              "head": f">= {edges[1]}"}
    rows: list[dict[str, Any]] = []
    for i, name in enumerate(BAND_NAMES):
        m = band == i
        rows.append({"band": name, "events": bounds[name], "pairs": int(m.sum()),
                     f"hr@{k}": float(hit[m].mean()) if m.any() else None})
    return rows


def _block(emb: ItemEmbeddings, pairs: Pairs, train: Sessions, k: int, edges: tuple[int, int]) -> dict[str, Any]:
    ranks, missing = ranks_for_embeddings(emb, pairs, k)
    return {
        **metrics_from_ranks(ranks, k),
        "items": len(emb),
        "queries_without_vector": missing,
        "by_popularity_band": hr_by_popularity_band(ranks, pairs.queries, train, k, edges=edges),
        "by_query_popularity_decile": hr_by_popularity_decile(ranks, pairs.queries, train, k),
    }


def fit_base(spec: MethodSpec, config: MethodConfig, sessions: Sessions, *, seed: int,
             progress: ProgressCallback | Reporter | None = None) -> FitResult:
    """The base method ``config`` names (``spec.builds_on``), fitted on ``sessions`` as training fits it."""
    base_spec = spec.base_spec(config)
    if base_spec is None or spec.builds_on is None:
        raise ConfigError(f"{spec.name} does not build on behavior vectors: it has no base to compare with")
    plan = spec.builds_on(config)
    return base_spec.fit(TrainingInputs(sessions=sessions), base_spec.parse_config(plan.config), seed=seed,
                         progress=progress)


def evaluate_builder(
    sessions: Sessions,
    method: str | MethodSpec,
    configs: Mapping[str, MethodConfig | dict[str, Any]],
    *,
    item_meta: ItemMetadata | None = None,
    content: ContentVectors | None = None,
    holdout: float = 0.1,
    k: int = 10,
    seed: int = 0,
    edges: tuple[int, int] = BAND_EDGES,
    progress: ProgressCallback | Reporter | None = None,
) -> dict[str, Any]:
    """Score the behavior-only base and ``method`` built on it with each of ``configs`` (name → config) on the
    held-out next-item pairs of the last ``holdout`` share of ``sessions`` by time (what evaluation holds out).

    The base is fitted once per distinct base plan on the training part; every config is built on it with the
    training part's event counts. Returns ``{"split", "k", "edges", "base", "built": {name: block}}``, each block
    with HR/NDCG/MRR@k, ``queries_without_vector``, ``by_popularity_band`` and ``by_query_popularity_decile``.
    """
    spec = get_method(method)
    if spec.builds_on is None:
        raise ConfigError(f"{spec.name} does not build on behavior vectors: it has no base to compare with")
    if not configs:
        raise ConfigError("give at least one config to evaluate")
    parsed = {name: spec.parse_config(cfg) for name, cfg in configs.items()}
    rep = as_reporter(progress)
    train, test = time_split(sessions, holdout=holdout)
    pairs = next_item_pairs(test)
    if len(pairs) == 0:
        raise ConfigError("the held-out sessions have no consecutive pairs of different items to evaluate")
    bases: dict[str, FitResult] = {}
    first_plan: str | None = None
    built: dict[str, Any] = {}
    for i, (name, cfg) in enumerate(parsed.items()):
        step = rep.sub(i / (len(parsed) + 0.2), (i + 1) / (len(parsed) + 0.2))
        plan = spec.builds_on(cfg)
        key = repr((plan.method, sorted(plan.config.items())))
        first_plan = first_plan or key
        if key not in bases:
            step("base", 0.0, f"fitting the base method {plan.method} on the training part")
            bases[key] = fit_base(spec, cfg, train, seed=seed, progress=step.sub(0.0, 0.8))
        base = bases[key]
        inputs = TrainingInputs(sessions=train, content=content, item_meta=item_meta, base=base.embeddings,
                                base_report=base.report)
        result = spec.fit(inputs, cfg, seed=seed, progress=step.sub(0.8, 1.0))
        built[name] = {"config": cfg.model_dump(mode="json"), **_block(result.embeddings, pairs, train, k, edges)}
    assert first_plan is not None
    base_block = {"method": spec.builds_on(next(iter(parsed.values()))).method,
                  **_block(bases[first_plan].embeddings, pairs, train, k, edges)}
    rep("done", 1.0, "scored the base and the built vectors by popularity band")
    return {
        "split": {"kind": "time", "holdout": holdout, "train_sessions": train.n_sessions,
                  "test_sessions": test.n_sessions, "pairs": len(pairs)},
        "k": k,
        "edges": list(edges),
        "base": base_block,
        "built": built,
    }


__all__ = ["BAND_EDGES", "BAND_NAMES", "evaluate_builder", "fit_base", "hr_by_popularity_band", "popularity_bands"]
