"""Popularity-collapse calibration on real data: how popularity-bound are the baselines and every method?

``python -m benchmarks.collapse_calibration [--datasets online-retail,movielens-small]
[--out benchmarks/results/collapse_calibration.json]``

For each shared dataset (read exactly as :mod:`benchmarks.quality` reads it: Online Retail invoices by day with
the demo's filters, MovieLens-small ratings as time-ordered sessions) the sessions are split by time (first 90 %
to train, last 10 % held out, as ``evaluate`` does). On the training part this measures the popularity diagnostics
(:func:`behemb_core.diagnostics.list_diagnostics`, k = 10: hub share, head-slot lift, head slots against
interactions, Gini, coverage, popularity correlation) of

* most-popular (every list = the 10 best sellers): the fully popularity-bound reference;
* item-kNN (cosine over item × session incidence) and the target ranking ``cooc_softmax`` fits;
* every registered method at its defaults (fusion with the dataset's item names; MovieLens: titles and genres);
* ``cooc_softmax`` with a stronger popularity damping (γ 0.2, 0.3, 0.5) — is it the thresholds or the defaults?
* ``cooc_softmax`` and item-kNN on *all* sessions: what sign-off judges (no HR: nothing is held out);

next to each model's HR@10 on the held-out next-item pairs, the absolute verdict (the default
``CollapseThresholds``) and the verdict relative to item-kNN on the same sessions
(:func:`behemb_core.diagnostics.judge_collapse`). Writes ``collapse_calibration.json`` and ``.md`` beside it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .quality import DATASETS, SHARED_DATA, _git

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "benchmarks" / "results" / "collapse_calibration.json"
K = 10
SEED = 0
HOLDOUT = 0.1
METRICS = ("hub_share", "head_slot_lift", "head_slot_vs_interactions", "k_occurrence_gini", "coverage",
           "popularity_neighbor_spearman")
GAMMAS = (0.2, 0.3, 0.5)


def _demo(shared: Path) -> Any:
    from behemb_core.demo import load_demo_dataset

    return load_demo_dataset()


#: the shared datasets of :mod:`benchmarks.quality`, and the bundled demo (what the app and its browser test train on)
SETS: dict[str, tuple[str, Any]] = {**{k: (v[0], v[1]) for k, v in DATASETS.items()},
                                    "demo": ("Bundled demo (Online Retail, Oct–Nov 2011)", _demo)}


def _load(name: str, shared: Path) -> Any:
    from behemb_core.ingest.item_names import read_item_metadata

    dataset = SETS[name][1](shared)
    if name == "movielens-small":
        dataset = dataset.with_metadata(read_item_metadata(shared / "movielens-small" / "movies.csv"))
    return dataset


def measure_planted(*, log: Any = sys.stderr) -> dict[str, Any]:
    """The planted-cluster calibration of :class:`~behemb_core.diagnostics.CollapseThresholds` (600 items, 30
    clusters, Zipf popularity): ppmi_svd (dim 32) and the same vectors pushed onto a shared log-popularity
    direction (``tests/test_diagnostics.py``'s ``_collapse``, c = 1 and 3, three seeds), judged against item-kNN."""
    from behemb_core.diagnostics import CollapseThresholds, align_popularity, judge_collapse, popularity_diagnostics
    from behemb_core.embeddings import make_embeddings
    from behemb_core.evaluation.collapse import knn_reference
    from behemb_core.methods.base import TrainingInputs
    from behemb_core.methods.registry import METHODS
    from behemb_core.synthetic import planted_sessions

    thresholds = CollapseThresholds()
    sessions = planted_sessions(n_items=600, n_clusters=30, n_sessions=6000, seed=7).sessions
    ref = knn_reference(sessions, k=K, thresholds=thresholds)
    spec = next(m for m in METHODS.values() if m.version_prefix == "ppmi")
    good = spec.fit(TrainingInputs(sessions=sessions), spec.parse_config({"dim": 32}), seed=0).embeddings
    stats = sessions.item_stats()
    events = align_popularity(good.vocab, stats)
    assert events is not None
    rows: dict[str, dict[str, Any]] = {}

    def keep(label: str, emb: Any) -> None:
        diag = popularity_diagnostics(emb, stats, k=K, thresholds=thresholds)
        judged = judge_collapse(diag, ref)
        rows[label] = {"kind": "planted", "hr@10": None, "seconds": None, "config": None,
                       "metrics": {m: diag["metrics"][m] for m in METRICS},
                       "absolute_verdict": diag["verdict"], "absolute_tripped": [t["rule"] for t in diag["tripped"]],
                       "relative_verdict": judged["verdict"], "relative_tripped": judged["tripped_rules"],
                       "summary": judged["summary"]}
        print(f"  {label:28s} lift {diag['metrics']['head_slot_lift']:.2f}  abs {diag['verdict']:9s} rel "
              f"{judged['verdict']}", file=log, flush=True)

    keep(f"{spec.name} (dim 32)", good)
    for c in (0.0, 1.0, 3.0):
        for seed in (0, 1, 2):
            rng = np.random.default_rng(seed)
            u = rng.normal(size=good.dim)
            u /= np.linalg.norm(u)
            noise = rng.normal(size=good.vectors.shape)
            noise /= np.linalg.norm(noise, axis=1, keepdims=True)
            v = np.sqrt(0.5) * good.vectors + np.sqrt(0.5) * noise + c * np.log1p(events)[:, None] * u[None, :]
            keep(f"half noise + {c:g}·log-popularity·u, seed {seed}", make_embeddings(good.vocab, v))
    return {"title": "Planted clusters (600 items, 30 clusters, Zipf popularity, seed 7)",
            "train_sessions": sessions.n_sessions, "items": sessions.n_items, "events": sessions.n_events, "pairs": 0,
            "head_interaction_share": ref["metrics"]["head_interaction_share"], "reference": ref,
            "models": {"item-kNN": {"kind": "baseline", "hr@10": None, "seconds": ref["seconds"], "config": None,
                                    "metrics": {m: ref["metrics"][m] for m in METRICS},
                                    "absolute_verdict": ref["verdict"], "absolute_tripped": [],
                                    "relative_verdict": "ok", "relative_tripped": [], "summary": ""}, **rows}}


def _hr(ranks: np.ndarray) -> float:
    return float(np.mean((ranks > 0) & (ranks <= K)))


def measure_dataset(name: str, shared: Path, *, log: Any = sys.stderr) -> dict[str, Any]:
    """Every model's diagnostics and HR@10 on one dataset (see the module docstring)."""
    from behemb_core.diagnostics import CollapseThresholds, judge_collapse, list_diagnostics, popularity_diagnostics
    from behemb_core.evaluation import next_item_pairs, ranks_for_embeddings, time_split
    from behemb_core.evaluation.baselines import ranks_for_item_knn, ranks_for_most_popular, ranks_for_target
    from behemb_core.evaluation.collapse import item_knn_lists, knn_reference, most_popular_lists
    from behemb_core.methods.registry import DEFAULT_METHOD, METHODS, get_method
    from behemb_core.target_similarity import target_similarity, top_k_by_target
    from behemb_core.train import fit_method

    thresholds = CollapseThresholds()
    dataset = _load(name, shared)
    train, test = time_split(dataset.sessions, holdout=HOLDOUT)
    pairs = next_item_pairs(test)
    pop = train.item_counts().astype(np.float64)
    ref = knn_reference(train, k=K, thresholds=thresholds)
    rows: dict[str, dict[str, Any]] = {}

    def keep(label: str, kind: str, diag: dict[str, Any], hr: float | None, seconds: float | None,
             config: dict[str, Any] | None = None, reference: dict[str, Any] | None = None) -> None:
        judged = judge_collapse(diag, reference or ref)
        rows[label] = {"kind": kind, "hr@10": hr, "seconds": seconds, "config": config,
                       "metrics": {m: diag["metrics"][m] for m in METRICS},
                       "absolute_verdict": diag["verdict"], "absolute_tripped": [t["rule"] for t in diag["tripped"]],
                       "relative_verdict": judged["verdict"], "relative_tripped": judged["tripped_rules"],
                       "summary": judged["summary"]}
        m = diag["metrics"]
        print(f"  {label:28s} HR@10 {_f(hr, 4)}  hubs {m['hub_share']:.4f}  lift {m['head_slot_lift']:.2f}  "
              f"vs-int {m['head_slot_vs_interactions']:.3f}  gini {m['k_occurrence_gini']:.2f}  "
              f"abs {diag['verdict']:9s} rel {judged['verdict']}", file=log, flush=True)

    print(f"{name}: {train.n_sessions:,} training sessions, {train.n_items:,} items, {len(pairs):,} pairs",
          file=log, flush=True)
    keep("most-popular", "baseline", list_diagnostics(most_popular_lists(train, K), train.vocab, pop, k=K),
         _hr(ranks_for_most_popular(train, pairs, K)), None)
    knn_diag = list_diagnostics(item_knn_lists(train, K), train.vocab, pop, k=K)
    knn_head_share = knn_diag["metrics"]["head_interaction_share"]
    keep("item-kNN", "baseline", knn_diag, _hr(ranks_for_item_knn(train, pairs, K)), ref["seconds"])
    default_spec = get_method(DEFAULT_METHOD)
    assert default_spec.target is not None
    target = default_spec.target(default_spec.parse_config(None)).as_dict()
    t = target_similarity(train, **target).matrix
    keep("target ranking (default)", "baseline",
         list_diagnostics(top_k_by_target(t, np.arange(train.n_items), K), train.vocab, pop, k=K),
         _hr(ranks_for_target(train, pairs, K, **target)), None, target)

    runs: list[tuple[str, str, dict[str, Any] | None]] = [(m, m, None) for m in METHODS]
    runs += [(f"{DEFAULT_METHOD} γ={g}", DEFAULT_METHOD, {"gamma": g}) for g in GAMMAS]
    for label, method, config in runs:
        spec = get_method(method)
        started = time.perf_counter()
        cfg, result, _ = fit_method(spec, config, sessions=train, item_meta=dataset.item_meta, seed=SEED)
        seconds = round(time.perf_counter() - started, 2)
        emb = result.embeddings
        ranks, _ = ranks_for_embeddings(emb, pairs, K)
        diag = popularity_diagnostics(emb, train.item_stats(), k=K, thresholds=thresholds, method=method)
        keep(label, "method", diag, _hr(ranks), seconds, cfg.model_dump(mode="json"))
    # What sign-off judges: the default method trained on all sessions, against item-kNN on all sessions.
    every = dataset.sessions
    full_ref = knn_reference(every, k=K, thresholds=thresholds)
    started = time.perf_counter()
    cfg, result, _ = fit_method(DEFAULT_METHOD, None, sessions=every, seed=SEED)
    diag = popularity_diagnostics(result.embeddings, every.item_stats(), k=K, thresholds=thresholds,
                                  method=DEFAULT_METHOD)
    keep(f"{DEFAULT_METHOD} (all sessions)", "method", diag, None, round(time.perf_counter() - started, 2),
         cfg.model_dump(mode="json"), full_ref)
    keep("item-kNN (all sessions)", "baseline",
         list_diagnostics(item_knn_lists(every, K), every.vocab, every.item_counts().astype(np.float64), k=K),
         None, full_ref["seconds"], None, full_ref)
    return {"title": SETS[name][0], "train_sessions": train.n_sessions, "items": train.n_items,
            "events": train.n_events, "pairs": len(pairs),
            "head_interaction_share": knn_head_share,
            "reference": ref, "models": rows}


def _f(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def markdown(results: dict[str, Any]) -> str:
    from behemb_core.diagnostics import CollapseThresholds

    margin = CollapseThresholds().knn_margin
    lines = ["### Popularity collapse on real data: baselines and every method (k = 10)", "",
             results["protocol"], "",
             f"Command: `{results['command']}` · commit `{results['git']['commit'][:12]}` · "
             f"started {results['started_at']}", "",
             *([f"Uncommitted library changes at the time: {', '.join(results['git']['uncommitted_library_files'])}",
                ""] if results["git"]["uncommitted_library_files"] else []),
             "Relative rule: a tripped rule counts against the version only when its metric is past the absolute "
             f"threshold *and* more than {margin:g}× item-kNN's own value on the same sessions (coverage: below "
             f"item-kNN's ÷ {margin:g}).", ""]
    for ds in results["datasets"].values():
        lines += [f"#### {ds['title']}", "",
                  f"{ds['train_sessions']:,} training sessions, {ds['items']:,} items, {ds['events']:,} events"
                  + (f"; HR@10 on {ds['pairs']:,} held-out pairs" if ds["pairs"] else " (all sessions; no HR)")
                  + f". The top 1 % of items hold {ds['head_interaction_share']:.1%} of the training events.", "",
                  "| model | HR@10 | hub share | head-slot lift | lift ÷ item-kNN's | head slots ÷ interactions | "
                  "Gini | coverage | pop. Spearman | absolute verdict (tripped) | relative to item-kNN (tripped) |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
        for label, row in ds["models"].items():
            m = row["metrics"]
            knn_lift = (ds["reference"]["metrics"]["head_slot_lift"] if "all sessions" not in label
                        else ds["models"]["item-kNN (all sessions)"]["metrics"]["head_slot_lift"])
            ratio = m["head_slot_lift"] / knn_lift if knn_lift else None
            lines.append(
                f"| {label} | {_f(row['hr@10'], 4)} | {_f(m['hub_share'], 4)} | {_f(m['head_slot_lift'], 2)} | "
                f"{_f(ratio, 2)}× | "
                f"{_f(m['head_slot_vs_interactions'])} | {_f(m['k_occurrence_gini'], 2)} | {_f(m['coverage'], 2)} | "
                f"{_f(m['popularity_neighbor_spearman'], 2)} | {row['absolute_verdict']} "
                f"({', '.join(row['absolute_tripped']) or '—'}) | {row['relative_verdict']} "
                f"({', '.join(row['relative_tripped']) or '—'}) |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join([*SETS, "planted"]))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--markdown-only", action="store_true",
                        help="Rewrite the .md beside --out from its JSON; measure nothing.")
    parser.add_argument("--merge", action="store_true",
                        help="Keep the other datasets of an existing --out file; re-measure only --datasets.")
    args = parser.parse_args(argv)
    if args.markdown_only:
        args.out.with_suffix(".md").write_text(markdown(json.loads(args.out.read_text())) + "\n")
        return 0
    from .machine import machine_info

    results: dict[str, Any] = {
        "command": "python -m benchmarks.collapse_calibration" + (" " + " ".join(argv) if argv else ""),
        "protocol": (f"Sessions split by time ({1 - HOLDOUT:.0%} train, last {HOLDOUT:.0%} held out); every model "
                     f"is built on the training part (seed {SEED}, defaults unless noted) and its top-{K} lists over "
                     "the whole training catalogue are diagnosed with the training popularity; HR@10 ranks each "
                     "held-out next item among its query's top 10."),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(), "git": _git(), "datasets": {},
    }
    if args.merge and args.out.exists():
        results["datasets"] = json.loads(args.out.read_text())["datasets"]
    for name in args.datasets.split(","):
        results["datasets"][name] = measure_planted() if name == "planted" else measure_dataset(name, SHARED_DATA)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1, default=str) + "\n")
        args.out.with_suffix(".md").write_text(markdown(results) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
