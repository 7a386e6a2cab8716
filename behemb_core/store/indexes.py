"""The ANN index registry: which index serves, under which name (``<store>/indexes/<name>.json``), and what it was
built from — the version, its embeddings' sha256, and for an index that names its file, the file and its sha256.

``verify`` (:mod:`.verify`) compares every registration with the store: an index built from another version than the
published one, or from other bytes, is *index skew*. A registered name serves one mode for good (see
:mod:`behemb_core.ann.modes`): whatever reads it queries it one way. Registering needs the ``index`` permission
under a policy, and takes the store's lifecycle lock.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

import fsspec

from ..errors import StoreError
from ..identity import Actor, as_actor
from . import _fsio
from . import _lifecycle_io as lio
from ._lifecycle_io import INDEX_DIR
from .filestore import Store
from .names import validate_version_name
from .policy import access

__all__ = ["DEFAULT_INDEX_NAMES", "INDEX_MODES", "index_name_refusal", "register_index", "register_index_from_export"]
_SHA_RE = re.compile(r"[0-9a-f]{64}")


def register_index(store: Store | str, index_name: str, *, version: str, embeddings_sha256: str,
                   by: Actor | str | None = None, details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Record (in ``<store>/indexes/<index_name>.json``, replacing an earlier record) that an ANN index was
    built from ``version`` whose ``embeddings.parquet`` had ``embeddings_sha256``. The facts are recorded as
    given — even a mismatch — so that :func:`verify_store` can report skew.

    ``details`` are what a build knows of the index (:func:`behemb_core.ann.served.registry_details`): its
    ``index_file`` (a path in the store, a local path or a URL) and ``index_sha256`` — which ``verify`` checks the
    file against — its parameters and recall measurement."""
    return _register(lio.store_of(store), index_name, version, embeddings_sha256, by, source=None,
                     details=details)


def register_index_from_export(store: Store | str, index_name: str, export_json_path: str | os.PathLike[str],
                               *, by: Actor | str | None = None) -> dict[str, Any]:
    """:func:`register_index` with version and sha256 read from an npy export's ``export.json``."""
    path = os.fspath(export_json_path)
    try:
        with fsspec.open(path, "rb") as fh:
            receipt = json.loads(fh.read().decode("utf-8"))
    except FileNotFoundError:
        raise StoreError(f"export receipt {path} not found") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise StoreError(f"export receipt {path} is not valid JSON: {exc}") from exc
    if not isinstance(receipt, dict) or not {"version", "embeddings_parquet_sha256"} <= receipt.keys():
        raise StoreError(f"export receipt {path} lacks 'version' or 'embeddings_parquet_sha256'")
    details = {k: receipt[k] for k in _INDEX_DETAILS if k in receipt}
    for key in ("index_file", "query_file"):  # the receipt names its files relative to itself
        if isinstance(details.get(key), str) and not lio.outside_store(details[key]):
            details[key] = _beside(path, details[key])
    return _register(lio.store_of(store), index_name, receipt["version"], receipt["embeddings_parquet_sha256"], by,
                     source=path, details=details or None)


#: What an export's receipt may say of an index, kept in its registration (``export --format faiss``): for an
#: index of the "next item" mode also what it holds and is queried with, and the query vectors' file.
_INDEX_DETAILS = ("format", "index_file", "index_sha256", "index_bytes", "params", "n", "dim", "build", "measurement",
                  "library", "mode", "indexed", "query_with", "how_to_query", "query_file",
                  "directional_parquet_sha256")
INDEX_MODES = lio.INDEX_MODES
_MODE_WORDS = {"also": "'also viewed' (over the symmetric vectors, queried with them)",
               "next": "'next item' (over the candidate vectors K, queried with the query vectors Q)"}
#: The name an index of each mode is registered under when none is given. A name serves one mode for good
#: (:func:`register_index` refuses an index of another mode under it: its readers would query it with the wrong
#: vectors), so the two defaults differ.
DEFAULT_INDEX_NAMES = {"also": "main", "next": "main-next"}


def _beside(receipt: str, name: str) -> str:
    if "://" in receipt:
        return receipt.rsplit("/", 1)[0] + "/" + name
    return os.path.abspath(os.path.join(os.path.dirname(receipt), name))


def _register(st: Store, index_name: str, version: str, sha: str, by: Actor | str | None,
              source: str | None, details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    try:
        validate_version_name(index_name)
    except StoreError as exc:
        raise StoreError(f"invalid index name: {exc}") from None
    validate_version_name(version)
    if not isinstance(sha, str) or not _SHA_RE.fullmatch(sha.lower()):
        raise StoreError(f"index {index_name!r}: embeddings_sha256 must be 64 hex digits, got {sha!r}")
    actor = None if by is None else as_actor(by)
    record = {"index": index_name, "version": version, "embeddings_sha256": sha.lower(),
              "by": None if actor is None else actor.id, "actor": None if actor is None else actor.record(),
              "at": lio.utc_now(), "source": source}
    if details:
        clash = sorted(set(details) & set(record))
        if clash:
            raise StoreError(f"index {index_name!r}: details may not set {clash}")
        if not isinstance(details.get("index_file", ""), str) or not _SHA_RE.fullmatch(
                str(details.get("index_sha256", "0" * 64))):
            raise StoreError(f"index {index_name!r}: index_file must be a path and index_sha256 64 hex digits")
        if "index_file" in details:
            problem = lio.index_file_problem(st, details["index_file"])
            if problem is not None:
                raise StoreError(f"index {index_name!r}: {problem}")
        record.update(details)
    mode = record.get("mode", "also")
    if mode not in INDEX_MODES:
        raise StoreError(f"index {index_name!r}: mode must be 'also' or 'next', got {mode!r}")
    if mode == "next":
        manifest = st.manifest_or_none(version)
        if manifest is None or manifest.get("directional") is None:
            raise StoreError(f"index {index_name!r}: a 'next item' index is over a version's directional tables, "
                             f"and version {version!r} stores none")
    with lio.locked(st):
        access(st, actor).require("index")
        refused = index_name_refusal(st, index_name, mode)
        if refused is not None:
            raise StoreError(refused)
        _fsio.write_atomic(st, st.join(INDEX_DIR, f"{index_name}.json"), lio.json_bytes(record), point="index")
    return record


def index_name_refusal(store: Store | str, index_name: str, mode: str) -> str | None:
    """Why an index of ``mode`` cannot be registered as ``index_name``: the name already serves the other mode
    (whatever reads it would query the new index with the wrong vectors). None when it can (a new name, or one of
    the same mode)."""
    st = lio.store_of(store)
    earlier = lio.read_json(st, st.join(INDEX_DIR, f"{index_name}.json"), "index registration", strict=False)
    was = earlier.get("mode", "also") if isinstance(earlier, dict) else mode
    if was == mode:
        return None
    return (f"index {index_name!r} serves the {_MODE_WORDS.get(str(was), repr(was))} ranking; an index of the "
            f"{_MODE_WORDS.get(mode, repr(mode))} ranking is queried with other vectors, so whatever reads "
            f"{index_name!r} would query it wrongly: register it under another name (the default for a '{mode}' "
            f"index is {DEFAULT_INDEX_NAMES.get(mode, 'main')!r})")
