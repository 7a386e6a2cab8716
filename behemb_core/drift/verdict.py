"""The drift verdict: each rule against the aging and stale thresholds of the policy, and the exit code."""

from __future__ import annotations

from ..store import Store
from ..store.drift_policy import DriftThresholds
from ..store.policy import read_policy
from .types import (
    EXIT_COULD_NOT_JUDGE,
    EXIT_STALE,
    Coverage,
    Decay,
    DriftReport,
    NeighborSupport,
    Rule,
    RuleState,
    Verdict,
)


def drift_thresholds(store: Store | str | None) -> DriftThresholds:
    """The thresholds in force: the store policy's ``drift`` section, else the defaults."""
    policy = read_policy(store) if store is not None else None
    return policy.drift if policy is not None and policy.drift is not None else DriftThresholds()


def exit_code(report: DriftReport) -> int:
    """The command line's exit code for a report: 4 stale (retrain), 3 could not judge, else 0."""
    return {"stale": EXIT_STALE, "could not judge": EXIT_COULD_NOT_JUDGE}.get(report["verdict"], 0)



def _rule(name: str, value: float | None, aging: float, stale: float, *, higher_is_worse: bool, words: str) -> Rule:
    if value is None:
        state: RuleState = "not judged"
    elif (value >= stale) if higher_is_worse else (value < stale):
        state = "stale"
    elif (value >= aging) if higher_is_worse else (value < aging):
        state = "aging"
    else:
        state = "ok"
    return {"rule": name, "value": value, "aging": aging, "stale": stale, "state": state, "words": words}


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def judge(coverage: Coverage, decay: Decay, support: NeighborSupport, t: DriftThresholds,
          version: str) -> tuple[list[Rule], Verdict, str, list[str]]:
    """The rules, the verdict, its reason in words and what could not be judged."""
    unjudged: list[str] = []
    share = coverage["missing_events_share"]
    rules = [_rule("missing_events", share, t.missing_events_aging, t.missing_events_stale, higher_is_worse=True,
                   words=f"{_pct(share)} of the new events are on items {version} has no vector for "
                         f"(aging from {_pct(t.missing_events_aging)}, stale from {_pct(t.missing_events_stale)})")]
    enough = decay["pairs"] >= t.min_pairs
    vs_stored = decay["hr_vs_stored"] if enough else None
    k = decay["k"]
    rules.append(_rule(
        "hr_vs_stored", vs_stored, t.hr_vs_stored_aging, t.hr_vs_stored_stale, higher_is_worse=False,
        words=(f"HR@{k} {decay['hr']:.3f} on the new data is {vs_stored:.2f}× the {decay['stored_hr']:.3f} stored "
               f"at training (aging below {t.hr_vs_stored_aging:.2f}×, stale below {t.hr_vs_stored_stale:.2f}×)")
        if vs_stored is not None and decay["hr"] is not None and decay["stored_hr"] is not None
        else "no HR stored at training time" if decay["stored_hr"] is None
        else f"only {decay['pairs']} new pairs (fewer than {t.min_pairs})"))
    vs_knn = decay["hr_vs_item_knn"] if decay["tail_pairs"] >= t.min_pairs else None
    rules.append(_rule(
        "hr_vs_item_knn", vs_knn, t.hr_vs_item_knn_aging, t.hr_vs_item_knn_stale, higher_is_worse=False,
        words=(f"HR@{k} {decay['version_hr_on_tail']:.3f} is {vs_knn:.2f}× item-kNN fitted on the new data "
               f"({decay['item_knn_hr_on_tail']:.3f}; aging below {t.hr_vs_item_knn_aging:.2f}×, stale below "
               f"{t.hr_vs_item_knn_stale:.2f}×)")
        if vs_knn is not None and decay["version_hr_on_tail"] is not None
        and decay["item_knn_hr_on_tail"] is not None
        else f"only {decay['tail_pairs']} pairs in the last part of the new data (fewer than {t.min_pairs}) or "
             "item-kNN found nothing"))
    sup = support["mean_share"] if enough else None
    rules.append(_rule(
        "neighbor_support", sup, t.neighbor_support_aging, t.neighbor_support_stale, higher_is_worse=False,
        words=(f"{_pct(sup)} of the top-{support['k']} neighbors of the {support['items']} most popular new items "
               f"still co-occur with them (aging below {_pct(t.neighbor_support_aging)}, stale below "
               f"{_pct(t.neighbor_support_stale)})") if sup is not None
        else f"only {decay['pairs']} new pairs (fewer than {t.min_pairs})" if not enough
        else "no popular new item has a vector"))
    for r in rules:
        if r["state"] == "not judged":
            unjudged.append(f"{r['rule']}: {r['words']}")
    stale = [r for r in rules if r["state"] == "stale"]
    aging = [r for r in rules if r["state"] == "aging"]
    decay_judged = any(r["state"] != "not judged" for r in rules if r["rule"].startswith("hr_"))
    if stale:
        return rules, "stale", "retrain recommended: " + "; ".join(r["words"] for r in stale + aging), unjudged
    if not decay_judged:
        reason = ("no decay rule could be judged ("
                  + "; ".join(r["words"] for r in rules if r["rule"].startswith("hr_")) + ")")
        if aging:
            reason += "; aging by " + "; ".join(r["words"] for r in aging)
        return rules, "could not judge", reason, unjudged
    if aging:
        return rules, "aging", "; ".join(r["words"] for r in aging), unjudged
    within = "; ".join(r["words"] for r in rules if r["state"] == "ok")
    return rules, "fresh", f"every rule within its thresholds: {within}", unjudged


