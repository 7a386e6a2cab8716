"""The Publish page's drift section: the published version judged on the dataset in use (``behemb_core.drift``),
and the tables a drift report is shown as. One library call per task; the report itself is the library's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from behemb_core.drift import check_drift, latest_drift_report, save_drift_report
from behemb_core.identity import Actor
from behemb_core.store import Store
from behemb_core.store.policy import Access

from . import keys, loaders
from .errors import user_errors
from .views import md
from .widgets import static_table

VERDICT_BADGES = {"fresh": ":green-badge[:material/check: fresh]", "aging": ":orange-badge[:material/schedule: aging]",
                  "stale": ":red-badge[:material/close: stale]",
                  "could not judge": ":orange-badge[:material/help: could not judge]"}
RULE_BADGES = {"ok": ":green-badge[:material/check: ok]", "aging": ":orange-badge[:material/schedule: aging]",
               "stale": ":red-badge[:material/close: stale]", "not judged": ":gray-badge[not judged]"}
REPORT = "pub_drift_report"  # a report computed here but not kept (the person may not keep one)


def verdict_line(report: Mapping[str, Any]) -> str:
    """The verdict as a badge and its reason, escaped."""
    return f"{VERDICT_BADGES.get(str(report['verdict']), md(report['verdict']))} {md(report['reason'])}"


def rules_table(report: Mapping[str, Any]) -> pd.DataFrame:
    return pd.DataFrame([{"rule": r["rule"], "state": r["state"], "value": r["value"], "aging at": r["aging"],
                          "stale at": r["stale"], "in words": r["words"]} for r in report.get("rules") or []],
                        columns=["rule", "state", "value", "aging at", "stale at", "in words"])


def figures_table(report: Mapping[str, Any]) -> pd.DataFrame:
    """One row per figure of the four parts (coverage, decay, neighbor support, popularity)."""
    c, d = report.get("coverage") or {}, report.get("decay") or {}
    s, p = report.get("neighbor_support") or {}, report.get("popularity") or {}
    k = d.get("k", 10)

    def ci(v: Any) -> str:
        return f"{v[0]:.3f}–{v[1]:.3f}" if v else ""

    rows = [
        ("coverage", "events on items without a vector", c.get("missing_events_share"), ""),
        ("coverage", "sessions with such an event", c.get("missing_sessions_share"), ""),
        ("coverage", "distinct items without a vector", c.get("missing_items_share"), ""),
        ("decay", f"HR@{k} on the new data", d.get("hr"), ci(d.get("hr_ci95"))),
        ("decay", f"HR@{k} stored at training", d.get("stored_hr"), ci(d.get("stored_hr_ci95"))),
        ("decay", f"HR@{k} on the last part of the new data", d.get("version_hr_on_tail"),
         ci(d.get("version_hr_on_tail_ci95"))),
        ("decay", f"item-kNN fitted on the new data, HR@{k} there", d.get("item_knn_hr_on_tail"),
         ci(d.get("item_knn_hr_on_tail_ci95"))),
        ("neighbor support", "top-k neighbors still co-occurring", s.get("mean_share"), ""),
        ("popularity", "head overlap (then vs now)", p.get("head_overlap"), ""),
        ("popularity", "Spearman of item popularity", p.get("spearman"), ""),
        ("popularity", "new events on the training head", p.get("head_share_now"), ""),
        ("popularity", "training events on that head", p.get("head_share_then"), ""),
    ]
    measured = [row for row in rows if row[2] is not None]  # a part that was not measured has no rows
    return pd.DataFrame(measured, columns=["part", "figure", "value", "95 % interval"])


def missing_table(report: Mapping[str, Any]) -> pd.DataFrame:
    rows = (report.get("coverage") or {}).get("top_missing") or []
    return pd.DataFrame(rows, columns=["item_id", "name", "events", "sessions"])


def show_report(report: Mapping[str, Any], *, kept: bool) -> None:
    """A drift report: verdict, rules, figures and the most frequent missing items."""
    when = md(str(report.get("at", ""))[:19].replace("T", " "))
    st.markdown(f"**{md(report.get('version') or '')}** — {verdict_line(report)}")
    st.caption(f"Checked {when} UTC on {report['data'].get('sessions', 0)} sessions, "
               f"{report['data'].get('events', 0)} events" + (f"; kept by {md(report['by'])}" if kept and
                                                               report.get("by") else "; not kept in the store"))
    if report.get("rules"):
        static_table(rules_table(report), alt="Drift rules", badges={"state": RULE_BADGES})
    figures = figures_table(report)
    if len(figures):  # coverage is measured even when decay could not be judged (too few pairs)
        static_table(figures, alt="Drift figures")
    if len(missing_table(report)):
        st.markdown("Most frequent items the version has no vector for")
        static_table(missing_table(report), alt="Missing items", decimals={"events": 0, "sessions": 0})


def drift_section(store: Store, published: str | None, acc: Access, by: Actor | None) -> None:
    """The section: check the published version on the dataset in use, keep the report when allowed, show it."""
    st.subheader("Drift of the published version")
    if published is None:
        st.caption("Nothing is published yet: drift judges the published version on new data.")
        return
    label = st.session_state.get(keys.DATASET_LABEL, "the dataset in use")
    st.caption(f"Is {md(published)} still fit for newer data? The new data is the dataset in use ({md(label)}); "
               "load newer interactions on the Data page. Stale means retrain (the command line's `drift` exits 4).")
    may_keep = acc.refusal("drift")
    if may_keep is None and by is None:
        may_keep = "enter your name in the sidebar: a kept report records who checked"
    if may_keep is not None:
        st.caption(f":material/lock: The report will be shown but not kept: {md(may_keep)}.")
    if st.button("Check drift on the data in use", key="pub_drift_run"):
        with user_errors("The drift check failed"):
            with st.spinner("Checking drift…"):
                _spec, dataset = loaders.current_dataset()
                report = check_drift(store, dataset, version=published, n_boot=100)
            if may_keep is None and by is not None and report["version"] is not None:
                save_drift_report(store, report, by=by)
                st.session_state.pop(REPORT, None)
            else:
                st.session_state[REPORT] = dict(report)
    shown: Mapping[str, Any] | None = st.session_state.get(REPORT)
    kept = False
    if shown is None or shown.get("version") != published:
        with user_errors("The drift reports could not be read"):
            shown, kept = latest_drift_report(store, published), True
    if shown is None:
        st.caption(f"No drift report of {md(published)} yet.")
    else:
        show_report(shown, kept=kept)


def why_trained_line(store: Store, published: str | None, candidate: str) -> str | None:
    """For the candidate's summary: the latest kept drift report of the published version (why retrain), or None."""
    if published is None or published == candidate:
        return None
    report = latest_drift_report(store, published)
    if report is None:
        return None
    when = md(str(report.get("at", ""))[:10])
    return f"**Why retrain** — drift of {md(published)} ({when}): {verdict_line(report)}"
