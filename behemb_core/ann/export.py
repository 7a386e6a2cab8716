"""``export --format faiss``: a version's ANN index for the program that serves it, with the record that says what
it was built from, and its registration in the store in the same step (so ``verify`` catches index skew).

An index of the "next item" mode holds the candidate vectors ``K`` and is queried with the query vectors ``Q``: its
export also writes ``query.npy`` (``Q``, rows as ``ids.json``), and ``export.json`` says ``"mode": "next"``,
``"indexed": "K (candidate vectors)"``, ``"query_with": "Q (query vectors)"`` and ``"query_file": "query.npy"``."""

from __future__ import annotations

import json
import os
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from ..boundary import doing
from ..errors import IntegrityError, StoreError
from ..identity import Actor
from ..progress import ProgressCallback
from ..store import Store
from ..store import _lifecycle_io as lio
from ..store._manifest import DIRECTIONAL_FILE
from ..store.export import _refuse_existing, _refuse_inside_store, _shown, _write_npy, _Writes
from ..store.indexes import index_name_refusal, register_index
from .index import AnnParams
from .modes import MODE_FIELDS, mode_vectors, resolve_mode
from .served import INDEX_FILE, build_version_index, registry_details

__all__ = ["EXPORT_FILES", "NEXT_EXPORT_FILES", "export_faiss"]

#: What a faiss export writes into its folder (``export.json`` last: its presence means the export is whole).
EXPORT_FILES = (INDEX_FILE, "ids.json", "export.json")
#: What the export of a "next item" index writes: also the query vectors it is queried with.
NEXT_EXPORT_FILES = (INDEX_FILE, "ids.json", "query.npy", "export.json")


def export_faiss(store: Store | str, version: str, *, out: str | os.PathLike[str], overwrite: bool = False,
                 params: AnnParams | None = None, register_as: str | None = None, by: Actor | str | None = None,
                 mode: str | None = None, progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Write folder ``out`` with ``index.faiss`` (an HNSW index of ``version``'s vectors, built with ``params`` or
    the defaults), ``ids.json`` (item ids in index-row order) and ``export.json`` — the version, its embeddings'
    sha256, dim and n, the index file's name and sha256, the build parameters, the recall measurement and how to
    query it, and the ``mode`` (``"also"``, or ``"next"``: an index over ``K`` queried with ``Q``, with ``query.npy``
    beside it; None: the mode the version serves). The index is built and kept with the version (or the kept one
    with the same parameters reused, :func:`~behemb_core.ann.served.build_version_index`) and, with
    ``register_as``, registered under that name with the exported file as the one that serves (a name that already
    serves the other mode is refused: :func:`~behemb_core.store.register_index`). With ``overwrite``, an "also
    viewed" export over an earlier "next item" one removes its ``query.npy``. Returns
    ``{"paths", "record", "registered"}``.

    Refused before anything is written (StoreError) like every export: an ``out`` inside the store, an ``out``
    that is a file, existing files unless ``overwrite``. Building and registering need the publisher role under a
    policy (``by``)."""
    st = store if isinstance(store, Store) else Store(store)
    out_str = os.fspath(out)
    fs, out_path = fsspec.core.url_to_fs(out_str)
    out_path = out_path.rstrip("/") or "/"
    _refuse_inside_store(st, fs, out_path, out_str)
    if fs.exists(out_path) and not fs.isdir(out_path):
        raise StoreError(f"a faiss export needs a folder, but {out_str} is a file")
    chosen = resolve_mode(st.manifest(version), version, mode)
    paths = {k: f"{out_path}/{k}" for k in (NEXT_EXPORT_FILES if chosen == "next" else EXPORT_FILES)}
    _refuse_existing(fs, list(paths.values()), overwrite)
    refused = None if register_as is None else index_name_refusal(st, register_as, chosen)
    if refused is not None:
        raise StoreError(refused)
    record = build_version_index(st, version, params=params, by=by, mode=chosen, progress=progress)
    data = st.read_bytes(st.join(record["index_file"]))
    if lio.sha256(data) != record["index_sha256"]:
        raise IntegrityError(f"the index kept with {version!r} ({record['index_file']}) changed while it was exported")
    stored = st.load_version(version, verify=True)
    ids = stored.embeddings.vocab.ids.tolist()
    receipt = {"version": version, "embeddings_parquet_sha256": record["embeddings_sha256"], "dim": record["dim"],
               "n": record["n"], "id_kind": record["id_kind"], "format": "faiss", "index_file": INDEX_FILE,
               "index_sha256": record["index_sha256"], "index_bytes": record.get("index_bytes"),
               "params": record["params"], "build": record["build"],
               "measurement": record["measurement"], "library": record["library"],
               "how_to_query": record["how_to_query"], "ids_file": "ids.json",
               "mode": chosen, **MODE_FIELDS[chosen]}
    _, query_with = mode_vectors(stored, chosen)
    if chosen == "next":
        receipt["query_file"] = "query.npy"
        receipt["directional_parquet_sha256"] = stored.manifest["files"][DIRECTIONAL_FILE]["sha256"]
    with doing("write the export", out_str), _Writes(fs) as w:
        w.write(paths[INDEX_FILE], data)
        w.write(paths["ids.json"], (json.dumps(ids, ensure_ascii=False) + "\n").encode())
        if chosen == "next":
            w.write(paths["query.npy"], lambda fh: _write_npy(fh, query_with))
        w.write(paths["export.json"], (json.dumps(receipt, sort_keys=True, indent=2) + "\n").encode())
    stale = f"{out_path}/query.npy"
    if chosen == "also" and overwrite and fs.exists(stale):  # an earlier "next item" export's: not this index's
        fs.rm(stale)
    shown = [_shown(fs, p) for p in paths.values()]
    registered = None
    if register_as is not None:
        served = os.path.abspath(paths[INDEX_FILE]) if isinstance(fs, LocalFileSystem) else shown[0]
        registered = register_index(st, register_as, version=version, embeddings_sha256=record["embeddings_sha256"],
                                    by=by, details=registry_details(record, served))
    return {"paths": shown, "record": record, "registered": registered}
