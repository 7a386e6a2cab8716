"""How much the "next item" mode gains, under two protocols and with every parameter tuned: the evidence a person
needs to judge the criterion issue 24 leaves open on MovieLens-small.

``python -m benchmarks.next_mode_protocols [--datasets online-retail,movielens-small] [--seeds 8]
[--out benchmarks/results/next-mode-protocols.json]``

Two measurements per dataset (the datasets of :mod:`benchmarks.quality`, read the same way):

- **Random hold-outs, many seeds.** The default method with ``directional=true`` (every other setting at its
  default, α .75) is trained on a random 90 % of the sessions and scored on the consecutive pairs of the other 10 %,
  once per split seed ``0 … seeds-1``: HR@10 of its symmetric mode (E·E), its next mode (Q·K) and sequential rules
  on the same pairs. ``quality.json`` scores two seeds; here the per-seed spread of the ratios says how far two
  seeds can be trusted.
- **Time split, every parameter tuned.** The library's tuner (:func:`behemb_core.tuning.tune_method`, all stages,
  its own validation split: the last 10 % by time of the training part) is run twice with ``directional=true`` —
  scoring trials by the symmetric mode (``serves="also"``) and by the next mode (``serves="next"``) — and each
  winner is trained on the first 90 % of sessions by time and scored on the last 10 %: the tuned next mode against
  the tuned symmetric mode and sequential rules. This is "α tuned on the validation split with the other
  parameters", and it answers whether the defaults hide a gain.

Writes the JSON record and a Markdown report beside it (``next-mode-protocols.md``) after every run, so a run that
dies keeps what it measured."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from .quality import DATASETS, HOLDOUT, SEED, SHARED_DATA, K, _git, random_split_run
from .results_io import write_results

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "benchmarks" / "results" / "next-mode-protocols.json"
DEFAULT_SEEDS = 8
#: The tuner's budget per run: generous, so every stage runs (a run that stopped early is refused).
TUNE_BUDGET = 3600.0
TUNED_KEYS = ("window", "weighting", "gamma", "tau", "alpha")
HR = f"hr@{K}"


def _scores(report: dict[str, Any]) -> dict[str, float]:
    if "next" not in report:
        raise RuntimeError("the default method with directional=true returned no directional pair")
    return {"symmetric": report["method"][HR], "next": report["next"]["method"][HR],
            "sequential_rules": report["baselines"]["sequential_rules"][HR]}


def summarize_seeds(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Means of the per-seed HR@10s, the ratios of the means (next ÷ symmetric, next ÷ sequential rules) and the
    smallest and largest per-seed ratio of each."""
    if not runs:
        raise ValueError("no runs to summarize")
    mean = {key: statistics.fmean(r[key] for r in runs) for key in ("symmetric", "next", "sequential_rules")}
    out: dict[str, Any] = {"seeds": [r["split_seed"] for r in runs], **mean}
    for name, base in (("next_over_symmetric", "symmetric"), ("next_over_sequential_rules", "sequential_rules")):
        per_seed = [r["next"] / r[base] for r in runs if r[base] > 0]
        out[name] = mean["next"] / mean[base] if mean[base] > 0 else None
        out[f"{name}_range"] = [min(per_seed), max(per_seed)] if per_seed else None
    return out


def random_holdouts(sessions: Any, seeds: int, *, log=sys.stderr) -> dict[str, Any]:
    """:func:`benchmarks.quality.random_split_run` on split seeds ``0 … seeds-1`` (a short bootstrap: only the
    point estimates are read here) and their summary."""
    runs = [random_split_run(sessions, split_seed, n_boot=10, log=log) for split_seed in range(seeds)]
    return {"runs": runs, **summarize_seeds(runs)}


def tuned_time_split(sessions: Any, *, log=sys.stderr) -> dict[str, Any]:
    from behemb_core.evaluation import evaluate_method
    from behemb_core.methods.registry import DEFAULT_METHOD, get_method
    from behemb_core.tuning import tune_method

    out: dict[str, Any] = {}
    for serves in ("also", "next"):
        t0 = time.perf_counter()
        tuned = tune_method(sessions, get_method(DEFAULT_METHOD), budget_seconds=TUNE_BUDGET, seed=SEED,
                            base_config={"directional": True, "serves": serves})
        if tuned.stopped_early:
            raise RuntimeError(f"the tuner (serves={serves}) stopped early: raise TUNE_BUDGET")
        config = tuned.best_config.model_dump(mode="json")
        report = cast(dict[str, Any], evaluate_method(sessions, DEFAULT_METHOD, config, seeds=[SEED], ks=[K],
                                                      holdout=HOLDOUT, n_boot=10))
        out[serves] = {"config": {k: config[k] for k in TUNED_KEYS}, "trials": len(tuned.trials),
                       "validation_score": tuned.best_score, "seconds": round(time.perf_counter() - t0, 1),
                       **_scores(report)}
        print(f"  tuned for {serves}: {out[serves]['config']} → HR@{K} symmetric {out[serves]['symmetric']:.4f}, "
              f"next {out[serves]['next']:.4f}", file=log, flush=True)
    also, nxt = out["also"], out["next"]
    out["next_over_symmetric"] = nxt["next"] / also["symmetric"] if also["symmetric"] > 0 else None
    out["next_over_sequential_rules"] = (nxt["next"] / nxt["sequential_rules"] if nxt["sequential_rules"] > 0
                                         else None)
    return out


def _r(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}×"


def _range(values: list[float] | None) -> str:
    return "—" if not values else f"{values[0]:.3f}–{values[1]:.3f}"


def markdown(results: dict[str, Any]) -> str:
    lines = ["# The next-item mode under two protocols", "", f"Command: `{results['command']}`  ",
             f"Commit: `{results['git'].get('commit')}`, started {results['started_at']}", "", results["text"], "",
             "## Random hold-outs (default config, α .75)", "",
             f"| data | seeds | symmetric HR@{K} | next HR@{K} | sequential rules HR@{K} | next ÷ symmetric "
             "(per-seed range) | next ÷ sequential rules (per-seed range) |", "|---|---|---:|---:|---:|---:|---:|"]
    for ds in results["datasets"].values():
        rs = ds.get("random")
        if rs:
            lines.append(f"| {ds['title']} | {len(rs['seeds'])} | {rs['symmetric']:.4f} | {rs['next']:.4f} | "
                         f"{rs['sequential_rules']:.4f} | {_r(rs['next_over_symmetric'])} "
                         f"({_range(rs['next_over_symmetric_range'])}) | {_r(rs['next_over_sequential_rules'])} "
                         f"({_range(rs['next_over_sequential_rules_range'])}) |")
    lines += ["", "## Time split, every parameter tuned (the tuner, all stages, on its validation split)", "",
              f"| data | tuned for | window, weighting, γ, τ, α | symmetric HR@{K} | next HR@{K} | "
              f"sequential rules HR@{K} | tuning s |", "|---|---|---|---:|---:|---:|---:|"]
    ratios = []
    for ds in results["datasets"].values():
        tt = ds.get("tuned")
        if not tt:
            continue
        for serves in ("also", "next"):
            t = tt[serves]
            c = t["config"]
            lines.append(f"| {ds['title']} | {serves} | {c['window']}, {c['weighting']}, {c['gamma']:g}, "
                         f"{c['tau']:g}, {c['alpha']:g} | {t['symmetric']:.4f} | {t['next']:.4f} | "
                         f"{t['sequential_rules']:.4f} | {t['seconds']:.0f} |")
        ratios.append(f"{ds['title']}: tuned next ÷ tuned symmetric {_r(tt['next_over_symmetric'])}, ÷ sequential "
                      f"rules {_r(tt['next_over_sequential_rules'])}")
    return "\n".join(lines + ["", *[f"- {r}" for r in ratios], ""])


def run(datasets: list[str], seeds: int, out: Path, command: str, *, log=sys.stderr) -> dict[str, Any]:
    from .machine import machine_info

    results: dict[str, Any] = {
        "command": command, "started_at": datetime.now(UTC).isoformat(timespec="seconds"), "git": _git(),
        "machine": machine_info(), "shared_data": str(SHARED_DATA), "k": K, "holdout": HOLDOUT, "seed": SEED,
        "text": (f"Random hold-outs: the default method with directional=true, trained (seed {SEED}) on a random "
                 f"{1 - HOLDOUT:.0%} of the sessions and scored on the consecutive pairs of the rest, split seeds "
                 f"0-{seeds - 1}; the ratios are of the means over seeds, with the smallest and largest per-seed "
                 "ratio. Time split, tuned: the tuner (all stages, its validation split inside the first "
                 f"{1 - HOLDOUT:.0%} by time) scoring the symmetric mode (also) and the next mode (next); each "
                 f"winner trained on the first {1 - HOLDOUT:.0%} by time and scored on the last {HOLDOUT:.0%}. "
                 "'tuned next ÷ tuned symmetric' sets the next mode of the next-tuned config against the symmetric "
                 "mode of the also-tuned one."),
        "datasets": {},
    }

    def save() -> None:
        write_results(results, out, markdown)

    for name in datasets:
        title, load, _how = DATASETS[name]
        print(f"{title}", file=log, flush=True)
        sessions = load(SHARED_DATA).sessions
        block: dict[str, Any] = {"title": title}
        results["datasets"][name] = block
        block["random"] = random_holdouts(sessions, seeds, log=log)
        save()
        block["tuned"] = tuned_time_split(sessions, log=log)
        save()
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    save()
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.next_mode_protocols",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", default=",".join(DATASETS), help=f"comma-separated, from {', '.join(DATASETS)}")
    ap.add_argument("--seeds", type=int, default=DEFAULT_SEEDS, help="random split seeds 0 … N-1 (default 8)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the JSON file (the .md goes beside it)")
    args = ap.parse_args(argv)
    names = [d.strip() for d in args.datasets.split(",") if d.strip()]
    unknown = [d for d in names if d not in DATASETS]
    if unknown or not names:
        ap.error(f"unknown dataset(s) {unknown}; choose from {', '.join(DATASETS)}")
    if args.seeds < 1:
        ap.error("--seeds must be at least 1")
    command = " ".join(["python -m benchmarks.next_mode_protocols", *(sys.argv[1:] if argv is None else argv)])
    print(markdown(run(names, args.seeds, args.out, command)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
