"""Stability between two versions: how much did the neighbor lists users see change?

Two versions are compared on the items both contain (matched by id, never by row, through
:meth:`~behemb_core.vocab.Vocabulary.align`): for every shared item, its top-``k`` list in A (over A's whole
catalogue) against its top-``k`` list in B (over B's), as sets of ids (Jaccard@k) and as rankings (rank-biased
overlap). Items only in A are *removed*, only in B *added*; catalogues churn, so that is reported, never an error.

RBO (Webber, Moffat & Zobel 2010) is computed truncated at depth ``k`` and normalised::

    RBO = sum_{d=1..k} w_d · |A[:d] ∩ B[:d]| / d,    w_d = p^(d-1) · (1 - p) / (1 - p^k)

i.e. a weighted mean of the prefix agreements with geometrically decreasing weights (``p = 0.9``: the top
position weighs 2.6× the tenth). Identical lists give exactly 1, disjoint lists 0; unlike RBO_ext it does
not extrapolate beyond depth ``k``, so it means the same for every list length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from ..diagnostics import PopularityLike, align_popularity
from ..embeddings import ItemEmbeddings
from ..errors import ConfigError
from ..metadata import ItemMetadata
from ..neighbors import top_k_neighbors
from ..reports import BandSummary, Histogram, MovedItem, OverlapSummary, Summary
from ..vocab import Vocabulary

BANDS = ("head", "torso", "tail")
BAND_DEFINITION = "by training events, rank-based: head = top 10 % (at least 1 item), tail = bottom 50 %, torso = rest"
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
NamesLike: TypeAlias = ItemMetadata | pd.Series | None
_BLOCK = 4096


@dataclass(frozen=True)
class OverlapResult:
    """Per shared item overlap of two versions' top-``k`` lists.

    ``ids`` are the shared item ids (sorted); ``jaccard`` and ``rbo`` are aligned with them. ``universe`` is
    the union of both catalogues; ``codes`` (the shared items) and ``neighbors_a`` / ``neighbors_b`` (their
    top-``k`` lists in A and B, ``-1`` where a list is shorter) are codes into it. ``added`` / ``removed``
    hold the ids only in B / only in A.
    """

    ids: np.ndarray
    jaccard: np.ndarray
    rbo: np.ndarray
    k: int
    rbo_p: float
    universe: Vocabulary
    codes: np.ndarray
    neighbors_a: np.ndarray
    neighbors_b: np.ndarray
    added: np.ndarray
    removed: np.ndarray

    def summary(self) -> OverlapSummary:
        """JSON-able distribution summaries of ``jaccard`` and ``rbo`` (see :func:`summarize`)."""
        return {"jaccard": summarize(self.jaccard), "rbo": summarize(self.rbo)}


def summarize(values: np.ndarray) -> Summary:
    """``n``, mean, median, quantiles ``q10..q90`` and a 10-bin histogram on [0, 1] (``None``s when empty)."""
    x = np.asarray(values, dtype=np.float64)
    counts, edges = np.histogram(x, bins=10, range=(0.0, 1.0))
    hist: Histogram = {"edges": [round(float(e), 2) for e in edges], "counts": counts.astype(int).tolist()}
    if len(x) == 0:
        return {"n": 0, "mean": None, "median": None, "quantiles": dict.fromkeys(_qnames()), "histogram": hist}
    qs = np.quantile(x, QUANTILES)
    return {"n": int(len(x)), "mean": float(x.mean()), "median": float(np.median(x)),
            "quantiles": {name: float(q) for name, q in zip(_qnames(), qs, strict=True)}, "histogram": hist}


def _qnames() -> list[str]:
    return [f"q{round(q * 100)}" for q in QUANTILES]


def rbo_and_jaccard(lists_a: np.ndarray, lists_b: np.ndarray, p: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """Truncated, normalised RBO and Jaccard of paired rows of two ``(n, k)`` arrays of unique codes.

    ``-1`` marks an empty slot (after the real entries). When both lists are shorter than ``k`` (tiny
    catalogues) RBO is taken to the depth of the longer one, so identical short lists still give 1.0; two
    empty lists count as identical. Vectorised in row blocks.
    """
    a = np.asarray(lists_a, dtype=np.int64)
    b = np.asarray(lists_b, dtype=np.int64)
    if a.shape != b.shape or a.ndim != 2:
        raise ConfigError(f"neighbor lists must have the same 2-d shape, got {a.shape} and {b.shape}")
    if not 0 < p < 1:
        raise ConfigError(f"rbo_p must be in (0, 1), got rbo_p={p}")
    n, k = a.shape
    depth_of_pair = np.maximum.outer(np.arange(k), np.arange(k)).ravel()  # a match at (i, j) counts from depth max+1
    onehot = np.zeros((k * k, k), dtype=np.float32)
    onehot[np.arange(k * k), depth_of_pair] = 1.0
    d = np.arange(1, k + 1, dtype=np.float64)
    w = p ** (d - 1) * (1 - p) / (1 - p**k)
    rbo = np.empty(n, dtype=np.float64)
    jac = np.empty(n, dtype=np.float64)
    for start in range(0, n, _BLOCK):
        sa, sb = a[start : start + _BLOCK], b[start : start + _BLOCK]
        eq = (sa[:, :, None] == sb[:, None, :]) & (sa[:, :, None] >= 0)
        overlap = np.cumsum(eq.reshape(len(sa), k * k).astype(np.float32) @ onehot, axis=1)  # X_d
        inter = overlap[:, -1]
        len_a, len_b = (sa >= 0).sum(axis=1), (sb >= 0).sum(axis=1)
        union = len_a + len_b - inter
        ww = w[None, :] * (d[None, :] <= np.maximum(len_a, len_b)[:, None])  # depth = the longer list
        wsum = ww.sum(axis=1)
        num = ((overlap / d) * ww).sum(axis=1)
        rbo[start : start + len(sa)] = np.divide(num, wsum, out=np.ones(len(sa)), where=wsum > 0)
        jac[start : start + len(sa)] = np.divide(inter, union, out=np.ones(len(sa)), where=union > 0)
    return rbo, jac


def neighbor_overlap(a: ItemEmbeddings, b: ItemEmbeddings, *, k: int = 10, rbo_p: float = 0.9) -> OverlapResult:
    """Compare each shared item's top-``k`` list in ``a`` with its list in ``b`` (Jaccard@k and RBO).

    Each list is the version's own exact top-``k`` over its full catalogue (what a user of that version
    sees), so a neighbor that exists in only one version counts as a difference. Never fails on catalogue
    churn: items in one version only are returned as ``added`` / ``removed``.
    """
    if k < 1:
        raise ConfigError(f"k must be at least 1, got k={k}")
    aligned = a.vocab.align(b.vocab)
    universe, to_u_a, to_u_b = aligned.universe, aligned.left_codes, aligned.right_codes
    shared_a, shared_b = aligned.shared()
    nb_a = top_k_neighbors(a, k, queries=shared_a).codes
    nb_b = top_k_neighbors(b, k, queries=shared_b).codes
    nb_a = np.where(nb_a >= 0, to_u_a[np.maximum(nb_a, 0)], -1)
    nb_b = np.where(nb_b >= 0, to_u_b[np.maximum(nb_b, 0)], -1)
    rbo, jac = rbo_and_jaccard(nb_a, nb_b, rbo_p)
    return OverlapResult(
        ids=a.vocab.ids[shared_a], jaccard=jac, rbo=rbo, k=k, rbo_p=rbo_p, universe=universe,
        codes=to_u_a[shared_a], neighbors_a=nb_a, neighbors_b=nb_b,
        added=b.vocab.ids[aligned.only_right()], removed=a.vocab.ids[aligned.only_left()],
    )


def names_array(names: NamesLike, universe: Vocabulary) -> np.ndarray | None:
    """Names aligned with ``universe`` (``""`` where unknown), or ``None`` without names."""
    if names is None:
        return None
    if isinstance(names, ItemMetadata):
        return names.names_for(universe.ids)
    codes = universe.codes(names.index.to_numpy())
    out = np.full(len(universe), "", dtype=object)
    ok = codes >= 0
    out[codes[ok]] = names.to_numpy(dtype=object)[ok]
    return out


def popularity_bands(popularity: np.ndarray) -> np.ndarray:
    """Band label per item (see ``BAND_DEFINITION``); ties in popularity are broken by position."""
    n = len(popularity)
    n_head = min(n, max(1, int(np.ceil(0.1 * n))))
    n_tail = min(n - n_head, n // 2)
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(-np.asarray(popularity, dtype=np.float64), kind="stable")] = np.arange(n)
    out = np.full(n, "torso", dtype=object)
    out[rank < n_head] = "head"
    out[rank >= n - n_tail] = "tail"
    return out


def band_summaries(result: OverlapResult, pop: np.ndarray | None) -> dict[str, BandSummary] | None:
    """Jaccard@k and RBO summaries per popularity band (``pop`` aligned with ``result.universe``), or ``None``."""
    if pop is None or len(result.ids) == 0:
        return None
    bands = popularity_bands(pop[result.codes])
    return {band: {"n": int((bands == band).sum()), "jaccard": summarize(result.jaccard[bands == band]),
                   "rbo": summarize(result.rbo[bands == band])} for band in BANDS}


def plain_id(v: Any) -> Any:
    """An id as a plain Python value (numpy scalars unwrapped), for JSON."""
    return v.item() if isinstance(v, np.generic) else v


def most_moved(
    result: OverlapResult, *, n: int = 20, names: NamesLike = None, popularity: PopularityLike = None,
    show: int = 5,
) -> list[MovedItem]:
    """The ``n`` shared items whose lists changed most (lowest Jaccard, then RBO, then most popular first),
    with name, popularity and their old (A) and new (B) top-``show`` neighbors — for a human to judge."""
    if len(result.ids) == 0 or n <= 0:
        return []
    name_arr = names_array(names, result.universe)
    pop = align_popularity(result.universe, popularity)
    pop_shared = pop[result.codes] if pop is not None else np.zeros(len(result.ids))
    order = np.lexsort((-pop_shared, result.rbo, result.jaccard))[:n]
    uids = result.universe.ids
    rows = []
    for i in order.tolist():
        old, new = result.neighbors_a[i, :show], result.neighbors_b[i, :show]
        old, new = old[old >= 0], new[new >= 0]
        row: MovedItem = {"item_id": plain_id(result.ids[i]),
               "name": None if name_arr is None else str(name_arr[result.codes[i]]),
               "popularity": None if pop is None else float(pop_shared[i]),
               "jaccard": float(result.jaccard[i]), "rbo": float(result.rbo[i]),
               "old_neighbors": uids[old].tolist(), "new_neighbors": uids[new].tolist()}
        if name_arr is not None:
            row["old_neighbor_names"] = [str(x) for x in name_arr[old]]
            row["new_neighbor_names"] = [str(x) for x in name_arr[new]]
        rows.append(row)
    return rows


def overlap_table(result: OverlapResult, *, names: NamesLike = None, popularity: PopularityLike = None) -> pd.DataFrame:
    """Per shared item: ``item_id, name, popularity, jaccard, rbo`` (for a CSV); name ``""`` and popularity
    ``NaN`` when not given."""
    name_arr = names_array(names, result.universe)
    pop = align_popularity(result.universe, popularity)
    return pd.DataFrame({
        "item_id": result.ids,
        "name": name_arr[result.codes] if name_arr is not None else np.full(len(result.ids), "", dtype=object),
        "popularity": pop[result.codes] if pop is not None else np.full(len(result.ids), np.nan),
        "jaccard": result.jaccard,
        "rbo": result.rbo,
    })
