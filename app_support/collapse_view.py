"""The Train page's popularity diagnosis of a version: its verdict against item-kNN on the same training sessions
(or on the absolute thresholds alone when no reference was made), a table of the measures next to item-kNN's and
the thresholds, and — when the verdict is not ``ok`` — that the "pick it first" advice does not hold for this
version, with the method's hints. It renders what the library returns (``train_version``'s ``diagnosis``, which is
also the manifest's ``popularity_diagnosis``); it computes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from .views import DIAGNOSTIC_METRICS, md
from .widgets import static_table

VERDICT_BADGES = {"ok": ":green-badge[:material/check: ok]", "warning": ":orange-badge[:material/warning: warning]",
                  "collapsed": ":red-badge[:material/close: collapsed]"}
_SHOWN = ("hub_share", "head_slot_lift", "head_slot_vs_interactions", "k_occurrence_gini", "coverage")


def diagnosis_verdict(diagnosis: Mapping[str, Any]) -> str:
    """The verdict the sign-off check will give: judged against item-kNN when the diagnosis was, else absolute."""
    judged = diagnosis.get("judged") or {}
    return str(judged.get("verdict") or diagnosis.get("verdict") or "ok")


def diagnosis_table(diagnosis: Mapping[str, Any]) -> pd.DataFrame:
    """One row per measure: the version's value, item-kNN's on the same sessions (— without a reference), the
    absolute threshold and whether the measure counts against the version."""
    judged = diagnosis.get("judged") or {}
    ref = judged.get("reference_metrics") or {}
    counted = set(judged.get("tripped_rules") or [t["rule"] for t in diagnosis.get("tripped") or []])
    excused = {e["rule"] for e in judged.get("excused") or []}
    labels = {metric: label for metric, label, _ in DIAGNOSTIC_METRICS}
    rules = {r["metric"]: r for r in diagnosis.get("rules") or []}
    metrics = diagnosis.get("metrics") or {}
    rows = []
    for metric in _SHOWN:
        rule = rules.get(metric) or {}
        limit = rule.get("threshold")
        state = ("counts against it" if rule.get("rule") in counted
                 else "past the threshold, as item-kNN is" if rule.get("rule") in excused else "fine")
        rows.append({"measure": labels.get(metric, metric), "this version": metrics.get(metric),
                     "item-kNN": ref.get(metric),
                     "threshold": None if limit is None else f"{'>' if rule.get('kind') == 'max' else '<'} {limit:g}",
                     "state": state})
    return pd.DataFrame(rows, columns=["measure", "this version", "item-kNN", "threshold", "state"])


def advice_caveat(diagnosis: Mapping[str, Any] | None, method_title: str) -> str | None:
    """When the method's "pick it first" advice does not hold for this version (its verdict is not ``ok``), the
    sentence that says so; None when it holds or there is no diagnosis."""
    if not diagnosis or diagnosis.get("skipped") or diagnosis_verdict(diagnosis) == "ok":
        return None
    verdict = diagnosis_verdict(diagnosis)
    than = " more than item-kNN's" if (diagnosis.get("judged") or {}).get("basis") == "item_knn" else ""
    outcome = "fail (override only)" if verdict == "collapsed" else "be a warning to acknowledge by name"
    return (f"The advice on {method_title} above (“pick it …”) does not hold for this version: its neighbor lists "
            f"lean on popular items{than} ({verdict}), so the Publish page's “no popularity collapse” check will "
            f"{outcome}. Try the hints below, or tune with the collapse gate (`tune --pass-gate`).")


def show_collapse_diagnosis(diagnosis: Mapping[str, Any] | None, *, method_title: str) -> None:
    """Render a version's popularity diagnosis (``train_version(...)["diagnosis"]`` or the manifest's
    ``popularity_diagnosis``); nothing for a version stored without one."""
    if not diagnosis:
        return
    if diagnosis.get("skipped"):
        st.caption(f"**Popularity diagnosis** — {md(diagnosis['skipped'])}.")
        return
    judged = diagnosis.get("judged") or {}
    verdict = diagnosis_verdict(diagnosis)
    basis = ("against item-kNN on the same training sessions" if judged.get("basis") == "item_knn"
             else "on the absolute thresholds only (no item-kNN reference: train with “Evaluate against baselines”)")
    st.markdown(f"**Popularity diagnosis** {VERDICT_BADGES.get(verdict, md(verdict))} — judged {basis}, "
                f"top-{diagnosis.get('k', 10)} lists of all {diagnosis.get('n_items', 0):,} items.")
    st.caption(md(judged.get("summary") or diagnosis.get("summary") or ""))
    caveat = advice_caveat(diagnosis, method_title)
    if caveat is not None:
        (st.error if verdict == "collapsed" else st.warning)(md(caveat), icon=":material/warning:")
        hints = diagnosis.get("hints") or []
        if hints:
            st.markdown("\n".join(f"- {md(h)}" for h in hints))
    static_table(diagnosis_table(diagnosis), alt="Popularity diagnosis of the version next to item-kNN",
                 decimals={"this version": 3, "item-kNN": 3})
