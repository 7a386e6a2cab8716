"""How closely an ANN index serves the exact neighbor lists: recall@k against exact search, by popularity band and
on the items of the golden pairs, with the query time and the smallest ``ef`` that reaches a target recall.

A returned neighbor counts as a hit when its exact similarity reaches the query's ``k``-th exact similarity (less
:data:`TIE_TOLERANCE`): items tied with the ``k``-th are equally right, and float32 sums in another order must not
count as misses. The query itself is never a neighbor (as on the Neighbors page). Queries are a seeded sample of the
catalogue's items; the golden pairs' query items are measured as well, on their own.

An index of the "next item" mode holds the candidate vectors ``K`` and is queried with the query vectors ``Q``
(``query_vectors``): the exact reference is then ``Q_a · K_b`` (the query item itself excluded), as on the
Neighbors page's "Next" list.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TypedDict

import numpy as np

from ..compare.stability import BANDS, popularity_bands
from ..neighbors import exact_top_k
from ..progress import Reporter
from .index import AnnIndex

__all__ = ["DEFAULT_EF_GRID", "TIE_TOLERANCE", "AnnMeasurement", "BandRecall", "EfPoint", "measure_recall"]

TIE_TOLERANCE = 1e-5
_EXACT_BUFFER_BYTES = 256 << 20  # the similarity block of exact search (all items × a block of queries)
#: The ``ef`` values tried to find the smallest one that reaches the target recall.
DEFAULT_EF_GRID: tuple[int, ...] = (16, 32, 64, 128, 256, 512)


class BandRecall(TypedDict):
    """Recall of the queries of one group (a popularity band, or the golden pairs' items)."""

    n: int
    recall: float | None


class EfPoint(TypedDict):
    ef: int
    recall: float
    queries_per_second: float


class AnnMeasurement(TypedDict):
    """What :func:`measure_recall` measured (stored with every index built, shown by the sign-off check)."""

    k: int
    queries: int
    seed: int
    ef_search: int
    recall: float
    bands: dict[str, BandRecall] | None
    worst_band: str | None
    golden: BandRecall | None
    queries_per_second: float
    exact_queries_per_second: float
    target: float
    ef_for_target: int | None
    by_ef: list[EfPoint]
    band_definition: str


def _hits(vectors: np.ndarray, query_vectors: np.ndarray, queries: np.ndarray, found: np.ndarray,
          kth: np.ndarray) -> np.ndarray:
    """Per query, how many distinct ``found`` items are true top-k neighbors (similarity ≥ the k-th exact one)."""
    valid = found >= 0
    sims = np.einsum("qd,qkd->qk", query_vectors[queries], vectors[np.maximum(found, 0)])
    ok = valid & (sims >= kth[:, None] - TIE_TOLERANCE)
    srt = np.sort(np.where(ok, found, -1), axis=1)
    dup = np.zeros_like(ok)
    dup[:, 1:] = (srt[:, 1:] == srt[:, :-1]) & (srt[:, 1:] >= 0)
    return (ok.sum(axis=1) - dup.sum(axis=1)).astype(np.int64)


def measure_recall(index: AnnIndex, vectors: np.ndarray, *, k: int = 10, queries: int = 2000, seed: int = 0,
                   events: np.ndarray | None = None, golden: Sequence[int] | np.ndarray = (),
                   target: float = 0.95, ef_grid: Sequence[int] | None = DEFAULT_EF_GRID,
                   query_vectors: np.ndarray | None = None, progress: Reporter | None = None) -> AnnMeasurement:
    """Recall@``k`` of ``index`` (built over ``vectors``, unit-norm, row = item code) against exact search.

    Item ``a`` is queried with row ``a`` of ``query_vectors`` (default: ``vectors`` — the "also viewed" mode; the
    query vectors ``Q`` for an index over the candidate vectors ``K``), never returning ``a`` itself.

    ``queries`` items are drawn with ``seed`` (all of them in a smaller catalogue); ``events`` (per row: how
    often the item occurred in training, 0 for an item with no behaviour, such as a cold-start row of a fusion
    version) gives each query its popularity band; ``golden`` are item codes measured on their own (the golden
    pairs' query items). The recall is at the index's own ``ef_search``; ``ef_grid`` is searched for the
    smallest ``ef`` reaching ``target`` (None when none does; pass None to skip the grid). Queries per second
    are of one batch of the sampled queries on the index's threads, beside exact search of the same batch —
    a busy machine shows lower figures, so the ratio means more than either."""
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    q = x if query_vectors is None else np.ascontiguousarray(query_vectors, dtype=np.float32)
    if q.shape != x.shape:
        raise ValueError(f"query vectors must have the indexed vectors' shape {x.shape}, got {q.shape}")
    n = len(x)
    kk = min(k, n - 1)
    if kk < 1:
        raise ValueError("recall needs at least two items")
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, size=min(queries, n), replace=False)).astype(np.int64)
    gold = np.unique(np.asarray(golden, dtype=np.int64))
    gold = gold[(gold >= 0) & (gold < n)]
    block = max(1, min(1024, _EXACT_BUFFER_BYTES // (4 * n)))  # one block × n float32 buffer: ≤ 256 MB at 1M items
    t0 = time.perf_counter()
    _, exact_sims = exact_top_k(q[sample], x, kk, skip=sample, block_size=block)
    exact_qps = len(sample) / max(time.perf_counter() - t0, 1e-9)
    if len(gold):
        _, gold_sims = exact_top_k(q[gold], x, kk, skip=gold, block_size=block)
        kth = np.empty(n, dtype=np.float32)
        kth[sample], kth[gold] = exact_sims[:, -1], gold_sims[:, -1]
    else:
        kth = np.empty(n, dtype=np.float32)
        kth[sample] = exact_sims[:, -1]

    def run(ef: int, rows: np.ndarray) -> tuple[np.ndarray, float]:
        t = time.perf_counter()
        found, _ = index.search(q[rows], kk, ef=ef, skip=rows)
        seconds = time.perf_counter() - t
        return _hits(x, q, rows, found, kth[rows]) / kk, len(rows) / max(seconds, 1e-9)

    ef_own = max(index.params.ef_search, kk + 1)  # the index searches at least k + 1 candidates (one is the query)
    grid = sorted({max(int(e), kk + 1) for e in (ef_grid or ())} | {ef_own})
    points: list[EfPoint] = []
    own: tuple[np.ndarray, float] | None = None
    for i, ef in enumerate(grid):
        if progress is not None:
            progress("recall", i / len(grid), f"measuring recall at ef {ef}")
        per_query, qps = run(ef, sample)
        points.append({"ef": ef, "recall": round(float(per_query.mean()), 6), "queries_per_second": round(qps, 1)})
        if ef == ef_own:
            own = (per_query, qps)
    assert own is not None
    per_query, qps = own
    bands: dict[str, BandRecall] | None = None
    worst = None
    if events is not None:
        labels = popularity_bands(np.asarray(events, dtype=np.float64))[sample]
        bands = {}
        for band in BANDS:
            mask = labels == band
            bands[band] = {"n": int(mask.sum()),
                           "recall": round(float(per_query[mask].mean()), 6) if mask.any() else None}
        judged = {b: v["recall"] for b, v in bands.items() if v["recall"] is not None}
        if judged and min(judged.values()) < max(judged.values()):  # a tie names no band
            worst = min(judged, key=lambda b: judged[b])
    golden_recall: BandRecall | None = None
    if len(gold):
        g, _ = run(ef_own, gold)
        golden_recall = {"n": len(gold), "recall": round(float(g.mean()), 6)}
    reaching = [p["ef"] for p in points if p["recall"] >= target and (ef_grid or p["ef"] == ef_own)]
    if progress is not None:
        progress("recall", 1.0, "recall measured")
    return {"k": kk, "queries": len(sample), "seed": seed, "ef_search": ef_own,
            "recall": round(float(per_query.mean()), 6), "bands": bands, "worst_band": worst,
            "golden": golden_recall, "queries_per_second": round(qps, 1),
            "exact_queries_per_second": round(exact_qps, 1), "target": target,
            "ef_for_target": min(reaching) if reaching else None, "by_ef": points,
            "band_definition": "head = top 10 % of items by training events, tail = bottom 50 %, torso = the rest; "
                               "the band of the query item"}
