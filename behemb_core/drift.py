"""Drift: how well does a stored (by default the published) version still fit new interaction data?

Behaviour embeddings assume the catalogue and its co-occurrences stand still; they don't. :func:`drift_report`
reads new sessions (read exactly as training reads them) against a version and reports four parts:

* **coverage** — the cold-start holes: share of the new events, sessions (with at least one such event) and
  distinct items the version has no vector for, with the most frequent missing items by name;
* **decay** — next-item HR@K of the version on every consecutive pair of the new data (:mod:`.evaluation`, with a
  bootstrap interval), beside the HR@K stored at training time (the manifest's evaluation, ``train --evaluate``)
  and beside item-kNN *fitted on the new data itself* (its first part by time; both scored on the pairs of the last
  ``holdout`` share);
* **neighbor support** — for the new data's most popular items the version knows: the share of the version's
  top-K neighbors that still co-occur with them in the new data (the version's own window);
* **popularity shift** — with the version's stored training popularity (``item_stats``): overlap of the head
  (top ``head`` items) then and now, Spearman rank correlation over the items in both, and the share of new
  events on items that were head at training time (beside their share then).

A **verdict** — ``fresh``, ``aging``, ``stale`` or ``could not judge`` — comes from :class:`DriftThresholds`
(the store policy's ``drift`` section, else the defaults), with the reason in words. Without overlap, without
pairs, or without any judged decay rule the verdict is ``could not judge``, never ``fresh``. The command line
exits :data:`EXIT_STALE` (4) for *stale* — retrain recommended — and :data:`EXIT_COULD_NOT_JUDGE` (3) when it
could not judge. Everything is vectorised over arrays and sparse matrices; the library never prints.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.stats import spearmanr

from .cooccurrence import count_cooccurrence
from .errors import ConfigError
from .evaluation import next_item_pairs, ranks_for_embeddings, ranks_for_item_knn, score_block, time_split
from .explain import implied_window
from .ingest import Dataset
from .neighbors import top_k_neighbors
from .progress import ProgressCallback, Reporter, as_reporter
from .reports import interval, metric, stored_evaluation
from .sessions import Sessions
from .store import Store, StoredVersion, published_version
from .store import _lifecycle_io as lio
from .store.drift_policy import DriftThresholds
from .store.drift_reports import drift_reports, latest_drift_report, save_drift_report
from .store.policy import read_policy

__all__ = ["EXIT_COULD_NOT_JUDGE", "EXIT_STALE", "DriftReport", "DriftThresholds", "Verdict", "check_drift",
           "drift_report", "drift_reports", "drift_thresholds", "exit_code", "latest_drift_report",
           "save_drift_report"]

Verdict = Literal["fresh", "aging", "stale", "could not judge"]
RuleState = Literal["ok", "aging", "stale", "not judged"]
#: Exit code of ``drift`` when the version is stale: retrain recommended (0: fresh or aging, 1: an error,
#: 2: usage, 3: could not judge — as ``verify``).
EXIT_STALE = 4
EXIT_COULD_NOT_JUDGE = 3


class MissingItem(TypedDict):
    item_id: Any
    name: str
    events: int
    sessions: int


class Coverage(TypedDict):
    events: int
    sessions: int
    items: int
    missing_events: int
    missing_sessions: int
    missing_items: int
    missing_events_share: float
    missing_sessions_share: float
    missing_items_share: float
    top_missing: list[MissingItem]


class Decay(TypedDict):
    k: int
    pairs: int
    queries_without_vector: int
    hr: float | None
    hr_ci95: list[float] | None
    stored_hr: float | None
    stored_hr_ci95: list[float] | None
    hr_vs_stored: float | None
    tail_pairs: int
    version_hr_on_tail: float | None
    version_hr_on_tail_ci95: list[float] | None
    item_knn_hr_on_tail: float | None
    item_knn_hr_on_tail_ci95: list[float] | None
    hr_vs_item_knn: float | None
    holdout: float
    notes: list[str]


class SupportRow(TypedDict):
    item_id: Any
    name: str
    events: int
    neighbors: int
    still_cooccurring: int
    share: float


class NeighborSupport(TypedDict):
    k: int
    window: int
    items: int
    mean_share: float | None
    items_without_support: int
    top: list[SupportRow]


class HeadItem(TypedDict):
    item_id: Any
    name: str
    events_new: int
    training_rank: int | None


class PopularityShift(TypedDict):
    judged: bool
    head: int
    head_overlap: float | None
    spearman: float | None
    items_compared: int
    head_share_then: float | None
    head_share_now: float | None
    risers: list[HeadItem]
    note: str | None


class Rule(TypedDict):
    rule: str
    value: float | None
    aging: float
    stale: float
    state: RuleState
    words: str


class DriftReport(TypedDict):
    kind: Literal["drift"]
    version: str | None
    at: str
    data: dict[str, Any]
    coverage: Coverage | None
    decay: Decay | None
    neighbor_support: NeighborSupport | None
    popularity: PopularityShift | None
    thresholds: dict[str, Any]
    rules: list[Rule]
    verdict: Verdict
    reason: str
    could_not_judge: list[str]


def drift_thresholds(store: Store | str | None) -> DriftThresholds:
    """The thresholds in force: the store policy's ``drift`` section, else the defaults."""
    policy = read_policy(store) if store is not None else None
    return policy.drift if policy is not None and policy.drift is not None else DriftThresholds()


def exit_code(report: DriftReport) -> int:
    """The command line's exit code for a report: 4 stale (retrain), 3 could not judge, else 0."""
    return {"stale": EXIT_STALE, "could not judge": EXIT_COULD_NOT_JUDGE}.get(report["verdict"], 0)


def _names(ids: np.ndarray, *metas: Any) -> np.ndarray:
    """Names of ``ids`` from the first item metadata that knows them ("" where none does)."""
    out = np.full(len(ids), "", dtype=object)
    for meta in metas:
        if meta is None or not len(ids):
            continue
        found = meta.names_for(ids)
        fill = (out == "") & (found != "")
        out[fill] = found[fill]
    return out


def _id(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _hr_block(ranks: np.ndarray, k: int, n_boot: int) -> tuple[float | None, list[float] | None]:
    if len(ranks) == 0:
        return None, None
    block = score_block(ranks, (k,), n_boot=n_boot, seed=0)
    ci = block["ci95"].get(f"hr@{k}")
    return float(block[f"hr@{k}"]), ci


# ------------------------------------------------------------------------------------------------ the parts


def coverage_part(stored: StoredVersion, sessions: Sessions, *, top: int = 10, item_meta: Any = None) -> Coverage:
    """The cold-start holes: what of ``sessions`` the version has no vector for."""
    emb = stored.embeddings
    missing_item = emb.vocab.codes(sessions.vocab.ids) < 0
    ev_missing = missing_item[sessions.codes]
    sess = sessions.session_of_event()
    missing_sessions = int((np.bincount(sess[ev_missing], minlength=sessions.n_sessions) > 0).sum())
    counts = sessions.item_counts()
    in_sessions = sessions.item_session_counts()
    cand = np.flatnonzero(missing_item)
    order = cand[np.lexsort((cand, -counts[cand]))][:top]
    ids = sessions.vocab.take(order)
    names = _names(ids, item_meta)
    n_ev, n_s, n_i = sessions.n_events, sessions.n_sessions, sessions.n_items
    return {
        "events": int(n_ev), "sessions": int(n_s), "items": int(n_i),
        "missing_events": int(ev_missing.sum()), "missing_sessions": missing_sessions,
        "missing_items": int(missing_item.sum()),
        "missing_events_share": float(ev_missing.sum() / max(n_ev, 1)),
        "missing_sessions_share": float(missing_sessions / max(n_s, 1)),
        "missing_items_share": float(missing_item.sum() / max(n_i, 1)),
        "top_missing": [{"item_id": _id(i), "name": str(nm), "events": int(counts[c]),
                         "sessions": int(in_sessions[c])} for i, nm, c in zip(ids, names, order, strict=True)],
    }


def decay_part(stored: StoredVersion, sessions: Sessions, *, k: int = 10, holdout: float = 0.1, n_boot: int = 200,
               progress: Reporter | None = None) -> Decay:
    """Next-item HR@k of the version on the new pairs, beside its stored HR@k and item-kNN fitted on the new data."""
    rep = progress or as_reporter(None)
    notes: list[str] = []
    pairs = next_item_pairs(sessions)
    ranks, without = ranks_for_embeddings(stored.embeddings, pairs, k) if len(pairs) else (np.zeros(0, np.int64), 0)
    hr, hr_ci = _hr_block(ranks, k, n_boot)
    evaluation = stored_evaluation(stored.manifest, where=f"version {stored.name!r}")
    stored_hr = stored_ci = None
    if evaluation is None:
        notes.append(f"{stored.name} stores no evaluation (train --evaluate): no HR from training time to compare")
    else:
        stored_hr = metric(evaluation["method"], "hr", k)
        ci = interval(evaluation["method"], "hr", k)
        stored_ci = list(ci) if ci is not None else None
        if stored_hr is None:
            notes.append(f"{stored.name}'s stored evaluation has no HR@{k}")
    rep("decay", 0.5, f"item-kNN on the first {1 - holdout:.0%} of the new sessions")
    tail_pairs = 0
    v_tail = v_tail_ci = knn = knn_ci = None
    if sessions.n_sessions >= 2 and len(pairs):
        train, test = time_split(sessions, holdout=holdout)
        tail = next_item_pairs(test)
        tail_pairs = len(tail)
        if tail_pairs:
            v_ranks, _ = ranks_for_embeddings(stored.embeddings, tail, k)
            v_tail, v_tail_ci = _hr_block(v_ranks, k, n_boot)
            knn, knn_ci = _hr_block(ranks_for_item_knn(train, tail, k), k, n_boot)
    if not tail_pairs:
        notes.append("the last part of the new sessions has no pairs: no item-kNN comparison")
    return {
        "k": k, "pairs": len(pairs), "queries_without_vector": int(without), "hr": hr, "hr_ci95": hr_ci,
        "stored_hr": stored_hr, "stored_hr_ci95": stored_ci,
        "hr_vs_stored": hr / stored_hr if hr is not None and stored_hr else None,
        "tail_pairs": tail_pairs, "version_hr_on_tail": v_tail, "version_hr_on_tail_ci95": v_tail_ci,
        "item_knn_hr_on_tail": knn, "item_knn_hr_on_tail_ci95": knn_ci,
        "hr_vs_item_knn": v_tail / knn if v_tail is not None and knn else None,
        "holdout": holdout, "notes": notes,
    }


def support_part(stored: StoredVersion, sessions: Sessions, *, k: int = 10, items: int = 100, top: int = 10,
                 item_meta: Any = None) -> NeighborSupport:
    """For the ``items`` most popular new items the version knows: how much of its top-k co-occurs in the new data
    (within the version's own window, :func:`behemb_core.explain.implied_window`)."""
    emb = stored.embeddings
    window = implied_window(stored.manifest)
    v_code = emb.vocab.codes(sessions.vocab.ids)  # new code -> version code (-1: missing)
    new_code = sessions.vocab.codes(emb.vocab.ids)  # version code -> new code (-1: not in the new data)
    counts = sessions.item_counts()
    known = np.flatnonzero((v_code >= 0) & (counts > 0))
    chosen = known[np.lexsort((known, -counts[known]))][:items]
    if not len(chosen):
        return {"k": k, "window": window, "items": 0, "mean_share": None, "items_without_support": 0, "top": []}
    cooc = sp.csr_matrix(count_cooccurrence(sessions, window=window))
    nb = top_k_neighbors(emb, k, queries=v_code[chosen]).codes
    valid = nb >= 0
    nbn = np.where(valid, new_code[np.where(valid, nb, 0)], -1)
    present = nbn >= 0
    rows = np.broadcast_to(chosen[:, None], nbn.shape)
    together = np.zeros(nbn.shape, dtype=bool)
    if present.any():
        together[present] = np.asarray(cooc[rows[present], nbn[present]]).ravel() > 0
    n_nb = valid.sum(axis=1)
    share = np.where(n_nb > 0, together.sum(axis=1) / np.maximum(n_nb, 1), 0.0)
    ids = sessions.vocab.take(chosen[:top])
    names = _names(ids, item_meta, stored.item_meta)
    return {
        "k": k, "window": window, "items": int(len(chosen)), "mean_share": float(share.mean()),
        "items_without_support": int((together.sum(axis=1) == 0).sum()),
        "top": [{"item_id": _id(i), "name": str(nm), "events": int(counts[c]), "neighbors": int(n_nb[j]),
                 "still_cooccurring": int(together[j].sum()), "share": float(share[j])}
                for j, (i, nm, c) in enumerate(zip(ids, names, chosen[:top], strict=True))],
    }


def popularity_part(stored: StoredVersion, sessions: Sessions, *, head: int = 100, top: int = 10,
                    item_meta: Any = None) -> PopularityShift:
    """The head then (the version's stored ``item_stats``) and now (``sessions``)."""
    stats = stored.item_stats
    if stats is None or not len(stats):
        return {"judged": False, "head": head, "head_overlap": None, "spearman": None, "items_compared": 0,
                "head_share_then": None, "head_share_now": None, "risers": [],
                "note": f"{stored.name} stores no training popularity (item_stats): no popularity shift"}
    then_ids = stats["item_id"].to_numpy()
    then_ev = stats["events"].to_numpy(dtype=np.float64)
    then_order = np.argsort(-then_ev, kind="stable")
    then_rank = np.empty(len(then_ev), dtype=np.int64)
    then_rank[then_order] = np.arange(1, len(then_ev) + 1)
    counts = sessions.item_counts()
    now_order = np.lexsort((np.arange(len(counts)), -counts))
    h = min(head, len(then_ev), len(counts))
    then_head_now = sessions.vocab.codes(then_ids[then_order[:h]])  # new codes of the training head
    now_head = now_order[:h]
    then_head_set = set(then_head_now[then_head_now >= 0].tolist())
    overlap = sum(1 for c in now_head.tolist() if c in then_head_set) / max(h, 1)
    in_new = sessions.vocab.codes(then_ids)
    both = in_new >= 0
    rho = None
    if both.sum() >= 3 and np.ptp(then_ev[both]) > 0 and np.ptp(counts[in_new[both]]) > 0:
        value = spearmanr(then_ev[both], counts[in_new[both]]).statistic
        rho = None if not np.isfinite(value) else float(value)
    share_then = float(then_ev[then_order[:h]].sum() / max(then_ev.sum(), 1))
    share_now = float(counts[then_head_now[then_head_now >= 0]].sum() / max(counts.sum(), 1))
    code_to_then = pd.Series(then_rank, index=pd.Index(np.asarray(in_new)))
    code_to_then = code_to_then[code_to_then.index >= 0]
    risers = [c for c in now_head.tolist() if c not in then_head_set][:top]
    ids = sessions.vocab.take(np.asarray(risers, dtype=np.int64))
    names = _names(ids, item_meta, stored.item_meta)
    return {
        "judged": True, "head": h, "head_overlap": float(overlap), "spearman": rho, "items_compared": int(both.sum()),
        "head_share_then": share_then, "head_share_now": share_now,
        "risers": [{"item_id": _id(i), "name": str(nm), "events_new": int(counts[c]),
                    "training_rank": int(code_to_then[c]) if c in code_to_then.index else None}
                   for i, nm, c in zip(ids, names, risers, strict=True)],
        "note": None,
    }


# ------------------------------------------------------------------------------------------------ the verdict


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


def _unjudgeable(version: str | None, data: dict[str, Any], t: DriftThresholds, reason: str,
                 coverage: Coverage | None = None) -> DriftReport:
    return {"kind": "drift", "version": version, "at": lio.utc_now(), "data": data, "coverage": coverage,
            "decay": None, "neighbor_support": None, "popularity": None, "thresholds": t.model_dump(mode="json"),
            "rules": [], "verdict": "could not judge", "reason": reason,
            "could_not_judge": [reason]}


def _data_section(sessions: Sessions, dataset: Dataset | None) -> dict[str, Any]:
    out: dict[str, Any] = {"fingerprint": sessions.fingerprint(), "sessions": sessions.n_sessions,
                           "events": sessions.n_events, "items": sessions.n_items}
    if sessions.start_times is not None and sessions.n_sessions:
        first, last = int(sessions.start_times.min()), int(sessions.start_times.max())
        out["first_session"] = pd.Timestamp(first, unit="ns", tz="UTC").isoformat()
        out["last_session"] = pd.Timestamp(last, unit="ns", tz="UTC").isoformat()
    if dataset is not None:
        out["paths"] = [str(p) for p in (dataset.source.get("paths") or [])][:50]
    return out


def drift_report(
    stored: StoredVersion,
    data: Dataset | Sessions,
    *,
    thresholds: DriftThresholds | None = None,
    k: int = 10,
    holdout: float = 0.1,
    n_boot: int = 200,
    head: int = 100,
    support_items: int = 100,
    top: int = 10,
    progress: ProgressCallback | Reporter | None = None,
) -> DriftReport:
    """The drift report of ``stored`` on the new data (a :class:`Dataset` — its names are used — or bare
    :class:`Sessions`), judged by ``thresholds`` (default :class:`DriftThresholds`). See the module docstring."""
    if not 1 <= k <= 1000:
        raise ConfigError(f"-k must be between 1 and 1000, got {k}")
    if not 0 < holdout < 1:
        raise ConfigError(f"holdout must be between 0 and 1, got {holdout}")
    t = thresholds or DriftThresholds()
    rep = as_reporter(progress)
    dataset = data if isinstance(data, Dataset) else None
    sessions = data.sessions if isinstance(data, Dataset) else data
    meta = dataset.item_meta if dataset is not None else None
    section = _data_section(sessions, dataset)
    trained_on = (stored.manifest.get("dataset") or {}).get("fingerprint")
    section["same_as_training_data"] = bool(trained_on) and trained_on == section["fingerprint"]
    rep("coverage", 0.05, f"items of the new data {stored.name} lacks")
    coverage = coverage_part(stored, sessions, top=top, item_meta=meta)
    if sessions.n_events == 0:
        return _unjudgeable(stored.name, section, t, "the new data has no events", coverage)
    if coverage["missing_items"] == coverage["items"]:
        return _unjudgeable(stored.name, section, t, f"{stored.name} has a vector for none of the "
                            f"{coverage['items']} items of the new data (no overlap at all: another catalogue?)",
                            coverage)
    rep("decay", 0.15, f"HR@{k} of {stored.name} on the new pairs")
    decay = decay_part(stored, sessions, k=k, holdout=holdout, n_boot=n_boot, progress=rep.sub(0.15, 0.7))
    if decay["pairs"] == 0:
        return _unjudgeable(stored.name, section, t, "the new data has no consecutive pairs of different items",
                            coverage)
    rep("support", 0.7, "neighbor support in the new co-occurrences")
    support = support_part(stored, sessions, k=k, items=support_items, top=top, item_meta=meta)
    rep("popularity", 0.9, "popularity then and now")
    popularity = popularity_part(stored, sessions, head=head, top=top, item_meta=meta)
    rules, verdict, reason, unjudged = judge(coverage, decay, support, t, stored.name)
    if section["same_as_training_data"]:
        decay["notes"].append(f"the new data is {stored.name}'s own training data: its numbers are optimistic")
    rep("done", 1.0, f"{verdict}: {reason}")
    return {"kind": "drift", "version": stored.name, "at": lio.utc_now(), "data": section, "coverage": coverage,
            "decay": decay, "neighbor_support": support, "popularity": popularity,
            "thresholds": t.model_dump(mode="json"), "rules": rules, "verdict": verdict, "reason": reason,
            "could_not_judge": unjudged}


def check_drift(
    store: Store | str,
    data: Dataset | Sessions,
    *,
    version: str | None = None,
    k: int = 10,
    holdout: float = 0.1,
    n_boot: int = 200,
    head: int = 100,
    support_items: int = 100,
    progress: ProgressCallback | Reporter | None = None,
) -> DriftReport:
    """:func:`drift_report` of ``version`` (default: the published one) in ``store``, judged by the store policy's
    thresholds. Nothing published: a report that could not judge (``version`` None). Keeping it is
    :func:`save_drift_report`'s (the caller decides; the CLI does unless ``--no-save``)."""
    st = lio.store_of(store)
    t = drift_thresholds(st)
    name = version if version is not None else published_version(st)
    if name is None:
        sessions = data.sessions if isinstance(data, Dataset) else data
        return _unjudgeable(None, _data_section(sessions, data if isinstance(data, Dataset) else None), t,
                            f"nothing is published in {st.url} (give a version to judge)")
    stored = st.load_version(name)
    return drift_report(stored, data, thresholds=t, k=k, holdout=holdout, n_boot=n_boot, head=head,
                        support_items=support_items, progress=progress)
