"""Fusion weights learned, not guessed: the tuner's behavior/content weights against the default 0.7, on real data
with content.

``python -m benchmarks.fusion_tuning [--datasets online-retail,movielens-small]
[--out benchmarks/results/fusion-tuning.json]``

For each dataset in the shared data folder (``../shared/data`` beside the repo, or ``BEHEMB_SHARED_DATA``):

* content: Online Retail — the product ``Description`` (item names → TF-IDF → SVD, ``content_from_text``);
  MovieLens-small — ``movies.csv`` title plus genres (``text_columns=["genres"]``);
* ``tune_method(sessions, "fusion", item_meta=…)``: the base (``ppmi_svd`` at its defaults) fitted once on the
  validation-train sessions, then the blend searched — one weight, then the tail / torso / head band weights —
  scored by HR@10 on the validation pairs; the evaluation hold-out is never read;
* ``evaluate_builder``: the last 10 % of sessions by time (the evaluation hold-out), the base fitted on the rest,
  scored behavior-only, fused with the default weight, fused with the best single weight (the tuner's first stage)
  and fused with the tuned per-band weights — overall and by popularity band of the query.

Writes ``fusion-tuning.json`` (every trial and figure, sizes, seconds, git commit, command) and ``fusion-tuning.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("BEHEMB_SHARED_DATA", REPO.parent / "shared" / "data"))
DEFAULT_OUT = REPO / "benchmarks" / "results" / "fusion-tuning.json"
METHOD = "fusion"
SEED = 0
HR = "hr@10"
WEIGHTS = ("behavior_weight", "tail_weight", "torso_weight", "head_weight")


def _online_retail(shared: Path) -> tuple[Any, Any, dict[str, Any], str]:
    from behemb_core.demo import ONLINE_RETAIL_FILTERS
    from behemb_core.ingest import read_event_log

    ds = read_event_log(shared / "online-retail" / "by-day", filters=ONLINE_RETAIL_FILTERS,
                        name_column="Description")
    return ds.sessions, ds.item_meta, {}, "product Description (item names) → TF-IDF 1–2-grams → SVD 128"


def _movielens_small(shared: Path) -> tuple[Any, Any, dict[str, Any], str]:
    from behemb_core.ingest import read_event_log, read_item_metadata

    ds = read_event_log(shared / "movielens-small" / "ratings.csv")
    meta = read_item_metadata(shared / "movielens-small" / "movies.csv")
    return (ds.sessions, meta, {"text_columns": ["genres"]},
            "movies.csv title + genres → TF-IDF 1–2-grams → SVD 128")


DATASETS = {"online-retail": ("Online Retail", _online_retail),
            "movielens-small": ("MovieLens-small", _movielens_small)}


def _git() -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                          check=False).stdout.strip()


def _weights(config: dict[str, Any]) -> dict[str, Any]:
    return {k: config[k] for k in WEIGHTS}


def run_dataset(name: str, shared: Path, *, log: Any = sys.stderr) -> dict[str, Any]:
    from behemb_core.evaluation import evaluate_builder
    from behemb_core.methods.registry import parse_config
    from behemb_core.tuning import tune_method

    title, loader = DATASETS[name]
    sessions, meta, start, content = loader(shared)
    print(f"[{name}] {sessions.n_sessions:,} sessions, {sessions.n_items:,} items", file=log, flush=True)
    t0 = time.perf_counter()
    result = tune_method(sessions, METHOD, base_config=start, item_meta=meta, seed=SEED, budget_seconds=3600)
    tune_seconds = time.perf_counter() - t0
    fitted = [t for t in result.trials if t["status"] == "ok" and t["stage"] in ("default", "weight")]
    single = max(fitted, key=lambda t: (t[HR], t["ndcg@10"]))  # what tuning one weight alone would choose
    single_cfg = parse_config(METHOD, {**start, "behavior_weight": single["params"]["behavior_weight"]})
    default_cfg = parse_config(METHOD, start)
    print(f"[{name}] tuned in {tune_seconds:.0f} s: {_weights(result.best_config.model_dump())}", file=log, flush=True)
    t1 = time.perf_counter()
    holdout = evaluate_builder(
        sessions, METHOD, {"default": default_cfg, "single weight": single_cfg, "tuned": result.best_config},
        item_meta=meta, seed=SEED,
    )
    return {
        "title": title,
        "content": content,
        "sessions": sessions.n_sessions,
        "items": sessions.n_items,
        "start_config": start,
        "tuning": result.to_json(),
        "tuning_seconds": round(tune_seconds, 1),
        "validation": {"default": result.default_score,
                       "single weight": {HR: single[HR], "ndcg@10": single["ndcg@10"]},
                       "tuned": result.best_score},
        "single_weight": single["params"]["behavior_weight"],
        "tuned_weights": _weights(result.best_config.model_dump()),
        "holdout": holdout,
        "holdout_seconds": round(time.perf_counter() - t1, 1),
    }


def _f(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def markdown(results: dict[str, Any]) -> str:
    lines = ["# Fusion weights learned on the validation split", "",
             f"`{results['command']}` — commit `{results['commit'][:10]}`, seed {SEED}. The tuner fits the base "
             "(`ppmi_svd` defaults) once on the validation-train sessions and searches only the blend; the hold-out "
             "(last 10 % of sessions by time) is never read by it. HR@10 on next-item pairs; a query without a vector "
             "is a miss.", ""]
    lines += ["| dataset | content | learned weights (w = behavior share) | validation HR@10: default 0.7 → one weight "
              "→ per band | hold-out HR@10: behavior only / default 0.7 / one weight / per band | tuning |",
              "|---|---|---|---|---|---|"]
    for r in results["datasets"].values():
        w = r["tuned_weights"]
        bands = ", ".join(f"{b} {w[f'{b}_weight'] if w[f'{b}_weight'] is not None else w['behavior_weight']}"
                          for b in ("tail", "torso", "head"))
        v, h = r["validation"], r["holdout"]
        lines.append(
            f"| {r['title']} | {r['content']} | one weight {r['single_weight']}; per band: w {w['behavior_weight']}, "
            f"{bands} | {_f(v['default'][HR])} → {_f(v['single weight'][HR])} → {_f(v['tuned'][HR])} | "
            f"{_f(h['base'][HR])} / {_f(h['built']['default'][HR])} / {_f(h['built']['single weight'][HR])} / "
            f"{_f(h['built']['tuned'][HR])} | {r['tuning_seconds']:.0f} s, {len(r['tuning']['trials'])} trials |")
    for r in results["datasets"].values():
        h = r["holdout"]
        lines += ["", f"## {r['title']}: hold-out HR@10 by popularity band of the query "
                  f"({h['split']['pairs']:,} pairs of {h['split']['test_sessions']:,} sessions; events in the "
                  "training part)", "",
                  "| band | events | pairs | behavior only | fused, default 0.7 | fused, one weight "
                  "| fused, per band |",
                  "|---|---|---|---|---|---|---|"]
        rows = zip(h["base"]["by_popularity_band"], *(h["built"][n]["by_popularity_band"]
                                                      for n in ("default", "single weight", "tuned")), strict=True)
        for base, d, s, t in rows:
            lines.append(f"| {base['band']} | {base['events']} | {base['pairs']:,} | {_f(base[HR])} | {_f(d[HR])} | "
                         f"{_f(s[HR])} | {_f(t[HR])} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", default="online-retail,movielens-small")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    command = "python -m benchmarks.fusion_tuning " + " ".join(argv if argv is not None else sys.argv[1:])
    results: dict[str, Any] = {"command": command.strip(), "commit": _git(), "datasets": {}}
    for name in args.datasets.split(","):
        results["datasets"][name] = run_dataset(name, SHARED_DATA)
        args.out.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
        args.out.with_suffix(".md").write_text(markdown(results), encoding="utf-8")
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
