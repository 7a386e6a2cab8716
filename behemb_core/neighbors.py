"""Exact cosine nearest neighbours: blocked BLAS matmul with bounded memory."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .embeddings import ItemEmbeddings
from .progress import Reporter


@dataclass(frozen=True)
class NeighborTable:
    """Top-k neighbour codes and cosine scores for query rows; ``-1`` / ``nan`` where fewer than k exist."""

    codes: np.ndarray  # (n_queries, k) int64
    scores: np.ndarray  # (n_queries, k) float32


def _top_k_rows(sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the k largest entries per row, sorted descending (ties by lower index)."""
    n = sims.shape[1]
    if k >= n:
        idx = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    else:
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        vals = np.take_along_axis(sims, part, axis=1)
        order = np.lexsort((part, -vals), axis=1)
        idx = np.take_along_axis(part, order, axis=1)
    return idx, np.take_along_axis(sims, idx, axis=1)


def top_k_neighbors(
    emb: ItemEmbeddings,
    k: int = 10,
    *,
    queries: np.ndarray | None = None,
    exclude_self: bool = True,
    block_size: int = 1024,
    progress: Reporter | None = None,
) -> NeighborTable:
    """Exact top-``k`` by cosine for ``queries`` (codes; default: every item), in blocks of ``block_size`` rows.

    Vectors are unit-norm, so cosine is a dot product. Memory is ``block_size × n_items`` floats at a time.
    """
    vectors = emb.vectors
    n = len(vectors)
    q_codes = np.arange(n) if queries is None else np.asarray(queries, dtype=np.int64)
    kk = min(k, n - 1 if exclude_self else n)
    codes = np.full((len(q_codes), k), -1, dtype=np.int64)
    scores = np.full((len(q_codes), k), np.nan, dtype=np.float32)
    if kk <= 0:
        return NeighborTable(codes, scores)
    for start in range(0, len(q_codes), block_size):
        block = q_codes[start : start + block_size]
        sims = vectors[block] @ vectors.T
        if exclude_self:
            sims[np.arange(len(block)), block] = -np.inf
        idx, val = _top_k_rows(sims, kk)
        codes[start : start + len(block), :kk] = idx
        scores[start : start + len(block), :kk] = val
        if progress is not None:
            progress("neighbors", min(1.0, (start + len(block)) / len(q_codes)), "computing neighbours")
    return NeighborTable(codes, scores)


def item_neighbors(
    emb: ItemEmbeddings, item_id: object, k: int = 10, *, names: np.ndarray | None = None
) -> list[dict]:
    """Top-``k`` neighbours of one item as rows ``{rank, item_id, name, score}`` (``name`` when ``names`` given,
    aligned with ``emb.vocab``). Raises ``KeyError`` naming the item when it has no vector."""
    from .vocab import parse_id_like

    if isinstance(item_id, str):
        item_id = parse_id_like(item_id, emb.vocab.kind)
    code = emb.vocab.code(item_id)
    table = top_k_neighbors(emb, k, queries=np.array([code]))
    rows = []
    for rank, (c, s) in enumerate(zip(table.codes[0].tolist(), table.scores[0].tolist()), start=1):
        if c < 0:
            break
        row = {"rank": rank, "item_id": emb.vocab.ids[c].item() if emb.vocab.kind == "int" else emb.vocab.ids[c],
               "score": round(float(s), 6)}
        if names is not None:
            row["name"] = str(names[c])
        rows.append(row)
    return rows
