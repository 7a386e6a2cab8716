"""Golden pairs judged against a version: a pair marked *good* should be among the query's top-k neighbors, a
pair marked *bad* should not. The marks are the store's (:mod:`behemb_core.store.golden`); the judgement is here.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from ..embeddings import ItemEmbeddings
from ..errors import ConfigError, InputError
from ..reports import GoldenCheck
from ..store.checklist import CheckResult
from ..store.golden import GOLDEN_LABELS
from ..vocab import CANONICAL_INT
from .context import CheckContext

__all__ = ["check_golden", "check_golden_pairs"]

_BLOCK = 256  # query rows per similarity block in check_golden
_INT_RE = re.compile(CANONICAL_INT)


def check_golden_pairs(ctx: CheckContext) -> CheckResult:
    """No pair marked good fell out of the top k and no pair marked bad is in it; could not judge with no pair
    marked, or none with both items in this version (acknowledge by name)."""
    k = ctx.k
    threshold = f"no good pair lost, no bad pair in the top {k}"
    pairs = ctx.golden_pairs()
    if pairs.empty:
        why = "no golden pairs are marked yet, so no pair could be checked (mark some on the Neighbors page)"
        return CheckResult("golden pairs", False, None, threshold, why, acknowledgeable=True, could_not_judge=why)
    g = check_golden(ctx.stored.embeddings, pairs, k=k)
    ctx.details["golden"] = {key: v for key, v in g.items() if key != "table"}
    return CheckResult(
        "golden pairs", bool(g["passed"]) and not g["could_not_judge"],
        None if g["share_ok"] is None else round(g["share_ok"], 3), threshold,
        f"{g['good_kept']} good kept, {g['good_lost']} lost; {g['bad_present']} bad present, "
        f"{g['bad_gone']} gone; {g['missing']} not in this version",
        acknowledgeable=True, could_not_judge=g["could_not_judge"],
    )


def check_golden(emb: ItemEmbeddings, pairs: pd.DataFrame, *, k: int = 10) -> GoldenCheck:
    """Re-check golden ``pairs`` (as from :func:`behemb_core.store.golden.golden_pairs`) against one version's
    embeddings.

    For each pair: the neighbor's rank among the query's neighbors by cosine (the query itself excluded; ties
    as in :func:`behemb_core.neighbors.top_k_neighbors`: the lower item code first), ``rank`` when it is in the
    top ``k`` (else missing), and the status — ``kept``/``lost`` for a good pair (in / not in the top k),
    ``present``/``gone`` for a bad pair, ``missing`` when the query or the neighbor has no vector in this
    version (not judged, reported). ``passed`` is true when no good pair is lost and no bad pair is present;
    ``share_ok`` is the share of judged pairs that are as marked (None when none could be judged).
    ``could_not_judge`` is the reason in words when pairs were given but none has both items in this version
    (then ``passed`` only means "nothing was wrong" — nothing was judged, which is not a pass), else None.

    Returns ``{"k", "pairs", "checked", "good_kept", "good_lost", "bad_present", "bad_gone", "missing",
    "passed", "share_ok", "could_not_judge", "table"}`` where ``table`` is a DataFrame with the pair columns given plus
    ``status``, ``ok``, ``rank``, ``overall_rank``, ``similarity`` and ``detail``.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"k must be a positive integer, got {k!r}")
    k = int(k)
    if not isinstance(pairs, pd.DataFrame):
        raise InputError(f"golden pairs must be a DataFrame, got {type(pairs).__name__}")
    missing_cols = [c for c in ("query_id", "neighbor_id", "label") if c not in pairs.columns]
    if missing_cols:
        raise InputError(f"golden pairs lack the columns {missing_cols} (have {list(pairs.columns)})")
    bad_labels = sorted({str(v) for v in pairs["label"].tolist() if v not in GOLDEN_LABELS})
    if bad_labels:
        raise InputError(f"golden pairs have labels {bad_labels}; expected {list(GOLDEN_LABELS)}")

    table = pairs.reset_index(drop=True).copy()
    n_pairs = len(table)
    q_codes = _codes(emb, table["query_id"].tolist())
    n_codes = _codes(emb, table["neighbor_id"].tolist())
    overall = np.full(n_pairs, -1, dtype=np.int64)
    sims = np.full(n_pairs, np.nan, dtype=np.float64)
    judged = np.flatnonzero((q_codes >= 0) & (n_codes >= 0))
    if len(judged):
        vectors = np.ascontiguousarray(emb.vectors, dtype=np.float32)
        all_codes = np.arange(len(vectors))
        uniq, inverse = np.unique(q_codes[judged], return_inverse=True)
        for start in range(0, len(uniq), _BLOCK):
            block = uniq[start:start + _BLOCK]
            block_sims = vectors[block] @ vectors.T  # (block, n_items)
            for j, qc in enumerate(block.tolist()):
                rows = judged[inverse == start + j]
                row = block_sims[j]
                for r in rows.tolist():
                    nc = int(n_codes[r])
                    s = row[nc]
                    better = (row > s) | ((row == s) & (all_codes < nc))
                    better[qc] = False  # the query itself is never its own neighbor
                    better[nc] = False
                    overall[r] = int(better.sum()) + 1
                    sims[r] = float(s)

    labels = table["label"].tolist()
    status: list[str] = []
    ok: list[bool | None] = []
    rank: list[int | None] = []
    detail: list[str] = []
    for i in range(n_pairs):
        if q_codes[i] < 0 or n_codes[i] < 0:
            which = ("query and neighbor" if q_codes[i] < 0 and n_codes[i] < 0
                     else "query" if q_codes[i] < 0 else "neighbor")
            status.append("missing")
            ok.append(None)
            rank.append(None)
            detail.append(f"{which} not in this version")
            continue
        inside = overall[i] <= k
        rank.append(int(overall[i]) if inside else None)
        where = f"rank {overall[i]}" + ("" if inside else f" (outside the top {k})")
        if labels[i] == "good":
            status.append("kept" if inside else "lost")
            ok.append(bool(inside))
        else:
            status.append("present" if inside else "gone")
            ok.append(not inside)
        detail.append(where)
    table["status"] = pd.Series(status, dtype=object)
    table["ok"] = pd.Series(ok, dtype=object)
    table["rank"] = pd.array(rank, dtype="Int64")
    table["overall_rank"] = pd.array([int(v) if v > 0 else None for v in overall], dtype="Int64")
    table["similarity"] = np.round(sims, 6)
    table["detail"] = pd.Series(detail, dtype=object)

    counts = {s: status.count(s) for s in ("kept", "lost", "present", "gone", "missing")}
    checked = n_pairs - counts["missing"]
    good_ok = counts["kept"] + counts["gone"]
    return {
        "k": k,
        "pairs": n_pairs,
        "checked": checked,
        "good_kept": counts["kept"],
        "good_lost": counts["lost"],
        "bad_present": counts["present"],
        "bad_gone": counts["gone"],
        "missing": counts["missing"],
        "passed": counts["lost"] == 0 and counts["present"] == 0,
        "share_ok": round(good_ok / checked, 6) if checked else None,
        "could_not_judge": (f"none of the {n_pairs} golden pairs has both items in this version, so no pair "
                            "could be judged") if n_pairs and not checked else None,
        "table": table,
    }




def _codes(emb: ItemEmbeddings, ids: list[Any]) -> np.ndarray:
    """Codes of ``ids`` in ``emb``'s vocabulary (-1 when absent), matching ids by the vocabulary's id kind."""
    out = np.full(len(ids), -1, dtype=np.int64)
    if not ids:
        return out
    if emb.vocab.kind == "int":
        pos = [i for i, v in enumerate(ids) if not isinstance(v, (bool, np.bool_)) and (
            isinstance(v, (int, np.integer)) or (isinstance(v, str) and _INT_RE.fullmatch(v)))]
        if pos:
            keys = np.array([int(ids[i]) for i in pos], dtype=np.int64)
            out[pos] = emb.vocab.codes(keys)
        return out
    keys = np.array([str(v.item() if isinstance(v, np.generic) else v) for v in ids], dtype=object)
    return emb.vocab.codes(keys)
