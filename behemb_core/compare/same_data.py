"""Two versions scored on the same, newest data: did the neighbor lists move because the data moved, or by
retraining noise?

A stability diff says *how much* two versions differ; it cannot say which is better now. Scoring both on the
same next-item pairs of the data in use (and item-kNN fitted on that data, where it has a training part) answers
that: the paired difference of HR@k between the two, with a bootstrap interval over the pairs, is beyond chance
only when the interval excludes 0. Sessions neither version was trained on are all held out (the newest data);
sessions one of them was trained on are split by time and the report says that version's score is optimistic.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np

from ..errors import ConfigError
from ..evaluation import next_item_pairs, ranks_for_embeddings, ranks_for_item_knn, time_split
from ..progress import ProgressCallback, as_reporter
from ..sessions import Sessions
from ..store import StoredVersion

__all__ = ["SameDataComparison", "SameDataScore", "compare_on_same_data"]


class SameDataScore(TypedDict):
    """HR@k of one ranking on the shared pairs, with its 95 % bootstrap interval."""

    name: str
    hr: float
    ci95: list[float]
    queries_without_vector: int | None


class SameDataComparison(TypedDict):
    """:func:`compare_on_same_data`'s report."""

    k: int
    pairs: int
    sessions: int
    held_out: str  # "all" (data neither version saw) or "last share by time"
    a: SameDataScore
    b: SameDataScore
    item_knn: SameDataScore | None
    difference: float  # HR@k of b minus a, on the same pairs
    difference_ci95: list[float]
    beyond_chance: bool
    notes: list[str]
    sentence: str


def _hits(ranks: np.ndarray, k: int) -> np.ndarray:
    return ((ranks > 0) & (ranks <= k)).astype(np.float64)


def _intervals(rows: np.ndarray, n_boot: int, seed: int) -> list[list[float]]:
    """95 % percentile interval of the mean of each row of ``rows`` (m × pairs), every row resampled with the
    same pair indices (so a difference row is paired); memory O(m × pairs)."""
    rng = np.random.default_rng(seed)
    n = rows.shape[1]
    means = np.empty((n_boot, rows.shape[0]))
    for i in range(n_boot):
        means[i] = rows[:, rng.integers(0, n, n)].mean(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975], axis=0)
    return [[float(lo[j]), float(hi[j])] for j in range(rows.shape[0])]


def compare_on_same_data(
    a: StoredVersion, b: StoredVersion, sessions: Sessions, *, k: int = 10, n_boot: int = 500, seed: int = 0,
    holdout: float = 0.1, progress: ProgressCallback | None = None,
) -> SameDataComparison:
    """Score versions ``a`` and ``b`` (and item-kNN, when there is a training part) on the same next-item pairs of
    ``sessions``; the difference b − a of HR@k is paired (same pairs) with a bootstrap interval over the pairs.

    When neither version was trained on ``sessions`` (their recorded training fingerprints differ), every session
    is held out; otherwise the last ``holdout`` share by time is, and a note names the version that saw them."""
    if k < 1:
        raise ConfigError(f"k must be at least 1, got k={k}")
    if n_boot < 1:
        raise ConfigError(f"n_boot must be at least 1, got n_boot={n_boot}")
    rep = as_reporter(progress)
    fingerprint = sessions.fingerprint()
    seen = [v.name for v in (a, b) if (v.manifest.get("dataset") or {}).get("fingerprint") == fingerprint]
    notes: list[str] = []
    train: Sessions | None
    if seen:
        train, test = time_split(sessions, holdout=holdout)
        held_out = "last share by time"
        notes.append(f"{' and '.join(seen)} {'was' if len(seen) == 1 else 'were'} trained on these sessions, the "
                     "held-out part included, so its score is optimistic; score both on newer data for a fair "
                     "comparison")
    else:
        train, test = None, sessions
        held_out = "all"
        notes.append("neither version was trained on these sessions: all of them are held out; item-kNN is not "
                     "scored (it would need a training part of the same data)")
    pairs = next_item_pairs(test)
    if len(pairs) == 0:
        raise ConfigError("the held-out sessions have no consecutive pairs of different items to score")
    rep("score", 0.0, f"scoring {a.name} on {len(pairs):,} pairs")
    ranks_a, missing_a = ranks_for_embeddings(a.embeddings, pairs, k)
    rep("score", 0.4, f"scoring {b.name} on the same pairs")
    ranks_b, missing_b = ranks_for_embeddings(b.embeddings, pairs, k)
    rows = [_hits(ranks_a, k), _hits(ranks_b, k)]
    if train is not None:
        rep("score", 0.7, "fitting item-kNN on the training part")
        rows.append(_hits(ranks_for_item_knn(train, pairs, k), k))
    rows.append(rows[1] - rows[0])  # paired: the same resampled pairs for both versions
    ci = _intervals(np.vstack(rows), n_boot, seed)

    def score(name: str, j: int, missing: int | None) -> SameDataScore:
        return {"name": name, "hr": float(rows[j].mean()), "ci95": ci[j], "queries_without_vector": missing}

    score_a, score_b = score(a.name, 0, missing_a), score(b.name, 1, missing_b)
    knn = score("item-kNN", 2, None) if train is not None else None
    delta, diff_ci = float(rows[-1].mean()), ci[-1]
    beyond = diff_ci[0] > 0 or diff_ci[1] < 0
    verdict = (f"{b.name} is {'better' if delta > 0 else 'worse'} beyond chance" if beyond
               else "the difference is within chance (the interval includes 0)")
    sentence = (f"On the same {len(pairs):,} next-item pairs, HR@{k} of {b.name} is {score_b['hr']:.3f} and of "
                f"{a.name} {score_a['hr']:.3f}: {delta:+.3f} (95 % interval {diff_ci[0]:+.3f} … {diff_ci[1]:+.3f}) — "
                f"{verdict}.")
    rep("done", 1.0, "scored both versions on the same data")
    return {"k": k, "pairs": len(pairs), "sessions": test.n_sessions, "held_out": held_out, "a": score_a,
            "b": score_b, "item_knn": knn, "difference": delta, "difference_ci95": diff_ci, "beyond_chance": beyond,
            "notes": notes, "sentence": sentence}
