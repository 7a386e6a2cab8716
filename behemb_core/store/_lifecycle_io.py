"""Readers and names of the lifecycle's files (see :mod:`behemb_core.store.lifecycle` for the layout and the
guarantees): the audit log and its head, the published pointer, approval records, and the hashes a sign-off
records. Writing goes through :mod:`._fsio` and :mod:`._journal`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..errors import IntegrityError
from . import _fsio, _journal
from ._fsio import write_atomic  # noqa: F401  (the lifecycle's writers import it from here)
from ._journal import Journal, json_line  # noqa: F401
from ._layout import AUDIT_FILE, INDEX_DIR, LIFECYCLE_DIR, POINTER_FILE, RECORD_SUFFIX, RECOVERED_DIR  # noqa: F401
from ._manifest import DIRECTIONAL_FILE, EMBEDDINGS_FILE, MANIFEST_FILE
from .filestore import Store
from .store_format import ensure_format


@contextlib.contextmanager
def locked(st: Store) -> Iterator[None]:
    """The lifecycle lock (:func:`._fsio.locked`), after refusing a store of unknown format and giving a new store
    its format file."""
    with _fsio.locked(st):
        ensure_format(st)
        yield


def store_of(store: Store | str) -> Store:
    """``store`` itself, or a :class:`Store` opened at that location."""
    return store if isinstance(store, Store) else Store(store)


def utc_now() -> str:
    """Now in UTC, ISO 8601 with microseconds (every lifecycle timestamp)."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="microseconds")


def stamp() -> str:
    """A timestamp usable in a file name (``20261130T084500123456Z``)."""
    return _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")


# ------------------------------------------------------------------------------------------------ audit log


def _audit_problem(entry: Any) -> str | None:
    if isinstance(entry, dict) and type(entry.get("seq")) is int and isinstance(entry.get("action"), str):
        return None
    return "is not an entry with 'seq' and 'action'"


def audit_journal(st: Store) -> Journal:
    """``audit.log`` as it is on disk (committed entries, hashes, torn tail, head): never raises for content."""
    return _journal.read_journal(st, st.join(AUDIT_FILE), "audit log", _audit_problem)


def read_audit_log(store: Store | str) -> list[dict[str, Any]]:
    """Every committed entry of ``audit.log`` in order. A committed line that is not a JSON object with an
    integer ``seq`` and a string ``action`` raises IntegrityError naming the line; a last line without its
    newline (an append cut short by a crash) is not committed and not returned."""
    return audit_journal(store_of(store)).strict_entries()


def read_jsonl_records(
    store: Store | str, path: str, what: str, problem: Callable[[Any], str | None]
) -> list[dict[str, Any]]:
    """Every committed line of the JSON Lines log ``path``, parsed (strict, see :func:`read_audit_log`)."""
    return _journal.read_journal(store_of(store), path, what, problem).strict_entries()


# ------------------------------------------------------------------------------------------------ records


def record_name(seq: int) -> str:
    """The file of the approval committed by audit entry ``seq``: ``lifecycle/<version>/<seq:06d>-approved.json``
    (the log's numbering, so later approvals sort later)."""
    return f"{seq:06d}{RECORD_SUFFIX}"


def record_files(st: Store, version: str) -> list[str]:
    """File names of the approval records of ``version`` in order (``.json`` files only: a record that recovery
    set aside is renamed ``*.orphan``)."""
    folder = st.join(LIFECYCLE_DIR, version)
    return sorted(f for f, kind in st.list_dir(folder).items() if kind == "file" and f.endswith(".json")
                  and _fsio.TMP_MARK not in f)


def approval_records(st: Store, version: str) -> list[dict[str, Any]]:
    """Records with status ``"approved"`` of ``version``, oldest first (no existence check)."""
    folder = st.join(LIFECYCLE_DIR, version)
    records = [read_json(st, f"{folder}/{fn}", "lifecycle record") for fn in record_files(st, version)]
    return [r for r in records if isinstance(r, dict) and r.get("status") == "approved"]


def read_json(st: Store, path: str, what: str, *, strict: bool = True) -> Any:
    """Parsed JSON at ``path`` (None when missing); unreadable: IntegrityError, or the message when not strict."""
    try:
        return json.loads(st.read_bytes(path).decode("utf-8"))
    except FileNotFoundError:
        return None
    except (UnicodeDecodeError, ValueError) as exc:
        if not strict:
            return str(exc)
        raise IntegrityError(f"{what} {path} is not valid JSON: {exc}") from exc


def read_pointer(st: Store) -> dict[str, Any] | None:
    """The published pointer, None when absent; unreadable or nameless: IntegrityError naming the file."""
    path = st.join(POINTER_FILE)
    pointer = read_json(st, path, "published pointer")
    if pointer is not None and not (isinstance(pointer, dict) and isinstance(pointer.get("version"), str)):
        raise IntegrityError(f"published pointer {path} does not name a version: {pointer!r}")
    return pointer


def json_bytes(obj: Mapping[str, Any]) -> bytes:
    """Deterministic, readable JSON for a record or the pointer."""
    return (json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------------------------------------ hashes


def version_hashes(st: Store, version: str) -> dict[str, str | None]:
    """``{"embeddings_sha256", "manifest_sha256"}`` of a stored version as it is now (None when missing): what
    a sign-off records and ``verify`` compares with."""
    vdir = st.join("versions", version)
    try:
        manifest_raw = st.read_bytes(f"{vdir}/{MANIFEST_FILE}")
    except FileNotFoundError:
        return {"embeddings_sha256": None, "manifest_sha256": None}
    try:
        manifest = json.loads(manifest_raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        manifest = None
    return {"embeddings_sha256": recorded_sha256(manifest, EMBEDDINGS_FILE), "manifest_sha256": sha256(manifest_raw)}


def recorded_sha256(manifest: Any, filename: str) -> str | None:
    """The sha256 a version's parsed manifest records for one of its files (None: no manifest, no such file, or
    no readable record of it)."""
    files = manifest.get("files") if isinstance(manifest, Mapping) else None
    entry = files.get(filename) if isinstance(files, Mapping) else None
    sha = entry.get("sha256") if isinstance(entry, Mapping) else None
    return sha if isinstance(sha, str) else None


#: The rankings an ANN index may serve (see :mod:`behemb_core.ann.modes`): "also viewed" (over the symmetric
#: vectors, queried with them) and "next item" (over the candidate vectors K, queried with the query vectors Q).
INDEX_MODES = ("also", "next")


def directional_sha256(st: Store, version: str) -> str | None:
    """The sha256 of ``version``'s ``directional.parquet`` as its manifest records it (None: no such version, or no
    directional tables): what a "next item" index records it was built from."""
    return recorded_sha256(st.manifest_or_none(version), DIRECTIONAL_FILE)


def outside_store(path: str) -> bool:
    """Whether an index file path names a file outside the store — a URL or an absolute local path (an export) —
    rather than a path relative to the store's root (an index kept with its version)."""
    return "://" in path or os.path.isabs(path)


def index_file_problem(st: Store, path: str) -> str | None:
    """Why ``path`` cannot name an ANN index file of ``st``'s registrations, or None. Allowed: a relative path inside
    the store (no ``..``), an absolute local path, or a URL of the store's own protocol (an export to the same
    object store) — each ending in ``.faiss``. Anything else (``http://``, another protocol, a path leaving the
    store) is refused, so a registration cannot make the server read arbitrary files or fetch URLs."""
    if not isinstance(path, str) or not path or "\x00" in path or len(path) > 4096:
        return "an index file must be a non-empty path"
    if not path.endswith(".faiss"):
        return f"index file {path!r} must end in .faiss"
    if "://" in path:
        protocol = path.split("://", 1)[0].lower()
        own = st.fs.protocol if isinstance(st.fs.protocol, tuple) else (st.fs.protocol,)
        if protocol not in {str(p).lower() for p in own} or protocol in ("file", "local") and not st.is_local:
            return (f"index file {path!r}: a URL must use the store's own protocol ({', '.join(map(str, own))}); "
                    "other URLs are never fetched")
        return None
    if os.path.isabs(path):
        return None
    if any(part in ("..", "") for part in path.split("/")):
        return f"index file {path!r}: a path inside the store may not contain '..' or empty parts"
    return None


def read_index_file(st: Store, path: str) -> bytes:
    """An ANN index file a record names: a path inside the store (an index kept with its version), else a local
    path or a URL of the store's protocol (an export). FileNotFoundError when it is gone; a path
    :func:`index_file_problem` refuses is an IntegrityError (nothing is read)."""
    problem = index_file_problem(st, path)
    if problem is not None:
        raise IntegrityError(f"refusing to read {problem}")
    if outside_store(path):
        import fsspec

        with fsspec.open(path, "rb") as fh:
            return bytes(fh.read())
    return st.read_bytes(st.join(path))
