"""Sampled vs full softmax for cooc_softmax: held-out HR@10 on real data, and the cost of an epoch by size.

``python -m benchmarks.softmax_agreement [--part agreement|cost|both] [--seeds 0,1,2] [--sizes 5000,…]``

1. Agreement: on Online Retail and MovieLens-small (small enough for the exact softmax) the method is trained
   with ``softmax="full"`` and ``softmax="sampled"`` (defaults otherwise, several seeds) on the first 90 % of
   sessions by time and scored on the held-out next items — the same protocol as ``benchmarks.quality``.
2. Cost: seconds per epoch of both estimators on planted catalogues of growing size, which is where the
   ``softmax="auto"`` threshold (``FULL_SOFTMAX_MAX_ITEMS``) comes from.

Writes ``benchmarks/results/softmax-agreement.{json,md}`` and ``softmax-cost.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from behemb_core.methods.base import TrainingInputs
from behemb_core.methods.cooc_softmax import FULL_SOFTMAX_MAX_ITEMS
from behemb_core.methods.registry import get_method, parse_config

from .machine import machine_info

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BEHEMB_SHARED_DATA", REPO.parent / "shared" / "data"))


def _datasets() -> dict[str, Any]:
    from behemb_core.demo import ONLINE_RETAIL_FILTERS
    from behemb_core.ingest import read_event_log

    return {
        "online-retail": lambda: read_event_log(SHARED / "online-retail" / "by-day", filters=ONLINE_RETAIL_FILTERS,
                                                name_column="Description").sessions,
        "movielens-small": lambda: read_event_log(SHARED / "movielens-small" / "ratings.csv").sessions,
    }


def agreement(seeds: list[int], log) -> list[dict[str, Any]]:
    from behemb_core.evaluation import evaluate_embeddings, next_item_pairs, time_split

    rows = []
    for name, load in _datasets().items():
        train, test = time_split(load(), holdout=0.1)
        pairs = next_item_pairs(test)
        for softmax in ("full", "sampled"):
            for seed in seeds:
                t0 = time.perf_counter()
                res = get_method("cooc_softmax").fit(
                    TrainingInputs(sessions=train), parse_config("cooc_softmax", {"softmax": softmax}), seed=seed)
                seconds = time.perf_counter() - t0
                ev = evaluate_embeddings(res.embeddings, pairs, k=10)
                rows.append({"dataset": name, "softmax": softmax, "seed": seed, "hr@10": ev["hr@10"],
                             "ndcg@10": ev["ndcg@10"], "items": len(res.embeddings), "pairs": len(pairs),
                             "seconds": round(seconds, 2),
                             "seconds_per_epoch": float(np.median(res.report["seconds_per_epoch"]))})
                print(f"{name} {softmax} seed {seed}: HR@10 {ev['hr@10']:.4f} ({seconds:.1f} s)", file=log, flush=True)
    return rows


def cost(sizes: list[int], log) -> list[dict[str, Any]]:
    from behemb_core.softmax_fit import SoftmaxFitParams, fit_cosine_softmax
    from behemb_core.synthetic import planted_sessions
    from behemb_core.target_similarity import target_similarity

    rows = []
    for n in sizes:
        planted = planted_sessions(n_items=n, n_clusters=max(2, n // 50), n_sessions=5 * n, seed=0)
        target = target_similarity(planted.sessions)
        keep = np.flatnonzero(target.has_signal)
        t = target.matrix[keep][:, keep].tocsr()
        for full in (True, False):
            res = fit_cosine_softmax(t, SoftmaxFitParams(epochs=2), seed=0, full=full)
            rows.append({"items": len(keep), "target_nnz": int(t.nnz), "softmax": "full" if full else "sampled",
                         "seconds_per_epoch": min(res.seconds_per_epoch)})
            print(f"{len(keep):,} items, {'full' if full else 'sampled'}: {min(res.seconds_per_epoch):.2f} s/epoch",
                  file=log, flush=True)
    return rows


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for name in sorted({r["dataset"] for r in rows}):
        full = [r["hr@10"] for r in rows if r["dataset"] == name and r["softmax"] == "full"]
        sampled = [r["hr@10"] for r in rows if r["dataset"] == name and r["softmax"] == "sampled"]
        out.append({"dataset": name, "full_mean": float(np.mean(full)), "sampled_mean": float(np.mean(sampled)),
                    "full_spread": [min(full), max(full)], "sampled_spread": [min(sampled), max(sampled)],
                    "relative_difference": float(np.mean(sampled) / np.mean(full) - 1)})
    return out


def agreement_markdown(result: dict[str, Any]) -> str:
    lines = ["### cooc_softmax: sampled vs full softmax", "",
             f"Defaults otherwise (negatives {result['negatives']}); seeds {result['seeds']}; "
             f"`softmax=\"auto\"` uses the full softmax up to {result['threshold']:,} items.", "",
             "| dataset | full HR@10 (mean, range) | sampled HR@10 (mean, range) | sampled / full − 1 |",
             "|---|---|---|---:|"]
    for s in result["summary"]:
        lines.append(f"| {s['dataset']} | {s['full_mean']:.4f} ({s['full_spread'][0]:.4f}–{s['full_spread'][1]:.4f}) "
                     f"| {s['sampled_mean']:.4f} ({s['sampled_spread'][0]:.4f}–{s['sampled_spread'][1]:.4f}) "
                     f"| {100 * s['relative_difference']:+.2f} % |")
    return _footer(lines, result)


def cost_markdown(result: dict[str, Any]) -> str:
    lines = ["### cooc_softmax: seconds per epoch of the two estimators by catalogue size", "",
             f"Planted sessions (5 per item), defaults (negatives {result['negatives']}), fastest of 2 epochs.", "",
             "| items | target non-zeros | full s/epoch | sampled s/epoch |", "|---:|---:|---:|---:|"]
    by_n: dict[int, dict[str, Any]] = {}
    for r in result["cost"]:
        by_n.setdefault(r["items"], {"nnz": r["target_nnz"]})[r["softmax"]] = r["seconds_per_epoch"]
    for n, r in sorted(by_n.items()):
        lines.append(f"| {n:,} | {r['nnz']:,} | {r['full']:.2f} | {r['sampled']:.2f} |")
    return _footer(lines, result)


def _footer(lines: list[str], result: dict[str, Any]) -> str:
    m = result["machine"]
    lines += ["", f"Machine: {m['cpu']}, {m['cores_usable']} cores. `{result['command']}`, "
                  f"finished {result['finished']}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.softmax_agreement", description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=["agreement", "cost", "both"], default="both")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--sizes", default="5000,10000,20000,40000", help="planted catalogue sizes for the cost table")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = ap.parse_args(argv)
    given = argv if argv is not None else sys.argv[1:]
    common = {"command": "python -m benchmarks.softmax_agreement " + " ".join(given),
              "negatives": parse_config("cooc_softmax", {}).negatives, "threshold": FULL_SOFTMAX_MAX_ITEMS}
    args.out.mkdir(parents=True, exist_ok=True)
    outputs = []
    if args.part in ("agreement", "both"):
        seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
        rows = agreement(seeds, sys.stderr)
        result = {**common, "seeds": seeds, "runs": rows, "summary": summarize(rows), "machine": machine_info(),
                  "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
        outputs.append(("softmax-agreement", result, agreement_markdown(result)))
    if args.part in ("cost", "both"):
        sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
        result = {**common, "cost": cost(sizes, sys.stderr), "machine": machine_info(),
                  "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
        outputs.append(("softmax-cost", result, cost_markdown(result)))
    for name, result, md in outputs:
        (args.out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        (args.out / f"{name}.md").write_text(md)
        print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
