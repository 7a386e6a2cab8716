"""The version store: immutable, checksummed embedding versions in a folder or any fsspec location.

Layout (the contract other programs rely on)::

    <store>/versions/<version>/embeddings.parquet   item_id, embedding, behavior_emb_version, source
    <store>/versions/<version>/items.parquet         optional item metadata of the version's items
    <store>/versions/<version>/item_stats.parquet    optional training popularity: item_id, events, sessions
    <store>/versions/<version>/directional.parquet   optional "next item" tables: item_id, query, candidate
    <store>/versions/<version>/manifest.json         written last; holds sha256 + size of every other file
    <store>/lifecycle/<version>/*.json               lifecycle records (approve/publish), kept apart

A version exists exactly when its ``manifest.json`` exists. On a local disk a version is written into
``versions/.tmp-<name>-<uuid>/`` and renamed into place, so it appears complete or not at all and of two
concurrent writers of one name exactly one wins. Other filesystems have no atomic rename: files are written
straight into the version folder with the manifest last, and a folder without a manifest is ignored.
Versions are never overwritten or deleted by this module.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import fsspec
import pandas as pd
import pyarrow as pa
from fsspec.implementations.local import LocalFileSystem

from ..embeddings import DirectionalPair, ItemEmbeddings, check_embeddings
from ..errors import FitError, IntegrityError, StoreError, VersionExistsError
from ..metadata import ItemMetadata
from ._fsio import conditional_writes
from ._manifest import (
    DIRECTIONAL_FILE,
    EMBEDDINGS_FILE,
    ITEM_STATS_FILE,
    ITEMS_FILE,
    MANIFEST_FILE,
    build_manifest,
    directional_section,
    json_safe,
    manifest_bytes,
    manifest_seal,
    parse_manifest,
)
from ._tables import (
    directional_to_table,
    embeddings_to_table,
    items_to_table,
    parquet_bytes,
    parquet_seal,
    read_parquet,
    table_to_directional,
    table_to_embeddings,
    table_to_items,
)
from ._version_write import CLAIM_FILE, write_version_local, write_version_remote
from .names import is_valid_version_name, next_version_name, validate_version_name
from .status import published_name, version_status
from .store_format import ensure_format, store_format

_TMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class VersionInfo:
    """One line of :meth:`Store.list_versions`: what a version is, without loading its vectors."""

    name: str
    method: str | None
    status: str
    created_at: str
    n_items: int
    dim: int
    path: str


@dataclass(frozen=True)
class StoredVersion:
    """A loaded version: its manifest, its embeddings and (when stored) the metadata of its items, their training
    popularity and the directional "next item" tables (``None`` for a version without them)."""

    name: str
    manifest: dict[str, Any]
    embeddings: ItemEmbeddings
    item_meta: ItemMetadata | None
    item_stats: pd.DataFrame | None = None
    directional: DirectionalPair | None = None


class Store:
    """Immutable embedding versions under ``location`` (a folder or any fsspec URL such as ``memory://x``)."""

    def __init__(self, location: str | os.PathLike[str] = "./store", *,
                 storage_options: Mapping[str, Any] | None = None) -> None:
        self.url = os.fspath(location)
        options = dict(storage_options or {})
        if self.url.startswith(("s3://", "s3a://")):
            # S3 is strongly consistent, but s3fs caches listings per instance: another process's new version or
            # audit line would stay invisible. The endpoint comes from AWS_ENDPOINT_URL etc. (botocore reads them).
            options.setdefault("use_listings_cache", False)
        self.fs, root = fsspec.core.url_to_fs(self.url, **options)
        self.root: str = root.rstrip("/")
        self.is_local = isinstance(self.fs, LocalFileSystem)

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    @property
    def single_writer(self) -> bool:
        """True for stores with neither file locks nor conditional writes (e.g. ``memory://``): lifecycle writes of
        one process at a time are safe there; a second writer that can be seen is refused (a lease file), two
        starting at the same instant are not prevented. Local folders (``flock``) and S3 (create-only-if-absent and
        compare-and-swap writes, :func:`~behemb_core.store._fsio.conditional_writes`) serialise any number of
        writers."""
        return not self.is_local and not conditional_writes(self)

    def writer_note(self) -> str | None:
        """A sentence for people when :attr:`single_writer`, else None."""
        if not self.single_writer:
            return None
        return (f"{self.url} has no file locks ({type(self.fs).__name__}): one person or job at a time may approve, "
                "publish, roll back or mark golden pairs; a second writer it can see is refused")

    # ----------------------------------------------------------------- paths
    # join / list_dir / read_bytes / folder_names: file access inside the store for the store's own modules
    # (lifecycle, golden pairs, settings, caches) — everything they write goes through store/_fsio.py.
    def join(self, *parts: str) -> str:
        """The path (in this store's filesystem) of ``parts`` under the store root."""
        return "/".join([self.root, *parts])

    def _vdir(self, name: str) -> str:
        return self.join("versions", validate_version_name(name))

    def version_path(self, name: str) -> str:
        """Where version ``name`` lives (a plain path on local disk, a URL elsewhere). The name is validated,
        so the path is always a direct child of ``<store>/versions``."""
        path = self._vdir(name)
        return path if self.is_local else self.fs.unstrip_protocol(path)

    def list_dir(self, path: str) -> dict[str, str]:
        """Basename → ``"file"``/``"directory"`` of the entries of ``path`` (empty when it does not exist)."""
        try:
            entries = self.fs.ls(path, detail=True)
        except (FileNotFoundError, NotADirectoryError):
            return {}
        out = {}
        for entry in entries:
            base = entry["name"].rstrip("/").rsplit("/", 1)[-1]
            if base and entry["name"].rstrip("/") != path.rstrip("/"):
                out[base] = "directory" if entry.get("type") == "directory" else "file"
        return out

    def folder_names(self) -> list[str]:
        """Names of the folders under ``versions/`` (complete or not), sorted."""
        return sorted(n for n, kind in self.list_dir(self.join("versions")).items() if kind == "directory")

    def read_bytes(self, path: str) -> bytes:
        """The bytes of a file of the store (FileNotFoundError when absent)."""
        return bytes(self.fs.cat_file(path))

    # ------------------------------------------------------------- manifests
    def exists(self, name: str) -> bool:
        """True when version ``name`` is complete (its manifest exists). Invalid names raise StoreError."""
        return bool(self.fs.isfile(f"{self._vdir(name)}/{MANIFEST_FILE}"))

    def missing_error(self, name: str) -> StoreError:
        """The error for a version that is not there: incomplete, or missing with the names that exist."""
        names = [v.name for v in self.list_versions()]
        if name in self.folder_names():
            return StoreError(f"version {name!r} in {self.url} is incomplete (no {MANIFEST_FILE}: an interrupted "
                              "write?); it cannot be loaded")
        if not names:
            return StoreError(f"version {name!r} not found: the store {self.url} has no versions yet")
        shown = ", ".join(names[-10:])
        more = f" (last 10 of {len(names)})" if len(names) > 10 else ""
        return StoreError(f"version {name!r} not found in {self.url}; available: {shown}{more}")

    def manifest(self, name: str) -> dict[str, Any]:
        """The parsed manifest of version ``name``; a missing version raises StoreError listing those there."""
        manifest = self.manifest_or_none(name)
        if manifest is None:
            raise self.missing_error(name)
        return manifest

    def manifest_or_none(self, name: str) -> dict[str, Any] | None:
        """The parsed manifest of version ``name``, or None when it has none (unreadable: StoreError)."""
        try:
            data = self.read_bytes(f"{self._vdir(name)}/{MANIFEST_FILE}")
        except FileNotFoundError:
            return None
        return parse_manifest(data, f"version {name!r}")

    def status(self, name: str) -> str:
        """Lifecycle status of version ``name``: ``draft``, ``approved`` or ``published`` — by the lifecycle's
        rule (:mod:`behemb_core.store.status`); never part of the immutable manifest."""
        if not self.exists(name):
            raise self.missing_error(name)
        return version_status(self, name)

    def list_versions(self) -> list[VersionInfo]:
        """Complete versions sorted by creation time (then name); folders without a readable manifest are
        skipped (see :meth:`incomplete`)."""
        infos = []
        store_format(self)  # refuses a store of unknown format
        published = published_name(self)
        for name in self.folder_names():
            if not is_valid_version_name(name):
                continue
            try:
                manifest = self.manifest_or_none(name)
            except StoreError:
                continue
            if manifest is not None:
                infos.append(self._info(name, manifest, version_status(self, name, published=published)))
        return sorted(infos, key=lambda v: (v.created_at, v.name))

    def incomplete(self) -> list[str]:
        """Folder names under ``versions/`` that are not loadable versions: leftovers of interrupted writes
        (``.tmp-*`` work folders, version folders without a manifest) or unreadable manifests. Nothing is
        removed automatically; a work folder of a write still running elsewhere is listed too."""
        out = []
        for name in self.folder_names():
            if not is_valid_version_name(name):
                if name.startswith(_TMP_PREFIX):
                    out.append(name)
                continue
            try:
                complete = self.manifest_or_none(name) is not None
            except StoreError:
                complete = False
            if not complete:
                out.append(name)
        return out

    def _info(self, name: str, manifest: Mapping[str, Any], status: str = "draft") -> VersionInfo:
        method = manifest.get("method")
        return VersionInfo(
            name=name,
            method=method if isinstance(method, str) else None,
            status=status,
            created_at=str(manifest.get("created_at", "")),
            n_items=int(manifest.get("n_items", 0)),
            dim=int(manifest.get("dim", 0)),
            path=self.version_path(name),
        )

    # ------------------------------------------------------------------ save
    def save_version(self, embeddings: ItemEmbeddings, *, manifest: Mapping[str, Any], name: str | None = None,
                     prefix: str = "beh", item_meta: ItemMetadata | None = None,
                     item_stats: pd.DataFrame | None = None,
                     directional: DirectionalPair | None = None) -> VersionInfo:
        """Store ``embeddings`` as a new immutable version and return its :class:`VersionInfo`.

        ``name`` is validated; without one, ``<prefix>_v<N>`` is generated (global counter). An existing
        version is never overwritten: :class:`VersionExistsError`. ``manifest`` (method, config, seed, data
        fingerprint, fit report...) must be JSON-able (numpy values are converted, NaN is refused); the store
        adds format_version, version, created_at, n_items, dim, id_kind, library_versions and files (sha256 and
        size of every other file). On local disk the version appears atomically or not at all; elsewhere an
        incomplete leftover folder of the same name (no manifest) is replaced. ``item_stats`` (columns
        ``item_id``, ``events``, ``sessions``: popularity in the training data) is stored for the diagnostics.
        ``directional`` (query and candidate vectors, row ``i`` belonging to the embeddings' row ``i``) is stored
        as ``directional.parquet``, checksummed like every file, and described by the manifest's ``directional``
        section (file, alpha, dim, how to query).
        """
        if not isinstance(manifest, Mapping):
            raise StoreError(f"manifest must be a mapping, got {type(manifest).__name__}")
        try:
            check_embeddings(embeddings)
        except FitError as exc:
            raise StoreError(f"refusing to store invalid embeddings: {exc}") from exc
        section = None
        if directional is not None:
            if not isinstance(directional, DirectionalPair):
                raise StoreError(f"directional must be a DirectionalPair, got {type(directional).__name__}")
            if len(directional.query) != len(embeddings):
                raise StoreError(f"refusing to store a directional pair of {len(directional.query)} rows beside "
                                 f"{len(embeddings)} embeddings: its rows must be the embeddings' items, in order")
            section = directional_section(directional.alpha, int(directional.query.shape[1]))
        caller = json_safe(manifest)
        if self.is_local:
            os.makedirs(self.root, exist_ok=True)
        ensure_format(self)
        attempts = 1 if name is not None else 5
        for attempt in range(attempts):
            target = validate_version_name(name) if name is not None else next_version_name(
                self.folder_names(), prefix)
            if self.exists(target):
                raise VersionExistsError(f"version {target!r} already exists in {self.url}; versions are "
                                         "immutable, choose another name")
            # built per attempt: the version name (and the manifest's seal) are in the Parquet schema metadata
            full = build_manifest(caller, version=target, n_items=len(embeddings), dim=embeddings.dim,
                                  id_kind=embeddings.vocab.kind, files={}, directional=section)
            seal = manifest_seal(full)
            payload = {EMBEDDINGS_FILE: parquet_bytes(embeddings_to_table(embeddings, target, seal))}
            if item_meta is not None:
                payload[ITEMS_FILE] = parquet_bytes(items_to_table(item_meta, embeddings.vocab))
            if item_stats is not None:
                payload[ITEM_STATS_FILE] = parquet_bytes(_stats_table(item_stats))
            if directional is not None:
                payload[DIRECTIONAL_FILE] = parquet_bytes(directional_to_table(directional, embeddings.vocab, target))
            full["files"] = {fn: {"sha256": hashlib.sha256(b).hexdigest(), "bytes": len(b)}
                             for fn, b in payload.items()}
            try:
                if self.is_local:
                    self._publish_local(target, payload, manifest_bytes(full))
                else:
                    self._publish_remote(target, payload, manifest_bytes(full))
            except VersionExistsError:
                if name is not None or attempt == attempts - 1:
                    raise
                continue  # a concurrent writer took the generated name: take the next one
            return self._info(target, full)
        raise AssertionError("unreachable")  # pragma: no cover

    def _publish_local(self, name: str, payload: dict[str, bytes], manifest: bytes) -> None:
        write_version_local(self, name, payload, manifest)

    def _publish_remote(self, name: str, payload: dict[str, bytes], manifest: bytes) -> None:
        write_version_remote(self, name, payload, manifest)

    # ------------------------------------------------------------ integrity
    def _expected_files(self, name: str, manifest: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        files = manifest.get("files")
        if not isinstance(files, dict):
            raise IntegrityError(f"version {name!r}: {MANIFEST_FILE} has no 'files' table")
        for fn, rec in files.items():
            if not is_valid_version_name(fn) or fn == MANIFEST_FILE:  # same safe-name rule: stays in the folder
                raise IntegrityError(f"version {name!r}: {MANIFEST_FILE} lists an invalid file name {fn!r}")
            if not (isinstance(rec, dict) and isinstance(rec.get("sha256"), str)
                    and isinstance(rec.get("bytes"), int)):
                raise IntegrityError(f"version {name!r}: {MANIFEST_FILE} entry for {fn} lacks sha256/bytes")
        return files

    def _check(self, name: str, manifest: Mapping[str, Any], *, verify: bool) -> tuple[list[str], dict[str, bytes]]:
        """Read every listed file; with ``verify`` also collect every problem (hash, size, extra/missing)."""
        files = self._expected_files(name, manifest)
        vdir = self._vdir(name)
        present = self.list_dir(vdir)
        problems: list[str] = []
        if verify:
            if manifest.get("version") != name:
                problems.append(f"{MANIFEST_FILE} names version {manifest.get('version')!r}, not {name!r}")
            for fn, kind in sorted(present.items()):
                if fn not in (MANIFEST_FILE, CLAIM_FILE) and fn not in files:
                    problems.append(f"{fn}: {kind} present in the version folder but not listed in {MANIFEST_FILE}")
        data: dict[str, bytes] = {}
        for fn, rec in sorted(files.items()):
            if present.get(fn) != "file":
                if verify:
                    problems.append(f"{fn}: listed in {MANIFEST_FILE} but missing")
                continue
            blob = self.read_bytes(f"{vdir}/{fn}")
            data[fn] = blob
            if verify:
                sha = hashlib.sha256(blob).hexdigest()
                if sha != rec["sha256"] or len(blob) != rec["bytes"]:
                    problems.append(f"{fn}: sha256 {sha} ({len(blob)} bytes) does not match {MANIFEST_FILE} "
                                    f"sha256 {rec['sha256']} ({rec['bytes']} bytes)")
                elif fn == EMBEDDINGS_FILE:
                    seal = parquet_seal(blob)  # every version this behemb writes carries one
                    if seal is None:
                        problems.append(f"{EMBEDDINGS_FILE} carries no manifest seal: it was not written by this "
                                        f"behemb (or was replaced together with {MANIFEST_FILE}), so the manifest "
                                        "cannot be checked")
                    elif seal != manifest_seal(manifest):
                        problems.append(f"{MANIFEST_FILE} was changed after the version was written: it no longer "
                                        f"matches the seal in {EMBEDDINGS_FILE} (method, seed, counts or another "
                                        "value was edited)")
        return problems, data

    def verify_version(self, name: str) -> list[str]:
        """Problems found in version ``name`` (checksums, sizes, extra or missing files); empty when intact."""
        try:
            problems, _ = self._check(name, self.manifest(name), verify=True)
        except IntegrityError as exc:
            return [str(exc)]
        return problems

    def read_file(self, name: str, filename: str, *, verify: bool = True) -> bytes:
        """The bytes of one file of version ``name``, checked against the manifest's sha256 when ``verify``."""
        manifest = self.manifest(name)
        rec = self._expected_files(name, manifest).get(filename)
        if rec is None:
            raise StoreError(f"version {name!r} has no file {filename!r} (has {sorted(manifest['files'])})")
        try:
            blob = self.read_bytes(f"{self._vdir(name)}/{filename}")
        except FileNotFoundError:
            raise IntegrityError(f"version {name!r}: {filename}: listed in {MANIFEST_FILE} but missing") from None
        sha = hashlib.sha256(blob).hexdigest()
        if verify and sha != rec["sha256"]:
            raise IntegrityError(f"version {name!r}: {filename}: sha256 {sha} does not match {MANIFEST_FILE} "
                                 f"sha256 {rec['sha256']}")
        return blob

    # ------------------------------------------------------------------ load
    def load_version(self, name: str, *, verify: bool = True) -> StoredVersion:
        """Load version ``name``. With ``verify`` (default) every file is checked against the manifest before
        any is parsed (IntegrityError naming the file and both hashes); the embeddings are then checked
        against the manifest and the embedding post-conditions, so a loaded version is always usable."""
        manifest = self.manifest(name)
        problems, data = self._check(name, manifest, verify=verify)
        if problems:
            raise IntegrityError(f"version {name!r} in {self.url} failed verification: " + "; ".join(problems))
        if EMBEDDINGS_FILE not in data:
            raise IntegrityError(f"version {name!r}: {EMBEDDINGS_FILE} is missing")
        where = f"version {name!r}: {EMBEDDINGS_FILE}"
        emb_table = read_parquet(data[EMBEDDINGS_FILE], where)
        emb = table_to_embeddings(emb_table, where)
        expected = {"n_items": len(emb), "dim": emb.dim, "id_kind": emb.vocab.kind}
        wrong = {k: (manifest.get(k), v) for k, v in expected.items() if manifest.get(k) != v}
        if wrong:
            detail = ", ".join(f"{k}: manifest {m!r}, data {d!r}" for k, (m, d) in wrong.items())
            raise IntegrityError(f"version {name!r}: {MANIFEST_FILE} disagrees with {EMBEDDINGS_FILE} ({detail})")
        try:
            check_embeddings(emb)
        except FitError as exc:
            raise IntegrityError(f"{where}: stored embeddings are invalid: {exc}") from exc
        item_meta = None
        if ITEMS_FILE in data:
            iwhere = f"version {name!r}: {ITEMS_FILE}"
            item_meta = table_to_items(read_parquet(data[ITEMS_FILE], iwhere), iwhere)
        item_stats = None
        if ITEM_STATS_FILE in data:
            item_stats = read_parquet(data[ITEM_STATS_FILE], f"version {name!r}: {ITEM_STATS_FILE}").to_pandas()
        directional = self._load_directional(name, manifest, data, emb_table)
        return StoredVersion(name=name, manifest=manifest, embeddings=emb, item_meta=item_meta,
                             item_stats=item_stats, directional=directional)

    def _load_directional(self, name: str, manifest: Mapping[str, Any], data: Mapping[str, bytes],
                          emb_table: pa.Table) -> DirectionalPair | None:
        """The version's directional pair, None when it has none (every version written without one). The
        manifest's ``directional`` section and the listed file must come together; the file's ids must be
        ``embeddings.parquet``'s, row for row."""
        section = manifest.get("directional")
        listed = DIRECTIONAL_FILE in manifest["files"]
        if section is None and not listed:
            return None
        where = f"version {name!r}: {DIRECTIONAL_FILE}"
        if not listed:
            raise IntegrityError(f"{where}: {MANIFEST_FILE} has a 'directional' section but does not list the file")
        if not isinstance(section, dict) or section.get("file") != DIRECTIONAL_FILE:
            raise IntegrityError(f"{where}: {MANIFEST_FILE} lists the file but has no 'directional' section naming "
                                 f"it (found {section!r})")
        if DIRECTIONAL_FILE not in data:
            raise IntegrityError(f"{where}: listed in {MANIFEST_FILE} but missing")
        alpha = section.get("alpha")
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
            raise IntegrityError(f"{where}: the manifest's directional alpha is {alpha!r}, expected a number")
        pair = table_to_directional(read_parquet(data[DIRECTIONAL_FILE], where), emb_table, float(alpha), where)
        if section.get("dim") != pair.query.shape[1]:
            raise IntegrityError(f"{where}: {MANIFEST_FILE} says dim {section.get('dim')!r}, the file holds "
                                 f"{pair.query.shape[1]}")
        return pair


def _stats_table(stats: pd.DataFrame) -> pa.Table:
    missing = {"item_id", "events", "sessions"} - set(stats.columns)
    if missing:
        raise StoreError(f"item_stats needs columns item_id, events, sessions; missing {sorted(missing)}")
    return pa.Table.from_pandas(stats[["item_id", "events", "sessions"]], preserve_index=False)
