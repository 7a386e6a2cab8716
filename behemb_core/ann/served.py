"""The ANN index of a stored version: built, measured and kept with the version, registered as the index that
serves traffic, and read back (checked against its sha256) to show what customers are served.

Layout beside the immutable versions (whose own folders are never written)::

    <store>/ann/<version>/<build>/index.faiss    the index file (faiss binary format, no pickle)
    <store>/ann/<version>/<build>/index.json     its record: version, the embeddings' sha256, the parameters,
                                                 the index file's sha256, the recall measurement, who built it

``<build>`` names the build parameters (``hnsw-m16-efc200``), prefixed ``next-`` for an index of the "next item"
mode (over the candidate vectors ``K``, queried with ``Q``; see :mod:`.modes`). A build is written once: building
again with the same parameters reuses the stored index after checking its bytes. Registering
(``<store>/indexes/<name>.json``, see :func:`behemb_core.store.register_index`) says which index serves; ``verify``
then reports an index built from another version than the published one, and an index file whose bytes are not the
registered ones.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any, TypedDict

import fsspec
import numpy as np

from ..checks.cache import LRUCache
from ..embeddings import ItemEmbeddings
from ..errors import IntegrityError, StoreError
from ..identity import Actor, as_actor
from ..neighbors import item_neighbors, next_item_neighbors
from ..progress import ProgressCallback, as_reporter
from ..store import Store, StoredVersion, _fsio
from ..store import _lifecycle_io as lio
from ..store._layout import ANN_DIR, INDEX_DIR
from ..store._manifest import DIRECTIONAL_FILE, EMBEDDINGS_FILE
from ..store.golden import golden_pairs
from ..store.indexes import index_name_refusal, register_index
from ..store.names import validate_version_name
from ..store.policy import access
from ..vocab import parse_id_like
from .index import AnnIndex, AnnParams, build_index, faiss_version, load_index
from .modes import (
    MODE_FIELDS,
    IndexMode,
    build_folder,
    claimed_mode,
    mode_vectors,
    record_mode,
    resolve_mode,
    served_mode,
)
from .recall import measure_recall

__all__ = ["INDEX_FILE", "RECORD_FILE", "ServedComparison", "build_version_index", "built_indexes", "golden_codes",
           "index_for_version", "item_events", "kept_copy", "open_index", "open_served", "served_neighbors"]

INDEX_FILE = "index.faiss"
RECORD_FILE = "index.json"
HOW_TO_QUERY = ("faiss IndexHNSWFlat on inner product of unit-norm vectors (= cosine); row i of the index is item "
                "row i of the version (ids.json in an export); search with params.ef_search, ask k + 1 and drop the "
                "query item itself")
#: How to query an index of the "next item" mode (over K, queried with Q).
HOW_TO_QUERY_NEXT = ("faiss IndexHNSWFlat on inner product over the candidate vectors K (unit-norm); query it with "
                     "the item's query vector Q (query.npy in an export, row i = item row i = ids.json[i]), not with "
                     "its symmetric vector; scores are Q_a·K_b (the 'next item' ranking); search with "
                     "params.ef_search, ask k + 1 and drop the query item itself")
_HOW: dict[IndexMode, str] = {"also": HOW_TO_QUERY, "next": HOW_TO_QUERY_NEXT}
_MEMORY = LRUCache[AnnIndex](2)  # indexes built in memory for versions that have none stored (Neighbors page)
_MEMORY_BUILD = threading.Lock()  # one in-memory build at a time (two viewers of one version build it once)
#: The largest catalogue :func:`served_neighbors` builds an index of in memory (seconds on two cores); above it a
#: version without a built index shows no served list.
MEMORY_BUILD_MAX_ITEMS = 50_000
_OPENED = LRUCache[AnnIndex](4)  # index files read and checked against their sha256


def item_events(stored: StoredVersion) -> np.ndarray | None:
    """Training events per row of the version (0 for an item with a vector but no behaviour, e.g. a cold-start row
    of a fusion version), or None when the version stores no item statistics."""
    stats = stored.item_stats
    if stats is None or "item_id" not in stats or "events" not in stats:
        return None
    codes = stored.embeddings.vocab.codes(stats["item_id"].to_numpy())
    out = np.zeros(len(stored.embeddings), dtype=np.float64)
    ok = codes >= 0
    out[codes[ok]] = stats["events"].to_numpy(dtype=np.float64)[ok]
    return out


def golden_codes(store: Store, emb: ItemEmbeddings) -> np.ndarray:
    """Rows of the golden pairs' query items that have a vector in ``emb``."""
    pairs = golden_pairs(store)
    if pairs.empty:
        return np.zeros(0, dtype=np.int64)
    codes = emb.vocab.codes(pairs["query_id"].to_numpy())
    return np.unique(codes[codes >= 0])


def built_indexes(store: Store | str, version: str) -> list[dict[str, Any]]:
    """The records of the indexes built from ``version`` and kept with it, oldest first (unreadable records are
    skipped: ``verify`` reports them)."""
    st = lio.store_of(store)
    validate_version_name(version)
    folder = st.join(ANN_DIR, version)
    out = []
    for build, kind in sorted(st.list_dir(folder).items()):
        if kind != "directory":
            continue
        rec = lio.read_json(st, f"{folder}/{build}/{RECORD_FILE}", "index record", strict=False)
        if isinstance(rec, dict) and rec.get("version") == version:
            out.append(rec)
    return sorted(out, key=lambda r: str(r.get("built_at")))


def _registered(st: Store) -> list[dict[str, Any]]:
    folder = st.join(INDEX_DIR)
    out = []
    for fn, kind in sorted(st.list_dir(folder).items()):
        if kind == "file" and fn.endswith(".json") and _fsio.TMP_MARK not in fn:
            rec = lio.read_json(st, f"{folder}/{fn}", "index record", strict=False)
            if isinstance(rec, dict):
                out.append(rec)
    return out


def _same_vectors(record: dict[str, Any], mode: str, embeddings_sha: str | None, directional_sha: str | None) -> bool:
    """Whether an index record (kept or registered) was built for ``mode`` from the version's current vectors: its
    embeddings' sha256 and, for a "next item" index (over K, queried with Q), its directional tables' sha256."""
    return (claimed_mode(record) == mode and record.get("embeddings_sha256") == embeddings_sha
            and (mode != "next" or record.get("directional_parquet_sha256") == directional_sha))


def index_for_version(store: Store | str, version: str, mode: str | None = None) -> dict[str, Any] | None:
    """The index of ``mode`` (``"also"`` or ``"next"``, see :mod:`.modes`; None: the mode the version serves) that
    serves (or would serve) ``version``: the most recently registered index of that mode built from its current
    embeddings (the recorded sha256 is the version's; for ``"next"`` also its directional tables') that records its
    file, else the most recent such index kept with the version, else None. The record says which it is
    (``"registered_as"`` holds the registered name, else None). Records without a mode are ``"also"`` indexes."""
    st = lio.store_of(store)
    manifest = st.manifest_or_none(version)  # read once: the served mode and both tables' sha256
    if mode is None:
        mode = served_mode(manifest) if manifest is not None else "also"
    sha = lio.recorded_sha256(manifest, EMBEDDINGS_FILE)
    dsha = lio.recorded_sha256(manifest, DIRECTIONAL_FILE) if mode == "next" else None
    registered = [r for r in _registered(st) if r.get("version") == version and isinstance(r.get("index_file"), str)
                  and isinstance(r.get("index_sha256"), str) and _same_vectors(r, mode, sha, dsha)]
    if registered:
        rec = max(registered, key=lambda r: str(r.get("at")))
        return {**rec, "registered_as": rec.get("index")}
    built = [b for b in built_indexes(st, version) if _same_vectors(b, mode, sha, dsha)]
    return {**built[-1], "registered_as": None} if built else None


def _stamp(st: Store, path: str) -> tuple[Any, ...] | None:
    """Size and modification stamp of an index file (None when it cannot be stated: then it is never cached)."""
    try:
        if lio.outside_store(path):
            fs, p = fsspec.core.url_to_fs(path)
            info = fs.info(p)
        else:
            info = st.fs.info(st.join(path))
    except (OSError, ValueError):
        return None
    if "size" not in info:
        return None
    stamp = (str(info["size"]), *(str(info.get(k)) for k in ("mtime", "ino", "LastModified", "ETag") if k in info))
    return stamp if len(stamp) > 1 else None


def kept_copy(store: Store | str, record: dict[str, Any]) -> dict[str, Any] | None:
    """A registration (``record["registered_as"]`` set) pointed at the index kept with its version that has the same
    bytes and mode — for when the registered file cannot be read here (an export on the serving host, or gone);
    the registration's search settings are kept. None when there is no such copy, or the record is a kept index."""
    version = record.get("version")
    if record.get("registered_as") is None or not isinstance(version, str):
        return None
    for kept in reversed(built_indexes(lio.store_of(store), version)):
        if kept.get("index_sha256") == record.get("index_sha256") and claimed_mode(kept) == claimed_mode(record):
            return {**record, "index_file": kept.get("index_file"), "index_bytes": kept.get("index_bytes")}
    return None


def open_served(store: Store | str, record: dict[str, Any]) -> tuple[AnnIndex, dict[str, Any]]:
    """The index a record names (:func:`open_index`) and the record read; when the registered file cannot be read
    here (an export on the serving host, or gone), the index kept with the version with the same bytes
    (:func:`kept_copy`), whose record then says ``registered_file``. FileNotFoundError when neither is here."""
    try:
        return open_index(store, record), record
    except FileNotFoundError:
        copy = kept_copy(store, record)
        if copy is None:
            raise
        return open_index(store, copy), {**copy, "registered_file": record.get("index_file")}


def open_index(store: Store | str, record: dict[str, Any]) -> AnnIndex:
    """The index a record (of :func:`built_indexes`, :func:`index_for_version` or the registry) names, after
    checking its file against the recorded sha256 (IntegrityError: the file is not the one recorded;
    FileNotFoundError when it is gone). An index read and checked before is reused while its file keeps its size
    and modification stamp (a replaced file is read and checked again)."""
    st = lio.store_of(store)
    path = str(record.get("index_file"))
    refused = lio.index_file_problem(st, path)
    if refused is not None:  # checked before the file is even looked at: no other file or URL is ever touched
        raise IntegrityError(f"refusing to read {refused}")
    stamp = _stamp(st, path)
    size = record.get("index_bytes")
    if stamp is not None and isinstance(size, int) and stamp[0] != str(size):
        raise IntegrityError(f"index file {path} has {stamp[0]} bytes, but its record says {size}: the file is not "
                             "the index that was built and measured (replaced or edited); build it again")
    # the record's version and mode are part of the key: a record naming the same bytes for another version or mode
    # must face _built_here itself, not reuse an index read under a record it was checked against
    key = None if stamp is None else (st.url, path, str(record.get("index_sha256")), stamp,
                                      json.dumps(record.get("params"), sort_keys=True), str(record.get("version")),
                                      str(claimed_mode(record)))
    return _OPENED.get_or_make(key, lambda: _read_checked(st, path, record))


class ForeignIndex(IntegrityError):
    """An index file whose bytes no build kept in this store has: never deserialized (faiss is not hardened against
    crafted files), so nothing can be measured of it."""


def _built_here(st: Store, record: dict[str, Any]) -> bool:
    """Whether an index kept with the record's version has the bytes the record names (an export registered from a
    build is a copy of the kept file)."""
    version = record.get("version")
    if not isinstance(version, str):
        return False
    try:
        return any(b.get("index_sha256") == record.get("index_sha256") and claimed_mode(b) == claimed_mode(record)
                   for b in built_indexes(st, version))
    except StoreError:
        return False


def _read_checked(st: Store, path: str, record: dict[str, Any]) -> AnnIndex:
    data = lio.read_index_file(st, path)
    got = hashlib.sha256(data).hexdigest()
    if got != record.get("index_sha256"):
        raise IntegrityError(f"index file {path} has sha256 {got[:12]}…, but its record says "
                             f"{str(record.get('index_sha256'))[:12]}…: the file is not the index that was built and "
                             "measured (replaced or edited); build it again")
    if not _built_here(st, record):
        raise ForeignIndex(f"index file {path} was not built in this store (no index kept with "
                           f"{record.get('version')} has its sha256), so it is not read: build the index here "
                           "(the Publish page, or export --format faiss) to measure it")
    params = AnnParams.model_validate(record.get("params") or {})
    return load_index(data, params, n=int(record["n"]), dim=int(record["dim"]), where=path)


def build_version_index(store: Store | str, version: str, *, params: AnnParams | None = None,
                        by: Actor | str | None = None, register_as: str | None = None, queries: int = 2000,
                        seed: int = 0, target: float = 0.95, k: int = 10, mode: str | None = None,
                        progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Build an ANN index of ``version`` (verified first) for ``mode`` — ``"also"``: over the symmetric vectors,
    ``"next"``: over the candidate vectors ``K``, queried with ``Q`` (:mod:`.modes`); None: the mode the version
    serves, a ``"next"`` for a version without the directional pair being a ConfigError naming it — measure its
    recall@``k`` against exact search of the same mode
    (:func:`~behemb_core.ann.recall.measure_recall`: ``queries`` items drawn with ``seed``, by popularity band, the
    golden pairs' query items, the smallest ``ef`` reaching ``target``), keep it with the version and return its
    record. With ``register_as`` the index is also registered under that name (``<store>/indexes/<name>.json``,
    with its file, sha256, parameters and measurement), so ``verify`` catches skew from then on.

    Needs the right to register an index (the publisher role under a policy). An index already kept with the same
    build parameters (``m``, ``ef_construction``) is reused when its bytes match its record, and is never replaced;
    asked for other search settings (``ef_search``, ``threads``) it is measured again at them, and the returned
    record (and the registration) carry them, while the kept record stays as written. A kept record that is
    unreadable, or that records other embeddings, raises IntegrityError; so does an index file that does not match
    its record. The record says the ``mode`` and what the index holds and is queried with (``indexed``,
    ``query_with``)."""
    st = lio.store_of(store)
    params = params or AnnParams()
    actor = None if by is None else as_actor(by)
    access(st, actor).require("index")
    manifest = st.manifest(version)  # read once: the mode and both tables' sha256
    chosen = resolve_mode(manifest, version, mode)
    refused = None if register_as is None else index_name_refusal(st, register_as, chosen)
    if refused is not None:  # before building: a name serves one mode
        raise StoreError(refused)
    rep = as_reporter(progress)
    build = build_folder(params, chosen)
    folder = st.join(ANN_DIR, version, build)
    rec_path = f"{folder}/{RECORD_FILE}"
    existing = lio.read_json(st, rec_path, "index record", strict=False)
    version_sha = lio.recorded_sha256(manifest, EMBEDDINGS_FILE)
    directional_sha = lio.recorded_sha256(manifest, DIRECTIONAL_FILE) if chosen == "next" else None
    record: dict[str, Any]
    if existing is not None:
        if not isinstance(existing, dict) or not _same_vectors(existing, chosen, version_sha, directional_sha):
            why = ("is unreadable" if not isinstance(existing, dict) else "records other embeddings than the "
                   "version's" if existing.get("embeddings_sha256") != version_sha else
                   f"records mode {claimed_mode(existing)!r}, not {chosen!r}" if claimed_mode(existing) != chosen
                   else "records other directional tables than the version's")
            raise IntegrityError(f"{rec_path} {why}; the index kept beside it is left as it is (kept indexes are "
                                 "never replaced): run verify, and build with other parameters meanwhile")
        rep("index", 0.3, "checking the index kept with the version")
        kept = open_index(st, existing)
        record = existing
        if AnnParams.model_validate(existing.get("params") or {}) != params:  # other search settings: measure again
            stored = st.load_version(version, verify=True)
            indexed, query_with = mode_vectors(stored, chosen)
            rep("index", 0.6, f"measuring recall at ef_search {params.ef_search}")
            measurement = measure_recall(AnnIndex(params, kept.n, kept.dim, kept.raw), indexed, k=k,
                                         queries=queries, seed=seed, events=item_events(stored),
                                         golden=golden_codes(st, stored.embeddings), target=target,
                                         query_vectors=query_with)
            record = {**existing, "params": params.model_dump(mode="json"), "measurement": measurement,
                      "measured_at": lio.utc_now()}
    else:
        rep("index", 0.0, f"loading {version}")
        stored = st.load_version(version, verify=True)
        emb = stored.embeddings
        indexed, query_with = mode_vectors(stored, chosen)
        what = "candidate vectors (K) of the 'next item' mode" if chosen == "next" else "vectors"
        rep("index", 0.05, f"building the ANN index of {len(emb):,} {what}")
        index = build_index(indexed, params)
        rep("index", 0.6, "measuring recall against exact search")
        measurement = measure_recall(index, indexed, k=k, queries=queries, seed=seed, events=item_events(stored),
                                     golden=golden_codes(st, emb), target=target, query_vectors=query_with)
        data = index.to_bytes()
        record = {"version": version, "embeddings_sha256": stored.manifest["files"][EMBEDDINGS_FILE]["sha256"],
                  "build": build, "params": params.model_dump(mode="json"), "mode": chosen, **MODE_FIELDS[chosen],
                  "library": {"faiss-cpu": faiss_version()}, "format": "faiss",
                  "index_file": f"{ANN_DIR}/{version}/{build}/{INDEX_FILE}",
                  "index_sha256": hashlib.sha256(data).hexdigest(), "index_bytes": len(data),
                  "n": int(indexed.shape[0]), "dim": int(indexed.shape[1]), "id_kind": emb.vocab.kind,
                  "measurement": measurement, "how_to_query": _HOW[chosen],
                  "built_at": lio.utc_now(), "by": None if actor is None else actor.id,
                  "actor": None if actor is None else actor.record()}
        if chosen == "next":  # K and Q come from the directional tables: the record names their file's sha256
            record["directional_parquet_sha256"] = directional_sha
        rep("index", 0.9, "keeping the index with the version")
        with lio.locked(st):  # the record is checked first: a kept index file is never replaced
            if st.fs.exists(rec_path):
                raise StoreError(f"{rec_path} appeared while this index was built (another build of {version}); "
                                 "nothing was replaced — build again to use it")
            _fsio.write_atomic(st, f"{folder}/{INDEX_FILE}", data, point="ann index")
            if not _fsio.create_exclusive(st, rec_path, lio.json_bytes(record), point="ann record"):
                raise StoreError(f"{rec_path} appeared while this index was built; build again to use it")
    if register_as is not None:
        register_index(st, register_as, version=version, embeddings_sha256=record["embeddings_sha256"], by=actor,
                       details=registry_details(record, record["index_file"]))
    rep("index", 1.0, "index ready")
    return record


def registry_details(record: dict[str, Any], index_file: str) -> dict[str, Any]:
    """What a registration records of a built index beside its version and sha256 (the file it serves from, and
    the mode it serves: ``"also"`` for a record from before modes)."""
    return {"format": record["format"], "index_file": index_file, "index_sha256": record["index_sha256"],
            "index_bytes": record.get("index_bytes"),
            "params": record["params"], "n": record["n"], "dim": record["dim"], "build": record["build"],
            "measurement": record["measurement"], "library": record["library"], "mode": record_mode(record),
            **{key: record[key] for key in ("indexed", "query_with", "how_to_query", "directional_parquet_sha256")
               if key in record}}


class ServedComparison(TypedDict):
    """One item's exact neighbors beside what the ANN index serves for it (see :func:`served_neighbors`)."""

    item_id: Any
    k: int
    exact: list[dict[str, Any]]
    served: list[dict[str, Any]]
    only_exact: list[Any]
    only_served: list[Any]
    same: bool
    source: dict[str, Any]


def served_neighbors(store: Store | str, stored: StoredVersion, item_id: Any, k: int = 10, *,
                     names: np.ndarray | None = None, build_if_missing: bool = True,
                     mode: str | None = None) -> ServedComparison | None:
    """Item ``item_id``'s exact top-``k`` (as on the Neighbors page) and the ``k`` neighbors the version's ANN
    index of ``mode`` serves for it (:func:`index_for_version`, read and checked against its sha256), with the ids
    only one list has. ``mode`` is ``"also"`` (the symmetric list, an index over ``E`` queried with ``E_a``) or
    ``"next"`` (the "next item" list ``Q_a · K_b``, an index over ``K`` queried with ``Q_a``); None: the mode the
    version serves; ``"next"`` for a version without the directional pair is a ConfigError naming it. Rows are
    ``{rank, item_id, score[, name], exact_rank}`` — ``exact_rank`` is the neighbor's rank in the exact list, None
    when it is not in it. When the version has no index, one built in memory with the default
    parameters stands in when ``build_if_missing`` and the catalogue has at most :data:`MEMORY_BUILD_MAX_ITEMS` items
    (``source["kind"] == "memory"``: nothing is stored), else None.
    KeyError naming the item when it has no vector."""
    st = lio.store_of(store)
    emb = stored.embeddings
    chosen = resolve_mode(stored.manifest, stored.name, mode)
    indexed, query_with = mode_vectors(stored, chosen)
    if isinstance(item_id, str):
        item_id = parse_id_like(item_id, emb.vocab.kind)
    code = emb.vocab.code(item_id)
    exact = (next_item_neighbors(emb, stored.directional, item_id, k, names=names, version=stored.name)
             if chosen == "next" else item_neighbors(emb, item_id, k, names=names))
    record = index_for_version(st, stored.name, chosen)
    if record is not None:
        index, record = open_served(st, record)
        source = {"kind": "registered" if record["registered_as"] else "kept", "name": record["registered_as"],
                  "build": record.get("build"), "index_file": record.get("index_file"), "params": record.get("params"),
                  "measurement": record.get("measurement"), "mode": chosen,
                  "registered_file": record.get("registered_file")}
    elif build_if_missing and len(emb) <= MEMORY_BUILD_MAX_ITEMS:
        params = AnnParams()
        sha = stored.manifest["files"][EMBEDDINGS_FILE]["sha256"]
        with _MEMORY_BUILD:
            index = _MEMORY.get_or_make((sha, chosen, params.model_dump_json()),
                                        lambda: build_index(indexed, params))
        source = {"kind": "memory", "name": None, "build": build_folder(params, chosen), "index_file": None,
                  "params": params.model_dump(mode="json"), "measurement": None, "mode": chosen}
    else:
        return None
    found, scores = index.search(query_with[[code]], k, skip=np.array([code]))
    exact_rank = {row["item_id"]: row["rank"] for row in exact}
    served = []
    for rank, (c, s) in enumerate(zip(found[0].tolist(), scores[0].tolist(), strict=True), start=1):
        if c < 0:
            break
        nid = emb.vocab.ids[c].item() if emb.vocab.kind == "int" else emb.vocab.ids[c]
        row = {"rank": rank, "item_id": nid, "score": round(float(s), 6), "exact_rank": exact_rank.get(nid)}
        if names is not None:
            row["name"] = str(names[c])
        served.append(row)
    served_ids = {r["item_id"] for r in served}
    only_exact = [r["item_id"] for r in exact if r["item_id"] not in served_ids]
    only_served = [r["item_id"] for r in served if r["item_id"] not in exact_rank]
    return {"item_id": item_id, "k": k, "exact": exact, "served": served, "only_exact": only_exact,
            "only_served": only_served, "same": not only_exact and not only_served, "source": source}
