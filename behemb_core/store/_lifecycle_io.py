"""File primitives of the lifecycle (see :mod:`behemb_core.store.lifecycle` for the layout and guarantees).

Kept apart so the lifecycle rules read on their own: the lock, atomic pointer replacement, single-write log
appends, exclusive creation of approval records, and strict readers of the pointer, the log and the records.
On a local disk every write here is durable (fsync) and appears whole or not at all; on other fsspec
filesystems writes are write-then-move or read-then-rewrite and one writer at a time is assumed.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ..errors import IntegrityError, StoreError
from .filestore import Store, _fsync_dir

POINTER_FILE = "published.json"  # also read by Store._status
AUDIT_FILE = "audit.log"
LOCK_FILE = ".lifecycle.lock"
LIFECYCLE_DIR = "lifecycle"
INDEX_DIR = "indexes"
_THREAD_LOCK = threading.Lock()  # serialises threads on stores without flock (fsspec)


def read_jsonl_records(
    store: Store | str, path: str, what: str, problem: Callable[[Any], str | None]
) -> list[dict[str, Any]]:
    """Every line of the append-only JSON Lines file ``path`` of the store, parsed, in order (empty when the
    file does not exist). A line that is not JSON, or for which ``problem(record)`` returns a message, raises
    IntegrityError naming ``what``, the file and the line number."""
    st = store_of(store)
    try:
        data = st._read(path)
    except FileNotFoundError:
        return []
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    out = []
    for i, raw in enumerate(lines, start=1):
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise IntegrityError(f"{what} {path} line {i} is not valid JSON ({exc}): {raw[:80]!r}") from exc
        message = problem(record)
        if message:
            raise IntegrityError(f"{what} {path} line {i}: {message}: {raw[:80]!r}")
        out.append(record)
    return out


def _audit_problem(entry: Any) -> str | None:
    if isinstance(entry, dict) and type(entry.get("seq")) is int and isinstance(entry.get("action"), str):
        return None
    return "is not an entry with 'seq' and 'action'"


def read_audit_log(store: Store | str) -> list[dict[str, Any]]:
    """Every entry of ``audit.log`` in order. A line that is not a JSON object with an integer ``seq`` and a
    string ``action`` raises IntegrityError naming the line number."""
    return read_jsonl_records(store, store_of(store)._join(AUDIT_FILE), "audit log", _audit_problem)


def store_of(store: Store | str) -> Store:
    """``store`` itself, or a :class:`Store` opened at that location."""
    return store if isinstance(store, Store) else Store(store)


def utc_now() -> str:
    """Now in UTC, ISO 8601 with microseconds (every lifecycle timestamp)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


def approval_records(st: Store, version: str) -> list[dict[str, Any]]:
    """Records with status ``"approved"`` of ``version``, oldest first (no existence check)."""
    folder = st._join(LIFECYCLE_DIR, version)
    names = sorted(f for f, kind in st._ls(folder).items() if kind == "file" and f.endswith(".json"))
    records = [read_json(st, f"{folder}/{fn}", "lifecycle record") for fn in names]
    return [r for r in records if isinstance(r, dict) and r.get("status") == "approved"]


def read_json(st: Store, path: str, what: str, *, strict: bool = True) -> Any:
    """Parsed JSON at ``path`` (None when missing); unreadable: IntegrityError, or the message when not strict."""
    try:
        return json.loads(st._read(path).decode("utf-8"))
    except FileNotFoundError:
        return None
    except (UnicodeDecodeError, ValueError) as exc:
        if not strict:
            return str(exc)
        raise IntegrityError(f"{what} {path} is not valid JSON: {exc}") from exc


def read_pointer(st: Store) -> dict[str, Any] | None:
    """The published pointer, None when absent; unreadable or nameless: IntegrityError naming the file."""
    path = st._join(POINTER_FILE)
    pointer = read_json(st, path, "published pointer")
    if pointer is not None and not (isinstance(pointer, dict) and isinstance(pointer.get("version"), str)):
        raise IntegrityError(f"published pointer {path} does not name a version: {pointer!r}")
    return pointer


def next_entry(st: Store, action: str, version: str, previous: str | None, who: str, sha: str) -> dict[str, Any]:
    """The next audit entry (call with the lock held: ``seq`` is one more than the last line's)."""
    log = read_audit_log(st)
    return {"seq": log[-1]["seq"] + 1 if log else 1, "at": utc_now(), "action": action, "version": version,
            "previous": previous, "by": who, "embeddings_sha256": sha}


def json_bytes(obj: Mapping[str, Any]) -> bytes:
    """Deterministic, readable JSON for a record or the pointer."""
    return (json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def json_line(entry: Mapping[str, Any]) -> bytes:
    """One audit-log line: compact ASCII JSON (no raw line breaks possible) with its newline."""
    return (json.dumps(entry, sort_keys=True, ensure_ascii=True, allow_nan=False) + "\n").encode("ascii")


@contextmanager
def locked(st: Store) -> Iterator[None]:
    """Exclusive lifecycle lock: flock on ``<store>/.lifecycle.lock`` locally, a thread lock elsewhere."""
    if not st.is_local:
        with _THREAD_LOCK:
            yield
        return
    os.makedirs(st.root, exist_ok=True)
    fd = os.open(st._join(LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the flock


def append_line(st: Store, path: str, line: bytes) -> None:
    """Append one complete line: one ``O_APPEND`` write + fsync locally, so lines never interleave."""
    if not st.is_local:  # no portable append: read and rewrite (single writer assumed)
        try:
            old = st._read(path)
        except FileNotFoundError:
            old = b""
        with st.fs.open(path, "wb") as fh:
            fh.write(old + line)
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(fd, line)
        if written != len(line):
            raise StoreError(f"short write to {path} ({written} of {len(line)} bytes); repair its last line")
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(st: Store, path: str, data: bytes) -> None:
    """Replace ``path`` by ``data``: readers see the old or the new file, never a mix (local disk only)."""
    parent = path.rsplit("/", 1)[0]
    tmp = f"{path}.tmp-{uuid.uuid4().hex}"
    if not st.is_local:
        st.fs.makedirs(parent, exist_ok=True)
        with st.fs.open(tmp, "wb") as fh:
            fh.write(data)
        st.fs.mv(tmp, path)
        return
    os.makedirs(parent, exist_ok=True)
    try:
        write_new(tmp, data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    _fsync_dir(parent)


def create_record(st: Store, folder: str, data: bytes) -> str:
    """Create ``<folder>/<n:06d>-approved.json`` under the next free number; never overwrites a record."""
    suffix = "-approved.json"
    numbers = [int(m.group(1)) for f in st._ls(folder) if (m := re.match(r"([0-9]+)", f))]
    n = max(numbers, default=0) + 1
    if not st.is_local:
        while st.fs.exists(f"{folder}/{n:06d}{suffix}"):
            n += 1
        with st.fs.open(f"{folder}/{n:06d}{suffix}", "wb") as fh:
            fh.write(data)
        return f"{n:06d}{suffix}"
    os.makedirs(folder, exist_ok=True)
    tmp = f"{folder}/.tmp-{uuid.uuid4().hex}"
    write_new(tmp, data)
    try:
        for _ in range(10_000):
            try:
                os.link(tmp, f"{folder}/{n:06d}{suffix}")  # exclusive and atomic: complete or absent
            except FileExistsError:
                n += 1
                continue
            _fsync_dir(folder)
            return f"{n:06d}{suffix}"
        raise StoreError(f"could not find a free approval record number in {folder}")  # pragma: no cover
    finally:
        os.remove(tmp)


def write_new(path: str, data: bytes) -> None:
    """Create ``path`` exclusively (never replacing anything) and make it durable."""
    with open(path, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
