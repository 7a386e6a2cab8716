"""Stability between two versions: how much did the neighbor lists users see change, and is that more than
retraining noise?

- :mod:`.stability` — per shared item, Jaccard@k and rank-biased overlap of its top-k lists in both versions
  (items matched by id), popularity bands, the most-moved items;
- :mod:`.noise_floor` — the same method retrained with another seed: how much lists move from noise alone;
- :mod:`.sources` — whether two versions' training data come from the same source (else shared ids may be other
  products);
- :mod:`.report` — the report people read (counts, distributions, a verdict against the noise floor, the
  sentence), for bare embeddings or stored versions.
"""

from __future__ import annotations

from .noise_floor import noise_floor, noise_floor_from_pair, pick_noise_floor
from .report import MIN_SHARED_ITEMS, MIN_SHARED_SHARE, compare_stored, compare_versions, version_names
from .sources import shared_ids_note, source_difference
from .stability import (
    BAND_DEFINITION,
    BANDS,
    QUANTILES,
    OverlapResult,
    most_moved,
    neighbor_overlap,
    overlap_table,
    popularity_bands,
    rbo_and_jaccard,
    summarize,
)

__all__ = [
    "BANDS",
    "BAND_DEFINITION",
    "MIN_SHARED_ITEMS",
    "MIN_SHARED_SHARE",
    "QUANTILES",
    "OverlapResult",
    "compare_stored",
    "compare_versions",
    "most_moved",
    "neighbor_overlap",
    "noise_floor",
    "noise_floor_from_pair",
    "overlap_table",
    "pick_noise_floor",
    "popularity_bands",
    "rbo_and_jaccard",
    "shared_ids_note",
    "source_difference",
    "summarize",
    "version_names",
]
