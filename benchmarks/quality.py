"""Quality on real data: every behavior method with its defaults against the baselines, on held-out next items.

``python -m benchmarks.quality [--datasets online-retail,movielens-small] [--out benchmarks/results/quality.json]``

For each dataset in the shared data folder (``../shared/data`` beside the repo, or ``BEHEMB_SHARED_DATA``) this
runs ``behemb_core.evaluation.evaluate_method`` for ``cooc_softmax``, ``ppmi_svd``, ``item2vec`` and ``graph`` with
their default configs: trained on the first 90 % of sessions by time (seed 0), scored on the consecutive pairs of
the last 10 % at K = 10, with a 200-sample bootstrap interval, next to most-popular, item-kNN and (for
``cooc_softmax``) the ranking by its target similarity. Writes ``quality.json`` (every figure, the dataset sizes,
training seconds, machine and library versions, the git commit and the command) and ``quality.md`` beside it,
after every method, so a run that dies keeps what it measured. ``--readme`` prints the README table from an
existing ``quality.json`` without training anything.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("BEHEMB_SHARED_DATA", REPO.parent / "shared" / "data"))
DEFAULT_OUT = REPO / "benchmarks" / "results" / "quality.json"
METHODS = ("cooc_softmax", "ppmi_svd", "item2vec", "graph")
BASELINES = ("target_ranking", "item_knn", "most_popular")
K = 10
HOLDOUT = 0.1
SEED = 0
N_BOOT = 200
METRICS = (f"hr@{K}", f"ndcg@{K}")


def _online_retail(shared: Path) -> Any:
    from behemb_core.demo import ONLINE_RETAIL_FILTERS
    from behemb_core.ingest import read_event_log

    return read_event_log(shared / "online-retail" / "by-day", filters=ONLINE_RETAIL_FILTERS,
                          name_column="Description")


def _movielens_small(shared: Path) -> Any:
    from behemb_core.ingest import read_event_log

    return read_event_log(shared / "movielens-small" / "ratings.csv")


#: name → (title, loader, how it is read — for the record)
DATASETS: dict[str, tuple[str, Callable[[Path], Any], str]] = {
    "online-retail": ("Online Retail", _online_retail,
                      "read_event_log(<shared>/online-retail/by-day, filters=ONLINE_RETAIL_FILTERS, "
                      "name_column='Description')"),
    "movielens-small": ("MovieLens-small", _movielens_small, "read_event_log(<shared>/movielens-small/ratings.csv)"),
}
LABELS = {
    "cooc_softmax": "`cooc_softmax`", "ppmi_svd": "`ppmi_svd`", "item2vec": "`item2vec`", "graph": "`graph`",
    "target_ranking": "target ranking (what cooc_softmax fits)", "item_knn": "item-kNN",
    "most_popular": "most-popular",
}


def _git() -> dict[str, Any]:
    def run(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False).stdout.strip()

    return {"commit": run("rev-parse", "HEAD"),
            "uncommitted_library_files": run("status", "--porcelain", "--", "behemb_core").splitlines()}


def _block(report_block: dict[str, Any], knn: dict[str, Any]) -> dict[str, Any]:
    """The figures kept per model: HR/NDCG/MRR@K, their intervals and the ratios to item-kNN."""
    out = {m: report_block[m] for m in (*METRICS, f"mrr@{K}")}
    out["ci95"] = {m: report_block.get("ci95", {}).get(m) for m in METRICS}
    out["ratio_to_item_knn"] = {m: (report_block[m] / knn[m] if knn[m] > 0 else None) for m in METRICS}
    return out


def evaluate_dataset(name: str, shared: Path, *, on_method: Callable[[dict[str, Any]], None] | None = None,
                     log=sys.stderr) -> dict[str, Any]:
    """Every method's report on one dataset, reduced to the figures of the quality table."""
    from behemb_core.evaluation import evaluate_method
    from behemb_core.methods.registry import parse_config

    from .ours import echo_to

    title, load, how = DATASETS[name]
    t0 = time.perf_counter()
    sessions = load(shared).sessions
    result: dict[str, Any] = {
        "title": title, "read": how, "read_seconds": round(time.perf_counter() - t0, 2),
        "sessions": sessions.n_sessions, "items": sessions.n_items, "events": sessions.n_events,
        "methods": {}, "baselines": {},
    }
    print(f"{title}: {sessions.n_sessions:,} sessions, {sessions.n_items:,} items, {sessions.n_events:,} events",
          file=log, flush=True)
    for method in METHODS:
        config = parse_config(method, None)  # the defaults, workers included
        print(f"  {method} {config.model_dump(mode='json')}", file=log, flush=True)
        report = evaluate_method(sessions, method, config, seeds=[SEED], ks=[K], holdout=HOLDOUT, split="time",
                                 n_boot=N_BOOT, progress=echo_to(log))
        split = report["split"]
        result.update({"train_sessions": split["train_sessions"], "test_sessions": split["test_sessions"],
                       "pairs": split["pairs"]})
        knn = report["baselines"]["item_knn"]
        for base, block in report["baselines"].items():
            kept = _block(block, knn)
            if "target" in block:
                kept["target"] = block["target"]
            previous = result["baselines"].get(base)
            if previous is not None and previous[METRICS[0]] != kept[METRICS[0]]:
                raise RuntimeError(f"{base} differs between two methods' reports on {name}: the split moved")
            result["baselines"][base] = kept
        method_block = _block(report["method"], knn)
        method_block.update({
            "config": report["method"]["config"], "train_seconds": report["method"]["fit_seconds"][0],
            "queries_without_vector": report["method"]["queries_without_vector"],
        })
        result["methods"][method] = method_block
        print(f"  {method}: HR@{K} {method_block[METRICS[0]]:.4f} (item-kNN {knn[METRICS[0]]:.4f}), "
              f"trained in {method_block['train_seconds']:.1f} s", file=log, flush=True)
        if on_method is not None:
            on_method(result)
    return result


# ------------------------------------------------------------------------------------------------- output
def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def _rows(ds: dict[str, Any]) -> list[tuple[str, dict[str, Any], float | None]]:
    rows = [(m, ds["methods"][m], ds["methods"][m]["train_seconds"]) for m in METHODS if m in ds["methods"]]
    return rows + [(b, ds["baselines"][b], None) for b in BASELINES if b in ds["baselines"]]


def markdown(results: dict[str, Any]) -> str:
    """The full table per dataset, with intervals, ratios and training seconds."""
    hr, ndcg = METRICS
    lines = [f"### Quality on real data: HR@{K} and NDCG@{K} on held-out next items", "",
             results["protocol"]["text"], "",
             f"Command: `{results['command']}` · commit `{results['git']['commit'][:12]}` · "
             f"{results['machine']['cpu']}, {results['machine']['cores_usable']} cores · "
             f"started {results['started_at']}", ""]
    if results["git"]["uncommitted_library_files"]:
        lines += [f"Uncommitted library changes at the time: {', '.join(results['git']['uncommitted_library_files'])}",
                  ""]
    for ds in results["datasets"].values():
        lines += [f"#### {ds['title']}", "",
                  f"{ds['sessions']:,} sessions ({ds.get('train_sessions', 0):,} for training, "
                  f"{ds.get('test_sessions', 0):,} held out), {ds['items']:,} items, {ds['events']:,} events, "
                  f"{ds.get('pairs', 0):,} held-out pairs.", "",
                  f"| model | HR@{K} | 95 % CI | NDCG@{K} | 95 % CI | HR ÷ item-kNN | NDCG ÷ item-kNN | "
                  "train seconds |",
                  "|---|---:|---|---:|---|---:|---:|---:|"]
        for name, block, seconds in _rows(ds):
            ci = [block["ci95"].get(m) or [None, None] for m in METRICS]
            lines.append(
                f"| {LABELS[name]} | {_fmt(block[hr], 4)} | {_fmt(ci[0][0], 4)}–{_fmt(ci[0][1], 4)} | "
                f"{_fmt(block[ndcg], 4)} | {_fmt(ci[1][0], 4)}–{_fmt(ci[1][1], 4)} | "
                f"{_ratio(block['ratio_to_item_knn'][hr])} | {_ratio(block['ratio_to_item_knn'][ndcg])} | "
                f"{'' if seconds is None else f'{seconds:.1f}'} |"
            )
        lines.append("")
    return "\n".join(lines)


def readme_table(results: dict[str, Any]) -> str:
    """The README's table: HR@K, NDCG@K and HR ÷ item-kNN per model and dataset (every method at defaults)."""
    hr, ndcg = METRICS
    datasets = list(results["datasets"].values())
    head = "| model | " + " | ".join(
        f"{d['title']} HR@{K} | NDCG@{K} | HR ÷ item-kNN" for d in datasets) + " |"
    lines = [head, "|---|" + "---:|---:|---:|" * len(datasets)]
    for name in (*METHODS, *BASELINES):
        cells = []
        for d in datasets:
            block = d["methods"].get(name) or d["baselines"].get(name)
            cells += ["—"] * 3 if block is None else [
                _fmt(block[hr]), _fmt(block[ndcg]), _ratio(block["ratio_to_item_knn"][hr])]
        lines.append(f"| {LABELS[name]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run(datasets: list[str], out: Path, command: str, *, log=sys.stderr) -> dict[str, Any]:
    from .machine import machine_info

    results: dict[str, Any] = {
        "command": command,
        "protocol": {
            "holdout": HOLDOUT, "split": "time", "k": K, "seed": SEED, "bootstrap": N_BOOT,
            "configs": "each method's defaults (behemb_core.methods.registry)",
            "text": f"Each method with its default config is trained (seed {SEED}) on the first "
                    f"{1 - HOLDOUT:.0%} of sessions by start time; every consecutive pair of different items in "
                    f"the last {HOLDOUT:.0%} is a query (the first item) and its target (the next); HR@{K} and "
                    f"NDCG@{K} rank the target among the query's top {K}, with a {N_BOOT}-sample bootstrap "
                    "interval over pairs. Baselines are scored on the same pairs.",
        },
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git": _git(),
        "machine": machine_info(),
        "shared_data": str(SHARED_DATA),
        "datasets": {},
    }
    out.parent.mkdir(parents=True, exist_ok=True)

    def save(_: Any = None) -> None:
        out.write_text(json.dumps(results, indent=2) + "\n")
        out.with_suffix(".md").write_text(markdown(results))

    for name in datasets:

        def keep(partial: dict[str, Any], name: str = name) -> None:
            results["datasets"][name] = partial
            save()

        evaluate_dataset(name, SHARED_DATA, on_method=keep, log=log)
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    save()
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", default=",".join(DATASETS),
                    help=f"comma-separated, from {', '.join(DATASETS)}")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the JSON file (the .md goes beside it)")
    ap.add_argument("--readme", action="store_true", help="print the README table from --out and exit")
    args = ap.parse_args(argv)
    if args.readme:
        print(readme_table(json.loads(args.out.read_text())), end="")
        return 0
    names = [d.strip() for d in args.datasets.split(",") if d.strip()]
    unknown = [d for d in names if d not in DATASETS]
    if unknown or not names:
        ap.error(f"unknown dataset(s) {unknown}; choose from {', '.join(DATASETS)}")
    command = " ".join(["python -m benchmarks.quality", *(sys.argv[1:] if argv is None else argv)])
    results = run(names, args.out, command)
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
