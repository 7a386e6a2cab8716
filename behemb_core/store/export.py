"""Export a stored version for programs that do not speak the store format (ANN index builders, notebooks).

Every export starts from verified bytes, so an exported file always matches the checksums of its version; the
``npy`` export also writes ``export.json`` with the source ``embeddings.parquet`` sha256 so an index built from
it can later be checked against the store (index skew detection).

A version with directional "next item" tables (query vectors Q and candidate vectors K, see
:class:`~behemb_core.embeddings.DirectionalPair`) exports them beside the symmetric vectors in every format, each
named for what it is: the items people go on to *after* item ``a`` are ranked by ``Q_a · K_b`` — build an ANN
index over the candidate vectors and query it with the query vectors; the symmetric ``embedding`` stays the "also
viewed" table. ``parquet`` copies ``directional.parquet`` (columns ``item_id``, ``query``, ``candidate``; alpha in
the schema metadata), ``npy`` writes ``query.npy`` and ``candidate.npy`` and names them in ``export.json``'s
``directional`` section, ``jsonl`` adds ``"query"`` and ``"candidate"`` to every line. A version without the
tables exports exactly as before.
"""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Callable
from typing import BinaryIO, Literal

import fsspec
import numpy as np
from fsspec.implementations.local import LocalFileSystem

from ..boundary import doing
from ..errors import StoreError
from . import _fsio
from ._manifest import DIRECTIONAL_FILE, DIRECTIONAL_HOW, EMBEDDINGS_FILE
from .filestore import Store

ExportFormat = Literal["parquet", "npy", "jsonl"]
FORMATS: tuple[str, ...] = ("parquet", "npy", "jsonl")
_JSONL_CHUNK = 10_000


def export_version(store: Store | str, name: str, *, fmt: ExportFormat, out: str | os.PathLike[str],
                   overwrite: bool = False) -> list[str]:
    """Write version ``name`` of ``store`` to ``out`` in format ``fmt``; return the written paths.

    * ``parquet``: a byte copy of ``embeddings.parquet`` (checked against the manifest sha256), written to
      ``out`` or to ``out/embeddings.parquet`` when ``out`` is a folder. With directional tables also a byte copy
      of ``directional.parquet``: ``out/directional.parquet``, or ``<stem>.directional.parquet`` beside a file
      ``out`` (``x/emb.parquet`` → ``x/emb.directional.parquet``).
    * ``npy``: folder ``out`` with ``embeddings.npy`` (float32 n x d, no pickle), ``ids.json`` (ids in row
      order, integers stay integers) and ``export.json`` (version, source sha256, dim, n), written last. With
      directional tables also ``query.npy`` and ``candidate.npy`` (same rows as ``ids.json``), and
      ``export.json`` gains ``"directional": {"query": "query.npy", "candidate": "candidate.npy", "alpha": …,
      "dim": …, "how_to_query": …, "directional_parquet_sha256": …}``.
    * ``jsonl``: ``out`` (or ``out/embeddings.jsonl`` for a folder), one ``{"id": ..., "embedding": [...]}``
      per line; floats are printed so that they parse back to the identical float32. With directional tables
      every line also holds ``"query": [...]`` and ``"candidate": [...]`` (rank b after a by query_a · candidate_b).

    An ANN index of a version is exported by :func:`behemb_core.ann.export.export_faiss` (``export --format
    faiss``), which builds on the checks and writes of this module.

    Refused before anything is written (StoreError): an ``out`` inside the store (versions are immutable; on
    local disk real paths are compared, elsewhere normalised URLs), and existing output files unless
    ``overwrite=True``. Every file is written under a temporary name in its folder and renamed into place; a
    failed write (full disk, file-size limit, read-only folder) removes the temporary file and any folder the
    export created, so nothing half-written is left.
    """
    if fmt == "faiss":
        raise StoreError("an ANN index export (faiss) is written by behemb_core.ann.export.export_faiss(store, "
                         "version, out=..., register_as=...), which builds, measures and registers the index")
    if fmt not in FORMATS:
        raise StoreError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    st = store if isinstance(store, Store) else Store(store)
    out_str = os.fspath(out)
    fs, out_path = fsspec.core.url_to_fs(out_str)
    out_path = out_path.rstrip("/") or "/"
    _refuse_inside_store(st, fs, out_path, out_str)
    is_dir = out_str.endswith(("/", os.sep)) or fs.isdir(out_path)

    if fmt == "parquet":
        target = f"{out_path}/{EMBEDDINGS_FILE}" if is_dir else out_path
        targets = {EMBEDDINGS_FILE: target}
        if DIRECTIONAL_FILE in st.manifest(name)["files"]:
            targets[DIRECTIONAL_FILE] = (f"{out_path}/{DIRECTIONAL_FILE}" if is_dir
                                         else _beside(out_path, "directional.parquet"))
        _refuse_existing(fs, list(targets.values()), overwrite)
        blobs = {fn: st.read_file(name, fn, verify=True) for fn in targets}
        with doing("write the export", out_str), _Writes(fs) as w:
            for fn, path in targets.items():
                w.write(path, blobs[fn])
        return [_shown(fs, p) for p in targets.values()]

    loaded = st.load_version(name, verify=True)
    emb = loaded.embeddings
    pair = loaded.directional
    if fmt == "jsonl":
        target = f"{out_path}/embeddings.jsonl" if is_dir else out_path
        _refuse_existing(fs, [target], overwrite)
        ids = emb.vocab.ids.tolist()
        vectors = emb.vectors

        def lines(fh) -> None:
            for start in range(0, len(ids), _JSONL_CHUNK):
                stop = start + _JSONL_CHUNK
                rows = vectors[start:stop].tolist()  # exact float32 -> float64 widening
                chunk = ids[start:stop]
                if pair is None:
                    objs = ({"id": i, "embedding": r} for i, r in zip(chunk, rows, strict=True))
                else:
                    objs = ({"id": i, "embedding": r, "query": q, "candidate": c} for i, r, q, c in
                            zip(chunk, rows, pair.query[start:stop].tolist(), pair.candidate[start:stop].tolist(),
                                strict=True))
                fh.write("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs).encode("utf-8"))

        with doing("write the export", out_str), _Writes(fs) as w:
            w.write(target, lines)
        return [_shown(fs, target)]

    # npy
    if fs.exists(out_path) and not fs.isdir(out_path):
        raise StoreError(f"npy export needs a folder, but {out_str} is a file")
    files = ("embeddings.npy", "ids.json", *(("query.npy", "candidate.npy") if pair is not None else ()),
             "export.json")
    paths = {k: f"{out_path}/{k}" for k in files}
    _refuse_existing(fs, list(paths.values()), overwrite)
    receipt = {
        "version": name,
        "embeddings_parquet_sha256": loaded.manifest["files"][EMBEDDINGS_FILE]["sha256"],
        "dim": emb.dim,
        "n": len(emb),
        "id_kind": emb.vocab.kind,
        "format": "npy",
    }
    if pair is not None:
        receipt["directional"] = {
            "query": "query.npy", "candidate": "candidate.npy", "alpha": pair.alpha, "dim": int(pair.query.shape[1]),
            "how_to_query": DIRECTIONAL_HOW,
            "directional_parquet_sha256": loaded.manifest["files"][DIRECTIONAL_FILE]["sha256"],
        }
    # all under temporary names first, then renamed (export.json last)
    with doing("write the export", out_str), _Writes(fs) as w:
        w.write(paths["embeddings.npy"], lambda fh: _write_npy(fh, emb.vectors))
        w.write(paths["ids.json"], (json.dumps(emb.vocab.ids.tolist(), ensure_ascii=False) + "\n").encode())
        if pair is not None:
            w.write(paths["query.npy"], lambda fh: _write_npy(fh, pair.query))
            w.write(paths["candidate.npy"], lambda fh: _write_npy(fh, pair.candidate))
        w.write(paths["export.json"], (json.dumps(receipt, sort_keys=True, indent=2) + "\n").encode())
    return [_shown(fs, p) for p in paths.values()]


def _beside(path: str, suffix: str) -> str:
    """``path`` with its last extension replaced by ``.<suffix>`` (``x/emb.parquet`` → ``x/emb.directional.parquet``);
    a name without an extension keeps its name whole."""
    folder, base = posixpath.split(path)
    stem = posixpath.splitext(base)[0] or base
    return posixpath.join(folder, f"{stem}.{suffix}")


def _write_npy(fh: BinaryIO, vectors: np.ndarray, chunk: int = 1 << 24) -> None:
    """What ``np.save(fh, float32 array, allow_pickle=False)`` writes (format 1.0), through ``fh.write`` in
    chunks: numpy's own ``tofile`` fast path reports a short write without an errno (a full disk would read
    "3200 requested and 2016 written"), ``fh.write`` raises the OSError that says why."""
    arr = np.ascontiguousarray(vectors, dtype=np.float32)
    np.lib.format.write_array_header_1_0(fh, np.lib.format.header_data_from_array_1_0(arr))
    view = arr.reshape(-1).data.cast("B")
    for start in range(0, len(view), chunk):
        fh.write(view[start:start + chunk])


def _refuse_inside_store(st: Store, fs: fsspec.AbstractFileSystem, out_path: str, out_str: str) -> None:
    """StoreError when ``out`` is the store folder or anywhere under it (a version folder above all)."""
    if st.is_local and isinstance(fs, LocalFileSystem):
        root = os.path.realpath(st.root or "/")
        target = os.path.realpath(out_path)
        inside = target == root or os.path.commonpath([root, target]) == root
    else:
        try:
            root_url = st.fs.unstrip_protocol(st.root).rstrip("/")
            target_url = fs.unstrip_protocol(out_path).rstrip("/")
        except Exception:  # noqa: BLE001 - an unusual filesystem: compare what we have
            root_url, target_url = st.url.rstrip("/"), out_str.rstrip("/")
        inside = target_url == root_url or target_url.startswith(root_url + "/")
    if inside:
        raise StoreError(f"export --out {out_str} is inside the store {st.url}: versions are immutable and an "
                         "export is never written into a store; choose a path outside it")


def _refuse_existing(fs: fsspec.AbstractFileSystem, paths: list[str], overwrite: bool) -> None:
    if overwrite:
        return
    existing = [p for p in paths if fs.exists(p)]
    if existing:
        raise StoreError(f"export would overwrite {', '.join(existing)}; pass overwrite=True to replace")


class _Writes:
    """The export's files, each staged under a temporary name beside its target (:class:`_fsio.Staged`: fsynced
    on local disk) and all put in place when every one was written, in order (``export.json`` last).

    On any failure the temporary files are removed, and so are the folders this export created (when empty); a
    target replaced with ``overwrite`` keeps its old content unless every file was written."""

    def __init__(self, fs: fsspec.AbstractFileSystem) -> None:
        self.fs = fs
        self.place = _fsio.Location(fs)
        self.staged: list[_fsio.Staged] = []
        self.created: list[str] = []  # folders made by this export, outermost first

    def __enter__(self) -> _Writes:
        return self

    def _makedirs(self, folder: str) -> None:
        missing = []
        while folder and folder != "/" and not self.fs.exists(folder):
            missing.append(folder)
            parent = folder.rsplit("/", 1)[0]
            if parent == folder:
                break
            folder = parent
        for d in reversed(missing):
            self.fs.makedirs(d, exist_ok=True)
            self.created.append(d)

    def write(self, target: str, data: bytes | Callable[[BinaryIO], None]) -> None:
        self._makedirs(target.rsplit("/", 1)[0] if "/" in target else "")
        self.staged.append(_fsio.Staged(self.place, target, data, point="export"))

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                for staged in self.staged:
                    staged.install()
                return
            except BaseException:
                self._clean()
                raise
        self._clean()

    def _clean(self) -> None:
        for staged in self.staged:
            staged.discard()
        for folder in reversed(self.created):
            try:
                if not self.fs.ls(folder):
                    self.fs.rmdir(folder)
            except Exception:  # noqa: BLE001 - best effort while another error propagates
                pass


def _shown(fs: fsspec.AbstractFileSystem, path: str) -> str:
    return path if isinstance(fs, LocalFileSystem) else fs.unstrip_protocol(path)
