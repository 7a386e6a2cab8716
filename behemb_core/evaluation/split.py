"""What is held out: a split of the sessions, and the (query, target) pairs every method is scored on.

For every consecutive pair ``(a, b)``, ``a ≠ b``, of a held-out session, the query is ``a`` and the target ``b``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..sessions import Sessions


def time_split(sessions: Sessions, *, holdout: float = 0.1, seed: int | None = None) -> tuple[Sessions, Sessions]:
    """Split sessions into (train, test): the last ``holdout`` share by start time (file order when sessions have
    no time), or a random share when ``seed`` is given. Both keep the full vocabulary."""
    if not 0 < holdout < 1:
        raise ConfigError(f"holdout must be between 0 and 1, got holdout={holdout}")
    n = sessions.n_sessions
    n_test = max(1, int(round(n * holdout)))
    if seed is not None:
        order = np.random.default_rng(seed).permutation(n)
    elif sessions.start_times is not None:
        order = np.argsort(sessions.start_times, kind="stable")
    else:
        order = np.arange(n)
    test = np.zeros(n, dtype=bool)
    test[order[n - n_test :]] = True
    return sessions.select(~test), sessions.select(test)


@dataclass(frozen=True)
class Pairs:
    """Held-out (query, target) pairs as item ids."""

    queries: np.ndarray
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.queries)


def next_item_pairs(sessions: Sessions) -> Pairs:
    """Consecutive pairs with different items inside each session (vectorised)."""
    c = sessions.codes
    if len(c) < 2:
        empty = sessions.vocab.take(np.zeros(0, dtype=np.int64))
        return Pairs(empty, empty)
    sess = sessions.session_of_event()
    ok = (sess[1:] == sess[:-1]) & (c[1:] != c[:-1])
    return Pairs(sessions.vocab.take(c[:-1][ok]), sessions.vocab.take(c[1:][ok]))
