"""Display of a version's parameter search (manifest ``"tuning"``): pure reshaping, nothing computed anew."""

from __future__ import annotations

from typing import Any

import pandas as pd

from behemb_core.tuning import describe_params


def tuning_table(tuning: dict[str, Any], k: int = 10) -> pd.DataFrame:
    """One row per trial: trial, stage, scored by, params, HR@k, seconds, status, and ✓ on the chosen one."""
    best = tuning.get("best_trial")
    rows = [
        {
            "chosen": "✓" if t["trial"] == best else "",
            "trial": t["trial"],
            "stage": t["stage"],
            "scored by": t.get("scored_by", ""),
            "params": describe_params(t.get("params", {})),
            f"HR@{k}": t.get(f"hr@{k}"),
            "seconds": t.get("seconds"),
            "status": t["status"] + (f": {t['note']}" if t.get("note") else ""),
            "collapse": (t.get("collapse") or {}).get("verdict", ""),  # with the gate: the trial's verdict
        }
        for t in tuning.get("trials", [])
    ]
    columns = ["chosen", "trial", "stage", "scored by", "params", f"HR@{k}", "seconds", "status", "collapse"]
    if not (tuning.get("gate") or any(t.get("collapse") for t in tuning.get("trials", []))):
        columns.remove("collapse")  # searched without the gate: no verdicts to show
    return pd.DataFrame(rows, columns=columns)


def tuning_caption(tuning: dict[str, Any], k: int = 10) -> str:
    """The outcome in one sentence: the winner against the starting config, and whether the budget cut it short."""
    trials = tuning.get("trials", [])
    ran = sum(t["status"] in ("ok", "error") for t in trials)
    best, default = tuning.get("best_score") or {}, tuning.get("default_score") or {}
    text = f"Chose trial {tuning.get('best_trial')} of {len(trials)} ({ran} run"
    text += f", {len(trials) - ran} skipped or repeated)" if ran < len(trials) else ")"
    if best.get(f"hr@{k}") is not None:
        text += f": validation HR@{k} {best[f'hr@{k}']:.3f}"
        if default.get(f"hr@{k}") is not None:
            text += f" vs {default[f'hr@{k}']:.3f} for the starting config"
    text += f", in {tuning.get('seconds', 0):.0f} s"
    if tuning.get("stopped_early"):
        text += f" (stopped at the {tuning.get('budget_seconds', 0) / 60:.1f}-minute budget)"
    gate = tuning.get("gate")
    if gate:
        text += (", the best of the settings that pass the popularity-collapse check" if gate.get("met") else
                 f". {gate.get('note') or 'No fitted setting passed the popularity-collapse check'}")
    return text + "."
