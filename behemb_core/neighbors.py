"""Cosine nearest neighbors over a whole catalogue: exact (blocked BLAS matmul + compiled top-k selection) or
approximate (pynndescent) for very large catalogues.

Two rankings: "also viewed" (:func:`item_neighbors`, cosine of the symmetric vectors) and "next"
(:func:`next_item_neighbors`, ``Q_a · K_b`` of a version's directional pair: what people go on to after ``a``).

Exact search is the reference every other number in behemb is measured against. Besides the matmul, the cost is
*selecting* the top k of each catalogue-long row (``argpartition`` would copy and reorder every row). Here a
compiled, parallel kernel scans each row once, keeping a sorted k-buffer and skipping any value below its current
k-th best, so selection costs one comparison per entry. Timings and pynndescent's recall against exact search are
in ``benchmarks/results/library-measurements.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from .embeddings import DirectionalPair, ItemEmbeddings
from .errors import ConfigError
from .parallel import KERNEL_LOCK
from .progress import Reporter


@dataclass(frozen=True)
class NeighborTable:
    """Top-k neighbor codes and cosine scores for query rows; ``-1`` / ``nan`` where fewer than k exist."""

    codes: np.ndarray  # (n_queries, k) int64
    scores: np.ndarray  # (n_queries, k) float32


_CHUNK = 64  # columns ruled out by one SIMD compare pass before any scalar work
_FM = {"nnan", "nsz", "reassoc"}  # similarities are finite (checked on every fit); -inf marks empty slots
_COL_CHUNK = 512  # columns one thread owns in the column pass (their thresholds stay in L1)


@njit(inline="always")
def _insert(vals: np.ndarray, idx: np.ndarray, k: int, v: np.float32, j: np.int64) -> None:  # pragma: no cover
    """Insert ``(v, j)`` into a descending k-list whose empty slots hold ``-inf``; ties keep earlier entries."""
    pos = k - 1
    while pos > 0 and vals[pos - 1] < v:
        vals[pos] = vals[pos - 1]
        idx[pos] = idx[pos - 1]
        pos -= 1
    vals[pos] = v
    idx[pos] = j


@njit(inline="always")
def _scan_row(row, skip, vals, idx, offset):  # pragma: no cover - compiled
    """Merge ``row`` (columns ``offset + c``, local column ``skip`` left out) into the descending k-list.

    The row is scanned in chunks of ``_CHUNK``: one fixed-length OR of comparisons — LLVM turns it into SIMD
    compares, which it does not do for a max reduction — asks whether any value beats the current k-th best;
    only then are the chunk's values inserted one by one. Once the list holds k good values almost every
    chunk is ruled out by that pass, so selection runs near memory speed.
    """
    k = len(vals)
    n = len(row)
    for c0 in range(0, n, _CHUNK):
        c1 = min(c0 + _CHUNK, n)
        if c1 - c0 == _CHUNK and not (c0 <= skip < c1):
            worst = vals[k - 1]
            hit = False
            for c in range(_CHUNK):
                hit |= row[c0 + c] > worst
            if not hit:
                continue
        for c in range(c0, c1):
            v = row[c]
            if c != skip and v > vals[k - 1]:
                _insert(vals, idx, k, v, offset + c)


@njit(parallel=True, cache=True, nogil=True, fastmath=_FM)
def _select_top_k(sims: np.ndarray, exclude: np.ndarray, k: int, out_idx: np.ndarray, out_val: np.ndarray) -> None:
    """Per row: the k largest values (ties: lower column first), skipping column ``exclude[row]``."""
    for r in prange(sims.shape[0]):
        vals = np.full(k, -np.inf, dtype=np.float32)
        idx = np.full(k, -1, dtype=np.int64)
        _scan_row(sims[r], exclude[r], vals, idx, 0)
        out_idx[r] = idx
        out_val[r] = vals


@njit(parallel=True, cache=True, nogil=True, fastmath=_FM)
def _merge_upper_block(sims, i0, exclude_self, top_val, top_idx):  # pragma: no cover - compiled
    """Merge one block of the upper triangle into the running top-k lists of every item.

    ``sims[r, c]`` is the similarity of items ``i0 + r`` and ``i0 + c`` (``c ≥ 0``: the block's rows against
    every item from ``i0`` on). Row pass: each block row scans all its columns. Column pass: each item right
    of the block (``c ≥ n_rows``) takes the block's rows as candidates — its similarities to items before it
    arrive here, so no item needs the lower triangle. Candidates reach every list in increasing item order,
    so ties keep the lower item first, exactly as a full-row scan would.
    """
    n_rows, n_cols = sims.shape
    k = top_val.shape[1]
    for r in prange(n_rows):
        _scan_row(sims[r], r if exclude_self else -1, top_val[i0 + r], top_idx[i0 + r], i0)
    n_chunks = (n_cols - n_rows + _COL_CHUNK - 1) // _COL_CHUNK
    for t in prange(n_chunks):
        c0 = n_rows + t * _COL_CHUNK
        c1 = min(c0 + _COL_CHUNK, n_cols)
        width = c1 - c0
        thr = np.empty(_COL_CHUNK, dtype=np.float32)
        for c in range(width):
            thr[c] = top_val[i0 + c0 + c, k - 1]
        for r in range(n_rows):
            row = sims[r]
            hit = False
            for c in range(width):
                hit |= row[c0 + c] > thr[c]
            if not hit:
                continue
            for c in range(width):
                v = row[c0 + c]
                if v > thr[c]:
                    j = i0 + c0 + c
                    _insert(top_val[j], top_idx[j], k, v, i0 + r)
                    thr[c] = top_val[j, k - 1]


def _all_pairs_top_k(vectors: np.ndarray, k: int, exclude_self: bool, block_size: int,
                     progress: Reporter | None) -> tuple[np.ndarray, np.ndarray]:
    """Top-k of every item from the upper triangle of ``V Vᵀ`` only: half the matmul of a row-by-row search."""
    n = len(vectors)
    top_val = np.full((n, k), -np.inf, dtype=np.float32)
    top_idx = np.full((n, k), -1, dtype=np.int64)
    flat = np.empty(min(block_size, n) * n, dtype=np.float32)  # one buffer, reused (first touch is costly)
    total = n * (n + 1) / 2
    done = 0.0
    for i0 in range(0, n, block_size):
        rows = min(block_size, n - i0)
        sims = flat[: rows * (n - i0)].reshape(rows, n - i0)
        np.matmul(vectors[i0 : i0 + rows], vectors[i0:].T, out=sims)
        with KERNEL_LOCK:
            _merge_upper_block(sims, i0, exclude_self, top_val, top_idx)
        done += rows * (n - i0) - rows * (rows - 1) / 2
        if progress is not None:
            progress("neighbors", min(1.0, done / total), "computing neighbors")
    scores = np.where(top_idx >= 0, top_val, np.float32(np.nan)).astype(np.float32)
    return top_idx, scores


def top_k_neighbors(
    emb: ItemEmbeddings,
    k: int = 10,
    *,
    queries: np.ndarray | None = None,
    exclude_self: bool = True,
    block_size: int = 1024,
    progress: Reporter | None = None,
) -> NeighborTable:
    """Exact top-``k`` by cosine for ``queries`` (codes; default: every item), ``block_size`` rows at a time.

    Vectors are unit-norm, so cosine is a dot product. For the whole catalogue only the upper triangle of
    ``V Vᵀ`` is computed — each block of rows against the items from its own position on — and every entry
    serves both items: the block's rows scan it row-wise, the items to its right column-wise (each thread owns
    a strip of columns and their current k-th best). That halves the matmul, the larger cost; selection rejects
    64 values at a time with one SIMD compare. For given ``queries`` each block of query rows is multiplied by
    the whole catalogue and selected row-wise. Memory: one ``block_size × n_items`` float32 buffer
    (``4 · block_size · n_items`` bytes), allocated once, plus the k-lists. Ties between exactly equal
    similarities go to the lower item; the two paths compute a pair's dot product in different BLAS calls, so
    values equal only up to float32 rounding may be ordered differently.
    """
    vectors = np.ascontiguousarray(emb.vectors, dtype=np.float32)
    n = len(vectors)
    q_codes = np.arange(n) if queries is None else np.asarray(queries, dtype=np.int64)
    kk = min(k, n - 1 if exclude_self else n)
    codes = np.full((len(q_codes), k), -1, dtype=np.int64)
    scores = np.full((len(q_codes), k), np.nan, dtype=np.float32)
    if kk <= 0 or len(q_codes) == 0:
        return NeighborTable(codes, scores)
    if queries is None:
        codes[:, :kk], scores[:, :kk] = _all_pairs_top_k(vectors, kk, exclude_self, block_size, progress)
        return NeighborTable(codes, scores)
    skip = q_codes if exclude_self else None
    codes[:, :kk], scores[:, :kk] = exact_top_k(vectors[q_codes], vectors, kk, skip=skip, block_size=block_size,
                                                progress=progress)
    return NeighborTable(codes, scores)


def exact_top_k(
    queries: np.ndarray,
    base: np.ndarray,
    k: int,
    *,
    skip: np.ndarray | None = None,
    block_size: int = 1024,
    progress: Reporter | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """For each row of ``queries``, the ``k`` rows of ``base`` with the largest dot product, descending.

    ``skip[i]`` is a row of ``base`` query ``i`` must not return (its own row), or ``-1``. Returns
    ``(indices int64, dot products float32)``; ``k`` must not exceed the rows of ``base`` left after the skip.
    ``block_size`` query rows are multiplied by all of ``base`` at a time, in one reused buffer.
    """
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    base = np.ascontiguousarray(base, dtype=np.float32)
    n_q = len(queries)
    skip = np.full(n_q, -1, dtype=np.int64) if skip is None else np.asarray(skip, dtype=np.int64)
    out_idx = np.empty((n_q, k), dtype=np.int64)
    out_val = np.empty((n_q, k), dtype=np.float32)
    rows = max(1, min(block_size, n_q))
    buffer = np.empty((rows, len(base)), dtype=np.float32)
    for start in range(0, n_q, rows):
        stop = min(n_q, start + rows)
        sims = buffer[: stop - start]
        np.matmul(queries[start:stop], base.T, out=sims)
        with KERNEL_LOCK:
            _select_top_k(sims, skip[start:stop], k, out_idx[start:stop], out_val[start:stop])
        if progress is not None:
            progress("neighbors", stop / n_q, "computing neighbors")
    return out_idx, out_val


def _rows(emb: ItemEmbeddings, codes: np.ndarray, scores: np.ndarray, names: np.ndarray | None) -> list[dict]:
    """One query's neighbor list as rows ``{rank, item_id, score, name}`` (``name`` when ``names`` given, aligned
    with ``emb.vocab``): ``codes``/``scores`` are a :class:`NeighborTable` row, whose ``-1`` tail is left out."""
    codes = np.asarray(codes, dtype=np.int64)
    empty = np.flatnonzero(codes < 0)
    codes = codes[: empty[0] if len(empty) else len(codes)]
    ids = emb.vocab.ids[codes].tolist()  # int64 → int; str ids are kept as they are
    rows = []
    for rank, (c, item, s) in enumerate(zip(codes.tolist(), ids, np.asarray(scores)[: len(codes)].tolist(),
                                            strict=True), start=1):
        row = {"rank": rank, "item_id": item, "score": round(float(s), 6)}
        if names is not None:
            row["name"] = str(names[c])
        rows.append(row)
    return rows


def item_neighbors(
    emb: ItemEmbeddings, item_id: object, k: int = 10, *, names: np.ndarray | None = None
) -> list[dict]:
    """Top-``k`` neighbors of one item as rows ``{rank, item_id, name, score}`` (``name`` when ``names`` given,
    aligned with ``emb.vocab``). Raises ``KeyError`` naming the item when it has no vector."""
    from .vocab import parse_id_like

    if isinstance(item_id, str):
        item_id = parse_id_like(item_id, emb.vocab.kind)
    code = emb.vocab.code(item_id)
    table = top_k_neighbors(emb, k, queries=np.array([code]))
    return _rows(emb, table.codes[0], table.scores[0], names)


def no_next_tables() -> str:
    """Why a version has no "next" ranking, and how to get one (the CLI and the app show it)."""
    from .methods.registry import methods_with_next_tables

    names = methods_with_next_tables()
    first = names[0] if names else "a method with the switch"
    return (f"has no \"next item\" tables (directional query/candidate vectors): only versions trained by "
            f"{' or '.join(names) or 'a method that fits them'} with directional=true store them (train --method "
            f"{first} --set directional=true); train one that way to rank what people go on to next, or use the "
            "\"also viewed\" mode")


def require_next_tables(pair: DirectionalPair | None, version: str | None = None) -> DirectionalPair:
    """``pair`` when there is one, else a :class:`ConfigError` saying the version has no "next" tables and how
    to get them."""
    if pair is None:
        who = f"version {version!r}" if version is not None else "this version"
        raise ConfigError(f"{who} {no_next_tables()}")
    return pair


def next_item_neighbors(
    emb: ItemEmbeddings, pair: DirectionalPair | None, item_id: object, k: int = 10, *,
    names: np.ndarray | None = None, version: str | None = None,
) -> list[dict]:
    """The ``k`` items people go on to *after* ``item_id``: every item ``b ≠ a`` ranked by ``Q_a · K_b`` (exact,
    one matrix–vector product), as rows ``{rank, item_id, name, score}`` like :func:`item_neighbors`. The ranking
    is directional: ``b`` may lead ``a``'s list while ``a`` is far down ``b``'s.

    ``pair`` is the version's :class:`DirectionalPair` (rows aligned with ``emb.vocab``); ``None`` — a version
    without one — is a :class:`ConfigError` naming ``version`` and how to get the tables. Raises ``KeyError``
    naming the item when it has no vector."""
    from .vocab import parse_id_like

    pair = require_next_tables(pair, version)
    if k < 1:
        raise ConfigError(f"k must be at least 1, got {k}")
    if isinstance(item_id, str):
        item_id = parse_id_like(item_id, emb.vocab.kind)
    code = emb.vocab.code(item_id)
    table = top_k_next(emb, pair, k, queries=np.array([code]))
    return _rows(emb, table.codes[0], table.scores[0], names)


def top_k_next(
    emb: ItemEmbeddings,
    pair: DirectionalPair,
    k: int = 10,
    *,
    queries: np.ndarray | None = None,
    block_size: int = 1024,
    progress: Reporter | None = None,
) -> NeighborTable:
    """Exact "next item" top-``k`` for ``queries`` (codes; default: every item): the items ``b ≠ a`` with the
    largest ``Q_a · K_b``, as a :class:`NeighborTable` like :func:`top_k_neighbors` (``-1``/``nan`` where fewer
    than ``k`` exist). Not symmetric, so every query row is multiplied by all of ``K`` (no triangle trick);
    memory is one ``block_size × n_items`` float32 buffer."""
    if len(pair.query) != len(emb):
        raise ConfigError(f"the directional pair has {len(pair.query)} rows but the embeddings {len(emb)}: they "
                          "must belong to the same version")
    n = len(emb)
    q_codes = np.arange(n, dtype=np.int64) if queries is None else np.asarray(queries, dtype=np.int64)
    kk = min(k, n - 1)
    codes = np.full((len(q_codes), k), -1, dtype=np.int64)
    scores = np.full((len(q_codes), k), np.nan, dtype=np.float32)
    if kk <= 0 or len(q_codes) == 0:
        return NeighborTable(codes, scores)
    q = pair.query if queries is None else pair.query[q_codes]
    codes[:, :kk], scores[:, :kk] = exact_top_k(q, pair.candidate, kk, skip=q_codes, block_size=block_size,
                                                progress=progress)
    return NeighborTable(codes, scores)
