"""The result of ingest: cleaned sessions plus everything needed to explain and reproduce them.

A :class:`Dataset` carries the drop counts by reason (nothing is removed silently), notes about changes that
removed nothing (e.g. sessions split per user), the source description (input kind, files, columns, filters,
rows read) and the session options. :func:`summarize` turns it into a JSON-able overview for the CLI and app.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ..metadata import ItemMetadata
from ..sessions import DropLog, SessionOptions, Sessions
from ..stats import gini


@dataclass(frozen=True)
class Dataset:
    """Cleaned :class:`Sessions` with provenance.

    ``drops`` maps a reason to the number of rows/events it removed; ``notes`` counts changes that removed
    nothing; ``source`` says where the data came from (``kind`` is ``"sessions_jsonl"``, ``"event_log"`` or
    ``"baskets"``, plus ``paths``, ``rows_read`` and the columns/filters used). For event logs the accounting
    identity ``rows_read == sessions.n_events + sum(drops.values())`` holds; for JSON Lines the same holds with
    ``source["events_read"]`` in place of ``rows_read``.
    """

    sessions: Sessions
    drops: dict[str, int]
    notes: dict[str, int]
    source: dict[str, Any]
    options: SessionOptions
    item_meta: ItemMetadata | None = field(default=None)

    def fingerprint(self) -> str:
        """The sessions' fingerprint (:meth:`Sessions.fingerprint`)."""
        return self.sessions.fingerprint()

    def item_stats(self) -> pd.DataFrame:
        """Training popularity per item (:meth:`Sessions.item_stats`)."""
        return self.sessions.item_stats()

    def manifest_section(self) -> dict[str, Any]:
        """What a version's manifest records about its data (``dataset``): fingerprint, summary, source, options."""
        return {"fingerprint": self.fingerprint(), "summary": summarize(self), "source": self.source,
                "session_options": self.options.model_dump(mode="json")}

    def with_metadata(self, meta: ItemMetadata | None) -> Dataset:
        """The same dataset with item metadata (names) attached or replaced."""
        return replace(self, item_meta=meta)

    @classmethod
    def from_log(
        cls,
        sessions: Sessions,
        drops: DropLog,
        source: dict[str, Any],
        options: SessionOptions,
        item_meta: ItemMetadata | None = None,
    ) -> Dataset:
        """Build a dataset from a :class:`DropLog` (used by the readers)."""
        return cls(
            sessions=sessions,
            drops=drops.as_dict(),
            notes={k: int(v) for k, v in sorted(drops.notes.items())},
            source=source,
            options=options,
            item_meta=item_meta,
        )


def _length_edges(max_len: int) -> list[int]:
    """Log-ish bin edges 1, 2, 3, 4, 5, 10, 20, 50, 100, 200, 500, ... covering ``max_len``."""
    edges = [1, 2, 3, 4, 5]
    scale = 10
    while edges[-1] <= max_len:
        for m in (1, 2, 5):
            edges.append(m * scale)
        scale *= 10
    while len(edges) > 2 and edges[-2] > max_len:
        edges.pop()
    return edges


def summarize(dataset: Dataset) -> dict[str, Any]:
    """A JSON-able overview: sizes, session-length distribution, popularity skew, drops, notes, fingerprint.

    Histogram bins are ``[edges[i], edges[i+1])`` with the last bin closed. ``head_share_top*`` is the share
    of events on the most popular 1% / 10% of items (at least one item). All numbers are plain Python types.
    Computed from aggregates (:func:`summarize_counts`), which the Spark engine computes too.
    """
    s = dataset.sessions
    users: int | None = None
    if s.users is not None:
        users = int(pd.Series(s.users, dtype=object if s.users.dtype == object else None).nunique(dropna=True))
    values, counts = np.unique(s.lengths, return_counts=True)
    return summarize_counts(
        length_values=values, length_counts=counts, item_ids=s.vocab.ids, item_counts=s.item_counts(), users=users,
        drops=dataset.drops, notes=dataset.notes, fingerprint=s.fingerprint(), source=dataset.source,
        item_meta=dataset.item_meta,
    )


def percentile_of_counts(values: np.ndarray, counts: np.ndarray, q: float) -> float:
    """``np.percentile(np.repeat(values, counts), q)`` (linear method) from a histogram of sorted ``values``,
    without expanding it: the two order statistics around the virtual index, interpolated as numpy does."""
    n = int(counts.sum())
    cum = np.cumsum(counts)
    index = q / 100 * (n - 1)
    lo = int(np.floor(index))
    hi = min(lo + 1, n - 1)
    a = float(values[np.searchsorted(cum, lo, side="right")])
    b = float(values[np.searchsorted(cum, hi, side="right")])
    t = index - lo
    diff = b - a
    return float(b - diff * (1 - t)) if t >= 0.5 else float(a + diff * t)


def summarize_counts(
    *, length_values: np.ndarray, length_counts: np.ndarray, item_ids: np.ndarray, item_counts: np.ndarray,
    users: int | None, drops: dict[str, int], notes: dict[str, int], fingerprint: str, source: dict[str, Any],
    item_meta: ItemMetadata | None,
) -> dict[str, Any]:
    """The overview of :func:`summarize` from aggregates: a histogram of session lengths (distinct lengths in
    increasing order and how many sessions have each), events per item in vocabulary order, distinct users."""
    length_values = np.asarray(length_values, dtype=np.int64)
    length_counts = np.asarray(length_counts, dtype=np.int64)
    counts = np.asarray(item_counts, dtype=np.int64)
    n_events = int(counts.sum())
    n_sessions = int(length_counts.sum())
    if n_sessions:
        max_len = int(length_values[-1])
        edges = _length_edges(max_len)
        hist, _ = np.histogram(length_values, bins=edges, weights=length_counts)
        length_stats: dict[str, Any] = {
            "min": int(length_values[0]),
            "mean": float(int((length_values * length_counts).sum()) / n_sessions),
            "median": percentile_of_counts(length_values, length_counts, 50),
            "p90": percentile_of_counts(length_values, length_counts, 90),
            "p99": percentile_of_counts(length_values, length_counts, 99),
            "max": max_len,
            "histogram": {"edges": [int(e) for e in edges], "counts": [int(c) for c in hist]},
        }
    else:
        length_stats = {"min": 0, "mean": 0.0, "median": 0.0, "p90": 0.0, "p99": 0.0, "max": 0,
                        "histogram": {"edges": [], "counts": []}}
    order = np.argsort(-counts, kind="stable")
    sorted_counts = counts[order]

    def head_share(frac: float) -> float:
        if n_events == 0:
            return 0.0
        k = max(1, int(np.ceil(frac * len(counts))))
        return float(sorted_counts[:k].sum() / n_events)

    top = order[:10]
    top_ids = np.asarray(item_ids)[top]
    names = item_meta.names_for(top_ids) if item_meta is not None else None
    top_items = []
    for j, (code, item_id) in enumerate(zip(top.tolist(), top_ids.tolist(), strict=True)):
        entry: dict[str, Any] = {"item_id": item_id, "count": int(counts[code])}
        if names is not None:
            entry["name"] = str(names[j])
        top_items.append(entry)
    return {
        "sessions": n_sessions,
        "events": n_events,
        "users": users,
        "items": int(len(counts)),
        "session_length": length_stats,
        "popularity": {
            "gini": gini(counts),
            "head_share_top1pct": head_share(0.01),
            "head_share_top10pct": head_share(0.10),
            "top_items": top_items,
        },
        "dropped": dict(drops),
        "notes": dict(notes),
        "fingerprint": fingerprint,
        "rows_read": source.get("rows_read"),
        "timestamp": source.get("timestamp"),
        "delimiter": source.get("delimiter"),
        "skipped_lines": source.get("empty_lines"),
    }
