"""The store's file-writing layer: durable new files, atomic replacement, single-write appends, the writer lock.

Every write of the lifecycle (pointer, audit log and its head, approval records, golden pairs, settings) goes
through here, so the guarantees are stated once:

* on a local disk a new or replaced file appears whole or not at all (temp file in the same folder, fsync,
  ``os.link``/``os.replace``, fsync of the folder); an append is one ``O_APPEND`` write + fsync, cut back to the
  old length if the write fails part-way;
* on other fsspec filesystems (object stores) whole-object writes are atomic by nature; appends are
  read-modify-write and check that nobody changed the file meanwhile;
* :func:`locked` serialises writers: ``flock`` locally; elsewhere a thread lock plus a lease object that refuses
  a second process while the first holds it (on S3 by conditional writes, its age judged by the server's clock).
  Every write of a store file under the lease first checks that the lease is still this writer's and renews it
  when due, so a writer that outlived its lease writes nothing more; the lease is released only by its holder.

Temporary files are named ``<name>.tmp-<hex>``; ``repair`` removes those an interrupted write left behind.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import BinaryIO

from ..errors import StoreError
from . import _lease
from ._faults import armed, fault_point
from ._filesystem import Location, StoreFiles, conditional_writes, precondition_failed

__all__ = ["LOCK_FILE", "TMP_MARK", "Location", "Staged", "StoreFiles", "append_bytes", "conditional_writes",
           "create_exclusive", "fsync_dir", "locked", "remove_quietly", "tmp_name", "truncate", "write_atomic",
           "write_new"]


LOCK_FILE = ".lifecycle.lock"
TMP_MARK = ".tmp-"
_THREAD_LOCK = threading.Lock()


def fsync_dir(path: str) -> None:
    """Make a rename or new entries of ``path`` durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def tmp_name(path: str) -> str:
    return f"{path}{TMP_MARK}{uuid.uuid4().hex}"


def write_new(path: str, data: bytes | Callable[[BinaryIO], None], point: str = "file") -> None:
    """Create local file ``path`` exclusively (never replacing anything) and make its bytes durable. Removed
    again when the write fails; a kill can leave it partial, so callers write a temp name and link it."""
    try:
        with open(path, "xb") as fh:
            if armed(f"{point}.torn") and isinstance(data, bytes):
                fh.write(data[: len(data) // 2])
                fh.flush()
                os.fsync(fh.fileno())
                fault_point(f"{point}.torn")
                data = data[len(data) // 2:]
            _write_data(fh, data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(path)
        raise


def _write_data(fh: BinaryIO, data: bytes | Callable[[BinaryIO], None]) -> None:
    if callable(data):
        data(fh)
    else:
        fh.write(data)


class Staged:
    """A file written in full under a temporary name next to ``path``, put in place later by :meth:`install`.

    The lifecycle stages every file an action will change *before* it commits (appends its audit line), so a
    full disk or a file-size limit stops the action before anything is decided; after the commit only renames
    and links remain. Exports stage all their files, then install them together. ``data`` is bytes or a function
    that writes to a binary file (large exports stream). ``exclusive``: install never replaces an existing file
    (:meth:`install` returns False). ``st`` is a :class:`StoreFiles` or a :class:`Location`."""

    def __init__(self, st: StoreFiles | Location, path: str, data: bytes | Callable[[BinaryIO], None], *,
                 exclusive: bool = False, point: str = "file") -> None:
        self.st, self.path, self.data, self.exclusive, self.point = st, path, data, exclusive, point
        self.parent = path.rsplit("/", 1)[0]
        self.tmp: str | None = None
        if st.is_local:
            if not os.path.exists(self.parent):  # a file there: the write below says "not a directory"
                os.makedirs(self.parent, exist_ok=True)
            tmp = tmp_name(path)
            write_new(tmp, data, point)
            self.tmp = tmp
            fault_point(f"{point}.tmp_written")

    def install(self) -> bool:
        """Put the file in place (atomically on a local disk); False when ``exclusive`` and it already exists."""
        st = self.st
        if not st.is_local:
            _lease.guard(st, self.path)
            if self.exclusive and st.fs.exists(self.path):
                return False
            st.fs.makedirs(self.parent, exist_ok=True)
            with st.fs.open(self.path, "wb") as fh:  # one object written whole on object stores
                _write_data(fh, self.data)
            fault_point(f"{self.point}.replaced")
            return True
        assert self.tmp is not None
        try:
            if self.exclusive:
                try:
                    os.link(self.tmp, self.path)  # exclusive and atomic: complete or absent, never overwritten
                except FileExistsError:
                    return False
            else:
                os.replace(self.tmp, self.path)
        finally:
            self.discard()
        fsync_dir(self.parent)
        fault_point(f"{self.point}.replaced")
        return True

    def discard(self) -> None:
        if self.tmp is not None and os.path.exists(self.tmp):
            with contextlib.suppress(OSError):
                os.remove(self.tmp)
        self.tmp = None


def write_atomic(st: StoreFiles, path: str, data: bytes, point: str = "file") -> None:
    """Replace ``path`` by ``data``: readers see the old or the new file, never a mix, and nothing partial is left
    after a failure (a kill can leave only a ``.tmp-`` file, which ``repair`` removes)."""
    Staged(st, path, data, point=point).install()


def create_exclusive(st: StoreFiles, path: str, data: bytes, point: str = "file") -> bool:
    """Create ``path`` with ``data`` unless it exists; True when created. Atomic locally (temp + ``os.link``)."""
    return Staged(st, path, data, exclusive=True, point=point).install()


def remove_quietly(st: StoreFiles, path: str) -> None:
    """Remove file ``path`` if it is there, ignoring any failure: clean-up while another error propagates."""
    try:
        if st.fs.exists(path):
            st.fs.rm(path)
    except Exception:  # noqa: BLE001 - best effort; the error being raised is the one to report
        pass


def append_bytes(
    st: StoreFiles, path: str, data: bytes, *, expect_size: int | None = None, point: str = "append"
) -> None:
    """Append ``data`` (whole lines) to ``path``. Locally one ``O_APPEND`` write + fsync; if the write fails
    part-way the file is cut back to its old length, so a failure leaves no partial line (a kill can: readers
    ignore a last line without its newline and the next writer sets it aside). ``expect_size``: the length the
    caller read the file at — a different length means another writer got in between (StoreError)."""
    if not st.is_local:
        lease = _lease.guard(st, path, appending=True)
        _append_remote(st, path, data, expect_size)
        if lease is not None:
            lease.committed = True
        fault_point(f"{point}.written")
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        start = os.fstat(fd).st_size
        if expect_size is not None and start != expect_size:
            raise StoreError(f"{path} changed while this action ran (another writer?); nothing was written, run "
                             "the action again")
        try:
            rest = data
            if armed(f"{point}.torn"):
                half = len(rest) // 2
                _write_all(fd, rest[:half], path)
                os.fsync(fd)
                fault_point(f"{point}.torn")
                rest = rest[half:]
            _write_all(fd, rest, path)
            os.fsync(fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
                os.fsync(fd)
            raise
    finally:
        os.close(fd)
    fault_point(f"{point}.written")


def _append_remote(st: StoreFiles, path: str, data: bytes, expect_size: int | None) -> None:
    """Object stores have no append: rewrite the whole object. With conditional writes (S3) the rewrite is a
    compare-and-swap on the object's ETag (create-only when it does not exist yet), so a writer that lost its lease
    cannot overwrite another's line; elsewhere the length is compared just before the write."""
    changed = StoreError(f"{path} changed while this action ran (another writer?); nothing was written, run the "
                         "action again")
    etag = None
    if conditional_writes(st):
        try:
            etag = st.fs.info(path, refresh=True).get("ETag")
        except FileNotFoundError:
            etag = None
    try:
        old = bytes(st.fs.cat_file(path))
    except FileNotFoundError:
        old = b""
    if expect_size is not None and len(old) != expect_size:
        raise changed
    if not conditional_writes(st):
        st.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        st.fs.pipe_file(path, old + data)
        return
    try:
        if etag is None:
            st.fs.pipe_file(path, old + data, mode="create")
        else:
            st.fs.pipe_file(path, old + data, IfMatch=etag)
    except FileExistsError:
        raise changed from None
    except OSError as exc:
        if precondition_failed(exc):
            raise changed from None
        raise


def _write_all(fd: int, data: bytes, path: str) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n <= 0:  # pragma: no cover - os.write raises instead on POSIX
            raise OSError(errno.EIO, "short write", path)
        view = view[n:]


def truncate(st: StoreFiles, path: str, size: int) -> None:
    """Cut ``path`` back to its first ``size`` bytes (durably)."""
    if not st.is_local:
        _lease.guard(st, path)
        st.fs.pipe_file(path, bytes(st.fs.cat_file(path))[:size])
        return
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked(st: StoreFiles) -> Iterator[None]:
    """Exclusive lifecycle lock: ``flock`` on ``<store>/.lifecycle.lock`` on a local disk (held by the kernel,
    so a killed process never leaves it locked); elsewhere a thread lock and a lease object (:func:`._lease.held`),
    which every write under the lock re-checks (:func:`._lease.guard`)."""
    if not st.is_local:
        with _THREAD_LOCK, _lease.held(st):
            yield
        return
    os.makedirs(st.root, exist_ok=True)
    fd = os.open(st.join(LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the flock
