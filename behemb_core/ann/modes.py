"""Which ranking an ANN index serves — its *mode* — and so which vectors it holds and is queried with.

* ``"also"``: "also viewed", the symmetric vectors ``E``: the index holds ``E`` and is queried with ``E_a``.
* ``"next"``: "next item", a version's directional pair (:class:`~behemb_core.embeddings.DirectionalPair`): the
  index holds the candidate vectors ``K`` and is queried with the item's query vector ``Q_a`` (``Q_a · K_b``, the
  exact ranking of :func:`behemb_core.neighbors.next_item_neighbors`).

In both modes row ``i`` of the index is row ``i`` of the version and the queried item itself is never a result. A
version's own mode is its config's ``serves`` when it stores the pair (else ``"also"``); an index record without a
``mode`` (every index built before modes existed) is an ``"also"`` index.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, cast

import numpy as np

from ..errors import ConfigError, IntegrityError
from ..neighbors import require_next_tables
from ..store import StoredVersion
from ..store.indexes import DEFAULT_INDEX_NAMES
from .index import AnnParams

__all__ = ["DEFAULT_INDEX_NAMES", "INDEX_MODES", "MODE_FIELDS", "IndexMode", "build_folder", "check_mode",
           "claimed_mode", "mode_vectors", "mode_words", "record_mode", "resolve_mode", "served_mode"]

IndexMode = Literal["also", "next"]
INDEX_MODES: tuple[IndexMode, ...] = ("also", "next")

#: What an index of each mode holds and is queried with (recorded with every index and in every faiss export).
MODE_FIELDS: dict[IndexMode, dict[str, str]] = {
    "also": {"indexed": "E (the symmetric vectors)", "query_with": "E (the symmetric vectors)"},
    "next": {"indexed": "K (candidate vectors)", "query_with": "Q (query vectors)"},
}


def mode_words(mode: IndexMode) -> str:
    """The ranking a mode serves, in words (``the 'next item' ranking (Q·K)``)."""
    return "the 'next item' ranking (Q·K)" if mode == "next" else "the 'also viewed' ranking (E·E)"


def check_mode(mode: object, where: str = "mode") -> IndexMode:
    """``mode`` when it is ``"also"`` or ``"next"``, else a ConfigError naming ``where``."""
    if mode == "also" or mode == "next":
        return mode
    raise ConfigError(f"{where} must be 'also' or 'next', got {mode!r}")


def served_mode(manifest: Mapping[str, Any]) -> IndexMode:
    """The mode a version (its manifest) serves: ``"next"`` when its config's ``serves`` is ``"next"`` and it
    stores the directional pair, else ``"also"`` (versions without the pair or without ``serves``)."""
    config = manifest.get("config")
    serves = config.get("serves") if isinstance(config, Mapping) else None
    return "next" if serves == "next" and manifest.get("directional") is not None else "also"


def resolve_mode(manifest: Mapping[str, Any], version: str, mode: str | None) -> IndexMode:
    """``mode`` checked against the version: None is the version's :func:`served_mode`; ``"next"`` for a version
    without the directional pair is a ConfigError naming the version and how to get the tables."""
    if mode is None:
        return served_mode(manifest)
    chosen = check_mode(mode)
    if chosen == "next" and manifest.get("directional") is None:
        require_next_tables(None, version)
    return chosen


def claimed_mode(record: Mapping[str, Any]) -> Any:
    """What an index record says its mode is, unchecked (no ``mode``: ``"also"``, as every index built before
    modes): for matching records against a mode, which an unknown value never matches."""
    return record.get("mode", "also")


def record_mode(record: Mapping[str, Any]) -> IndexMode:
    """The mode an index record says it was built for (:func:`claimed_mode`), checked: an unknown mode is an
    IntegrityError naming the record's index file."""
    mode = claimed_mode(record)
    if mode not in INDEX_MODES:
        raise IntegrityError(f"the index record of {record.get('index_file')!r} says mode {mode!r}, which is not "
                             "'also' or 'next'")
    return cast(IndexMode, mode)


def mode_vectors(stored: StoredVersion, mode: IndexMode) -> tuple[np.ndarray, np.ndarray]:
    """``(indexed, queries)`` of ``stored`` for ``mode``: ``(E, E)`` or ``(K, Q)``, rows aligned with the
    version's items (ConfigError naming the version when ``"next"`` and it has no directional pair)."""
    if mode == "also":
        vectors = stored.embeddings.vectors
        return vectors, vectors
    pair = require_next_tables(stored.directional, stored.name)
    return pair.candidate, pair.query


def build_folder(params: AnnParams, mode: IndexMode) -> str:
    """The folder (and ``build`` name) of a kept index: ``hnsw-m16-efc200`` for ``"also"`` (as before modes),
    ``next-hnsw-m16-efc200`` for ``"next"``."""
    return params.build_id if mode == "also" else f"next-{params.build_id}"
