"""How large must `graph`'s walk corpus be? HR@10 on Online Retail against walks per node × epochs.

``python -m benchmarks.graph_corpus [--data ../shared/data/online-retail/by-day] [--seeds 0,1]``

Skip-gram over the walks is the cost of ``graph`` and it is linear in items × walks per node × walk length ×
epochs, so the defaults should be the smallest corpus that does not cost quality. This trains ``graph`` on the
first 90 % of invoices (by time) for each setting and scores held-out next items, with every other parameter at
its default. Writes ``benchmarks/results/graph-corpus.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "online-retail" / "by-day"
SETTINGS = [  # (walks_per_node, epochs); walk_length and the rest stay at their defaults
    (8, 3), (8, 2), (8, 1), (4, 2), (4, 1), (2, 3), (16, 3),
]


def sweep(data: Path, seeds: list[int], log=sys.stderr) -> list[dict]:
    from behemb_core.demo import ONLINE_RETAIL_FILTERS
    from behemb_core.evaluation import evaluate_embeddings, next_item_pairs, time_split
    from behemb_core.ingest import read_event_log
    from behemb_core.methods.registry import parse_config
    from behemb_core.train import fit_method

    dataset = read_event_log(data, filters=ONLINE_RETAIL_FILTERS, name_column="Description")
    train, test = time_split(dataset.sessions, holdout=0.1)
    pairs = next_item_pairs(test)
    rows = []
    for walks, epochs in SETTINGS:
        cfg = parse_config("graph", {"walks_per_node": walks, "epochs": epochs})
        hr, seconds = [], []
        for seed in seeds:
            t0 = time.perf_counter()
            _, result, _ = fit_method("graph", cfg, sessions=train, seed=seed)
            seconds.append(time.perf_counter() - t0)
            hr.append(evaluate_embeddings(result.embeddings, pairs, k=10)["hr@10"])
        row = {"walks_per_node": walks, "epochs": epochs, "tokens_per_item_per_epoch": walks * cfg.walk_length,
               "hr@10": hr, "seconds": seconds}
        print(f"walks {walks:2d} × epochs {epochs}: HR@10 {', '.join(f'{h:.3f}' for h in hr)} "
              f"({sum(seconds) / len(seconds):.1f} s)", file=log, flush=True)
        rows.append(row)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| walks per node | epochs | walk tokens per item (all epochs) | HR@10 per seed | fit seconds (mean) |",
             "|---:|---:|---:|---|---:|"]
    for r in rows:
        lines.append(f"| {r['walks_per_node']} | {r['epochs']} | {r['tokens_per_item_per_epoch'] * r['epochs']} | "
                     f"{', '.join(f'{h:.3f}' for h in r['hr@10'])} | "
                     f"{sum(r['seconds']) / len(r['seconds']):.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.graph_corpus", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Online Retail event log folder")
    ap.add_argument("--seeds", default="0,1", help="comma-separated training seeds")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = ap.parse_args(argv)
    seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
    rows = sweep(args.data, seeds)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "graph-corpus.json").write_text(json.dumps(rows, indent=2) + "\n")
    md = ("### graph: walk corpus size against HR@10 on Online Retail (time split, last 10 % of invoices held out)\n\n"
          + markdown(rows))
    (args.out / "graph-corpus.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
