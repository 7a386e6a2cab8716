"""Writing a version folder all-or-nothing: on a local disk by renaming a finished work folder into place, on an
object store by a claim, the files, and the manifest last.

* **Local disk**: the files go into ``versions/.tmp-<name>-<uuid>/`` (each fsynced, the manifest last) and the
  folder is renamed into place, so the version appears complete or not at all, and of two writers of one name
  exactly one wins (the rename of the other fails).
* **Object store with conditional writes (S3)**: there is no rename. The writer first creates
  ``versions/<name>/.claim`` only if absent — of two writers of one name exactly one gets it, the other is told
  the name is taken before it writes anything — then the files, then the manifest, also create-only, then removes
  the claim. A version exists exactly when its manifest exists, so an interrupted write leaves a folder that is not
  listed or loadable; ``verify`` lists it as incomplete and ``repair`` removes a claim left for over an hour.
* **Other object stores**: files then the manifest; an incomplete leftover of the same name is replaced, and one
  writer at a time is assumed (as for the lifecycle of such a store).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import time
import uuid

from ..errors import StoreError, VersionExistsError
from ._fsio import StoreFiles as Store
from ._fsio import conditional_writes, fsync_dir, write_new
from ._manifest import MANIFEST_FILE

CLAIM_FILE = ".claim"
TMP_PREFIX = ".tmp-"


def write_version_local(st: Store, name: str, payload: dict[str, bytes], manifest: bytes) -> None:
    versions = st.join("versions")
    os.makedirs(versions, exist_ok=True)
    tmp = f"{versions}/{TMP_PREFIX}{name}-{uuid.uuid4().hex}"
    final = st.join("versions", name)
    os.mkdir(tmp)
    try:
        for fn, data in payload.items():
            _write_file(st, f"{tmp}/{fn}", data)
        _write_file(st, f"{tmp}/{MANIFEST_FILE}", manifest)  # last: marks the folder complete
        fsync_dir(tmp)
        try:
            os.rename(tmp, final)  # atomic; fails when `final` is a non-empty folder
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY) or os.path.isdir(final):
                raise VersionExistsError(
                    f"version {name!r} already exists in {st.url} (written concurrently, or a leftover folder of "
                    "that name; see Store.incomplete()); versions are never overwritten") from exc
            raise StoreError(f"could not move version {name!r} into place: {exc}") from exc
        fsync_dir(versions)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # only our own work folder; a renamed version is not there
        raise


def write_version_remote(st: Store, name: str, payload: dict[str, bytes], manifest: bytes) -> None:
    final = st.join("versions", name)
    manifest_path = f"{final}/{MANIFEST_FILE}"
    if conditional_writes(st):
        _claim(st, name, final)
    elif st.fs.exists(final):  # an incomplete leftover (no manifest): its files would fail verification
        st.fs.rm(final, recursive=True)
    st.fs.makedirs(final, exist_ok=True)
    try:
        for fn, data in payload.items():
            _write_file(st, f"{final}/{fn}", data)
        if not conditional_writes(st) and st.fs.isfile(manifest_path):
            raise VersionExistsError(f"version {name!r} was completed concurrently by another writer")
        try:
            _write_file(st, manifest_path, manifest, create=conditional_writes(st))
        except FileExistsError:
            raise VersionExistsError(f"version {name!r} was completed concurrently by another writer") from None
    except VersionExistsError:
        raise
    except BaseException:
        if not st.fs.isfile(manifest_path):
            try:
                st.fs.rm(final, recursive=True)  # our own files (the claim keeps other writers out)
            except OSError:  # pragma: no cover - best effort; listing ignores the folder anyway
                pass
        raise
    if conditional_writes(st):
        try:
            st.fs.rm(f"{final}/{CLAIM_FILE}")
        except OSError:  # pragma: no cover - a claim inside a complete version is ignored and repaired
            pass


def _write_file(st: Store, path: str, data: bytes, *, create: bool = False) -> None:
    """One file of a version: exclusive create + fsync on a local disk; one object (create-only when ``create``)
    elsewhere."""
    if st.is_local:
        write_new(path, data, point="version")
    elif create:
        st.fs.pipe_file(path, data, mode="create")
    else:
        st.fs.pipe_file(path, data)


def _claim(st: Store, name: str, final: str) -> None:
    body = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "at": time.time()}).encode("utf-8")
    try:
        st.fs.pipe_file(f"{final}/{CLAIM_FILE}", body, mode="create")
    except FileExistsError:
        if st.fs.isfile(f"{final}/{MANIFEST_FILE}"):
            raise VersionExistsError(f"version {name!r} already exists in {st.url}; versions are immutable, choose "
                                     "another name") from None
        raise VersionExistsError(
            f"version {name!r} is being written by another process in {st.url}, or an interrupted write left "
            f"{final}/{CLAIM_FILE}; choose another name (repair removes a claim left for over an hour)") from None


def claim_age(st: Store, folder: str) -> float | None:
    """Seconds since the claim in ``folder`` was made (None when there is none or it is unreadable)."""
    try:
        held = json.loads(bytes(st.fs.cat_file(f"{folder}/{CLAIM_FILE}")).decode("utf-8"))
        return time.time() - float(held["at"])
    except (FileNotFoundError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None
