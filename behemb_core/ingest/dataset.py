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
from ..stats import gini  # noqa: F401  (re-exported)


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
    """
    s = dataset.sessions
    lengths = s.lengths
    counts = s.item_counts()
    n_events = int(s.n_events)
    users: int | None = None
    if s.users is not None:
        users = int(pd.Series(s.users, dtype=object if s.users.dtype == object else None).nunique(dropna=True))
    if len(lengths):
        edges = _length_edges(int(lengths.max()))
        hist, _ = np.histogram(lengths, bins=edges)
        length_stats: dict[str, Any] = {
            "min": int(lengths.min()),
            "mean": float(lengths.mean()),
            "median": float(np.median(lengths)),
            "p90": float(np.percentile(lengths, 90)),
            "p99": float(np.percentile(lengths, 99)),
            "max": int(lengths.max()),
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
    top_ids = s.vocab.take(top)
    names = dataset.item_meta.names_for(top_ids) if dataset.item_meta is not None else None
    top_items = []
    for j, (code, item_id) in enumerate(zip(top.tolist(), top_ids.tolist())):
        entry: dict[str, Any] = {"item_id": item_id, "count": int(counts[code])}
        if names is not None:
            entry["name"] = str(names[j])
        top_items.append(entry)
    return {
        "sessions": int(s.n_sessions),
        "events": n_events,
        "users": users,
        "items": int(s.n_items),
        "session_length": length_stats,
        "popularity": {
            "gini": gini(counts),
            "head_share_top1pct": head_share(0.01),
            "head_share_top10pct": head_share(0.10),
            "top_items": top_items,
        },
        "dropped": dict(dataset.drops),
        "notes": dict(dataset.notes),
        "fingerprint": s.fingerprint(),
        "rows_read": dataset.source.get("rows_read"),
        "timestamp": dataset.source.get("timestamp"),
        "delimiter": dataset.source.get("delimiter"),
        "skipped_lines": dataset.source.get("empty_lines"),
    }
