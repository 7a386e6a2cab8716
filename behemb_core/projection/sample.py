"""Which items a large catalogue's map is fitted on: a popularity-stratified sample, so the long tail is in it."""

from __future__ import annotations

import numpy as np
import pandas as pd

N_DECILES = 10


def stratified_sample(popularity: np.ndarray, n: int, *, seed: int = 0, n_strata: int = N_DECILES) -> np.ndarray:
    """Sorted row indices of ``n`` items drawn equally from ``n_strata`` popularity strata (deciles by rank).

    Items are ranked by ``popularity`` (ties broken at random, seeded) and cut into ``n_strata`` groups of
    equal size; each group gives ``n // n_strata`` items (the remainder goes to the most popular groups), drawn
    without replacement with ``numpy.random.default_rng(seed)``. So the head and the long tail are both in the
    sample, in the proportion they have in the catalogue, with no decile left out by chance.
    """
    pop = np.asarray(popularity, dtype=np.float64)
    total = len(pop)
    if n >= total:
        return np.arange(total)
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(total)
    order = shuffled[np.argsort(-pop[shuffled], kind="stable")]  # most popular first, random among ties
    strata = np.array_split(order, min(n_strata, total))
    base, extra = divmod(n, len(strata))
    picks = []
    for i, members in enumerate(strata):
        want = min(base + (1 if i < extra else 0), len(members))
        picks.append(rng.choice(members, size=want, replace=False))
    chosen = np.concatenate(picks)
    short = n - len(chosen)  # only when strata are smaller than their share (tiny catalogues)
    if short > 0:
        rest = np.setdiff1d(np.arange(total), chosen)
        chosen = np.concatenate([chosen, rng.choice(rest, size=short, replace=False)])
    return np.sort(chosen)


def popularity_of(stats: pd.DataFrame | None, ids: np.ndarray) -> np.ndarray | None:
    """Training events per item of ``ids`` from a version's ``item_stats`` (0 for items it lacks), or ``None``
    when there are no usable stats."""
    if stats is None or "events" not in stats.columns or "item_id" not in stats.columns:
        return None
    events = pd.Series(stats["events"].to_numpy(dtype=np.float64), index=pd.Index(stats["item_id"]))
    events = events[~events.index.duplicated()]
    return events.reindex(ids).fillna(0.0).to_numpy()
