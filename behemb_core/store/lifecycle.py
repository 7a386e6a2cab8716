"""Sign-off and publishing: approval records, the one published pointer, the audit log, and index skew.

Layout, beside the immutable versions (whose files this module never writes, changes or deletes)::

    <store>/lifecycle/<version>/<seq:06d>-approved.json   one file per approval, never rewritten
    <store>/published.json                                 the pointer: the version that serves traffic
    <store>/audit.log                                      JSON Lines, append-only: approve/publish/rollback
    <store>/indexes/<index>.json                           what an ANN index was built from (version, sha256)
    <store>/.lifecycle.lock                                flock'ed around every pointer move and log append

Status (derived in :meth:`Store.status`): ``"published"`` when the pointer names the version, else
``"approved"`` when it has an approval record — also after it was published and then replaced, since it
stays a valid target for a rollback — else ``"draft"``.

Concurrency on a local disk: approve, publish and rollback hold an exclusive ``fcntl.flock`` while they read
the pointer and the log, replace the pointer (temp file + ``os.replace``) and append one log line (a single
``O_APPEND`` write + fsync). Approval records appear atomically under a fresh number (temp file + ``os.link``,
which fails instead of overwriting). So concurrent processes never corrupt the pointer or the log, audit
``seq`` numbers are consecutive, and each pointer move's ``previous`` is the version the pointer named just
before it. Other fsspec filesystems have no locks, atomic rename or append: there writes are write-then-move
and read-then-rewrite, only threads of one process are serialised, and one writer at a time is assumed.
The pointer is replaced before its log line is appended; a crash in between leaves a pointer that does not
match the last log entry, which :func:`verify_store` reports.
"""

from __future__ import annotations

import json
import math
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import fsspec
import numpy as np

from ..errors import IntegrityError, StoreError
from . import _lifecycle_io as lio
from ._lifecycle_io import AUDIT_FILE, INDEX_DIR, LIFECYCLE_DIR, POINTER_FILE, read_audit_log
from ._manifest import EMBEDDINGS_FILE, json_safe
from .filestore import Store
from .names import is_valid_version_name, validate_version_name

__all__ = ["AUDIT_FILE", "CHECK_STATES", "POINTER_FILE", "ApprovalRefused", "CheckResult", "approvals", "approve",
           "describe_blocking", "format_value", "publish", "published_version", "read_audit_log", "register_index",
           "register_index_from_export", "rollback", "rollback_targets", "verify_store"]

MAX_BY_LENGTH = 100
_SHA_RE = re.compile(r"[0-9a-f]{64}")


class ApprovalRefused(StoreError):
    """Approval refused: checks failed that were neither acknowledged nor overridden (names and values)."""

    def __init__(self, message: str, *, version: str, failed: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.version = version
        self.failed = failed


CHECK_STATES = ("pass", "warning", "fail")


@dataclass(frozen=True)
class CheckResult:
    """One release check. A failed ``acknowledgeable`` check (a judgement call such as "beats item-kNN within
    tolerance") counts as passed when the approver acknowledges it by name; any other failure blocks approval
    unless overridden. ``value`` must be JSON-able (non-finite floats are recorded as strings).

    ``could_not_judge`` is the reason, in plain words, when the check had nothing to judge (no shared items, no
    golden pair in the version, no evaluation stored). Such a check is never a pass: it must have
    ``passed=False`` and is a warning the approver acknowledges by name. :attr:`state` is ``"pass"``,
    ``"warning"`` (failed or could not judge, acknowledgeable) or ``"fail"`` (override only). Records stored
    before these fields existed read back with ``could_not_judge=None``.
    """

    name: str
    passed: bool
    value: Any
    threshold: str
    detail: str
    acknowledgeable: bool = False
    could_not_judge: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise StoreError(f"a check needs a non-empty name, got {self.name!r}")
        for key in ("passed", "acknowledgeable"):
            if not isinstance(getattr(self, key), bool):
                object.__setattr__(self, key, _as_bool(getattr(self, key), f"check {self.name!r}: {key}"))
        for key in ("threshold", "detail"):
            if not isinstance(getattr(self, key), str):
                raise StoreError(f"check {self.name!r}: {key} must be a string, got {getattr(self, key)!r}")
        if self.could_not_judge is not None:
            if not isinstance(self.could_not_judge, str) or not self.could_not_judge.strip():
                raise StoreError(f"check {self.name!r}: could_not_judge must be a reason in words or None, "
                                 f"got {self.could_not_judge!r}")
            if self.passed:
                raise StoreError(f"check {self.name!r} could not judge ({self.could_not_judge}), so it cannot pass")

    @property
    def state(self) -> str:
        """``"pass"``, ``"warning"`` (acknowledge by name) or ``"fail"`` (override only) — for people and
        screens without colour or emoji."""
        return "pass" if self.passed else "warning" if self.acknowledgeable else "fail"

    @property
    def shown_value(self) -> str:
        """The value for people: ``—`` for none, numbers rounded to three decimals."""
        return format_value(self.value)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (as stored in approval records)."""
        value = self.value
        if isinstance(value, (float, np.floating)) and not math.isfinite(value):
            value = str(float(value))  # a NaN metric must still be recordable (and refusable)
        return {"name": self.name, "passed": self.passed, "value": json_safe(value, f"check {self.name!r} value"),
                "threshold": self.threshold, "detail": self.detail, "acknowledgeable": self.acknowledgeable,
                "state": self.state, "could_not_judge": self.could_not_judge}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        """Inverse of :meth:`to_dict` (``state`` is derived, not read); missing keys raise StoreError naming
        them. Older records without ``could_not_judge`` read back with None."""
        missing = [k for k in ("name", "passed", "value", "threshold") if k not in data]
        if missing:
            raise StoreError(f"check record {dict(data)!r} lacks {missing}")
        return cls(name=data["name"], passed=data["passed"], value=data["value"], threshold=data["threshold"],
                   detail=data.get("detail", ""), acknowledgeable=data.get("acknowledgeable", False),
                   could_not_judge=data.get("could_not_judge"))


def format_value(value: Any) -> str:
    """A check value as people read it: ``—`` for None, floats to three decimals (``0.333``; small values to
    three significant digits), everything else as text."""
    if value is None:
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not math.isfinite(v):
            return str(v)
        return f"{v:.3g}" if v != 0 and abs(v) < 0.01 else f"{round(v, 3):g}"
    return str(value)


def describe_blocking(checks: Iterable[CheckResult]) -> str:
    """One sentence per check that blocks approval, in the words of the Publish page."""
    parts = []
    for c in checks:
        why = (f"could not judge: {c.could_not_judge}" if c.could_not_judge else
               f"value {c.shown_value}, needs {c.threshold}")
        todo = ("acknowledge it by name to approve" if c.acknowledgeable else
                "it cannot be acknowledged, only overridden (recorded)")
        parts.append(f"“{c.name}” is a {c.state} ({why}); {todo}")
    return "; ".join(parts)


# ------------------------------------------------------------------------------------------------ actions


def approve(store: Store | str, version: str, *, by: str, checks: Iterable[CheckResult | Mapping[str, Any]],
            note: str | None = None, acknowledge: Iterable[str] = (), override: bool = False) -> dict[str, Any]:
    """Record that ``by`` signs off ``version``; return the approval record.

    The version must exist and verify (IntegrityError otherwise). A failed check blocks approval
    (:class:`ApprovalRefused` listing every blocking check with value and threshold) unless it is
    acknowledgeable and named in ``acknowledge``, or ``override=True`` — which the record keeps, with the
    names of all failed and acknowledged checks and the manifest's embeddings sha256. Re-approval adds a
    record; nothing is ever rewritten. An audit line (action ``"approve"``) is appended.
    """
    st = lio.store_of(store)
    who = _check_by(by)
    if note is not None and not isinstance(note, str):
        raise StoreError(f"note must be a string or None, got {type(note).__name__}")
    sha = _verified_sha(st, validate_version_name(version), "approved")
    results = [c if isinstance(c, CheckResult) else CheckResult.from_dict(c) for c in checks]
    names = [c.name for c in results]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise StoreError(f"check names must be unique (acknowledgements refer to them); repeated: {dupes}")
    acks = {acknowledge} if isinstance(acknowledge, str) else set(acknowledge)
    unknown = sorted(acks - set(names))
    if unknown:
        raise StoreError(f"cannot acknowledge {unknown}: no check of that name (checks: {names})")
    failed = [c for c in results if not c.passed]
    acknowledged = [c.name for c in failed if c.acknowledgeable and c.name in acks]
    blocking = [c for c in failed if c.name not in acknowledged]
    if blocking and not override:
        raise ApprovalRefused(f"version {version!r} not approved: {describe_blocking(blocking)}", version=version,
                              failed=[c.to_dict() for c in blocking])
    record = {"status": "approved", "version": version, "by": who, "note": note, "at": lio.utc_now(),
              "checks": [c.to_dict() for c in results], "acknowledged": acknowledged, "override": bool(override),
              "failed": [c.name for c in failed], "embeddings_sha256": sha}
    folder = st._join(LIFECYCLE_DIR, version)
    with lio.locked(st):
        filename = lio.create_record(st, folder, lio.json_bytes(record))
        entry = lio.next_entry(st, "approve", version, None, who, sha)
        entry["record"] = filename
        lio.append_line(st, st._join(AUDIT_FILE), lio.json_line(entry))
    return record


def publish(store: Store | str, version: str, *, by: str) -> dict[str, Any]:
    """Point ``<store>/published.json`` at ``version``; return the new pointer (= its audit entry).

    Only an intact version with status ``"approved"`` can be published (a draft or the version that is
    already published: StoreError naming the status). The move is atomic on local disk and serialised with
    every other pointer move; the audit log gets a ``"publish"`` line with the previous version.
    """
    st = lio.store_of(store)
    return _move_pointer(st, validate_version_name(version), _check_by(by), "publish", expected=None)


def rollback(store: Store | str, *, by: str, to: str | None = None) -> dict[str, Any]:
    """Re-publish an approved version: ``to``, or else the version published before the current one (the
    pointer's ``previous``; rolling back twice returns to where you started). Audit action ``"rollback"``."""
    st = lio.store_of(store)
    who = _check_by(by)
    current = lio.read_pointer(st)
    if current is None:
        raise StoreError(f"nothing is published in {st.url}, so there is nothing to roll back; publish a version")
    target = to
    if target is None:
        target = current.get("previous")
        if not isinstance(target, str):
            raise StoreError(f"no earlier published version to roll back to: {current['version']!r} is the first "
                             f"version published in {st.url}; pass to=<an approved version>")
    return _move_pointer(st, validate_version_name(target), who, "rollback", expected=current["version"])


def _move_pointer(st: Store, version: str, who: str, action: str, *, expected: str | None) -> dict[str, Any]:
    sha = _verified_sha(st, version, "published")
    with lio.locked(st):
        current = lio.read_pointer(st)
        now = current["version"] if current else None
        if expected is not None and now != expected:
            raise StoreError(f"the published version changed from {expected!r} to {now!r} while rolling back; "
                             "check the state and run the rollback again")
        status = st.status(version)
        if status == "published":
            raise StoreError(f"version {version!r} is already the published version; nothing to {action}")
        if status != "approved":
            raise StoreError(f"version {version!r} has status {status!r}; only an approved version can be "
                             f"published (approve it first)")
        records = lio.approval_records(st, version)
        approved_sha = records[-1].get("embeddings_sha256") if records else None
        if approved_sha is not None and approved_sha != sha:
            raise IntegrityError(f"version {version!r}: approved with embeddings sha256 {approved_sha} but its "
                                 f"manifest now records {sha}; refusing to {action}")
        entry = lio.next_entry(st, action, version, now, who, sha)
        lio.write_atomic(st, st._join(POINTER_FILE), lio.json_bytes(entry))
        lio.append_line(st, st._join(AUDIT_FILE), lio.json_line(entry))
    return entry


# ------------------------------------------------------------------------------------------------ readers


def published_version(store: Store | str) -> str | None:
    """The version ``published.json`` names, or None when nothing was published (corrupt: IntegrityError)."""
    pointer = lio.read_pointer(lio.store_of(store))
    return None if pointer is None else pointer["version"]


def rollback_targets(store: Store | str) -> list[str]:
    """Versions a rollback may re-publish: published at some time (a publish or rollback in the audit log),
    approved now and not the published one — most recently published first. An approved version that was
    never published is not a rollback target: publish it instead."""
    st = lio.store_of(store)
    current = published_version(st)
    out: list[str] = []
    for entry in reversed(read_audit_log(st)):
        v = entry.get("version")
        if entry.get("action") in ("publish", "rollback") and isinstance(v, str) and v != current and v not in out:
            if st.exists(v) and st.status(v) == "approved":
                out.append(v)
    return out


def approvals(store: Store | str, version: str) -> list[dict[str, Any]]:
    """The approval records of ``version``, oldest first (empty for a draft)."""
    st = lio.store_of(store)
    if not st.exists(version):
        raise st._missing_error(version)
    return lio.approval_records(st, version)


def register_index(store: Store | str, index_name: str, *, version: str, embeddings_sha256: str,
                   by: str | None = None) -> dict[str, Any]:
    """Record (in ``<store>/indexes/<index_name>.json``, replacing an earlier record) that an ANN index was
    built from ``version`` whose ``embeddings.parquet`` had ``embeddings_sha256``. The facts are recorded as
    given — even a mismatch — so that :func:`verify_store` can report skew."""
    return _register(lio.store_of(store), index_name, version, embeddings_sha256, by, source=None)


def register_index_from_export(store: Store | str, index_name: str, export_json_path: str | os.PathLike[str],
                               *, by: str | None = None) -> dict[str, Any]:
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
    return _register(lio.store_of(store), index_name, receipt["version"], receipt["embeddings_parquet_sha256"], by,
                     source=path)


def _register(st: Store, index_name: str, version: str, sha: str, by: str | None,
              source: str | None) -> dict[str, Any]:
    try:
        validate_version_name(index_name)
    except StoreError as exc:
        raise StoreError(f"invalid index name: {exc}") from None
    validate_version_name(version)
    if not isinstance(sha, str) or not _SHA_RE.fullmatch(sha.lower()):
        raise StoreError(f"index {index_name!r}: embeddings_sha256 must be 64 hex digits, got {sha!r}")
    record = {"index": index_name, "version": version, "embeddings_sha256": sha.lower(),
              "by": None if by is None else _check_by(by), "at": lio.utc_now(), "source": source}
    lio.write_atomic(st, st._join(INDEX_DIR, f"{index_name}.json"), lio.json_bytes(record))
    return record


# ------------------------------------------------------------------------------------------------ verify


def verify_store(store: Store | str) -> dict[str, Any]:
    """Check everything a release depends on and report instead of raising.

    Every version verifies; the pointer names an existing, intact, approved version with the manifest's
    embeddings sha256 and matches the last pointer move in the audit log; the log parses, its ``seq`` runs
    1, 2, 3... and each move's ``previous`` is the version of the move before; every registered index was
    built from the published version's exact bytes (otherwise: **index skew**, with what to rebuild).
    Returns ``{"ok", "problems", "versions_checked", "published", "indexes", "incomplete"}``.
    """
    st = lio.store_of(store)
    problems: list[str] = []
    shas: dict[str, str | None] = {}
    intact: dict[str, bool] = {}
    for name in filter(is_valid_version_name, st._folder_names()):  # not list_versions: needs a valid pointer
        try:
            manifest = st._manifest_or_none(name)
        except StoreError as exc:
            problems.append(str(exc))
            continue
        if manifest is None:
            continue  # incomplete: reported under "incomplete"
        found = st.verify_version(name)
        intact[name] = not found
        problems += [f"version {name!r}: {p}" for p in found]
        files = manifest.get("files")
        rec = files.get(EMBEDDINGS_FILE) if isinstance(files, dict) else None
        shas[name] = rec.get("sha256") if isinstance(rec, dict) else None
    moves: list[dict[str, Any]] | None = None
    try:
        log = read_audit_log(st)
        moves = [e for e in log if e["action"] in ("publish", "rollback")]
        problems += _log_problems(log, moves)
    except IntegrityError as exc:
        problems.append(str(exc))
    pointer = None
    try:
        pointer = lio.read_pointer(st)
    except IntegrityError as exc:
        problems.append(str(exc))
    published = pointer["version"] if pointer else None
    if pointer is not None:
        problems += _pointer_problems(st, pointer, shas, intact, moves)
    elif moves:
        problems.append(f"the audit log records a {moves[-1]['action']} of {moves[-1].get('version')!r} "
                        f"(seq {moves[-1]['seq']}) but there is no {POINTER_FILE}")
    indexes = _index_reports(st, published, shas)
    problems += [r["problem"] for r in indexes if r["problem"]]
    return {"ok": not problems, "problems": problems, "versions_checked": len(shas), "published": published,
            "indexes": indexes, "incomplete": st.incomplete()}


def _log_problems(log: list[dict[str, Any]], moves: list[dict[str, Any]]) -> list[str]:
    out = []
    bad = next((i for i, e in enumerate(log, start=1) if e["seq"] != i), None)
    if bad is not None:
        out.append(f"{AUDIT_FILE} line {bad}: seq {log[bad - 1]['seq']}, expected {bad} (lines missing or reordered)")
    prev = None
    for e in moves:
        if e.get("previous") != prev:
            out.append(f"{AUDIT_FILE} seq {e['seq']}: {e['action']} of {e.get('version')!r} says the previous "
                       f"version was {e.get('previous')!r}, but the log's previous move was to {prev!r}")
        prev = e.get("version")
    return out


def _pointer_problems(st: Store, pointer: dict[str, Any], shas: Mapping[str, str | None],
                      intact: Mapping[str, bool], moves: list[dict[str, Any]] | None) -> list[str]:
    v = pointer["version"]
    where = st._join(POINTER_FILE)
    out = []
    if v not in shas:
        out.append(f"{where} names version {v!r}, which is not in the store: publish or roll back to an existing "
                   "approved version")
    else:
        if not intact[v]:
            out.append(f"the published version {v!r} failed verification: its files no longer match its manifest")
        if not lio.approval_records(st, v):
            out.append(f"the published version {v!r} has no approval record")
        if pointer.get("embeddings_sha256") != shas[v]:
            out.append(f"{where} records embeddings sha256 {pointer.get('embeddings_sha256')} for {v!r} but its "
                       f"manifest has {shas[v]}")
    if moves is not None and (not moves or (moves[-1].get("version"), moves[-1]["seq"])
                              != (v, pointer.get("seq"))):
        last = f"{moves[-1]['action']} of {moves[-1].get('version')!r} (seq {moves[-1]['seq']})" if moves else "none"
        out.append(f"{where} (version {v!r}, seq {pointer.get('seq')}) does not match the last publish/rollback "
                   f"in {AUDIT_FILE}: {last}; an interrupted publish, or an edited pointer or log")
    return out


def _index_reports(st: Store, published: str | None, shas: Mapping[str, str | None]) -> list[dict[str, Any]]:
    folder = st._join(INDEX_DIR)
    out = []
    for fn in sorted(f for f, kind in st._ls(folder).items() if kind == "file" and f.endswith(".json")):
        name = fn[: -len(".json")]
        rec = lio.read_json(st, f"{folder}/{fn}", "index record", strict=False)
        version, sha = (rec.get("version"), rec.get("embeddings_sha256")) if isinstance(rec, dict) else (None, None)
        built = f"index {name!r} was built from {version} (sha256 {str(sha)[:12]}…)"
        if not isinstance(rec, dict):
            problem: str | None = f"index record {folder}/{fn} is unreadable: {rec}"
        elif version not in shas:
            problem = f"index skew: {built}, which is not in the store: rebuild the index"
        elif sha != shas[version]:
            problem = (f"index skew: index {name!r} records sha256 {str(sha)[:12]}… for {version}, but {version}'s "
                       f"{EMBEDDINGS_FILE} has sha256 {str(shas[version])[:12]}…: rebuild the index")
        elif version != published:
            now = f"the published version is {published}" if published else "no version is published"
            problem = f"index skew: {built} but {now}: rebuild the index"
        else:
            problem = None
        out.append({"index": name, "version": version, "embeddings_sha256": sha,
                    "published": version is not None and version == published, "ok": problem is None,
                    "problem": problem})
    return out


# ------------------------------------------------------------------------------------------------ helpers


def _as_bool(value: object, where: str) -> bool:
    if hasattr(value, "dtype") and getattr(value, "dtype").kind == "b":  # numpy bool
        return bool(value)
    raise StoreError(f"{where} must be True or False, got {value!r}")


def _check_by(by: object) -> str:
    """Who acts: a non-empty string of at most 100 characters without control characters or line breaks."""
    if not isinstance(by, str):
        raise StoreError(f"'by' must be a string naming who acts, got {type(by).__name__} {by!r}")
    if not by.strip():
        raise StoreError(f"'by' must name who acts; got the empty or blank string {by!r}")
    if len(by) > MAX_BY_LENGTH:
        raise StoreError(f"'by' has {len(by)} characters (at most {MAX_BY_LENGTH}): {by[:30]!r}...")
    bad = sorted({c for c in by if unicodedata.category(c) in ("Cc", "Zl", "Zp")})
    if bad:
        raise StoreError(f"'by' {by!r} contains control characters {bad!r}")
    return by


def _verified_sha(st: Store, version: str, verb: str) -> str:
    manifest = st.manifest(version)  # a missing version: StoreError listing those there
    problems = st.verify_version(version)
    if problems:
        raise IntegrityError(f"version {version!r} cannot be {verb}: it failed verification: " + "; ".join(problems))
    files = manifest.get("files")
    rec = files.get(EMBEDDINGS_FILE) if isinstance(files, dict) else None
    if not (isinstance(rec, dict) and isinstance(rec.get("sha256"), str)):
        raise IntegrityError(f"version {version!r}: manifest has no sha256 for {EMBEDDINGS_FILE}")
    return rec["sha256"]

