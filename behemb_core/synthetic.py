"""Seeded synthetic sessions with a known right answer (planted item clusters).

Items belong to latent clusters; each session draws its items mostly from one to three clusters, with
Zipf-like popularity inside the catalogue. A good embedding puts an item's cluster-mates among its neighbours;
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
    """Sessions over items ``0..n_items-1`` in ``n_clusters`` clusters (item ``i`` is in cluster ``i % n_clusters``).

    Popularity follows a Zipf law over a random permutation of items, so popular items are spread over
    clusters. Each session picks 1..``max_clusters_per_session`` clusters and draws items from them by
    popularity; a share ``noise`` of its items is drawn from the whole catalogue. Lengths are geometric
    (at least 2) with mean ``mean_length``.
    """
    rng = np.random.default_rng(seed)
    cluster = np.arange(n_items) % n_clusters
    pop = 1.0 / np.arange(1, n_items + 1) ** zipf_exponent
    pop = pop[rng.permutation(n_items)]
    members = [np.flatnonzero(cluster == c) for c in range(n_clusters)]
    member_p = [pop[m] / pop[m].sum() for m in members]
    global_p = pop / pop.sum()
    cluster_p = np.array([pop[m].sum() for m in members])
    cluster_p /= cluster_p.sum()

    lengths = 2 + rng.geometric(1.0 / max(mean_length - 1.0, 1.0), size=n_sessions) - 1
    n_per = rng.integers(1, max_clusters_per_session + 1, size=n_sessions)
    total = int(lengths.sum())
    sess_of = np.repeat(np.arange(n_sessions), lengths)
    # Each session's clusters; each event picks one of its session's clusters uniformly.
    chosen = rng.choice(n_clusters, size=(n_sessions, max_clusters_per_session), p=cluster_p)
    pick = (rng.random(total) * n_per[sess_of]).astype(np.int64)
    ev_cluster = chosen[sess_of, pick]
    items = np.empty(total, dtype=np.int64)
    # Draw per cluster in one vectorised call each (n_clusters calls, not one per event).
    order = np.argsort(ev_cluster, kind="stable")
    bounds = np.searchsorted(ev_cluster[order], np.arange(n_clusters + 1))
    for c in range(n_clusters):
        idx = order[bounds[c] : bounds[c + 1]]
        items[idx] = rng.choice(members[c], size=len(idx), p=member_p[c])
    is_noise = rng.random(total) < noise
    items[is_noise] = rng.choice(n_items, size=int(is_noise.sum()), p=global_p)

    indptr = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    raw = RawSessions(
        indptr=indptr,
        item_ids=items,
        session_ids=np.array([f"s{i}" for i in range(n_sessions)], dtype=object),
        start_times=(np.arange(n_sessions, dtype=np.int64) * 60_000_000_000),
    )
    sessions = build_sessions(raw, SessionOptions(), DropLog())
    return PlantedData(sessions=sessions, cluster_of=cluster[sessions.vocab.ids], n_clusters=n_clusters)


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


def cluster_precision_at_k(neighbor_codes: np.ndarray, cluster_of: np.ndarray) -> float:
    """Mean share of each item's top-k neighbours (codes, ``-1`` = none) that are in the item's own cluster."""
    valid = neighbor_codes >= 0
    same = (cluster_of[np.where(valid, neighbor_codes, 0)] == cluster_of[:, None]) & valid
    return float(same.sum() / max(valid.sum(), 1))
