"""Quality on real data: every behavior method with its defaults against the baselines, on held-out next items.

``python -m benchmarks.quality [--datasets online-retail,movielens-small,online-retail-shuffled]
[--out benchmarks/results/quality.json]``

For each dataset in the shared data folder (``../shared/data`` beside the repo, or ``BEHEMB_SHARED_DATA``) this
runs ``behemb_core.evaluation.evaluate_method`` for ``cooc_softmax``, ``ppmi_svd``, ``item2vec`` and ``graph`` with
their default configs: trained on the first 90 % of sessions by time (seed 0), scored on the consecutive pairs of
the last 10 % at K = 10, with a 200-sample bootstrap interval, next to most-popular, item-kNN, sequential rules and
(for ``cooc_softmax``) the ranking by its target similarity. The default method is trained once more with
``directional=true`` (its other defaults, α included): that fit is scored in its symmetric mode (``E_a · E_b``) and in
its "next item" mode (``Q_a · K_b``), and its fit report gives the seconds of the symmetric fit and of the
directional (Q, K) fit. The default method is then
trained a third time with ``directional=true`` at a *validated* α: the library's tuner
(:func:`behemb_core.tuning.tune_method`), restricted to its "next" stage (α from 0, .25, .5, .75, 1; every other
parameter at its default) and scoring trials by the next mode's HR@10 (``serves="next"``), picks α on its own
validation split — the last 10 % by time of the training part; the evaluation hold-out is never read — and the
winner is trained on the whole training part and scored on the held-out pairs like the other rows. A third dataset,
Online Retail with the items of every session shuffled (seeded), is where order carries no signal by construction;
only the default method (both modes, both α) and the references run on it.
Last, per dataset, the default α's directional fit is scored once more on *random* hold-outs of 10 % of the
sessions (split seeds 0 and 1: the protocol of the study that asked for the "next item" mode), its two modes
beside sequential rules, so the time split's figures can be read against it.
Writes ``quality.json`` (every figure, the dataset sizes, training seconds, machine and library versions, the git
commit and the command) and ``quality.md`` beside it, after every method, so a run that dies keeps what it
measured. ``--readme`` prints the README table from an existing ``quality.json`` without training anything."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from .results_io import write_results

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("BEHEMB_SHARED_DATA", REPO.parent / "shared" / "data"))
DEFAULT_OUT = REPO / "benchmarks" / "results" / "quality.json"
METHODS = ("cooc_softmax", "ppmi_svd", "item2vec", "graph")
#: The default method trained with ``directional=true``: its symmetric mode and its "next item" mode (rows of the
#: quality table beside the methods).
DIRECTIONAL_ROWS = ("directional_symmetric", "directional_next")
#: The default method trained with ``directional=true`` at the α its tuner chose on the validation split: its next
#: mode (its symmetric vectors do not depend on α).
VALIDATED_ROW = "directional_next_validated"
BASELINES = ("target_ranking", "item_knn", "sequential_rules", "most_popular")
K = 10
HOLDOUT = 0.1
SEED = 0
#: The seed of the within-session shuffle of the "order shuffled" dataset.
SHUFFLE_SEED = 0
N_BOOT = 200
#: The split seeds of the random hold-outs the default α's directional fit is also scored on.
RANDOM_SPLIT_SEEDS = (0, 1)
METRICS = (f"hr@{K}", f"ndcg@{K}")


def _online_retail(shared: Path) -> Any:
    from behemb_core.demo import ONLINE_RETAIL_FILTERS
    from behemb_core.ingest import read_event_log

    return read_event_log(shared / "online-retail" / "by-day", filters=ONLINE_RETAIL_FILTERS,
                          name_column="Description")


def _movielens_small(shared: Path) -> Any:
    from behemb_core.ingest import read_event_log

    return read_event_log(shared / "movielens-small" / "ratings.csv")


#: name → (title, loader, how it is read — for the record). The shared datasets as they are read
#: (:mod:`benchmarks.collapse_calibration` reads them from here too).
DATASETS: dict[str, tuple[str, Callable[[Path], Any], str]] = {
    "online-retail": ("Online Retail", _online_retail,
                      "read_event_log(<shared>/online-retail/by-day, filters=ONLINE_RETAIL_FILTERS, "
                      "name_column='Description')"),
    "movielens-small": ("MovieLens-small", _movielens_small, "read_event_log(<shared>/movielens-small/ratings.csv)"),
}


def shuffle_within_sessions(sessions: Any, seed: int = SHUFFLE_SEED) -> Any:
    """The same sessions (items, ids, users, start times) with the events of every session in a seeded random
    order: whatever order said is gone, what co-occurs with what is kept."""
    import numpy as np

    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(sessions.n_events), sessions.session_of_event()))
    return dataclasses.replace(sessions, codes=np.ascontiguousarray(sessions.codes[order]))


#: name → (title, the dataset of :data:`DATASETS` it is made from, what is done to its sessions, that in words,
#: the methods run on it). Variants of the shared data that isolate one property.
DERIVED: dict[str, tuple[str, str, Callable[[Any], Any], str, tuple[str, ...]]] = {
    "online-retail-shuffled": (
        "Online Retail, order shuffled", "online-retail", shuffle_within_sessions,
        "the online-retail sessions with the events of every session shuffled "
        f"(numpy default_rng({SHUFFLE_SEED}), benchmarks.quality.shuffle_within_sessions): order carries no signal",
        ("cooc_softmax",)),
}


def dataset_names() -> list[str]:
    """Every dataset the benchmark runs on, in order: the shared ones, then their variants."""
    return [*DATASETS, *DERIVED]


def methods_run_on(name: str) -> tuple[str, ...]:
    """The methods trained at their defaults on dataset ``name`` (the directional fit of the default method runs
    on every dataset besides)."""
    return DERIVED[name][4] if name in DERIVED else METHODS


def _title_and_sessions(name: str, shared: Path) -> tuple[str, str, Any]:
    if name in DERIVED:
        title, base, change, how, _ = DERIVED[name]
        return title, how, change(DATASETS[base][1](shared).sessions)
    title, load, how = DATASETS[name]
    return title, how, load(shared).sessions


LABELS = {
    "cooc_softmax": "`cooc_softmax`", "ppmi_svd": "`ppmi_svd`", "item2vec": "`item2vec`", "graph": "`graph`",
    "directional_symmetric": "`cooc_softmax` directional=true: symmetric mode (E·E)",
    "directional_next": "`cooc_softmax` directional=true: next mode (Q·K)",
    VALIDATED_ROW: "`cooc_softmax` directional=true: next mode (Q·K), validated α",
    "target_ranking": "target ranking (what cooc_softmax fits)", "item_knn": "item-kNN",
    "sequential_rules": "sequential rules (b after a, 1/distance)", "most_popular": "most-popular",
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


def _recording(method: str) -> tuple[Any, list[dict[str, Any]]]:
    """The registry entry of ``method`` with a fit that also keeps each fit's report (the evaluation report holds
    the wall-clock seconds of a fit, not the fit report with its seconds per epoch of each table)."""
    from behemb_core.methods.registry import get_method

    spec = get_method(method)
    reports: list[dict[str, Any]] = []

    def fit(inputs: Any, config: Any, *, seed: int, progress: Any = None) -> Any:
        result = spec.fit(inputs, config, seed=seed, progress=progress)
        reports.append(dict(result.report))
        return result

    return dataclasses.replace(spec, fit=fit), reports


def _fit_time(report: dict[str, Any]) -> dict[str, Any]:
    """Epochs run, median seconds per epoch and their sum, from one table's fit report."""
    per_epoch = sorted(report["seconds_per_epoch"])
    return {"epochs_run": report["epochs_run"], "seconds": round(sum(per_epoch), 3),
            "median_seconds_per_epoch": per_epoch[len(per_epoch) // 2] if per_epoch else None}


def _directional_fit(report: dict[str, Any], train_seconds: float) -> dict[str, Any]:
    """The two fits of a directional run (symmetric table, then Q and K) and the ratio of their times."""
    sym, nxt = _fit_time(report), _fit_time(report["directional"])
    per_epoch = (nxt["median_seconds_per_epoch"] / sym["median_seconds_per_epoch"]
                 if sym["median_seconds_per_epoch"] and nxt["median_seconds_per_epoch"] is not None else None)
    return {"symmetric_fit": sym, "directional_fit": nxt, "alpha": report["directional"]["alpha"],
            "directional_over_symmetric": nxt["seconds"] / sym["seconds"] if sym["seconds"] > 0 else None,
            "directional_over_symmetric_per_epoch": per_epoch, "train_seconds": train_seconds}


#: The budget of the α search (seconds): far above what five fits take, so no trial is skipped (checked).
TUNE_BUDGET = 3600.0


def validated_alpha(sessions: Any, *, log=sys.stderr) -> dict[str, Any]:
    """α for the default method's next mode, chosen by the library's tuner on its validation split.

    The tuner (:func:`behemb_core.tuning.tune_method`) runs with the default method's entry restricted to its
    :data:`~behemb_core.tuning.NEXT_STAGE` stage, from the defaults with ``directional=true, serves="next"``: trial 1
    is the default α, then every α of the stage (the default again is a repeat, not a refit), each trial fitted on
    the validation-train sessions and scored by the HR@10 of ``Q·K`` on the validation pairs. It drops the last
    10 % of sessions by time (exactly the evaluation hold-out of :func:`evaluate_dataset`) before reading anything.
    The winner is the tuner's: the best HR@10, then NDCG@10, then the earlier trial (the default α first)."""
    from behemb_core.evaluation import time_split
    from behemb_core.methods.registry import DEFAULT_METHOD, get_method
    from behemb_core.tuning import NEXT_STAGE, search_space, tune_method
    from behemb_core.tuning.protocol import EVALUATION_HOLDOUT

    from .ours import echo_to

    if EVALUATION_HOLDOUT != HOLDOUT:
        raise RuntimeError(f"the tuner holds out {EVALUATION_HOLDOUT}, the benchmark {HOLDOUT}: the α search would "
                           "read held-out sessions")
    spec = get_method(DEFAULT_METHOD)
    stages = tuple(s for s in search_space(spec) if s.name == NEXT_STAGE)
    if len(stages) != 1:
        raise RuntimeError(f"{spec.name} has no {NEXT_STAGE!r} stage in its search space")
    only_next = dataclasses.replace(spec, search_space=stages)
    tuned = tune_method(sessions, only_next, budget_seconds=TUNE_BUDGET, seed=SEED,
                        base_config={"directional": True, "serves": "next"}, progress=echo_to(log))
    if tuned.stopped_early or any(t["status"] not in ("ok", "repeat") for t in tuned.trials):
        raise RuntimeError(f"the α search did not run every trial: {tuned.trials}")
    held_out = tuned.protocol["evaluation_holdout"]["sessions"]
    if held_out != time_split(sessions, holdout=HOLDOUT)[1].n_sessions:
        raise RuntimeError("the tuner's evaluation hold-out is not the benchmark's")
    hr, ndcg = METRICS
    trials = [{"trial": t["trial"], "alpha": t["params"]["alpha"], hr: t[hr], ndcg: t[ndcg],
               "status": t["status"], "seconds": t["seconds"]} for t in tuned.trials]
    alpha = float(tuned.best_config.alpha)  # type: ignore[attr-defined]
    print(f"  α by validation next-mode HR@{K}: "
          + ", ".join(f"{t['alpha']:g} → {t[hr]:.4f}" for t in trials if t["status"] == "ok")
          + f"; chosen {alpha:g}", file=log, flush=True)
    return {"alpha": alpha, "config": tuned.best_config.model_dump(mode="json"), "best_trial": tuned.best_trial,
            "validation_score": tuned.best_score, "trials": trials, "mode": tuned.mode,
            "protocol": tuned.protocol["summary"], "validation": tuned.protocol["validation"],
            "evaluation_holdout_sessions": held_out, "seconds": round(tuned.seconds, 2),
            "rule": f"the tuner's: best validation HR@{K} of the next mode, then NDCG@{K}, then the earlier trial "
                    "(the default α first)"}


def evaluate_dataset(name: str, shared: Path, *, on_method: Callable[[dict[str, Any]], None] | None = None,
                     log=sys.stderr) -> dict[str, Any]:
    """Every method's report on one dataset, reduced to the figures of the quality table."""
    from behemb_core.evaluation import evaluate_method
    from behemb_core.methods.registry import DEFAULT_METHOD, parse_config

    from .ours import echo_to

    t0 = time.perf_counter()
    title, how, sessions = _title_and_sessions(name, shared)
    result: dict[str, Any] = {
        "title": title, "read": how, "read_seconds": round(time.perf_counter() - t0, 2),
        "sessions": sessions.n_sessions, "items": sessions.n_items, "events": sessions.n_events,
        "methods": {}, "baselines": {},
    }
    print(f"{title}: {sessions.n_sessions:,} sessions, {sessions.n_items:,} items, {sessions.n_events:,} events",
          file=log, flush=True)
    # (method, the config values it is given, the row): every method at its defaults, the default method's "next
    # item" tables at its default α, then at the α validated on the training part (values chosen when reached)
    runs: list[tuple[str, dict[str, Any] | None, str | None]] = [(m, None, None) for m in methods_run_on(name)]
    runs += [(DEFAULT_METHOD, {"directional": True}, "default_alpha"), (DEFAULT_METHOD, None, VALIDATED_ROW)]
    for method, values, row in runs:
        tuning = None
        if row == VALIDATED_ROW:
            print(f"  {method}: choosing α on the tuner's validation split", file=log, flush=True)
            tuning = validated_alpha(sessions, log=log)
            values = tuning["config"]
        config = parse_config(method, values)  # the defaults (but ``values``), workers included
        print(f"  {method} {config.model_dump(mode='json')}", file=log, flush=True)
        spec, fit_reports = _recording(method)
        report: dict[str, Any] = cast(dict[str, Any], evaluate_method(
            sessions, spec, config, seeds=[SEED], ks=[K], holdout=HOLDOUT, split="time", n_boot=N_BOOT,
            progress=echo_to(log)))
        split = report["split"]
        result.update({"train_sessions": split["train_sessions"], "test_sessions": split["test_sessions"],
                       "pairs": split["pairs"]})
        knn = report["baselines"]["item_knn"]
        for base, block in report["baselines"].items():
            kept = _block(block, knn)
            for extra in ("target", "window"):
                if extra in block:
                    kept[extra] = block[extra]
            previous = result["baselines"].get(base)
            if previous is not None and previous[METRICS[0]] != kept[METRICS[0]]:
                raise RuntimeError(f"{base} differs between two methods' reports on {name}: the split moved")
            result["baselines"][base] = kept
        method_block = _block(report["method"], knn)
        method_block.update({
            "config": report["method"]["config"], "train_seconds": report["method"]["fit_seconds"][0],
            "queries_without_vector": report["method"]["queries_without_vector"],
        })
        if row is None:
            result["methods"][method] = method_block
            print(f"  {method}: HR@{K} {method_block[METRICS[0]]:.4f} (item-kNN {knn[METRICS[0]]:.4f}), "
                  f"trained in {method_block['train_seconds']:.1f} s", file=log, flush=True)
        elif row == VALIDATED_ROW:
            assert tuning is not None
            _add_validated(result, report, method_block, tuning, method, log)
        else:
            if "next" not in report:
                raise RuntimeError(f"{method} with {values} returned no directional pair on {name}")
            nxt = report["next"]
            next_block = _block(nxt["method"], knn)
            next_block.update({
                "config": report["method"]["config"], "train_seconds": method_block["train_seconds"],
                "queries_without_vector": nxt["method"]["queries_without_vector"], "alpha": nxt["alpha"],
                "vs_symmetric": nxt["vs_symmetric"], "vs_sequential_rules": nxt.get("vs_sequential_rules"),
            })
            result["methods"]["directional_symmetric"] = method_block
            result["methods"]["directional_next"] = next_block
            fit = _directional_fit(fit_reports[0], method_block["train_seconds"])
            plain = result["methods"].get(method)
            hr = METRICS[0]
            result["next_mode"] = {
                "alpha": nxt["alpha"],
                # against the plain default fit's row and against the directional fit's own symmetric mode
                "next_over_symmetric": (next_block[hr] / plain[hr]) if plain and plain[hr] > 0 else None,
                "next_over_directional_symmetric": nxt["vs_symmetric"]["hr_ratio"],
                "next_over_sequential_rules": (nxt.get("vs_sequential_rules") or {}).get("hr_ratio"),
                "directional_symmetric_equals_symmetric": (
                    plain is not None and all(plain[m] == method_block[m] for m in (*METRICS, f"mrr@{K}"))),
                "fit": fit,
            }
            print(f"  {method} directional: HR@{K} symmetric {method_block[hr]:.4f}, next {next_block[hr]:.4f} "
                  f"(sequential rules {result['baselines']['sequential_rules'][hr]:.4f}); Q/K fit "
                  f"{fit['directional_fit']['seconds']:.1f} s vs symmetric {fit['symmetric_fit']['seconds']:.1f} s",
                  file=log, flush=True)
        if on_method is not None:
            on_method(result)
    result["random_split"] = random_split_next(sessions, log=log)
    if on_method is not None:
        on_method(result)
    return result


def random_split_run(sessions: Any, split_seed: int, *, n_boot: int = N_BOOT, log=sys.stderr) -> dict[str, Any]:
    """The default method with ``directional=true`` (default α) trained on a random ``1 - HOLDOUT`` of the sessions
    (split seed ``split_seed``) and scored on the consecutive pairs of the rest: HR@K of its symmetric mode, its
    next mode and sequential rules on those pairs, with the split's sizes and the α used."""
    from behemb_core.evaluation import evaluate_method
    from behemb_core.methods.registry import DEFAULT_METHOD

    hr = METRICS[0]
    report: dict[str, Any] = cast(dict[str, Any], evaluate_method(
        sessions, DEFAULT_METHOD, {"directional": True}, seeds=[SEED], ks=[K], holdout=HOLDOUT, split="random",
        split_seed=split_seed, n_boot=n_boot))
    if "next" not in report:
        raise RuntimeError(f"{DEFAULT_METHOD} with directional=true returned no directional pair")
    run = {"split_seed": split_seed, "pairs": report["split"]["pairs"],
           "test_sessions": report["split"]["test_sessions"], "alpha": report["next"]["alpha"],
           "symmetric": report["method"][hr], "next": report["next"]["method"][hr],
           "sequential_rules": report["baselines"]["sequential_rules"][hr]}
    print(f"  random split (seed {split_seed}): HR@{K} symmetric {run['symmetric']:.4f}, next {run['next']:.4f}, "
          f"sequential rules {run['sequential_rules']:.4f}", file=log, flush=True)
    return run


def random_split_next(sessions: Any, *, log=sys.stderr) -> dict[str, Any]:
    """:func:`random_split_run` once per seed of :data:`RANDOM_SPLIT_SEEDS`, and the means' ratios (next ÷
    symmetric, next ÷ sequential rules)."""
    runs = [random_split_run(sessions, split_seed, log=log) for split_seed in RANDOM_SPLIT_SEEDS]
    mean = {key: sum(r[key] for r in runs) / len(runs) for key in ("symmetric", "next", "sequential_rules")}
    return {"seeds": list(RANDOM_SPLIT_SEEDS), "holdout": HOLDOUT, "alpha": runs[0]["alpha"], "runs": runs, **mean,
            "next_over_symmetric": mean["next"] / mean["symmetric"] if mean["symmetric"] > 0 else None,
            "next_over_sequential_rules": (mean["next"] / mean["sequential_rules"]
                                           if mean["sequential_rules"] > 0 else None)}


def _add_validated(result: dict[str, Any], report: dict[str, Any], method_block: dict[str, Any],
                   tuning: dict[str, Any], method: str, log: Any) -> None:
    """The next mode of the fit at the validated α: its row, and its ratios beside the default α's."""
    if "next" not in report:
        raise RuntimeError(f"{method} at the validated α returned no directional pair")
    hr = METRICS[0]
    knn = report["baselines"]["item_knn"]
    nxt = report["next"]
    if nxt["alpha"] != tuning["alpha"]:
        raise RuntimeError(f"the fit used α {nxt['alpha']}, the tuner chose {tuning['alpha']}")
    block = _block(nxt["method"], knn)
    block.update({
        "config": report["method"]["config"], "train_seconds": method_block["train_seconds"],
        "queries_without_vector": nxt["method"]["queries_without_vector"], "alpha": nxt["alpha"],
        "vs_symmetric": nxt["vs_symmetric"], "vs_sequential_rules": nxt.get("vs_sequential_rules"),
    })
    result["methods"][VALIDATED_ROW] = block
    plain = result["methods"].get(method)
    sr = result["baselines"]["sequential_rules"][hr]
    result["next_mode"]["validated"] = {
        "alpha": nxt["alpha"],
        "next_over_symmetric": (block[hr] / plain[hr]) if plain and plain[hr] > 0 else None,
        "next_over_sequential_rules": block[hr] / sr if sr > 0 else None,
        # α does not touch the symmetric table: the fit's symmetric mode is the default fit's row
        "symmetric_mode_equals_symmetric": (
            plain is not None and all(plain[m] == method_block[m] for m in (*METRICS, f"mrr@{K}"))),
        "tuning": tuning,
    }
    print(f"  {method} directional, validated α {nxt['alpha']:g}: next HR@{K} {block[hr]:.4f} (α .75: "
          f"{result['methods']['directional_next'][hr]:.4f}, symmetric {plain[hr] if plain else float('nan'):.4f}, "
          f"sequential rules {sr:.4f})", file=log, flush=True)


# ------------------------------------------------------------------------------------------------- output
def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def _rows(ds: dict[str, Any]) -> list[tuple[str, dict[str, Any], float | None]]:
    rows = [(m, ds["methods"][m], ds["methods"][m]["train_seconds"])
            for m in (*METHODS, *DIRECTIONAL_ROWS, VALIDATED_ROW) if m in ds["methods"]]
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
        lines += _next_mode_lines(ds)
    return "\n".join(lines)


def _next_mode_lines(ds: dict[str, Any]) -> list[str]:
    """The next mode against the symmetric one and sequential rules, and the two fits' seconds, in words."""
    nm = ds.get("next_mode")
    if nm is None:
        return []
    fit = nm["fit"]
    sym, nxt = fit["symmetric_fit"], fit["directional_fit"]
    same = ("identical to" if nm["directional_symmetric_equals_symmetric"]
            else "not identical to")
    return [
        f"Next mode (α {nm['alpha']:g}): HR@{K} {_ratio3(nm['next_over_symmetric'])} the symmetric mode of the "
        f"default fit, {_ratio3(nm['next_over_sequential_rules'])} sequential rules. The directional fit's own "
        f"symmetric mode is {same} the default fit's row. Fit of the directional run ({fit['train_seconds']:.1f} s "
        f"in all): symmetric table {sym['epochs_run']} epochs, {sym['seconds']:.1f} s "
        f"({_fmt(sym['median_seconds_per_epoch'], 3)} s/epoch); Q and K {nxt['epochs_run']} epochs, "
        f"{nxt['seconds']:.1f} s ({_fmt(nxt['median_seconds_per_epoch'], 3)} s/epoch): "
        f"{_ratio3(fit['directional_over_symmetric'])} the symmetric fit's seconds "
        f"({_ratio3(fit['directional_over_symmetric_per_epoch'])} per epoch).", "", *_validated_lines(nm),
        *_random_split_lines(ds)]


def _random_split_lines(ds: dict[str, Any]) -> list[str]:
    """The default α's directional fit on the random hold-outs, in words."""
    rs = ds.get("random_split")
    if rs is None:
        return []
    runs = "; ".join(f"seed {r['split_seed']}: symmetric {r['symmetric']:.4f}, next {r['next']:.4f}, sequential "
                     f"rules {r['sequential_rules']:.4f} ({r['pairs']:,} pairs)" for r in rs["runs"])
    return [f"Random hold-outs ({rs['holdout']:.0%} of the sessions, α {rs['alpha']:g}), HR@{K}: {runs}. Mean next "
            f"÷ symmetric {_ratio3(rs['next_over_symmetric'])}, next ÷ sequential rules "
            f"{_ratio3(rs['next_over_sequential_rules'])}.", ""]


def _validated_lines(nm: dict[str, Any]) -> list[str]:
    """The α search on the validation split and the next mode at the chosen α, in words."""
    va = nm.get("validated")
    if va is None:
        return []
    tuning, hr = va["tuning"], METRICS[0]
    v = tuning["validation"]
    scores = ", ".join(f"α {t['alpha']:g} {t[hr]:.4f}" for t in tuning["trials"] if t["status"] == "ok")
    return [
        f"Validated α: {va['alpha']:g}, chosen by the tuner's next-mode HR@{K} on its validation split ({scores}; "
        f"{tuning['seconds']:.1f} s): {v['pairs']:,} pairs of {v['sessions']:,} validation sessions (the last "
        f"{v['share']:.0%} of the training part by time) after training on {v['train_sessions']:,}; the "
        f"{tuning['evaluation_holdout_sessions']:,} held-out sessions were never read. At α {va['alpha']:g}, "
        "trained on the whole training part, "
        f"the next mode's HR@{K} is {_ratio3(va['next_over_symmetric'])} the symmetric mode of the default fit and "
        f"{_ratio3(va['next_over_sequential_rules'])} sequential rules.", ""]


def _ratio3(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}×"


def readme_table(results: dict[str, Any]) -> str:
    """The README's tables: HR@K, NDCG@K and HR ÷ item-kNN per model and dataset (every method at defaults, the
    default method's directional fit in both modes, its next mode at the validated α, the references), then the next
    mode at a glance per dataset."""
    hr, ndcg = METRICS
    datasets = list(results["datasets"].values())
    head = "| model | " + " | ".join(
        f"{d['title']} HR@{K} | NDCG@{K} | HR ÷ item-kNN" for d in datasets) + " |"
    lines = [head, "|---|" + "---:|---:|---:|" * len(datasets)]
    for name in (*METHODS, *DIRECTIONAL_ROWS, VALIDATED_ROW, *BASELINES):
        cells = []
        for d in datasets:
            block = d["methods"].get(name) or d["baselines"].get(name)
            cells += ["—"] * 3 if block is None else [
                _fmt(block[hr]), _fmt(block[ndcg]), _ratio(block["ratio_to_item_knn"][hr])]
        lines.append(f"| {LABELS[name]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n" + next_mode_table(results) + "\n" + random_split_table(results)


def _alpha(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _validated(nm: dict[str, Any], key: str) -> Any:
    return (nm.get("validated") or {}).get(key)


#: The columns of the next-mode table: header → (how the cell is read from a dataset's ``next_mode`` block, how
#: it is shown).
NEXT_MODE_COLUMNS: dict[str, tuple[Callable[[dict[str, Any]], Any], Callable[[Any], str]]] = {
    "α": (lambda nm: nm["alpha"], _alpha),
    f"next ÷ symmetric HR@{K}": (lambda nm: nm["next_over_symmetric"], _ratio3),
    f"next ÷ sequential rules HR@{K}": (lambda nm: nm["next_over_sequential_rules"], _ratio3),
    "validated α": (lambda nm: _validated(nm, "alpha"), _alpha),
    f"next (validated α) ÷ symmetric HR@{K}": (lambda nm: _validated(nm, "next_over_symmetric"), _ratio3),
    f"next (validated α) ÷ sequential rules HR@{K}": (
        lambda nm: _validated(nm, "next_over_sequential_rules"), _ratio3),
    "symmetric fit s": (lambda nm: nm["fit"]["symmetric_fit"]["seconds"], _seconds),
    "Q·K fit s": (lambda nm: nm["fit"]["directional_fit"]["seconds"], _seconds),
    "Q·K fit ÷ symmetric fit": (lambda nm: nm["fit"]["directional_over_symmetric"], _ratio),
}


def next_mode_table(results: dict[str, Any]) -> str:
    """Per dataset: α, the next mode's HR@K over the symmetric mode's and over sequential rules', the same at the
    validated α, and the seconds of the symmetric fit and of the Q·K fit of the directional run (default α)."""
    head = "| data | " + " | ".join(NEXT_MODE_COLUMNS) + " |"
    lines = [head, "|---|" + "---:|" * len(NEXT_MODE_COLUMNS)]
    for d in results["datasets"].values():
        nm = d.get("next_mode")
        if nm is None:
            continue
        lines.append(f"| {d['title']} | " + " | ".join(show(get(nm)) for get, show in NEXT_MODE_COLUMNS.values())
                     + " |")
    return "\n".join(lines) + "\n"


def _seeds(rs: dict[str, Any]) -> str:
    return ", ".join(str(s) for s in rs["seeds"])


#: The columns of the random-split table: header → (how the cell is read from a dataset's ``random_split`` block —
#: mean HR@K over the split seeds, and the means' ratios — how it is shown).
RANDOM_SPLIT_COLUMNS: dict[str, tuple[Callable[[dict[str, Any]], Any], Callable[[Any], str]]] = {
    "split seeds": (_seeds, str),
    f"symmetric HR@{K}": (lambda rs: rs["symmetric"], lambda v: _fmt(v, 4)),
    f"next HR@{K}": (lambda rs: rs["next"], lambda v: _fmt(v, 4)),
    f"sequential rules HR@{K}": (lambda rs: rs["sequential_rules"], lambda v: _fmt(v, 4)),
    "next ÷ symmetric": (lambda rs: rs["next_over_symmetric"], _ratio3),
    "next ÷ sequential rules": (lambda rs: rs["next_over_sequential_rules"], _ratio3),
}


def random_split_table(results: dict[str, Any]) -> str:
    """Per dataset: the default α's directional fit on random hold-outs — mean HR@K of its symmetric and next
    modes and of sequential rules over the split seeds, and the next mode's ratios."""
    head = "| data | " + " | ".join(RANDOM_SPLIT_COLUMNS) + " |"
    lines = [head, "|---|---|" + "---:|" * (len(RANDOM_SPLIT_COLUMNS) - 1)]
    for d in results["datasets"].values():
        rs = d.get("random_split")
        if rs is not None:
            lines.append(f"| {d['title']} | "
                         + " | ".join(show(get(rs)) for get, show in RANDOM_SPLIT_COLUMNS.values()) + " |")
    return "\n".join(lines) + "\n"


def run(datasets: list[str], out: Path, command: str, *, log=sys.stderr) -> dict[str, Any]:
    from .machine import machine_info

    results: dict[str, Any] = {
        "command": command,
        "protocol": {
            "holdout": HOLDOUT, "split": "time", "k": K, "seed": SEED, "bootstrap": N_BOOT,
            "shuffle_seed": SHUFFLE_SEED, "random_split_seeds": list(RANDOM_SPLIT_SEEDS),
            "configs": "each method's defaults (behemb_core.methods.registry)",
            "text": f"Each method with its default config is trained (seed {SEED}) on the first "
                    f"{1 - HOLDOUT:.0%} of sessions by start time; every consecutive pair of different items in "
                    f"the last {HOLDOUT:.0%} is a query (the first item) and its target (the next); HR@{K} and "
                    f"NDCG@{K} rank the target among the query's top {K}, with a {N_BOOT}-sample bootstrap "
                    "interval over pairs. Baselines are scored on the same pairs. The default method is also "
                    "trained with directional=true (its other defaults): that one fit is scored in its symmetric "
                    "mode (E·E) and its next mode (Q·K); its fit report gives the seconds of the symmetric table's "
                    "fit and of the Q and K fit. It is trained once more with directional=true at a validated α: "
                    "the library's tuner, restricted to its 'next' stage (α from 0, 0.25, 0.5, 0.75, 1, every other "
                    "parameter at its default), scores each α by the next mode's HR@10 on its own validation split "
                    "(the last 10% by time of the training part; the held-out sessions are never read), and the "
                    "chosen α is trained on the whole training part and scored on the held-out pairs. On "
                    "'Online Retail, order shuffled' the events of every session "
                    f"are shuffled (seed {SHUFFLE_SEED}) before the split, so order carries no signal. Last, the "
                    "default α's directional fit is scored on random hold-outs of "
                    f"{HOLDOUT:.0%} of the sessions (split seeds "
                    f"{', '.join(str(s) for s in RANDOM_SPLIT_SEEDS)}): HR@{K} of both modes and of sequential "
                    "rules.",
        },
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git": _git(),
        "machine": machine_info(),
        "shared_data": str(SHARED_DATA),
        "datasets": {},
    }
    out.parent.mkdir(parents=True, exist_ok=True)

    def save(_: Any = None) -> None:
        write_results(results, out, markdown)

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
    ap.add_argument("--datasets", default=",".join(dataset_names()),
                    help=f"comma-separated, from {', '.join(dataset_names())}")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the JSON file (the .md goes beside it)")
    ap.add_argument("--readme", action="store_true", help="print the README tables from --out and exit")
    args = ap.parse_args(argv)
    if args.readme:
        print(readme_table(json.loads(args.out.read_text())), end="")
        return 0
    names = [d.strip() for d in args.datasets.split(",") if d.strip()]
    unknown = [d for d in names if d not in dataset_names()]
    if unknown or not names:
        ap.error(f"unknown dataset(s) {unknown}; choose from {', '.join(dataset_names())}")
    command = " ".join(["python -m benchmarks.quality", *(sys.argv[1:] if argv is None else argv)])
    results = run(names, args.out, command)
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
