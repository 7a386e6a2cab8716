"""Append-only, hash-chained JSON Lines logs (the audit log, the golden pairs).

Each line is one compact ASCII JSON object ending in a newline. A line carries ``prev_sha256``: the sha256 of
the line before it (its bytes without the newline; the first line carries 64 zeros). So an edit, a removed line
or a reordering anywhere before the last line breaks the chain at a named line. The last line is covered by the
*head*, ``<log>.head``: ``{"lines": n, "sha256": <hash of line n>}``, rewritten after every append — removing or
editing the last line makes the head disagree.

A line is **committed** once its newline is on disk. Bytes after the last newline are a *torn tail*: an append
that was cut short (a kill during the write). Readers ignore it; the next writer (or ``repair``) moves it to
``lifecycle/recovered/`` and cuts the file back, so the interrupted action simply did not happen. A head that
is behind the log (a kill between the append and the head's update) is brought up to date the same way.

Every line carries ``prev_sha256``: a line without one is a finding (no store was written before the chain
existed). When the writer holds the audit key (:mod:`.audit_key`) the line also carries a MAC over all its other
fields; :meth:`Journal.authenticity` checks them with the key, and says that it could not without one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import IntegrityError
from . import _fsio
from ._fsio import StoreFiles
from .audit_key import MAC_FIELD, AuditKey

GENESIS = "0" * 64
HEAD_SUFFIX = ".head"


def line_sha(line: bytes) -> str:
    """The hash that the next line's ``prev_sha256`` and the head record: sha256 of the line without newline."""
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def json_line(entry: Mapping[str, Any]) -> bytes:
    """One log line: compact ASCII JSON with sorted keys (no raw line breaks possible) and its newline."""
    return (json.dumps(entry, sort_keys=True, ensure_ascii=True, allow_nan=False) + "\n").encode("ascii")


@dataclass
class Journal:
    """A log as read: its committed entries (those that parse), every line's hash, what is wrong with it."""

    path: str
    what: str
    entries: list[dict[str, Any]] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)  # one per committed line, also for lines that do not parse
    bad_lines: list[str] = field(default_factory=list)  # "line N: why" for committed lines that do not parse
    size: int = 0  # bytes of the committed lines
    torn: bytes = b""  # bytes after the last newline
    head: dict[str, Any] | None = None
    head_problem: str | None = None  # the head file itself is unreadable

    @property
    def last_hash(self) -> str:
        return self.hashes[-1] if self.hashes else GENESIS

    def strict_entries(self) -> list[dict[str, Any]]:
        """The entries, or IntegrityError naming the first committed line that does not parse."""
        if self.bad_lines:
            raise IntegrityError(f"{self.what} {self.path} {self.bad_lines[0]}")
        return self.entries

    def head_lines(self) -> int | None:
        """The line count a readable head records, or None (no head, an unreadable one, or no count in it)."""
        if self.head is None or self.head_problem:
            return None
        n = self.head.get("lines")
        return n if isinstance(n, int) else None

    def head_lag(self) -> bool:
        """True when the head is behind a log whose lines it does match (an interrupted update, harmless)."""
        n = self.head_lines()
        if n is None or self.head is None:
            return False
        return 0 <= n < len(self.hashes) and (n == 0 or self.hashes[n - 1] == self.head.get("sha256"))

    def chain_problems(self) -> list[str]:
        """Edits, removals and reorderings the chain and the head reveal, each naming the file and line."""
        out = list(f"{self.what} {self.path} {b}" for b in self.bad_lines)
        for i, entry in enumerate(self.entries_by_line()):
            if entry is None:
                continue
            prev = entry.get("prev_sha256")
            if prev is None:
                out.append(f"{self.what} {self.path} line {i + 1} has no prev_sha256: it was not written by behemb "
                           "(a line added by hand?)")
                continue
            expected = self.hashes[i - 1] if i else GENESIS
            if prev != expected:
                out.append(f"{self.what} {self.path} line {i + 1}: prev_sha256 does not match line {i} — a line "
                           "before it was edited, removed or reordered")
        if self.head_problem:
            out.append(f"{self.path}{HEAD_SUFFIX} is unreadable: {self.head_problem}")
        elif self.head is not None:
            n, sha = self.head.get("lines"), self.head.get("sha256")
            if not isinstance(n, int) or n < 0:
                out.append(f"{self.path}{HEAD_SUFFIX} does not record a line count: {self.head!r}")
            elif n > len(self.hashes):
                out.append(f"{self.what} {self.path} ends at line {len(self.hashes)} but {self.path}{HEAD_SUFFIX} "
                           f"records {n} lines: lines were removed from the end")
            elif n and self.hashes[n - 1] != sha:
                out.append(f"{self.what} {self.path} line {n} was changed after it was written (its hash no longer "
                           f"matches {self.path}{HEAD_SUFFIX})")
        elif self.hashes:
            out.append(f"{self.path}{HEAD_SUFFIX} is missing although {self.path} has lines: the end of the log "
                       "cannot be checked")
        return out

    def authenticity(self, key: AuditKey | None) -> tuple[list[str], str | None]:
        """``(problems, could_not_check)``: with the key, one problem per committed line whose MAC is missing,
        from another key or wrong (an edit with a recomputed chain); without it, no problems and the reason
        nothing could be checked (None when the log is empty, as there is nothing to check)."""
        entries = [e for e in self.entries_by_line() if e is not None]
        if key is None:
            if not entries:
                return [], None
            signed = sum(MAC_FIELD in e for e in entries)
            return [], (f"{self.what} {self.path}: the authenticity of its {len(entries)} lines ({signed} carry a MAC) "
                        "was not checked: no audit key (set BEHEMB_AUDIT_KEY_FILE or BEHEMB_AUDIT_KEY)")
        out = []
        for i, entry in enumerate(self.entries_by_line(), start=1):
            if entry is None:
                continue
            why = key.check(entry)
            if why:
                out.append(f"{self.what} {self.path} line {i} {_describe(entry)}{why}")
        return out, None

    def entries_by_line(self) -> list[dict[str, Any] | None]:
        """One item per committed line: its entry, or None where the line does not parse."""
        return self._by_line

    _by_line: list[dict[str, Any] | None] = field(default_factory=list, repr=False)


def read_journal(st: StoreFiles, path: str, what: str,
                 problem: Callable[[Any], str | None] = lambda _: None) -> Journal:
    """The log at ``path`` as it is (missing: empty). Never raises for its content: see :class:`Journal`."""
    j = Journal(path=path, what=what)
    try:
        data = bytes(st.fs.cat_file(path))
    except FileNotFoundError:
        data = b""
    cut = data.rfind(b"\n") + 1
    j.size, j.torn = cut, data[cut:]
    for i, raw in enumerate(data[:cut].split(b"\n")[:-1], start=1):
        j.hashes.append(line_sha(raw))
        try:
            entry = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            j.bad_lines.append(f"line {i} is not valid JSON ({str(exc)[:80]}): {raw[:80]!r}")
            j._by_line.append(None)
            continue
        message = problem(entry)
        if message:
            j.bad_lines.append(f"line {i}: {message}: {raw[:80]!r}")
            j._by_line.append(None)
            continue
        j.entries.append(entry)
        j._by_line.append(entry)
    try:
        head = json.loads(bytes(st.fs.cat_file(path + HEAD_SUFFIX)).decode("utf-8"))
        if isinstance(head, dict):
            j.head = head
        else:
            j.head_problem = f"not a JSON object: {head!r}"[:200]
    except FileNotFoundError:
        pass
    except (UnicodeDecodeError, ValueError) as exc:
        j.head_problem = str(exc)[:200]
    return j


def chained(j: Journal, entry: Mapping[str, Any]) -> dict[str, Any]:
    """``entry`` with the ``prev_sha256`` it gets when appended next to the log ``j`` (so derived files can be
    staged with the exact entry before the commit)."""
    return {**entry, "prev_sha256": j.last_hash}


def _describe(entry: Mapping[str, Any]) -> str:
    """``(seq 4, approve of 'v2' by alice) `` for an audit entry; empty for other logs' records."""
    if "seq" in entry and "action" in entry:
        return f"(seq {entry['seq']}, {entry['action']} of {entry.get('version')!r} by {entry.get('by')!r}) "
    return ""


def signed(entry: dict[str, Any], key: AuditKey | None) -> dict[str, Any]:
    """``entry`` with its MAC when there is a key (as it will be written)."""
    if key is None:
        return entry
    return {**entry, MAC_FIELD: key.mac(entry)}


def append(st: StoreFiles, j: Journal, entry: dict[str, Any], *, point: str,
           key: AuditKey | None) -> dict[str, Any]:
    """Append ``entry`` (with ``prev_sha256`` set, and its MAC when ``key`` is given) to the log ``j`` was read
    from, and move the head to it.

    Call with the lifecycle lock held and a log without a torn tail. The new head is staged first, so a full
    disk stops the append before anything is written; the line is committed once appended (a failure of the
    head's final rename is left for the next writer, which moves a head that is behind). Raises before the
    commit otherwise, leaving the log as it was. A log with lines but no head is refused (IntegrityError): this
    code writes the head before a log's first line, so its end could have been cut, and appending would hide it."""
    if j.head is None and not j.head_problem:
        if j.hashes:
            raise IntegrityError(f"{j.path}{HEAD_SUFFIX} is missing although {j.path} has {len(j.hashes)} lines: the "
                                 "end of the log cannot be checked, so nothing is appended (see verify)")
        write_head(st, j, point=f"{point}.head")  # a new log: its head exists before its first line
    entry = signed(chained(j, {k: v for k, v in entry.items() if k != MAC_FIELD}), key)
    line = json_line(entry)
    head = _fsio.Staged(st, j.path + HEAD_SUFFIX, _head_bytes(len(j.hashes) + 1, line_sha(line)),
                        point=f"{point}.head")
    try:
        _fsio.append_bytes(st, j.path, line, expect_size=j.size, point=point)
    except BaseException:
        head.discard()
        raise
    j.size += len(line)
    j.hashes.append(line_sha(line))
    j.entries.append(entry)
    j._by_line.append(entry)
    j.head = {"lines": len(j.hashes), "sha256": j.last_hash}
    try:
        head.install()
    except OSError:
        pass  # committed all the same: a head behind the log is brought up to date by the next writer or repair
    return entry


def _head_bytes(lines: int, sha: str) -> bytes:
    return (json.dumps({"lines": lines, "sha256": sha}, sort_keys=True) + "\n").encode("ascii")


def write_head(st: StoreFiles, j: Journal, *, point: str = "head") -> None:
    """Record the log's current end in ``<log>.head``."""
    j.head = {"lines": len(j.hashes), "sha256": j.last_hash}
    _fsio.write_atomic(st, j.path + HEAD_SUFFIX, _head_bytes(len(j.hashes), j.last_hash), point=point)


def set_aside_torn_tail(st: StoreFiles, j: Journal, recovered_dir: str, stamp: str) -> str:
    """Move the torn tail of ``j`` to ``<recovered_dir>/<stamp>-<log name>.torn`` and cut the log back to its
    committed lines; returns where the bytes went."""
    name = j.path.rsplit("/", 1)[-1]
    keep = f"{recovered_dir}/{stamp}-{name}.torn"
    _fsio.create_exclusive(st, keep, j.torn, point="recovered")
    _fsio.truncate(st, j.path, j.size)
    j.torn = b""
    return keep
