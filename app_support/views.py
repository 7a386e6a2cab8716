"""Pure table builders for display: reshape what the library returns, compute nothing new."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

import pandas as pd

from behemb_core.checks.wording import format_value
from behemb_core.compare.same_data import SameDataComparison
from behemb_core.identity import Actor
from behemb_core.reports import CompareReport, EvaluationReport, ScoreBlock, Summary, interval
from behemb_core.reports import metric as metric_value

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<$:])")


def md(text: object) -> str:
    """Escape untrusted text (item names, file names) for ``st.markdown`` and friends: no markup, no links."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def drops_table(summary: dict[str, Any]) -> pd.DataFrame:
    """Dropped rows/events by reason, then notes (changes that removed nothing)."""
    rows = [{"reason": k, "rows": v, "kind": "dropped"} for k, v in summary.get("dropped", {}).items()]
    rows += [{"reason": k, "rows": v, "kind": "note"} for k, v in summary.get("notes", {}).items()]
    return pd.DataFrame(rows, columns=["reason", "rows", "kind"])


def length_histogram(summary: dict[str, Any]) -> pd.DataFrame:
    """Session-length histogram bins as labelled rows (``[a, b)``, last bin closed)."""
    hist = summary["session_length"]["histogram"]
    edges, counts = hist["edges"], hist["counts"]
    labels = []
    for i in range(len(counts)):
        a, b = edges[i], edges[i + 1]
        last = i == len(counts) - 1
        labels.append(str(a) if b - a == 1 and not last else f"{a}–{b if last else b - 1}")
    return pd.DataFrame({"length": labels, "sessions": counts})


#: Row labels of the evaluation reports' ``baselines`` blocks, in display order.
BASELINE_LABELS: dict[Literal["most_popular", "item_knn", "sequential_rules", "target_ranking"], str] = {
    "most_popular": "most-popular",
    "item_knn": "item-kNN",
    "sequential_rules": "sequential rules (directional)",
    "target_ranking": "target ranking (what the method fits)",
}

#: Row label of the evaluation's ``next`` block: the version's "next item" ranking (``Q_a · K_b``).
NEXT_LABEL = "this version, next item (Q·K)"


def evaluation_table(evaluation: EvaluationReport, k: int = 10) -> pd.DataFrame:
    """HR@k / NDCG@k (with 95 % intervals) of the method and the baselines, from a manifest's ``evaluation``: the
    method, its "next item" mode when the evaluation scored one (a ``next`` block), most-popular, item-kNN,
    sequential rules (reports written before it existed lack the row) and, for a method that fits a target, the
    ranking by the target similarity it fits."""
    method = evaluation["method"]
    blocks: list[tuple[str, ScoreBlock]] = [(method.get("name") or "method", method)]
    nxt = evaluation.get("next")
    if nxt is not None:
        blocks.append((NEXT_LABEL, nxt["method"]))
    baselines = evaluation["baselines"]
    for key, label in BASELINE_LABELS.items():
        block = baselines.get(key)
        if block is not None:
            blocks.append((label, block))
    rows = []
    for label, block in blocks:
        row: dict[str, Any] = {"model": label}
        for name in ("hr", "ndcg"):
            column = f"{name}@{k}".upper()
            row[column] = metric_value(block, name, k)
            lo_hi = interval(block, name, k)
            row[f"{column} 95% CI"] = f"{lo_hi[0]:.3f}–{lo_hi[1]:.3f}" if lo_hi else ""
        rows.append(row)
    return pd.DataFrame(rows)


def neighbor_table(rows: list[dict[str, Any]], catalogue: pd.DataFrame) -> pd.DataFrame:
    """``item_neighbors`` rows with popularity (training events) from the version's item stats."""
    df = pd.DataFrame(rows, columns=["rank", "item_id", "name", "score"])
    pop = catalogue.set_index("item_id")["events"]
    df["popularity"] = df["item_id"].map(pop)
    return df.rename(columns={"score": "similarity"})[["rank", "item_id", "name", "similarity", "popularity"]]


def evidence_table(explained: dict[str, Any]) -> pd.DataFrame:
    """One row per neighbor with its direct evidence from the sessions; for the "next item" list
    (``explained["mode"] == "next"``) the forward co-occurrence: how often it came after the item (weighted and
    counted) and before it, and direct support means it came after the item at least once."""
    if explained.get("mode") == "next":
        rows = [
            {
                "rank": r["rank"], "item_id": r["item_id"], "name": r.get("name", ""), "score": r["score"],
                "after it (weighted)": r["forward"], "after it": r["forward_count"], "before it": r["backward_count"],
                "sessions together": r["sessions_together"], "direct support": not r["no_direct_support"],
            }
            for r in explained["neighbors"]
        ]
        return pd.DataFrame(rows, columns=["rank", "item_id", "name", "score", "after it (weighted)", "after it",
                                           "before it", "sessions together", "direct support"])
    rows = [
        {
            "rank": r["rank"], "item_id": r["item_id"], "name": r.get("name", ""), "similarity": r["score"],
            "co-occurrences": r["cooccurrences"], "sessions together": r["sessions_together"], "PPMI": r["ppmi"],
            "direct support": not r["no_direct_support"],
        }
        for r in explained["neighbors"]
    ]
    return pd.DataFrame(rows)


def example_lines(example: dict[str, Any]) -> str:
    """A plain-text rendering of an example session stretch; the pair's items are marked with ▶."""
    lines = [f"session {example['session_id']} ({example['length']} items), from position "
             f"{example['from_position'] + 1}:"]
    for item in example["items"]:
        mark = "▶" if item["is_pair"] else " "
        name = f"  {item['name']}" if item.get("name") else ""
        lines.append(f" {mark} {item['item_id']}{name}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ compare and publish pages


def _median(summary: Summary | None) -> float | None:
    return None if not summary else summary["median"]


def bands_table(report: CompareReport) -> pd.DataFrame:
    """Per popularity band of a ``compare_versions`` report: items, median Jaccard/RBO and, when a noise floor
    was given, the floor's median, the limit and whether the band moved beyond noise."""
    noise = report["noise"]
    scopes = noise["scopes"] if noise is not None else {}
    rows = []
    for band, block in (report["bands"] or {}).items():
        scope = scopes.get(band)
        rows.append({
            "band": band, "items": block["n"], "median Jaccard": _median(block["jaccard"]),
            "median RBO": _median(block["rbo"]),
            "noise-floor median Jaccard": None if scope is None else scope["noise_median_jaccard"],
            "limit": None if scope is None else scope["limit"],
            "beyond noise": None if scope is None else ("yes" if scope["beyond_noise"] else "no"),
        })
    return pd.DataFrame(rows, columns=["band", "items", "median Jaccard", "median RBO",
                                       "noise-floor median Jaccard", "limit", "beyond noise"])


def moved_table(report: CompareReport) -> pd.DataFrame:
    """The report's most-moved items with their old (A) and new (B) neighbors, by name where stored."""
    rows = []
    for r in report["most_moved"]:
        old_ids, new_ids = r["old_neighbors"], r["new_neighbors"]
        old = [n or str(i) for n, i in zip(r.get("old_neighbor_names") or [""] * len(old_ids), old_ids, strict=True)]
        new = [n or str(i) for n, i in zip(r.get("new_neighbor_names") or [""] * len(new_ids), new_ids, strict=True)]
        rows.append({"item_id": str(r["item_id"]), "name": r["name"] or "", "popularity": r["popularity"],
                     "Jaccard": r["jaccard"], "RBO": r["rbo"], "old neighbors (A)": " · ".join(old),
                     "new neighbors (B)": " · ".join(new)})
    return pd.DataFrame(rows, columns=["item_id", "name", "popularity", "Jaccard", "RBO", "old neighbors (A)",
                                       "new neighbors (B)"])


# Popularity diagnostics as people read them: (metric, label, what it measures and which way is bad). The code
# name stays in the explanation, so a number can be found again in the report JSON and the docs.
DIAGNOSTIC_METRICS: tuple[tuple[str, str, str], ...] = (
    ("k_occurrence_gini", "unevenness of neighbor slots",
     "Gini of how often each item is someone's neighbor: 0 = every item equally often, towards 1 = a few items "
     "take every list (k_occurrence_gini)."),
    ("hub_share", "share of hub items",
     "Items in more than five times the average number of lists; high = bestsellers everywhere (hub_share)."),
    ("coverage", "items in some list",
     "Share of the catalogue that appears in at least one top-K list; low = much of it is never recommended "
     "(coverage)."),
    ("head_slot_lift", "popular items' slots vs their count",
     "The top 1 % of items' share of all neighbor slots ÷ their share of the catalogue; 1 = neutral, high = "
     "popular items crowd the lists (head_slot_lift)."),
    ("head_slot_vs_interactions", "popular items' slots vs their events",
     "Their slot share ÷ their share of training events; above 1 = even more than their traffic "
     "(head_slot_vs_interactions)."),
    ("popularity_neighbor_spearman", "popular items neighbor popular items",
     "Rank correlation of an item's popularity with its neighbors' popularity; high = popularity, not "
     "content, organises the space (popularity_neighbor_spearman)."),
)
_DIAGNOSTIC_LABELS = {metric: label for metric, label, _ in DIAGNOSTIC_METRICS}
_RULE_METRICS = {"hubs": "hub_share", "popularity_correlation": "popularity_neighbor_spearman"}


def diagnostics_table(reports: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """``popularity_diagnostics`` reports side by side: one column per version, the verdict then the key metrics,
    each with a readable name and what it measures."""
    out: dict[str, list[Any]] = {
        "metric": ["verdict", "rules over their limit", *(label for _, label, _ in DIAGNOSTIC_METRICS)],
        "what it measures": ["ok, warning (one rule over its limit) or collapsed (two or more) — as sign-off judges "
                             "it: a rule counts only when item-kNN on the same sessions does not explain it",
                             "which of the measures below crossed their limit and count against the version",
                             *(meaning for _, _, meaning in DIAGNOSTIC_METRICS)],
    }
    for name, rep in reports.items():
        name = f"{name} (version)" if name in out else name  # a version called "metric" keeps both columns
        metrics = rep.get("metrics", {})
        judged = rep.get("judged") or {}  # the sign-off check's verdict (against item-kNN) when the report has it
        rules = judged["tripped_rules"] if "tripped_rules" in judged else [t["rule"] for t in rep.get("tripped", [])]
        tripped = [_DIAGNOSTIC_LABELS.get(_RULE_METRICS.get(r, r), r) for r in rules]
        values: list[Any] = [judged.get("verdict") or rep.get("verdict"), ", ".join(tripped) or "none"]
        for metric, _, _ in DIAGNOSTIC_METRICS:
            v = metrics.get(metric)
            values.append("—" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v))
        out[name] = values
    return pd.DataFrame(out)


def quality_table(evaluations: Mapping[str, EvaluationReport | None], k: int = 10) -> pd.DataFrame:
    """Stored evaluations side by side: one row per version with HR/NDCG/MRR@k and both baselines' HR@k
    (empty cells for a version stored without an evaluation)."""
    rows = []
    for name, ev in evaluations.items():
        method = None if ev is None else ev["method"]
        base = None if ev is None else ev["baselines"]
        rows.append({
            "version": name, "evaluated": ev is not None, f"HR@{k}": metric_value(method, "hr", k),
            f"NDCG@{k}": metric_value(method, "ndcg", k), f"MRR@{k}": metric_value(method, "mrr", k),
            f"item-kNN HR@{k}": metric_value(base and base.get("item_knn"), "hr", k),
            f"most-popular HR@{k}": metric_value(base and base.get("most_popular"), "hr", k),
            "held-out pairs": None if ev is None else ev["split"]["pairs"],
        })
    return pd.DataFrame(rows)


def check_detail(c: Any) -> str:
    """A check's detail, with the reason it could not judge when it had nothing to judge."""
    reason = getattr(c, "could_not_judge", None)
    if reason and reason not in c.detail:
        return f"{c.detail} Could not judge: {reason}.".strip()
    return c.detail


def checks_table(checks: list[Any]) -> pd.DataFrame:
    """Sign-off ``CheckResult``s as rows; values as text rounded for people (they mix numbers, verdicts and
    None). The ``state`` column says pass / warning / fail in words, readable without colour or emoji fonts."""
    rows = [{"state": c.state, "check": c.name,
             "value": format_value(c.value), "threshold": c.threshold, "detail": check_detail(c),
             "if it fails": "acknowledge" if c.acknowledgeable else "override only"} for c in checks]
    return pd.DataFrame(rows, columns=["state", "check", "value", "threshold", "detail", "if it fails"])


def human_time(stamp: object) -> str:
    """An ISO timestamp as people read it: to the second, in UTC (``2026-11-30 07:06:25 UTC``); text that is
    not a timestamp is returned unchanged."""
    if not stamp:
        return ""
    try:
        t = pd.Timestamp(str(stamp))
    except (ValueError, TypeError):
        return str(stamp)
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return t.strftime("%Y-%m-%d %H:%M:%S UTC")


def versions_table(infos: list[Any]) -> pd.DataFrame:
    """``Store.list_versions()`` rows (newest last) with their lifecycle status."""
    rows = [{"version": v.name, "status": v.status, "method": v.method or "", "items": v.n_items, "dim": v.dim,
             "created": human_time(v.created_at)} for v in infos]
    return pd.DataFrame(rows, columns=["version", "status", "method", "items", "dim", "created"])


def audit_table(entries: list[dict[str, Any]]) -> pd.DataFrame:
    """Audit-log entries, newest first."""
    rows = [{"seq": e.get("seq"), "at": human_time(e.get("at", "")), "action": e.get("action", ""),
             "version": e.get("version") or "", "previous": e.get("previous") or "", "by": e.get("by") or "",
             "verified": _verified(e), "sha256": str(e.get("embeddings_sha256") or "")[:12]}
            for e in reversed(entries)]
    return pd.DataFrame(rows, columns=["seq", "at", "action", "version", "previous", "by", "verified", "sha256"])


def _verified(entry: dict[str, Any]) -> str:
    """``yes (app sign-in)`` / ``no (typed name)``: whether an entry's actor was a verified identity, and how."""
    actor = entry.get("actor")
    if not isinstance(actor, dict):
        return "no (not recorded)"
    return f"{'yes' if actor.get('verified') else 'no'} ({actor.get('via') or 'unknown'})"


def approvals_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """A version's approval records (``lifecycle.approvals``), newest first."""
    rows = [{"at": human_time(r.get("at", "")), "by": r.get("by", ""), "verified": _verified(r),
             "note": r.get("note") or "", "acknowledged": ", ".join(r.get("acknowledged", [])),
             "override": bool(r.get("override")), "failed checks": ", ".join(r.get("failed", []))}
            for r in reversed(records)]
    return pd.DataFrame(rows, columns=["at", "by", "verified", "note", "acknowledged", "override", "failed checks"])


def approved_by(records: list[dict[str, Any]], approvers: list[dict[str, Any]]) -> str:
    """Who approved a version and when, for a sentence: ``Ada (unverified) on 2026-12-03 14:02:11 UTC and …`` —
    each approver that counts (``lifecycle.approval_state``'s ``approvers``) with the time of their latest approval
    record; the records' own names and times when none counts."""
    parts = []
    for rec in approvers:
        who = Actor.from_record(rec)
        when = [r.get("at", "") for r in records
                if isinstance(r.get("actor"), dict) and Actor.from_record(r["actor"]).same_person(who)]
        parts.append(f"{who.shown} on {human_time(max(when))}" if when else who.shown)
    if not parts:
        parts = [f"{r.get('by', '')} on {human_time(r.get('at', ''))}" for r in records[-1:]]
    return " and ".join(parts)


def same_data_table(report: SameDataComparison) -> pd.DataFrame:
    """One row per ranking scored on the same pairs (A, B, and item-kNN when it was fitted): HR@k with its
    interval and the queries without a vector."""
    k = report["k"]
    rows = []
    for role, block in (("A", report["a"]), ("B", report["b"]), ("baseline", report["item_knn"])):
        if block is None:
            continue
        lo, hi = block["ci95"]
        rows.append({"role": role, "ranking": block["name"], f"HR@{k}": round(block["hr"], 3),
                     "95 % interval": f"{lo:.3f} … {hi:.3f}",
                     "queries without vector": "" if block["queries_without_vector"] is None
                     else f"{block['queries_without_vector']:,}"})
    return pd.DataFrame(rows)
