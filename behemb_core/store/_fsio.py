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
import contextvars
import datetime
import email.utils
import errno
import fcntl
import json
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from fsspec.implementations.local import LocalFileSystem

from ..errors import StoreError
from ._faults import armed, fault_point


class StoreFiles(Protocol):
    """What this layer needs of a store (:class:`~behemb_core.store.filestore.Store` has it): the fsspec
    filesystem, whether it is the local disk, the root and path joining. A protocol, so the file layer sits
    below the store and imports nothing of it."""

    fs: Any
    is_local: bool
    root: str
    url: str

    def join(self, *parts: str) -> str: ...

    def read_bytes(self, path: str) -> bytes: ...

    def list_dir(self, path: str) -> dict[str, str]: ...

LOCK_FILE = ".lifecycle.lock"
LEASE_FILE = ".lifecycle.lease"
LEASE_SECONDS = 120.0  # a lease not renewed for this long (by the server's clock) is from a crashed writer
CLOCK_FILE = ".lifecycle.clock"  # a probe object whose Last-Modified tells the time, for servers sending no Date
LEASE_WAIT_SECONDS = 120.0  # how long a writer waits for another's lease on a store with conditional writes
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


@dataclass(frozen=True)
class Location:
    """A filesystem to write to outside a store (exports): what :class:`Staged` needs of a :class:`StoreFiles`."""

    fs: Any

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)


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
            lease = _lease_for(st, self.path)
            if lease is not None:
                _keep_lease(lease)
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
        lease = _lease_for(st, path)
        if lease is not None:
            _keep_lease(lease, appending=True)
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
        if _precondition_failed(exc):
            raise changed from None
        raise


def conditional_writes(st: StoreFiles) -> bool:
    """True for object stores whose writes can be conditional — create only if absent (``If-None-Match: *``) and
    replace only if unchanged (``If-Match``): S3 and S3-compatible servers through s3fs."""
    protocol = getattr(st.fs, "protocol", ())
    protocols = (protocol,) if isinstance(protocol, str) else tuple(protocol)
    return any(p in ("s3", "s3a") for p in protocols)


def _precondition_failed(exc: OSError) -> bool:
    """An S3 412 (a condition did not hold) or 409 (a concurrent conditional write), as s3fs raises them."""
    response = getattr(exc.__cause__, "response", None)
    error = response.get("Error", {}) if isinstance(response, dict) else {}
    return error.get("Code") in ("PreconditionFailed", "ConditionalRequestConflict") or bool(error.get("Condition"))


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
        lease = _lease_for(st, path)
        if lease is not None:
            _keep_lease(lease)
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
    so a killed process never leaves it locked); elsewhere a thread lock and a lease object (see :func:`_lease`),
    which every write under the lock re-checks (:func:`_keep_lease`)."""
    if not st.is_local:
        with _THREAD_LOCK, _lease(st):
            yield
        return
    os.makedirs(st.root, exist_ok=True)
    fd = os.open(st.join(LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the flock


@dataclass
class _Lease:
    """The lease this thread holds on a store without file locks: its object, our ``owner`` id, the ETag of our
    last write of it (None without conditional writes), ``written`` — ``time.monotonic()`` just before that write,
    so ``monotonic() - written`` is never less than the lease's age — how often it was renewed, and whether an
    append (a commit) was made under it."""

    st: StoreFiles
    path: str
    owner: str
    etag: str | None = None
    written: float = 0.0
    renewals: int = 0
    committed: bool = False

    def body(self) -> bytes:
        """What the lease object holds: who (for people and for re-checks) and ``at``, the holder's clock, which
        only stores without conditional writes use (they have no server clock to ask). ``renewals`` makes each
        write's bytes, hence its ETag, different from the last."""
        return json.dumps({"owner": self.owner, "host": socket.gethostname(), "pid": os.getpid(),
                           "at": time.time(), "renewals": self.renewals}).encode("utf-8")


@dataclass(frozen=True)
class _Seen:
    """The lease object as the server reports it: its ETag and its age in seconds by the server's clock."""

    etag: str
    age: float


_HELD: contextvars.ContextVar[_Lease | None] = contextvars.ContextVar("behemb_lifecycle_lease", default=None)


@contextlib.contextmanager
def _lease(st: StoreFiles) -> Iterator[None]:
    """The lifecycle lock of a store without file locks: a lease object ``.lifecycle.lease``.

    With conditional writes (S3) the lease is created only if absent, so of any number of processes exactly one
    holds it; the others wait (up to :data:`LEASE_WAIT_SECONDS`) and retry. A lease not written for more than
    :data:`LEASE_SECONDS` is from a crashed (or stalled) writer and is taken over by a compare-and-swap on its
    ETag, so only one taker wins. Its age is judged by the server's clock alone, never this host's: the server's
    ``Last-Modified`` of the lease against the ``Date`` of the same HEAD response (a probe object's
    ``Last-Modified`` when a server sends no ``Date``), so hosts whose clocks are off neither take over a live
    lease nor wait on a dead one. Both have a resolution of one second, which :func:`_renew_due` allows for.

    While held, every write under the lock first checks the lease is still ours (same ETag), renews it (a
    compare-and-swap) once half its time is gone, and refuses the write when another writer took it over
    (:func:`_keep_lease`); the audit log's compare-and-swap stays the last line of defence. On release the
    lease is deleted only if it is still ours (``If-Match`` on DELETE), so a writer that outlived its lease never
    removes its successor's.

    Elsewhere (no conditional writes) a fresh lease of another owner refuses the action, judged by the holder's
    clock in the lease, and two writers starting at the same instant can both get in: such a store is
    single-writer (said by ``versions`` and the app's sidebar)."""
    lease = _Lease(st, st.join(LEASE_FILE), uuid.uuid4().hex)
    if conditional_writes(st):
        _take_lease(lease)
    else:
        _claim_lease_without_conditions(lease)
    token = _HELD.set(lease)
    try:
        invalidate = getattr(st.fs, "invalidate_cache", None)
        if invalidate is not None:
            invalidate()  # read what other processes wrote, not a listing cached before the lease
        yield
    finally:
        _HELD.reset(token)
        with contextlib.suppress(OSError):  # not released: others take it over after LEASE_SECONDS
            _release(lease)


def _take_lease(lease: _Lease) -> None:
    """Create the lease, waiting for another's to be released or to go stale (then take it over)."""
    st = lease.st
    deadline = time.monotonic() + LEASE_WAIT_SECONDS
    pause = 0.02
    while True:
        if _put_lease(lease, replacing=None):
            return
        seen = _look(st, lease.path)
        if seen is not None and seen.age > LEASE_SECONDS and _put_lease(lease, replacing=seen.etag):
            return  # a crashed or stalled writer's lease: taken over, by one taker only
        if time.monotonic() > deadline:
            held = _read_lease(st, lease.path)
            who = f"{held.get('host')}, pid {held.get('pid')}" if held else "another process"
            raise StoreError(f"the lifecycle of {st.url} stayed locked by {who} for {LEASE_WAIT_SECONDS:.0f} s; "
                             "nothing was done: try again (a lease not renewed for "
                             f"{LEASE_SECONDS:g} s is taken over automatically)")
        time.sleep(pause * (0.5 + random.random()))
        pause = min(pause * 2, 0.5)


def _put_lease(lease: _Lease, *, replacing: str | None) -> bool:
    """Write our lease object: create-only when ``replacing`` is None, else only over the object whose ETag is
    ``replacing``. False when that condition did not hold; on success records the new ETag and when it was sent."""
    condition = {"IfNoneMatch": "*"} if replacing is None else {"IfMatch": replacing}
    sent = time.monotonic()
    try:
        response = _s3(lease.st, "put_object", lease.path, Body=lease.body(), **condition)
    except (FileExistsError, FileNotFoundError):
        return False
    except OSError as exc:
        if _precondition_failed(exc):
            return False
        raise
    lease.etag, lease.written = str(response["ETag"]), sent
    return True


def _look(st: StoreFiles, path: str) -> _Seen | None:
    """The lease object's ETag and age by the server's clock (one HEAD request); None when there is none."""
    try:
        head = _s3(st, "head_object", path)
    except FileNotFoundError:
        return None
    modified: datetime.datetime = head["LastModified"]
    return _Seen(str(head["ETag"]), (_server_now(st, head) - modified).total_seconds())


def _server_now(st: StoreFiles, response: dict[str, Any]) -> datetime.datetime:
    """The server's time when it sent ``response``: its ``Date`` header, else the ``Last-Modified`` of a probe
    object written now. Never this host's clock."""
    date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    if isinstance(date, str):
        with contextlib.suppress(TypeError, ValueError):
            when = email.utils.parsedate_to_datetime(date)
            return when if when.tzinfo is not None else when.replace(tzinfo=datetime.timezone.utc)
    probe = st.join(CLOCK_FILE)
    _s3(st, "put_object", probe, Body=b"")
    modified: datetime.datetime = _s3(st, "head_object", probe)["LastModified"]
    return modified


def _s3(st: StoreFiles, operation: str, path: str, **kwargs: Any) -> dict[str, Any]:
    """One S3 request on object ``path`` through s3fs, its response as botocore gives it."""
    bucket, key, _ = st.fs.split_path(path)
    response: dict[str, Any] = st.fs.call_s3(operation, Bucket=bucket, Key=key, **kwargs)
    return response


def _lease_for(st: StoreFiles | Location, path: str) -> _Lease | None:
    """The lease this thread holds when ``path`` is a file of its store (writes elsewhere, e.g. exports, are no
    business of the lifecycle lock); None on local disks and outside :func:`locked`."""
    lease = _HELD.get()
    if lease is None or st.is_local or not path.startswith(lease.st.root + "/"):
        return None
    return lease


def _keep_lease(lease: _Lease, *, appending: bool = False) -> None:
    """Before a write under the lease: refuse it if another writer took the lease over (or it is gone), and renew
    the lease when it is due, so that it cannot go stale before the write lands. ``appending``: the write is a
    commit (an append), so a refusal means this action wrote nothing, whatever was committed before it."""
    if not _still_ours(lease):
        raise _lost(lease, committed=lease.committed and not appending)
    if _renew_due(lease):
        lease.renewals += 1
        if lease.etag is None:
            lease.written = time.monotonic()
            lease.st.fs.pipe_file(lease.path, lease.body())
        elif not _put_lease(lease, replacing=lease.etag):
            raise _lost(lease, committed=lease.committed and not appending)


def _renew_due(lease: _Lease) -> bool:
    """More than half the lease's time gone, less a second for the server clock's whole-second resolution (the
    renewed lease then outlasts the write that follows by about half of :data:`LEASE_SECONDS`)."""
    return time.monotonic() - lease.written > max(LEASE_SECONDS / 2 - 1.0, 0.0)


def _still_ours(lease: _Lease) -> bool:
    """The lease object is the one we last wrote: the same ETag (it holds our owner id, so the same bytes) with
    conditional writes, else the same owner in it."""
    if lease.etag is None:
        held = _read_lease(lease.st, lease.path)
        return held is not None and held.get("owner") == lease.owner
    seen = _look(lease.st, lease.path)
    return seen is not None and seen.etag == lease.etag


def _lost(lease: _Lease, *, committed: bool) -> Exception:
    """The error for a write whose lease another writer took over. Before the action's commit nothing of it was
    written: StoreError, run it again. After it (``committed``: an append was made under the lease) the action
    happened and only derived files remain, which the next lifecycle command completes from the log: an OSError,
    which callers report as such (the lifecycle says the action is recorded and how it gets completed)."""
    if committed:
        return OSError(errno.ENOLCK, f"the lifecycle lease of {lease.st.url} was taken over by another writer "
                                     f"after this action was recorded (it held the lease for longer than "
                                     f"{LEASE_SECONDS:g} s)")
    return StoreError(f"this action held the lifecycle lease of {lease.st.url} for longer than {LEASE_SECONDS:g} s "
                      "and another writer took it over; nothing was written: run it again")


def _release(lease: _Lease) -> None:
    """Delete the lease if it is still ours: a conditional delete (``If-Match`` our ETag) with conditional writes.
    It is re-checked first as well, for S3-compatible servers that ignore ``If-Match`` on DELETE (moto 5.2.5 and
    AWS S3 honour it: a 412 leaves the object alone). Without conditional writes: re-read, then delete."""
    if not _still_ours(lease):
        return
    if lease.etag is None:
        lease.st.fs.rm(lease.path)
        return
    try:
        _s3(lease.st, "delete_object", lease.path, IfMatch=lease.etag)
    except FileNotFoundError:
        pass


def _read_lease(st: StoreFiles, path: str) -> dict[str, Any] | None:
    """The lease object's content (who holds it), None when absent or unreadable."""
    try:
        held = json.loads(bytes(st.fs.cat_file(path)).decode("utf-8"))
    except (FileNotFoundError, ValueError, UnicodeDecodeError):
        return None
    return held if isinstance(held, dict) else None


def _claim_lease_without_conditions(lease: _Lease) -> None:
    st = lease.st
    held = _read_lease(st, lease.path)
    if held is not None and time.time() - float(held.get("at", 0)) < LEASE_SECONDS:
        raise StoreError(f"another process ({held.get('host')}, pid {held.get('pid')}) is changing the lifecycle of "
                         f"{st.url}; this store supports one writer at a time, so nothing was done: try again "
                         "in a moment")
    lease.written = time.monotonic()
    st.fs.pipe_file(lease.path, lease.body())
    again = _read_lease(st, lease.path)
    if again is None or again.get("owner") != lease.owner:
        raise StoreError(f"another process took the lifecycle lease of {st.url} at the same moment; nothing was "
                         "done: try again")
