"""Warm-started monthly retrains on Online Retail: quality, time and neighbor stability against cold retrains.

``python -m benchmarks.warm_start [--methods cooc_softmax,item2vec] [--months 2011-06,2011-07,2011-08,2011-09]``

For every month ``k``: the version of month ``k`` is trained (cold, seed 0) on the sessions through month ``k``
into a store; then the sessions through month ``k+1`` are trained three times — warm from the ``k`` version
(``train_version(..., warm_start=...)``, seed 0), cold (seed 0) and cold with seed 1 (the retraining noise
floor) — plus cold with ``stop_tol=0`` (all epochs: the defaults before early stopping). Each is scored by
HR@10 on the next-item pairs (consecutive, different items) of the sessions of month ``k+2``, by its fit time
(``training_seconds``), and by the median (and mean) Jaccard@10 of its neighbor lists against the ``k`` version
on the items both have (``behemb_core.compare.neighbor_overlap``).

Targets: warm HR@10 within 1 % of cold, warm time at most 40 % of cold, warm stability clearly above cold's.
Writes ``benchmarks/results/warm-start.{json,md}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .machine import machine_info

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BEHEMB_SHARED_DATA", REPO.parent / "shared" / "data"))
OUT = REPO / "benchmarks" / "results" / "warm-start"
K = 10
METHODS = ("cooc_softmax", "item2vec")
MONTHS = ("2011-06", "2011-07", "2011-08", "2011-09")
#: item2vec with one thread: the comparison of two runs is then not blurred by gensim's thread races.
CONFIGS: dict[str, dict[str, Any]] = {"cooc_softmax": {}, "item2vec": {"workers": 1}}


def _month(m: str, plus: int) -> pd.Timestamp:
    return pd.Timestamp(m + "-01") + pd.DateOffset(months=plus)


def _load() -> Any:
    from behemb_core.demo import ONLINE_RETAIL_FILTERS
    from behemb_core.ingest import read_event_log

    return read_event_log(SHARED / "online-retail" / "by-day", filters=ONLINE_RETAIL_FILTERS)


def run(methods: tuple[str, ...], months: tuple[str, ...]) -> dict[str, Any]:
    from behemb_core.compare import neighbor_overlap
    from behemb_core.evaluation.metrics import evaluate_embeddings
    from behemb_core.evaluation.split import next_item_pairs
    from behemb_core.store import Store
    from behemb_core.train import train_version

    data = _load()
    s = data.sessions
    starts = s.start_times

    def through(m: str, plus: int) -> Any:
        return dataclasses.replace(data, sessions=s.select(starts < _month(m, plus + 1).value))

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="behemb-warm-") as tmp:
        store = Store(tmp)
        for method in methods:
            cfg = CONFIGS.get(method, {})
            for m in months:
                test_sessions = s.select((starts >= _month(m, 2).value) & (starts < _month(m, 3).value))
                pairs = next_item_pairs(test_sessions)
                old = train_version(store, method, cfg, dataset=through(m, 0), seed=0)["version"]
                old_emb = store.load_version(old).embeddings
                new_data = through(m, 1)
                runs = {
                    "warm": dict(config=cfg, seed=0, warm_start=old),
                    "cold": dict(config=cfg, seed=0),
                    "cold_seed1": dict(config=cfg, seed=1),
                    "cold_all_epochs": dict(config={**cfg, "stop_tol": 0.0}, seed=0),
                }
                out: dict[str, Any] = {"method": method, "month": m, "test_pairs": len(pairs),
                                       "sessions_old": through(m, 0).sessions.n_sessions,
                                       "sessions_new": new_data.sessions.n_sessions}
                emb = {}
                for label, kw in runs.items():
                    v = train_version(store, method, kw["config"], dataset=new_data, seed=kw["seed"],
                                      warm_start=kw.get("warm_start"))["version"]
                    man = store.manifest(v)
                    emb[label] = store.load_version(v).embeddings
                    jac = neighbor_overlap(old_emb, emb[label], k=K).jaccard
                    out[label] = {
                        "hr@10": evaluate_embeddings(emb[label], pairs, k=K)[f"hr@{K}"],
                        "seconds": man["training_seconds"],
                        "epochs_run": man["fit_report"]["epochs_run"],
                        "jaccard_vs_old_median": float(np.median(jac)),
                        "jaccard_vs_old_mean": float(jac.mean()),
                    }
                    if label == "warm":
                        out["warm_start"] = man["warm_start"]
                floor = neighbor_overlap(emb["cold"], emb["cold_seed1"], k=K).jaccard
                out["noise_floor_median"] = float(np.median(floor))
                out["noise_floor_mean"] = float(floor.mean())
                out["hr_ratio_warm_to_cold"] = out["warm"]["hr@10"] / out["cold"]["hr@10"]
                out["time_ratio_warm_to_cold"] = out["warm"]["seconds"] / out["cold"]["seconds"]
                rows.append(out)
                print(json.dumps({k: out[k] for k in ("method", "month", "hr_ratio_warm_to_cold",
                                                       "time_ratio_warm_to_cold")}), flush=True)
    return {"machine": machine_info(), "k": K, "configs": CONFIGS, "rows": rows, "summary": _summary(rows)}


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        hr = [r["hr_ratio_warm_to_cold"] for r in mine]
        t = [r["time_ratio_warm_to_cold"] for r in mine]
        out[method] = {
            "worst_hr_ratio": min(hr), "mean_hr_ratio": statistics.fmean(hr),
            "worst_time_ratio": max(t), "mean_time_ratio": statistics.fmean(t),
            "hr_target_met": min(hr) >= 0.99, "time_target_met": max(t) <= 0.40,
            "stability_above_cold": all(r["warm"]["jaccard_vs_old_mean"] > r["cold"]["jaccard_vs_old_mean"]
                                        for r in mine),
        }
    return out


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Warm-started monthly retrains (Online Retail)",
        "",
        "`python -m benchmarks.warm_start` — the version of month k (cold) is retrained on the sessions through "
        "k+1: warm from it, cold, cold with seed 1 (noise floor) and cold with all epochs (`stop_tol=0`, the "
        "defaults before early stopping). HR@10 on month k+2's next-item pairs; seconds = `training_seconds`; "
        "stability = Jaccard@10 of each retrain's neighbor lists against the month-k version (median / mean over "
        "shared items); noise floor = cold seed 0 vs cold seed 1.",
        "",
        "| method | k | HR@10 warm / cold / all epochs | seconds warm / cold / all (epochs) | warm/cold time "
        "| Jaccard@10 vs k: warm / cold (median; mean) | noise floor (median; mean) | items reused / new |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        w, c, a = r["warm"], r["cold"], r["cold_all_epochs"]
        lines.append(
            f"| {r['method']} | {r['month']} | {w['hr@10']:.4f} / {c['hr@10']:.4f} / {a['hr@10']:.4f} "
            f"({r['hr_ratio_warm_to_cold'] - 1:+.1%}) "
            f"| {w['seconds']:.1f} ({w['epochs_run']}) / {c['seconds']:.1f} ({c['epochs_run']}) / "
            f"{a['seconds']:.1f} ({a['epochs_run']}) | {r['time_ratio_warm_to_cold']:.0%} "
            f"| {w['jaccard_vs_old_median']:.2f} / {c['jaccard_vs_old_median']:.2f} "
            f"({w['jaccard_vs_old_mean']:.2f} / {c['jaccard_vs_old_mean']:.2f}) "
            f"| {r['noise_floor_median']:.2f} ({r['noise_floor_mean']:.2f}) "
            f"| {r['warm_start']['items_reused']:,} / {r['warm_start']['items_new']:,} |"
        )
    lines += ["", "| method | worst HR ratio (target ≥ 0.99) | worst time ratio (target ≤ 0.40) | mean time ratio "
              "| warm more stable than cold every month |", "|---|---|---|---|---|"]
    for method, sm in result["summary"].items():
        lines.append(f"| {method} | {sm['worst_hr_ratio']:.3f} | {sm['worst_time_ratio']:.2f} | "
                     f"{sm['mean_time_ratio']:.2f} | {sm['stability_above_cold']} |")
    m = result["machine"]
    lines += ["", f"Machine: {m.get('cpu', '?')}, {m.get('cores_usable', '?')} cores. Times are single runs on a "
              "shared machine (other jobs were running): expect ±20 % per row."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--months", default=",".join(MONTHS))
    p.add_argument("--out", default=str(OUT), help="Output path without suffix (.json and .md are written).")
    args = p.parse_args(argv)
    result = run(tuple(args.methods.split(",")), tuple(args.months.split(",")))
    Path(args.out + ".json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    Path(args.out + ".md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
