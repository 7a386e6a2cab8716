"""Seeded synthetic sessions with a known right answer (planted item clusters).

Items belong to latent clusters; each session draws its items mostly from one to three clusters, with
Zipf-like popularity inside the catalogue. A good embedding puts an item's cluster-mates among its neighbors;
tests and benchmarks measure exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .sessions import DropLog, RawSessions, SessionOptions, Sessions, build_sessions
from .vocab import normalize_ids


@dataclass(frozen=True)
class PlantedData:
    sessions: Sessions
    cluster_of: np.ndarray  # cluster per item, aligned with sessions.vocab codes
    n_clusters: int


@dataclass(frozen=True)
class PlantedArrays:
    """Raw planted sessions: CSR ``indptr``/``items`` (item ids ``0..n_items-1``) and each item's cluster."""

    indptr: np.ndarray
    items: np.ndarray
    cluster_of_item: np.ndarray  # indexed by item id
    n_clusters: int


def planted_arrays(
    *,
    n_items: int = 600,
    n_clusters: int = 30,
    n_sessions: int = 6000,
    mean_length: float = 8.0,
    zipf_exponent: float = 1.1,
    noise: float = 0.05,
    max_clusters_per_session: int = 3,
    seed: int = 0,
) -> PlantedArrays:
    """Sessions over items ``0..n_items-1`` in ``n_clusters`` clusters (item ``i`` is in cluster ``i % n_clusters``).

    Popularity follows a Zipf law over a random permutation of items, so popular items are spread over
    clusters. Each session picks 1..``max_clusters_per_session`` clusters and draws items from them by
    popularity; a share ``noise`` of its items is drawn from the whole catalogue. Lengths are geometric
    (at least 2) with mean ``mean_length``. Vectorised: one draw per cluster, never one per event, so 16 M
    events take seconds.
    """
    rng = np.random.default_rng(seed)
    cluster = np.arange(n_items) % n_clusters
    pop = 1.0 / np.arange(1, n_items + 1) ** zipf_exponent
    pop = pop[rng.permutation(n_items)]
    # Members of every cluster in one argsort (item i is in cluster i % n_clusters, so they are strided).
    by_cluster = np.argsort(cluster, kind="stable")
    member_bounds = np.searchsorted(cluster[by_cluster], np.arange(n_clusters + 1))
    # Typed as an array of any dtype: with weights, bincount returns floats (numpy's stubs say intp).
    cluster_p: np.ndarray = np.bincount(cluster, weights=pop, minlength=n_clusters)
    cluster_p /= cluster_p.sum()

    lengths = 2 + rng.geometric(1.0 / max(mean_length - 1.0, 1.0), size=n_sessions) - 1
    n_per = rng.integers(1, max_clusters_per_session + 1, size=n_sessions)
    total = int(lengths.sum())
    sess_of = np.repeat(np.arange(n_sessions), lengths)
    # Each session's clusters; each event picks one of its session's clusters uniformly.
    chosen = rng.choice(n_clusters, size=(n_sessions, max_clusters_per_session), p=cluster_p)
    pick = (rng.random(total) * n_per[sess_of]).astype(np.int64)
    ev_cluster = chosen[sess_of, pick]
    del sess_of, pick
    items = np.empty(total, dtype=np.int64)
    # Draw per cluster in one vectorised call each (n_clusters calls, not one per event).
    order = np.argsort(ev_cluster, kind="stable")
    bounds = np.searchsorted(ev_cluster[order], np.arange(n_clusters + 1))
    for c in np.flatnonzero(np.diff(bounds)):
        idx = order[bounds[c] : bounds[c + 1]]
        members = by_cluster[member_bounds[c] : member_bounds[c + 1]]
        cum = np.cumsum(pop[members])
        picked = np.searchsorted(cum, rng.random(len(idx)) * cum[-1], side="right")
        items[idx] = members[picked.clip(0, len(members) - 1)]
    is_noise = rng.random(total) < noise
    global_cum = np.cumsum(pop)
    items[is_noise] = np.searchsorted(global_cum, rng.random(int(is_noise.sum())) * global_cum[-1], side="right").clip(
        0, n_items - 1
    )
    indptr = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    return PlantedArrays(indptr=indptr, items=items, cluster_of_item=cluster, n_clusters=n_clusters)


def planted_sessions(
    *,
    n_items: int = 600,
    n_clusters: int = 30,
    n_sessions: int = 6000,
    mean_length: float = 8.0,
    zipf_exponent: float = 1.1,
    noise: float = 0.05,
    max_clusters_per_session: int = 3,
    seed: int = 0,
) -> PlantedData:
    """:func:`planted_arrays` turned into cleaned :class:`Sessions` (default cleaning rules)."""
    arr = planted_arrays(
        n_items=n_items, n_clusters=n_clusters, n_sessions=n_sessions, mean_length=mean_length,
        zipf_exponent=zipf_exponent, noise=noise, max_clusters_per_session=max_clusters_per_session, seed=seed,
    )
    n_sess = len(arr.indptr) - 1
    raw = RawSessions(
        indptr=arr.indptr,
        item_ids=arr.items,
        session_ids=np.char.add("s", np.arange(n_sess).astype(str)).astype(object),
        start_times=(np.arange(n_sess, dtype=np.int64) * 60_000_000_000),
    )
    sessions = build_sessions(raw, SessionOptions(), DropLog())
    return PlantedData(sessions=sessions, cluster_of=arr.cluster_of_item[sessions.vocab.ids], n_clusters=arr.n_clusters)


def sessions_from_lists(
    lists: list[list], *, options: SessionOptions | None = None, start_times: list[int] | None = None
) -> Sessions:
    """Sessions from Python lists of item ids (small data, tests, notebooks); by default nothing is cleaned
    away (``collapse_repeats=False``, ``min_length=1``)."""
    lengths = [len(x) for x in lists]
    raw = RawSessions(
        indptr=np.concatenate(([0], np.cumsum(lengths))).astype(np.int64),
        item_ids=normalize_ids([i for x in lists for i in x]),
        session_ids=np.array([f"s{i}" for i in range(len(lists))], dtype=object),
        start_times=None if start_times is None else np.asarray(start_times, dtype=np.int64),
    )
    options = options or SessionOptions(collapse_repeats=False, min_length=1)
    return build_sessions(raw, options, DropLog())


def cluster_precision_at_k(
    neighbor_codes: np.ndarray, cluster_of: np.ndarray, query_codes: np.ndarray | None = None
) -> float:
    """Mean share of the top-k neighbors (codes, ``-1`` = none) that are in the query item's own cluster.

    Rows of ``neighbor_codes`` belong to every item in code order, or to ``query_codes`` when given.
    """
    own = cluster_of if query_codes is None else cluster_of[np.asarray(query_codes)]
    valid = neighbor_codes >= 0
    same = (cluster_of[np.where(valid, neighbor_codes, 0)] == own[:, None]) & valid
    return float(same.sum() / max(valid.sum(), 1))
