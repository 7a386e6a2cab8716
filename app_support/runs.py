"""Runs in the app: the rerun-proof training key (same inputs → same version, no retraining), and a progress
callback drawing ``st.progress`` for work done inside a script run (e.g. a projection)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import streamlit as st

from behemb_core.progress import ProgressEvent

from .jobs import STAGE_LABELS


def run_key(*, fingerprint: str, method: str, config: dict[str, Any], seed: int, store_url: str,
            evaluate: bool, noise_floor: bool, name: str | None, base_version: str | None = None,
            tune_budget: float | None = None, warm_start: str | None = None, pass_gate: bool = False) -> str:
    """Same data + method + validated config + seed (+ store, options, requested name, tuning budget) → same
    key → no retrain."""
    payload = {
        "fingerprint": fingerprint, "method": method, "config": config, "seed": int(seed), "store": store_url,
        "evaluate": bool(evaluate), "noise_floor": bool(noise_floor), "name": name, "base_version": base_version,
    }
    if tune_budget is not None:  # absent for plain training, so keys of earlier runs stay the same
        payload["tune_budget"] = float(tune_budget)
    if warm_start is not None:  # likewise absent for a cold start
        payload["warm_start"] = warm_start
    if pass_gate:  # likewise absent unless the search must pass the collapse gate
        payload["pass_gate"] = True
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class ProgressView:
    """A ``ProgressCallback`` rendering one bar with the stage and message, for work inside a script run."""

    def __init__(self) -> None:
        self.bar = st.progress(0.0, text="starting…")
        self.fraction = 0.0
        self.losses: list[float] = []
        self.saving = False

    def __call__(self, event: ProgressEvent) -> None:
        # Every st call is a point where Streamlit may stop the script (Cancel / another interaction). Once the
        # version is being written nothing is drawn, so a run is either stopped before saving or finishes.
        if self.saving:
            return
        self.saving = event.stage == "save"
        if event.fraction is not None:
            self.fraction = min(max(float(event.fraction), self.fraction), 1.0)
        if "loss" in event.metrics:
            self.losses.append(float(event.metrics["loss"]))
        label = STAGE_LABELS.get(event.stage, event.stage)
        self.bar.progress(self.fraction, text=f"{label}: {event.message}" if event.message else label)
