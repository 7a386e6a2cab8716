"""What the sign-off checks cache, and on what: the Publish page runs the checklist on every rerun (each ticked
box, each letter of the note), and a run verifies every file and needs the exact top-k of whole catalogues.

- :func:`neighbor_table` — a version's exact top-k over its whole catalogue, computed once per version and k and
  kept (a few versions, least recently used first out), keyed on the sha256 of its embeddings;
- :data:`CHECKLIST_CACHE` — the results of a whole run, keyed by :func:`checklist_key` on everything the checks
  read: the version's manifest (its sha256, which seals every file's sha256) and each of its files' size and
  modification stamp, the same of the published version, the golden log's sha256, the thresholds, the
  evaluation given and the checklist itself. Any change to one of them is another key, so a stale result is
  never returned. The cache lives in this process only and writes nothing; an approval verifies the version's
  files itself (:func:`behemb_core.store.lifecycle.record_approval`) whatever the checks said.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Generic, TypeVar

import numpy as np

from ..compare.stability import OverlapResult, rbo_and_jaccard
from ..embeddings import ItemEmbeddings
from ..neighbors import NeighborTable, top_k_neighbors
from ..progress import Reporter
from ..reports import SignoffDetails
from ..store import Store, StoredVersion, published_version
from ..store._manifest import EMBEDDINGS_FILE, MANIFEST_FILE
from ..store.checklist import CheckResult
from ..store.golden import golden_log_digest
from ..store.names import validate_version_name

__all__ = ["CHECKLIST_CACHE", "NEIGHBOR_CACHE", "LRUCache", "checklist_key", "clear_caches", "neighbor_table",
           "overlap_from_tables", "version_fingerprint"]

V = TypeVar("V")
_STAMP_KEYS = ("size", "mtime", "ino", "created", "ETag", "etag", "LastModified", "last_modified")


class LRUCache(Generic[V]):
    """A small thread-safe least-recently-used map (Streamlit runs sessions in threads). Values are computed
    outside the lock, so two threads missing the same key both compute it; the second result replaces the first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_make(self, key: Hashable | None, make: Callable[[], V]) -> V:
        """The value of ``key``, made by ``make()`` (and kept) when absent; ``key`` None: made, never kept."""
        if key is not None:
            with self._lock:
                if key in self._data:
                    self._data.move_to_end(key)
                    self.hits += 1
                    return self._data[key]
                self.misses += 1
        value = make()
        if key is not None:
            with self._lock:
                self._data[key] = value
                self._data.move_to_end(key)
                while len(self._data) > self.size:
                    self._data.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._data)


#: Top-k tables by (store, version, embeddings sha256, k): ~12 bytes per item and neighbor (11 MB at 100k × 10).
NEIGHBOR_CACHE: LRUCache[NeighborTable] = LRUCache(6)
#: Whole sign-off runs by :func:`checklist_key`: a list of results and the details behind them.
CHECKLIST_CACHE: LRUCache[tuple[tuple[CheckResult, ...], SignoffDetails]] = LRUCache(64)


def clear_caches() -> None:
    """Forget every cached top-k table and sign-off run (tests; after a memory warning)."""
    NEIGHBOR_CACHE.clear()
    CHECKLIST_CACHE.clear()


def neighbor_table(store: Store, stored: StoredVersion, k: int, *, progress: Reporter | None = None) -> NeighborTable:
    """The exact top-``k`` of every item of ``stored`` (code order), computed once per version and kept: keyed on
    the sha256 of its embeddings as the manifest records it (a loaded version's files were verified against it)."""
    rec = (stored.manifest.get("files") or {}).get(EMBEDDINGS_FILE) or {}
    sha = rec.get("sha256") if isinstance(rec, dict) else None
    key = None if not isinstance(sha, str) else (store.url, stored.name, sha, int(k))
    return NEIGHBOR_CACHE.get_or_make(key, lambda: top_k_neighbors(stored.embeddings, k, progress=progress))


def overlap_from_tables(a: ItemEmbeddings, b: ItemEmbeddings, table_a: NeighborTable, table_b: NeighborTable, *,
                        k: int, rbo_p: float = 0.9) -> OverlapResult:
    """:func:`behemb_core.compare.stability.neighbor_overlap` of ``a`` and ``b`` from their whole-catalogue top-k
    tables (rows of the shared items), instead of a top-k search per call."""
    aligned = a.vocab.align(b.vocab)
    to_u_a, to_u_b = aligned.left_codes, aligned.right_codes
    shared_a, shared_b = aligned.shared()
    nb_a = np.asarray(table_a.codes)[shared_a, :k]
    nb_b = np.asarray(table_b.codes)[shared_b, :k]
    nb_a = np.where(nb_a >= 0, to_u_a[np.maximum(nb_a, 0)], -1)
    nb_b = np.where(nb_b >= 0, to_u_b[np.maximum(nb_b, 0)], -1)
    rbo, jac = rbo_and_jaccard(nb_a, nb_b, rbo_p)
    return OverlapResult(
        ids=a.vocab.ids[shared_a], jaccard=jac, rbo=rbo, k=k, rbo_p=rbo_p, universe=aligned.universe,
        codes=to_u_a[shared_a], neighbors_a=nb_a, neighbors_b=nb_b,
        added=b.vocab.ids[aligned.only_right()], removed=a.vocab.ids[aligned.only_left()],
    )


def version_fingerprint(store: Store, version: str) -> tuple[Any, ...] | None:
    """What a version's checks depend on, read cheaply: the sha256 of its manifest (which records every file's
    sha256 and size) and each file's size and modification stamp as the filesystem lists them — a file changed
    after it was written changes its stamp. None when the version has no manifest (nothing to cache)."""
    vdir = store.join("versions", validate_version_name(version))
    try:
        manifest = store.read_bytes(f"{vdir}/{MANIFEST_FILE}")
    except FileNotFoundError:
        return None
    try:
        entries = store.fs.ls(vdir, detail=True)
    except (FileNotFoundError, NotADirectoryError):
        return None
    files = sorted((str(e.get("name", "")).rstrip("/").rsplit("/", 1)[-1],
                    tuple(str(e.get(s)) for s in _STAMP_KEYS if e.get(s) is not None)) for e in entries)
    return hashlib.sha256(manifest).hexdigest(), tuple(files)


def checklist_key(store: Store, version: str, *, policy_json: str, evaluation: Mapping[str, Any] | None,
                  checks: tuple[Callable[..., Any], ...]) -> tuple[Any, ...] | None:
    """The key of one sign-off run in :data:`CHECKLIST_CACHE`: everything its results depend on (see the
    module's docstring), or None when the version has no manifest."""
    mine = version_fingerprint(store, version)
    if mine is None:
        return None
    live = published_version(store)
    theirs = None if live is None or live == version else version_fingerprint(store, live)
    given = None if evaluation is None else hashlib.sha256(
        json.dumps(evaluation, sort_keys=True, default=str).encode()).hexdigest()
    return (store.url, version, mine, live, theirs, golden_log_digest(store), ann_state(store, version), policy_json,
            given, checks)


def ann_state(store: Store, version: str) -> tuple[Any, ...]:
    """What the served-neighbors check reads of the store: the registered indexes' records and the indexes kept
    with ``version`` (names and stamps), and the stamps of registered index files outside the store (an export)
    — a new build or registration, or a replaced exported file, is another key."""
    from ..store._layout import ANN_DIR, INDEX_DIR

    out: list[Any] = []
    for folder in (store.join(INDEX_DIR), store.join(ANN_DIR, version)):
        try:
            listing = store.fs.ls(folder, detail=True)
        except (FileNotFoundError, NotADirectoryError):
            continue
        out += sorted((str(e.get("name")), *(str(e.get(k)) for k in _STAMP_KEYS if k in e)) for e in listing)
        for e in listing:
            if e.get("type") == "directory":
                out += sorted((str(f.get("name")), *(str(f.get(k)) for k in _STAMP_KEYS if k in f))
                              for f in store.fs.ls(e["name"], detail=True))
            elif folder.endswith(INDEX_DIR) and str(e.get("name")).endswith(".json"):
                out.append(_external_index_stamp(store, str(e["name"])))
    return tuple(out)


def _external_index_stamp(store: Store, record_path: str) -> tuple[Any, ...]:
    """The stamps of the file a registration names when it is outside the store (a local path or URL: nothing
    else in the key would change when it is replaced); ``()`` for a file in the store or an unreadable record."""

    import fsspec

    from ..store._lifecycle_io import index_file_problem, outside_store

    try:
        rec = json.loads(store.fs.cat_file(record_path))
    except (OSError, ValueError):
        return ()
    path = rec.get("index_file") if isinstance(rec, dict) else None
    if not isinstance(path, str) or not outside_store(path):
        return ()
    if index_file_problem(store, path) is not None:
        return (path, "refused")  # never looked at: the check says why
    try:
        fs, where = fsspec.core.url_to_fs(path)
        info = fs.info(where)
    except (OSError, ValueError):
        return (path, "unreadable")
    return (path, *(str(info.get(k)) for k in _STAMP_KEYS if k in info))
