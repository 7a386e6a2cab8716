"""Evaluation reports: a method (trained on a split) or a stored version, always next to the baselines.

A method's number means little alone, so every report carries most-popular and item-kNN on the same pairs,
a bootstrap interval over queries, HR by popularity decile of the target and, with several seeds, the spread.
A method that fits a target similarity (``cooc_softmax``) also gets the sparse ranking by that target
(``baselines["target_ranking"]``), built from the same training part with the method's own window, weighting and
gamma: the ranking its fit aims to reproduce. Sequential rules (``baselines["sequential_rules"]``: ``b`` after ``a``
within 10 positions, weighted 1/distance) are scored for every method: the directional reference. The comparison
(``report["comparison"]``) is always against item-kNN.

When a directional pair (query vectors Q, candidate vectors K) is scored — the fit produced one, or one is given
with a version — the report gains ``report["next"]``: the "next item" mode (``Q_a · K_b``) on the same pairs with the
same metrics, intervals and misses, its comparison against item-kNN and its HR against the symmetric mode and
sequential rules.
"""

from __future__ import annotations

import time
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from ..embeddings import DirectionalPair, ItemEmbeddings
from ..errors import ConfigError
from ..methods.base import MethodConfig, TrainingInputs
from ..methods.registry import get_method, parse_config
from ..progress import ProgressCallback, Reporter, as_reporter
from ..reports import Baselines, Comparison, EvaluationReport, MethodBlock, NextMode, Versus, as_score_block, metric
from ..sessions import Sessions
from .baselines import baseline_blocks, ranks_for_most_popular, sessions_from_stats, target_params
from .metrics import hr_by_popularity_decile, metrics_from_ranks, ranks_for_embeddings, score_block
from .sequential import check_pair, ranks_for_directional, versus
from .split import next_item_pairs, time_split


def _check_ks(ks: tuple[int, ...] | list[int]) -> tuple[int, ...]:
    ks = tuple(sorted({int(k) for k in ks}))
    if not ks or ks[0] < 1 or ks[-1] > 1000:
        raise ConfigError(f"K values must be between 1 and 1000, got {list(ks)}")
    return ks


def _comparison(method: MethodBlock, baselines: Baselines, k: int) -> Comparison:
    ours, knn, pop = (metric(block, "hr", k) for block in (method, baselines["item_knn"], baselines["most_popular"]))
    assert ours is not None and knn is not None and pop is not None, "every block is scored at the largest K"
    return {
        "k": k,
        "hr_minus_item_knn": ours - knn,
        "hr_ratio_to_item_knn": ours / knn if knn > 0 else None,
        "hr_ratio_to_most_popular": ours / pop if pop > 0 else None,
        "beats_item_knn": bool(ours >= knn),
        "beats_most_popular": bool(ours > pop),
    }


def _seed_spread(per_seed: list[dict[str, float]]) -> dict[str, Any]:
    return {
        key: {"min": float(np.min(v)), "max": float(np.max(v)), "std": float(np.std(v))}
        for key in per_seed[0]
        for v in [[s[key] for s in per_seed]]
    }


def _next_mode(next_block: MethodBlock, alpha: float, symmetric: MethodBlock, baselines: Baselines,
               k: int) -> NextMode:
    """The ``next`` section: the directional block and how it stands against item-kNN, the symmetric mode and
    sequential rules at the largest K (each only when that row was scored)."""
    ours = metric(next_block, "hr", k)
    out: NextMode = {
        "method": next_block,
        "alpha": float(alpha),
        "vs_symmetric": cast(Versus, versus(ours, metric(symmetric, "hr", k), "symmetric", k)),
    }
    if "item_knn" in baselines and "most_popular" in baselines:
        out["comparison"] = _comparison(next_block, baselines, k)
    if "sequential_rules" in baselines:
        out["vs_sequential_rules"] = cast(
            Versus, versus(ours, metric(baselines["sequential_rules"], "hr", k), "sequential_rules", k))
    return out


def evaluate_method(
    sessions: Sessions,
    method: str,
    config: MethodConfig | dict[str, Any] | None = None,
    *,
    seeds: tuple[int, ...] | list[int] = (0,),
    ks: tuple[int, ...] | list[int] = (10,),
    holdout: float = 0.1,
    split: Literal["time", "random"] = "time",
    split_seed: int = 0,
    n_boot: int = 200,
    progress: ProgressCallback | Reporter | None = None,
) -> EvaluationReport:
    """Train ``method`` on the first part of a split and score it and the baselines on the held-out pairs.

    The baselines are most-popular, item-kNN and sequential rules, plus, for ``cooc_softmax``, the ranking by its
    target ``T`` (``"target_ranking"``) built from the training part with the evaluated config's window, weighting
    and gamma. When the fit also returns a directional pair (``FitResult.directional``, for every seed) it is
    scored in the "next" mode on the same pairs (``report["next"]``, metrics averaged over seeds like the
    symmetric block); the pair comes from the same training part, so both modes are held-out numbers.

    With several ``seeds`` the method is trained once per seed; metrics are the mean and ``seed_spread`` gives
    min/max/std, so a difference smaller than the spread is not a difference. ``fit_seconds`` holds each
    seed's wall-clock training time on the training part (scoring excluded).
    """
    ks = _check_ks(ks)
    cfg = parse_config(method, config)
    rep = as_reporter(progress)
    train, test = time_split(sessions, holdout=holdout, seed=split_seed if split == "random" else None)
    pairs = next_item_pairs(test)
    if len(pairs) == 0:
        raise ConfigError("the held-out sessions have no consecutive pairs of different items to evaluate")
    spec = get_method(method)
    per_seed, all_ranks, missing, fit_seconds = [], [], 0, []
    next_per_seed: list[dict[str, float]] = []
    next_ranks: list[np.ndarray] = []
    next_missing, alphas = 0, []
    seeds = list(seeds) or [0]
    for i, seed in enumerate(seeds):
        sub = rep.sub(i / (len(seeds) + 0.3), (i + 1) / (len(seeds) + 0.3))
        started = time.perf_counter()
        result = spec.fit(TrainingInputs(sessions=train), cfg, seed=seed, progress=sub)
        fit_seconds.append(round(time.perf_counter() - started, 3))
        emb = result.embeddings
        ranks, missing = ranks_for_embeddings(emb, pairs, max(ks))
        all_ranks.append(ranks)
        per_seed.append({k: v for kk in ks for k, v in metrics_from_ranks(ranks, kk).items()})
        pair: DirectionalPair | None = getattr(result, "directional", None)
        if pair is not None:
            r_next, next_missing = ranks_for_directional(emb, pair, pairs, max(ks))
            next_ranks.append(r_next)
            alphas.append(float(pair.alpha))
            next_per_seed.append({k: v for kk in ks for k, v in metrics_from_ranks(r_next, kk).items()})
    scored = ("most-popular, item-kNN, sequential rules and the target ranking" if target_params(cfg)
              else "most-popular, item-kNN and sequential rules")
    rep("baselines", 0.9, f"scoring {scored}")
    first = all_ranks[0]
    block = score_block(first, ks, n_boot=n_boot, seed=split_seed)
    for key in per_seed[0]:  # the metric keys (hr@K, … for every K): the mean over seeds
        block[key] = float(np.mean([s[key] for s in per_seed]))
    method_block: MethodBlock = {
        **as_score_block(block),
        "name": method,
        "config": cfg.model_dump(mode="json"),
        "seeds": seeds,
        "fit_seconds": fit_seconds,
        "queries_without_vector": missing,
        "by_popularity_decile": hr_by_popularity_decile(first, pairs.targets, train, max(ks)),
    }
    if len(seeds) > 1:
        method_block["seed_spread"] = _seed_spread(per_seed)
    baselines = cast(Baselines, baseline_blocks(train, pairs, ks, n_boot, split_seed, cfg))
    report: EvaluationReport = {
        "split": {
            "kind": split, "holdout": holdout, "train_sessions": train.n_sessions,
            "test_sessions": test.n_sessions, "pairs": len(pairs),
        },
        "k": list(ks),
        "method": method_block,
        "baselines": baselines,
        "comparison": _comparison(method_block, baselines, max(ks)),
    }
    if split == "time":  # which order "latest" means: the sessions' start times, or the file's (no times)
        report["split"]["order"] = "start time" if sessions.start_times is not None else "file order"
    if next_ranks and len(next_ranks) == len(seeds):
        nblock = score_block(next_ranks[0], ks, n_boot=n_boot, seed=split_seed)
        for key in next_per_seed[0]:
            nblock[key] = float(np.mean([s[key] for s in next_per_seed]))
        next_block: MethodBlock = {
            **as_score_block(nblock), "name": f"{method} (next)", "queries_without_vector": next_missing,
            "by_popularity_decile": hr_by_popularity_decile(next_ranks[0], pairs.targets, train, max(ks)),
        }
        if len(seeds) > 1:
            next_block["seed_spread"] = _seed_spread(next_per_seed)
        report["next"] = _next_mode(next_block, float(np.mean(alphas)), method_block, baselines, max(ks))
    elif next_ranks:
        report.setdefault("notes", []).append(
            f"only {len(next_ranks)} of {len(seeds)} seeds' fits returned a directional pair: the next mode is not "
            "reported")
    rep("done", 1.0, f"HR@{max(ks)} {metric(method_block, 'hr', max(ks)):.3f}")
    return report


def evaluate_version(
    emb: ItemEmbeddings,
    heldout: Sessions,
    *,
    item_stats: pd.DataFrame | None = None,
    train: Sessions | None = None,
    ks: tuple[int, ...] | list[int] = (10,),
    n_boot: int = 200,
    name: str | None = None,
    directional: DirectionalPair | None = None,
) -> EvaluationReport:
    """Score a stored version on held-out sessions (every consecutive pair is a query).

    Most-popular comes from ``train`` when given, else from the version's stored training popularity
    (``item_stats``); item-kNN and sequential rules need the training sessions (``train``) and are omitted without
    them. With a ``directional`` pair (rows aligned with ``emb``'s) the report also scores the "next" mode
    (``report["next"]``).
    """
    ks = _check_ks(ks)
    if directional is not None:
        check_pair(emb, directional)
    pairs = next_item_pairs(heldout)
    if len(pairs) == 0:
        raise ConfigError("the held-out sessions have no consecutive pairs of different items to evaluate")
    ranks, missing = ranks_for_embeddings(emb, pairs, max(ks))
    method_block: MethodBlock = {
        **as_score_block(score_block(ranks, ks, n_boot=n_boot, seed=0)),
        "name": name,
        "queries_without_vector": missing,
    }
    baselines: Baselines = {}
    notes = []
    if train is not None:
        baselines = cast(Baselines, baseline_blocks(train, pairs, ks, n_boot, 0))
        method_block["by_popularity_decile"] = hr_by_popularity_decile(ranks, pairs.targets, train, max(ks))
    else:
        if item_stats is not None:
            pop_sessions = sessions_from_stats(item_stats)
            baselines["most_popular"] = as_score_block(score_block(
                ranks_for_most_popular(pop_sessions, pairs, max(ks)), ks, n_boot=n_boot, seed=0
            ))
        notes.append("item-kNN and sequential rules need the training sessions: pass them to compare against them")
    report: EvaluationReport = {
        "split": {"kind": "given", "test_sessions": heldout.n_sessions, "pairs": len(pairs)},
        "k": list(ks),
        "method": method_block,
        "baselines": baselines,
        "notes": notes,
    }
    if "item_knn" in baselines:
        report["comparison"] = _comparison(method_block, baselines, max(ks))
    if directional is not None:
        r_next, next_missing = ranks_for_directional(emb, directional, pairs, max(ks))
        next_block: MethodBlock = {
            **as_score_block(score_block(r_next, ks, n_boot=n_boot, seed=0)),
            "name": f"{name} (next)" if name else "next",
            "queries_without_vector": next_missing,
        }
        if train is not None:
            next_block["by_popularity_decile"] = hr_by_popularity_decile(r_next, pairs.targets, train, max(ks))
        report["next"] = _next_mode(next_block, directional.alpha, method_block, baselines, max(ks))
    return report


def evaluate_stored(stored: Any, sessions: Sessions, *, all_heldout: bool = False, holdout: float = 0.1,
                    ks: tuple[int, ...] | list[int] = (10,), n_boot: int = 200) -> EvaluationReport:
    """Score a stored version (``StoredVersion``) on ``sessions``: all of them held out (``all_heldout``: newer
    data the version never saw; most-popular from its stored popularity), or the last ``holdout`` share by time
    with item-kNN and sequential rules from the rest. When the sessions are the version's own training data (same
    fingerprint) the report says its numbers are optimistic — the held-out part was trained on too. A version
    with a directional pair (``stored.directional``) is scored in both modes."""
    directional = getattr(stored, "directional", None)
    if all_heldout:
        return evaluate_version(stored.embeddings, sessions, item_stats=stored.item_stats, ks=ks, n_boot=n_boot,
                                name=stored.name, directional=directional)
    train, test = time_split(sessions, holdout=holdout)
    report = evaluate_version(stored.embeddings, test, train=train, ks=ks, n_boot=n_boot, name=stored.name,
                              directional=directional)
    if (stored.manifest.get("dataset") or {}).get("fingerprint") == sessions.fingerprint():
        report.setdefault("notes", []).append(
            "this version was trained on these very sessions, held-out part included: its numbers are optimistic; "
            "evaluate the method (train it on the split) or use newer sessions (all held out)")
    return report
