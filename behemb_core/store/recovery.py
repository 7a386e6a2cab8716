"""Bringing a store back to a consistent state after a crash: roll-forward by the next command, and ``repair``.

The audit log is the lifecycle's one durable decision (see :mod:`behemb_core.store.lifecycle`): an action has
happened exactly when its line is committed. Everything else is derived from the log and written after it — the
published pointer, the approval record files, the log's head. So after a crash at any instant the store is in
one of a few states, each with one right answer:

=========================  ==========================================================  =====================
finding                    what happened                                               fix
=========================  ==========================================================  =====================
torn tail                  an append was cut short: the action was not committed       set the bytes aside
                                                                                       (``recovered/``), cut
                                                                                       the log back
head behind                killed between the append and the head update               move the head
pointer behind             killed after a publish/rollback was committed, before       write the pointer from
                           ``published.json`` moved                                    the log
record missing             killed after an approval was committed, before its record   write the record from
                           file was written                                            the log
leftover temporary file    killed during a write-then-rename                           remove it
=========================  ==========================================================  =====================

These are *roll-forward* fixes: every lifecycle command (approve, publish, rollback, golden marks, index
registration) makes them first, under the lock, and records what it did in an audit entry ``recover``.

Some states cannot come from a crash of this code — a pointer that names something the log does not (edited by hand),
an approval record without its audit entry, no log at all behind a pointer. Lifecycle commands refuse to act on such
a store; :func:`~behemb_core.store.repair.repair` (``python -m behemb_core repair``, a dry run unless ``apply``) sets
the odd file aside in ``recovered/`` and rewrites the pointer from the log, and records itself in the audit log. It
never deletes a version, never removes or invents an audit entry. What it cannot fix (an edited or missing log line,
a changed version) stays in ``verify``'s report for a person to decide.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import IntegrityError, StoreError
from ..identity import Actor
from . import _fsio, _journal
from . import _lifecycle_io as lio
from ._version_write import claim_age
from .audit_key import AuditKey
from .filestore import Store
from .policy import POLICY_FILE

__all__ = ["Finding", "inspect_store", "roll_forward"]

GOLDEN_PATH = ("golden", "pairs.jsonl")
STALE_WORK_FOLDER_SECONDS = 3600.0  # a version work folder untouched this long is not a write in progress


@dataclass
class Finding:
    """One inconsistency: ``kind``, a sentence naming the file, whether the next command fixes it itself
    (``auto``), and ``fix`` (None when a person has to decide)."""

    kind: str
    message: str
    auto: bool
    fix: Callable[[], str] | None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "auto": self.auto, "fixable": self.fix is not None}


def inspect_store(store: Store | str, *, version_folders: bool = True) -> list[Finding]:
    """Every crash leftover and derived file that disagrees with the log, without changing anything.
    ``version_folders=False`` skips the scan of ``versions/`` for incomplete writes (it reads every manifest, and
    nothing there blocks or is fixed by a lifecycle action)."""
    st = lio.store_of(store)
    out: list[Finding] = []
    audit = lio.audit_journal(st)
    golden = _journal.read_journal(st, st.join(*GOLDEN_PATH), "golden pairs")
    for j in (audit, golden):
        out += _log_findings(st, j)
    if audit.bad_lines:
        return out  # the derived files cannot be judged against a log that does not parse
    out += _record_findings(st, audit)
    out += _pointer_findings(st, audit)
    out += _policy_findings(st, audit)
    out += _leftovers(st, version_folders=version_folders)
    return out


def roll_forward(st: Store, by: Actor, *, key: AuditKey | None) -> list[str]:
    """Make the fixes that finish or undo an interrupted action (call with the lifecycle lock held); refuse
    (StoreError naming the findings) when the store needs :func:`repair` first. Returns what was done; when
    anything was, an audit entry ``recover`` says so."""
    findings = inspect_store(st, version_folders=False)  # on every lifecycle write: only what it acts on
    blocking = [f for f in findings if not f.auto]
    if blocking:
        raise StoreError("the store needs repair before its lifecycle can change: "
                         + "; ".join(f.message for f in blocking)
                         + f" — see `python -m behemb_core repair --store {st.url}` (a dry run) and apply it")
    done = [f.fix() for f in findings if f.auto and f.fix is not None]
    if done:
        record_fixes(st, "recover", by, done, key=key)
    return done


# ------------------------------------------------------------------------------------------------ findings


def _log_findings(st: Store, j: _journal.Journal) -> list[Finding]:
    out = []
    if j.torn:
        def cut_and_say(j: _journal.Journal = j, n: int = len(j.torn)) -> str:
            kept = _journal.set_aside_torn_tail(st, j, st.join(lio.RECOVERED_DIR), lio.stamp())
            return f"set aside the unfinished last line of {j.path} ({n} bytes, never committed) in {kept}"

        out.append(Finding("torn tail", f"{j.path} ends in an unfinished line of {len(j.torn)} bytes (an append cut "
                           "short: that action did not happen)", True, cut_and_say))
    if j.head_lag():
        def head(j: _journal.Journal = j) -> str:
            _journal.write_head(st, j)
            return f"moved {j.path}{_journal.HEAD_SUFFIX} to line {len(j.hashes)}"

        out.append(Finding("head behind", f"{j.path}{_journal.HEAD_SUFFIX} records {j.head_lines()} lines, the "
                           f"log has {len(j.hashes)} (an interrupted update)", True, head))
    return out


def _record_findings(st: Store, audit: _journal.Journal) -> list[Finding]:
    out = []
    committed: set[tuple[str, str]] = set()
    for e in audit.entries:
        if e.get("action") != "approve" or not isinstance(e.get("version"), str):
            continue
        name = e.get("record")
        if isinstance(name, str):
            committed.add((e["version"], name))
        body = e.get("approval")
        if not (isinstance(body, dict) and isinstance(name, str)):
            continue  # an incomplete approval entry (not written by behemb): verify reports it, nothing to restore
        path = st.join(lio.LIFECYCLE_DIR, e["version"], name)
        if st.fs.exists(path):
            continue

        def restore(path: str = path, body: dict[str, Any] = body, seq: int = e["seq"]) -> str:
            _fsio.create_exclusive(st, path, lio.json_bytes(body), point="record")
            return f"wrote the approval record {path} from audit entry seq {seq}"

        out.append(Finding("record missing", f"audit entry seq {e['seq']} approves {e['version']!r} but {path} is "
                           "missing (interrupted before the record was written)", True, restore))
    folder = st.join(lio.LIFECYCLE_DIR)
    for version, kind in sorted(st.list_dir(folder).items()):
        if kind != "directory":
            continue
        for fn in lio.record_files(st, version):
            if (version, fn) in committed:
                continue
            path = f"{folder}/{version}/{fn}"
            out.append(Finding("record without audit entry", f"{path} has no audit entry (an approval that was never "
                               "committed, or a file added by hand): it does not count", False,
                               _set_aside(st, path, f"lifecycle-{version}-{fn}")))
    return out


def _pointer_findings(st: Store, audit: _journal.Journal) -> list[Finding]:
    path = st.join(lio.POINTER_FILE)
    moves = [e for e in audit.entries if e.get("action") in ("publish", "rollback")]
    try:
        pointer: Any = lio.read_pointer(st)
    except IntegrityError as exc:
        pointer = str(exc)
    if not moves:
        if pointer is None:
            return []
        return [Finding("pointer without log", f"{path} exists but the audit log records no publish (written by "
                        "hand): nothing is published", False, _set_aside(st, path, lio.POINTER_FILE))]
    last = moves[-1]
    if pointer == last:
        return []

    def write() -> str:
        _fsio.write_atomic(st, path, lio.json_bytes(last), point="pointer")
        return f"pointed {path} at {last['version']!r} (audit entry seq {last['seq']})"

    earlier = [m for m in moves[:-1] if m == pointer]
    if pointer is None or earlier:
        what = "is missing" if pointer is None else f"still names {pointer['version']!r} (seq {pointer['seq']})"
        return [Finding("pointer behind", f"{path} {what} but the audit log's last {last['action']} (seq "
                        f"{last['seq']}) is of {last['version']!r}: interrupted before the pointer moved", True, write)]

    def replace() -> str:
        kept = _set_aside(st, path, lio.POINTER_FILE)()
        return f"{kept}; {write()}"

    shown = pointer if isinstance(pointer, str) else f"names {pointer.get('version')!r} (seq {pointer.get('seq')})"
    return [Finding("pointer differs", f"{path} {shown}, which is not what the audit log's last {last['action']} "
                    f"(seq {last['seq']}, {last['version']!r}) wrote: edited by hand", False, replace)]


def _policy_findings(st: Store, audit: _journal.Journal) -> list[Finding]:
    """``policy.json`` against the log's last ``policy`` entry: behind (a crash after the commit) is completed;
    a file the log never committed (a hand edit) is set aside, and the log's policy written in its place."""
    path = st.join(POLICY_FILE)
    entries = [e for e in audit.entries if e.get("action") == "policy"]
    try:
        raw: bytes | None = st.read_bytes(path)
    except FileNotFoundError:
        raw = None
    if not entries:
        if raw is None:
            return []
        return [Finding("policy without log", f"{path} exists but the audit log records no policy (written by hand): "
                        "it is not in force", False, _set_aside(st, path, POLICY_FILE))]
    last = entries[-1]
    body = lio.json_bytes(last.get("policy") or {})
    if raw is not None and lio.sha256(raw) == last.get("policy_sha256"):
        return []

    def write() -> str:
        _fsio.write_atomic(st, path, body, point="policy")
        return f"wrote {path} from audit entry seq {last['seq']}"

    earlier = {e.get("policy_sha256") for e in entries[:-1]}
    if raw is None or lio.sha256(raw) in earlier:
        return [Finding("policy behind", f"{path} is not the policy the audit log's last policy entry (seq "
                        f"{last['seq']}) committed: interrupted before the file was written", True, write)]

    def replace() -> str:
        kept = _set_aside(st, path, POLICY_FILE)()
        return f"{kept}; {write()}"

    return [Finding("policy differs", f"{path} differs from every policy the audit log committed (edited by hand); "
                    f"the policy in force is the log's (seq {last['seq']})", False, replace)]


def _leftovers(st: Store, *, version_folders: bool = True) -> list[Finding]:
    out = []
    folders = [st.root, st.join(lio.LIFECYCLE_DIR), st.join(lio.INDEX_DIR), st.join(GOLDEN_PATH[0]),
               st.join(lio.RECOVERED_DIR)]
    folders += [f"{st.join(lio.LIFECYCLE_DIR)}/{v}" for v, kind in st.list_dir(st.join(lio.LIFECYCLE_DIR)).items()
                if kind == "directory"]
    for folder in folders:
        for fn, kind in sorted(st.list_dir(folder).items()):
            if kind == "file" and _fsio.TMP_MARK in fn:
                path = f"{folder}/{fn}"

                def remove(path: str = path) -> str:
                    st.fs.rm(path)
                    return f"removed the leftover temporary file {path}"

                out.append(Finding("leftover temporary file", f"{path} is left over from an interrupted write", True,
                                   remove))
    if not version_folders:
        return out
    versions = st.join("versions")
    for name in st.incomplete():
        path = f"{versions}/{name}"
        age = _age(st, path)
        claimed = claim_age(st, path)
        if claimed is not None and claimed > STALE_WORK_FOLDER_SECONDS:  # an object store's interrupted write
            age, name = claimed, _fsio.TMP_MARK + name
        if name.startswith(_fsio.TMP_MARK) and age is not None and age > STALE_WORK_FOLDER_SECONDS:
            def drop(path: str = path) -> str:
                st.fs.rm(path, recursive=True)
                return f"removed the abandoned version work folder {path} (never a version: it has no manifest)"

            out.append(Finding("stale work folder", f"{path} is the work folder of a version write abandoned "
                               f"{age / 3600:.1f} h ago", False, drop))
        else:
            out.append(Finding("stale work folder", f"{path} is not a complete version (no readable manifest; a write "
                               "in progress, or interrupted): left alone", False, None))
    return out


def _age(st: Store, path: str) -> float | None:
    if not st.is_local:
        return None
    try:
        return time.time() - os.stat(path).st_mtime
    except OSError:
        return None


def _set_aside(st: Store, path: str, label: str) -> Callable[[], str]:
    def move() -> str:
        target = st.join(lio.RECOVERED_DIR, f"{lio.stamp()}-{label}")
        _fsio.create_exclusive(st, target, st.read_bytes(path), point="recovered")
        st.fs.rm(path)
        return f"moved {path} to {target}"

    return move


def record_fixes(st: Store, action: str, by: Actor, done: list[str], *, key: AuditKey | None) -> None:
    j = lio.audit_journal(st)
    entries = j.strict_entries()
    entry = {"seq": entries[-1]["seq"] + 1 if entries else 1, "at": lio.utc_now(), "action": action, "by": by.id,
             "actor": by.record(), "actions": done}
    _journal.append(st, j, entry, point=f"audit.{action}", key=key)
