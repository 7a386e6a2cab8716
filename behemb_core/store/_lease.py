"""The lifecycle lock of a store without file locks (object stores): a lease object, ``.lifecycle.lease``.

:func:`held` takes it for the length of a lifecycle action (see its docstring for how: create-only on S3, taken
over from a crashed writer by a compare-and-swap, its age judged by the server's clock); :func:`guard` is called by
the file layer (:mod:`._fsio`) before every write of a store file under it, so a writer that outlived its lease
writes nothing more; the lease is released only by its holder.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import email.utils
import errno
import json
import os
import random
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import StoreError
from ._filesystem import Location, StoreFiles, conditional_writes, precondition_failed

LEASE_FILE = ".lifecycle.lease"
LEASE_SECONDS = 120.0  # a lease not renewed for this long (by the server's clock) is from a crashed writer
CLOCK_FILE = ".lifecycle.clock"  # a probe object whose Last-Modified tells the time, for servers sending no Date
LEASE_WAIT_SECONDS = 120.0  # how long a writer waits for another's lease on a store with conditional writes


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
def held(st: StoreFiles) -> Iterator[None]:
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
        if precondition_failed(exc):
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
            return when if when.tzinfo is not None else when.replace(tzinfo=datetime.UTC)
    probe = st.join(CLOCK_FILE)
    _s3(st, "put_object", probe, Body=b"")
    modified: datetime.datetime = _s3(st, "head_object", probe)["LastModified"]
    return modified


def _s3(st: StoreFiles, operation: str, path: str, **kwargs: Any) -> dict[str, Any]:
    """One S3 request on object ``path`` through s3fs, its response as botocore gives it."""
    bucket, key, _ = st.fs.split_path(path)
    response: dict[str, Any] = st.fs.call_s3(operation, Bucket=bucket, Key=key, **kwargs)
    return response


def guard(st: StoreFiles | Location, path: str, *, appending: bool = False) -> _Lease | None:
    """Before a write of ``path``: when it is a file of the store whose lease this thread holds, refuse the write if
    the lease was taken over and renew it when due (:func:`_keep_lease`). Returns that lease (an append marks it
    ``committed`` once written), or None for local disks, writes outside :func:`held` and files outside the store."""
    lease = _lease_for(st, path)
    if lease is not None:
        _keep_lease(lease, appending=appending)
    return lease


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
