"""The four measurements of drift: coverage, decay, neighbor support and popularity shift."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.stats import spearmanr

from ..cooccurrence import count_cooccurrence
from ..evaluation import next_item_pairs, ranks_for_embeddings, ranks_for_item_knn, score_block, time_split
from ..explain import implied_window
from ..neighbors import top_k_neighbors
from ..progress import Reporter, as_reporter
from ..reports import interval, metric, stored_evaluation
from ..sessions import Sessions
from ..store import StoredVersion
from .types import Coverage, Decay, NeighborSupport, PopularityShift


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

