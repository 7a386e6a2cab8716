"""Export a stored version for programs that do not speak the store format (ANN index builders, notebooks).

Every export starts from verified bytes, so an exported file always matches the checksums of its version; the
``npy`` export also writes ``export.json`` with the source ``embeddings.parquet`` sha256 so an index built from
it can later be checked against the store (index skew detection).
"""

from __future__ import annotations

import json
import os
from typing import Literal

import fsspec
import numpy as np
from fsspec.implementations.local import LocalFileSystem

from ..errors import StoreError
from ._manifest import EMBEDDINGS_FILE
from .filestore import Store

ExportFormat = Literal["parquet", "npy", "jsonl"]
FORMATS: tuple[str, ...] = ("parquet", "npy", "jsonl")
_JSONL_CHUNK = 10_000


def export_version(store: Store | str, name: str, *, fmt: ExportFormat, out: str | os.PathLike[str],
                   overwrite: bool = False) -> list[str]:
    """Write version ``name`` of ``store`` to ``out`` in format ``fmt``; return the written paths.

    * ``parquet``: a byte copy of ``embeddings.parquet`` (checked against the manifest sha256), written to
      ``out`` or to ``out/embeddings.parquet`` when ``out`` is a folder.
    * ``npy``: folder ``out`` with ``embeddings.npy`` (float32 n x d, no pickle), ``ids.json`` (ids in row
      order, integers stay integers) and ``export.json`` (version, source sha256, dim, n), written last.
    * ``jsonl``: ``out`` (or ``out/embeddings.jsonl`` for a folder), one ``{"id": ..., "embedding": [...]}``
      per line; floats are printed so that they parse back to the identical float32.

    Existing output files are never replaced unless ``overwrite=True`` (StoreError otherwise, before anything
    is written).
    """
    if fmt not in FORMATS:
        raise StoreError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    st = store if isinstance(store, Store) else Store(store)
    out_str = os.fspath(out)
    fs, out_path = fsspec.core.url_to_fs(out_str)
    out_path = out_path.rstrip("/") or "/"
    is_dir = out_str.endswith(("/", os.sep)) or fs.isdir(out_path)

    if fmt == "parquet":
        target = f"{out_path}/{EMBEDDINGS_FILE}" if is_dir else out_path
        _refuse_existing(fs, [target], overwrite)
        data = st.read_file(name, EMBEDDINGS_FILE, verify=True)
        _write(fs, target, data)
        return [_shown(fs, target)]

    loaded = st.load_version(name, verify=True)
    emb = loaded.embeddings
    if fmt == "jsonl":
        target = f"{out_path}/embeddings.jsonl" if is_dir else out_path
        _refuse_existing(fs, [target], overwrite)
        _parent(fs, target)
        ids = emb.vocab.ids.tolist()
        vectors = emb.vectors
        with fs.open(target, "w", encoding="utf-8") as fh:
            for start in range(0, len(ids), _JSONL_CHUNK):
                rows = vectors[start:start + _JSONL_CHUNK].tolist()  # exact float32 -> float64 widening
                chunk = ids[start:start + _JSONL_CHUNK]
                fh.write("".join(json.dumps({"id": i, "embedding": r}, ensure_ascii=False) + "\n"
                                 for i, r in zip(chunk, rows, strict=True)))
        return [_shown(fs, target)]

    # npy
    if fs.exists(out_path) and not fs.isdir(out_path):
        raise StoreError(f"npy export needs a folder, but {out_str} is a file")
    paths = {k: f"{out_path}/{k}" for k in ("embeddings.npy", "ids.json", "export.json")}
    _refuse_existing(fs, list(paths.values()), overwrite)
    fs.makedirs(out_path, exist_ok=True)
    with fs.open(paths["embeddings.npy"], "wb") as fh:
        np.save(fh, np.ascontiguousarray(emb.vectors, dtype=np.float32), allow_pickle=False)
    _write(fs, paths["ids.json"], (json.dumps(emb.vocab.ids.tolist(), ensure_ascii=False) + "\n").encode())
    receipt = {
        "version": name,
        "embeddings_parquet_sha256": loaded.manifest["files"][EMBEDDINGS_FILE]["sha256"],
        "dim": emb.dim,
        "n": len(emb),
        "id_kind": emb.vocab.kind,
        "format": "npy",
    }
    _write(fs, paths["export.json"], (json.dumps(receipt, sort_keys=True, indent=2) + "\n").encode())
    return [_shown(fs, p) for p in paths.values()]


def _refuse_existing(fs: fsspec.AbstractFileSystem, paths: list[str], overwrite: bool) -> None:
    if overwrite:
        return
    existing = [p for p in paths if fs.exists(p)]
    if existing:
        raise StoreError(f"export would overwrite {', '.join(existing)}; pass overwrite=True to replace")


def _parent(fs: fsspec.AbstractFileSystem, path: str) -> None:
    parent = path.rsplit("/", 1)[0]
    if parent:
        fs.makedirs(parent, exist_ok=True)


def _write(fs: fsspec.AbstractFileSystem, path: str, data: bytes) -> None:
    _parent(fs, path)
    with fs.open(path, "wb") as fh:
        fh.write(data)


def _shown(fs: fsspec.AbstractFileSystem, path: str) -> str:
    return path if isinstance(fs, LocalFileSystem) else fs.unstrip_protocol(path)
