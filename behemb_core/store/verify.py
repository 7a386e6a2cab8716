"""``verify``: trust nothing — every version, the audit log and its chain, the approvals, the pointer, the golden
pairs and the ANN index records, checked against each other. Reports instead of raising.

What is checked, and what each finding names:

* every version: each file's sha256 and size against its manifest, no extra or missing files, the manifest
  against the seal in ``embeddings.parquet`` (an edited manifest), the manifest's own version name;
* the audit log parses, its ``seq`` runs 1, 2, 3…, each line's ``prev_sha256`` is the hash of the line before
  and the head matches the last line (an edit, a removed or reordered line anywhere), each move's ``previous``
  is the version of the move before;
* every approval and publish in the log still has its version, with the embeddings and manifest sha256 it was
  approved with; every approval has its record file, identical to the copy in the log, and every record file
  has its audit entry; the pointer is what the last publish/rollback wrote and names an intact, approved version;
* the golden pairs log parses and its chain holds;
* every registered ANN index was built from the published version's exact bytes (otherwise: **index skew**), and
  an index file the registration names still has the registered sha256 (a file that cannot be read from here is
  reported under ``unjudged``);
* with the audit key (:mod:`.audit_key`), every line of the audit log and of the golden pairs log carries a valid
  MAC — an edited line whose chain, head, record and pointer were all recomputed is caught here; without the key
  this is reported under ``unjudged``, never as passed;
* the policy over the log (:mod:`.policy`): every approval, publish, rollback and policy change made while a policy
  was in force was made by a verified actor holding the role at that time, no approval is by the version's
  trainer, and no publish had fewer distinct approvals than the policy required;
* the store's format number is one this code knows, and ``policy.json`` is what the log committed.

Crash leftovers that the next lifecycle command completes by itself (an unfinished last line, a head behind the
log, temporary files) are listed under ``pending``, not as problems; a derived file behind the log (pointer,
approval record) is a problem until it is completed, because readers would see the old state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import IntegrityError, StoreError
from . import _journal
from . import _lifecycle_io as lio
from ._lifecycle_io import AUDIT_FILE, INDEX_DIR, POINTER_FILE
from ._manifest import EMBEDDINGS_FILE
from .audit_key import AuditKey, load_audit_key
from .filestore import Store
from .names import is_valid_version_name
from .policy import read_policy_state
from .policy_audit import policy_problems
from .recovery import GOLDEN_PATH, inspect_store
from .store_format import FORMAT_FILE, store_format

__all__ = ["verify_store"]

_PENDING = ("torn tail", "head behind", "leftover temporary file", "stale work folder")


_NO_KEY: Any = object()


def verify_store(store: Store | str, *, key: AuditKey | None = _NO_KEY) -> dict[str, Any]:
    """Check everything a release depends on (see the module docstring). ``key`` defaults to the audit key of the
    environment (:func:`~.audit_key.load_audit_key`); pass None to verify without one.

    Returns ``{"ok", "verdict", "problems", "unjudged", "pending", "notes", "versions_checked", "published",
    "indexes", "incomplete", "head"}``. ``verdict`` is ``"problems"`` when anything is wrong, else ``"could not
    judge"`` when a check could not be made (no key to check the MACs), else ``"ok"``; ``ok`` is true for
    ``"ok"`` only. Pending crash leftovers do not count as problems. ``head`` is the log's line count and last
    hash — keep it elsewhere to detect a log cut back to an earlier state later."""
    st = lio.store_of(store)
    if key is _NO_KEY:
        key = load_audit_key()
    problems: list[str] = []
    unjudged: list[str] = []
    notes: list[str] = []
    try:
        fmt = store_format(st)
        if fmt is None and st.fs.exists(st.root) and st.list_dir(st.root):
            notes.append(f"{st.join(FORMAT_FILE)} is missing: the next write adds it")
    except StoreError as exc:
        problems.append(str(exc))
    hashes: dict[str, dict[str, str | None]] = {}
    intact: dict[str, bool] = {}
    for name in filter(is_valid_version_name, st.folder_names()):  # not list_versions: needs a valid pointer
        try:
            manifest = st.manifest_or_none(name)
        except StoreError as exc:
            problems.append(str(exc))
            continue
        if manifest is None:
            continue  # incomplete: reported under "incomplete"
        found = st.verify_version(name)
        intact[name] = not found
        problems += [f"version {name!r}: {p}" for p in found]
        hashes[name] = lio.version_hashes(st, name)

    audit = lio.audit_journal(st)
    problems += audit.chain_problems()
    entries = audit.entries
    moves = [e for e in entries if e["action"] in ("publish", "rollback")]
    golden = _journal.read_journal(st, st.join(*GOLDEN_PATH), "golden pairs")
    for j in (audit, golden):
        found, could_not = j.authenticity(key)
        problems += found
        if could_not:
            unjudged.append(could_not)
    if not audit.bad_lines:
        problems += _log_problems(entries, moves)
        problems += _approval_problems(st, entries, hashes)
        problems += policy_problems(st, entries)
        try:
            read_policy_state(st, journal=audit)
        except StoreError as exc:
            problems.append(str(exc))

    pointer = None
    try:
        pointer = lio.read_pointer(st)
    except IntegrityError as exc:
        problems.append(str(exc))
    published = pointer["version"] if pointer else None
    if pointer is not None:
        problems += _pointer_problems(st, pointer, hashes, intact)

    problems += golden.chain_problems()

    pending = []
    for finding in inspect_store(st):
        if finding.kind in _PENDING:
            pending.append(finding.message)
        else:
            problems.append(finding.message + " — `repair --apply` " + (
                "completes it" if finding.auto else "sets it aside"))
    indexes = _index_reports(st, published, {n: h["embeddings_sha256"] for n, h in hashes.items()})
    problems += [r["problem"] for r in indexes if r["problem"]]
    unjudged += [r["file_unchecked"] for r in indexes if r["file_unchecked"]]
    verdict = "problems" if problems else "could not judge" if unjudged else "ok"
    return {"ok": verdict == "ok", "verdict": verdict, "problems": problems, "unjudged": unjudged,
            "pending": pending, "notes": notes, "versions_checked": len(hashes), "published": published,
            "indexes": indexes, "incomplete": st.incomplete(),
            "head": {"lines": len(audit.hashes), "sha256": audit.last_hash}}


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


def _approval_problems(st: Store, entries: list[dict[str, Any]],
                       hashes: Mapping[str, Mapping[str, str | None]]) -> list[str]:
    """Versions the log approved or published must still be there, unchanged; record files must be what the log
    committed."""
    out = []
    gone: set[str] = set()
    last_approval: dict[str, dict[str, Any]] = {}
    for e in entries:
        v = e.get("version")
        if e["action"] not in ("approve", "publish", "rollback") or not isinstance(v, str):
            continue
        lacking = _lacking(e) if e["action"] == "approve" else []
        if lacking:
            out.append(f"{AUDIT_FILE} seq {e['seq']}: the approval of {v!r} has no {', '.join(lacking)} (every "
                       "approval this behemb writes records them: a hand-written entry, or a store from before "
                       "its format)")
        if v not in hashes:
            if v not in gone:
                verb = "approved" if e["action"] == "approve" else "published"
                out.append(f"version {v!r} was {verb} (audit seq {e['seq']}) but is no longer in the store "
                           f"(versions/{v} is gone or has no manifest)")
                gone.add(v)
            continue
        if e["action"] == "approve" and not lacking:
            last_approval[v] = e
            out += _record_problems(st, e)
    for v, e in last_approval.items():
        for key, what in (("embeddings_sha256", EMBEDDINGS_FILE), ("manifest_sha256", "manifest.json")):
            then, now = e[key], hashes[v].get(key)
            if then != now:
                out.append(f"version {v!r}: {what} changed since it was approved (audit seq {e['seq']} recorded "
                           f"sha256 {then}, it is now {now})")
    return out


#: What every approval entry records: its record file's name and hash, the record itself, and the hashes approved.
_APPROVAL_FIELDS: dict[str, type] = {"record": str, "record_sha256": str, "approval": dict,
                                     "embeddings_sha256": str, "manifest_sha256": str}


def _lacking(e: Mapping[str, Any]) -> list[str]:
    """The fields of :data:`_APPROVAL_FIELDS` an approval entry lacks (or holds with the wrong type)."""
    return [k for k, kind in _APPROVAL_FIELDS.items() if not isinstance(e.get(k), kind)]


def _record_problems(st: Store, e: dict[str, Any]) -> list[str]:
    """The record file of a complete approval entry against the bytes the entry committed."""
    path = st.join(lio.LIFECYCLE_DIR, e["version"], e["record"])
    try:
        data = st.read_bytes(path)
    except FileNotFoundError:
        return []  # reported by inspect_store ("record missing"): completed from the log
    if lio.sha256(data) != e["record_sha256"]:
        return [f"{path} differs from what audit entry seq {e['seq']} committed (edited after it was written)"]
    return []


def _pointer_problems(st: Store, pointer: dict[str, Any], hashes: Mapping[str, Mapping[str, str | None]],
                      intact: Mapping[str, bool]) -> list[str]:
    v = pointer["version"]
    where = st.join(POINTER_FILE)
    if v not in hashes:
        return [f"{where} names version {v!r}, which is not in the store: publish or roll back to an existing "
                "approved version"]
    out = []
    if not intact[v]:
        out.append(f"the published version {v!r} failed verification: its files no longer match its manifest")
    if not lio.approval_records(st, v):
        out.append(f"the published version {v!r} has no approval record")
    if pointer.get("embeddings_sha256") != hashes[v]["embeddings_sha256"]:
        out.append(f"{where} records embeddings sha256 {pointer.get('embeddings_sha256')} for {v!r} but its "
                   f"manifest has {hashes[v]['embeddings_sha256']}")
    return out


def _index_reports(st: Store, published: str | None, shas: Mapping[str, str | None]) -> list[dict[str, Any]]:
    folder = st.join(INDEX_DIR)
    out = []
    for fn in sorted(f for f, kind in st.list_dir(folder).items() if kind == "file" and f.endswith(".json")):
        name = fn[: -len(".json")]
        rec = lio.read_json(st, f"{folder}/{fn}", "index record", strict=False)
        version, sha = (rec.get("version"), rec.get("embeddings_sha256")) if isinstance(rec, dict) else (None, None)
        built = f"index {name!r} was built from {version} (sha256 {str(sha)[:12]}…)"
        if not isinstance(rec, dict):
            problem: str | None = f"index record {folder}/{fn} is unreadable: {rec}"
        elif not isinstance(version, str) or version not in shas:
            problem = f"index skew: {built}, which is not in the store: rebuild the index"
        elif sha != shas[version]:
            problem = (f"index skew: index {name!r} records sha256 {str(sha)[:12]}… for {version}, but {version}'s "
                       f"{EMBEDDINGS_FILE} has sha256 {str(shas[version])[:12]}…: rebuild the index")
        elif rec.get("mode", "also") not in lio.INDEX_MODES:
            problem = (f"index record {folder}/{fn} says mode {rec.get('mode')!r}, which is not "
                       f"{' or '.join(map(repr, lio.INDEX_MODES))}: nothing can tell how to query it")
        elif rec.get("mode") == "next" and (rec.get("directional_parquet_sha256")
                                            != (has := lio.directional_sha256(st, version))):
            problem = (f"index skew: index {name!r} is a 'next item' index recording directional tables sha256 "
                       f"{str(rec.get('directional_parquet_sha256'))[:12]}… for {version}, but {version} "
                       + (f"has {has[:12]}…" if has else "stores no directional tables") + ": rebuild the index")
        elif version != published:
            now = f"the published version is {published}" if published else "no version is published"
            problem = (f"index skew: {built} but {now}: rebuild the index from the published version"
                       + (f", or publish {version}" if version is not None else ""))
        else:
            problem = None
        file_check = _index_file_problem(st, name, rec) if isinstance(rec, dict) else None
        if file_check is not None and file_check[0] == "problem":
            problem = file_check[1] if problem is None else f"{problem}; and {file_check[1]}"
        unchecked = file_check[1] if file_check and file_check[0] == "unjudged" else None
        out.append({"index": name, "version": version, "embeddings_sha256": sha,
                    "mode": rec.get("mode", "also") if isinstance(rec, dict) else None,
                    "published": version is not None and version == published,
                    "ok": problem is None and unchecked is None,
                    "problem": problem, "index_file": rec.get("index_file") if isinstance(rec, dict) else None,
                    "file_unchecked": unchecked})
    return out


def _index_file_problem(st: Store, name: str, rec: Mapping[str, Any]) -> tuple[str, str] | None:
    """For a registration that names its index file and sha256: ``("problem", why)`` when the file's bytes are
    not the registered ones, ``("unjudged", why)`` when the file cannot be read from here, else None."""
    path, want = rec.get("index_file"), rec.get("index_sha256")
    if not isinstance(path, str) or not isinstance(want, str):
        return None
    refused = lio.index_file_problem(st, path)
    if refused is not None:
        return ("problem", f"index {name!r}: {refused}")
    try:
        got = lio.sha256(lio.read_index_file(st, path))
    except (OSError, ValueError) as exc:  # gone, unreadable, an unknown protocol
        return ("unjudged", f"index {name!r}: its file {path} could not be read here ({type(exc).__name__}), so its "
                            "bytes were not checked against the registered sha256")
    if got != want:
        return ("problem", f"index {name!r}: the file {path} has sha256 {got[:12]}…, not the registered "
                           f"{want[:12]}…: it is not the index that was built and measured from "
                           f"{rec.get('version')} (replaced or edited): rebuild and register it again")
    return None


