"""Sign-off and publishing: approval records, the one published pointer and the audit log (the ANN index registry
beside them is :mod:`.indexes`).

Layout, beside the immutable versions (whose files this module never writes, changes or deletes)::

    <store>/audit.log                                      JSON Lines, append-only, hash-chained: every action
    <store>/audit.log.head                                 the log's last line and its hash (see _journal.py)
    <store>/published.json                                 the pointer: the version that serves traffic
    <store>/lifecycle/<version>/<seq:06d>-approved.json   one file per approval, never rewritten
    <store>/indexes/<index>.json                           what an ANN index was built from (:mod:`.indexes`)
    <store>/recovered/                                     what recovery set aside (never read as state)
    <store>/.lifecycle.lock                                flock'ed around every lifecycle write

Status (the rule in :mod:`behemb_core.store.status`, asked by :meth:`Store.status`): ``"published"`` when the pointer
names the version, else ``"approved"`` when it has an approval record — also after it was published and then replaced,
since it stays a valid target for a rollback — else ``"draft"``.

**One durable decision per action.** Approve, publish and rollback each commit by appending one line to
``audit.log`` (one ``O_APPEND`` write + fsync, under an exclusive ``flock``); the line carries everything the
action decided — for an approval the whole record, for a move the new pointer — with the embeddings' and the
manifest's sha256. Only then are the derived files written: the approval record (exclusive create) or the
pointer (temp file + ``os.replace``), and the log's head. A crash before the line is complete leaves an
unfinished last line, which readers ignore and the next writer sets aside: the action did not happen. A crash
after it leaves derived files behind the log, which the next writer completes from the log
(:func:`behemb_core.store.recovery.roll_forward`, recorded as an audit entry ``recover``). So after a crash at
any instant the next command either completes or cleanly undoes the interrupted action, and ``verify`` passes;
:func:`behemb_core.store.repair.repair` handles what a crash of this code cannot produce (hand edits).
Concurrent processes are serialised by the lock: ``seq`` numbers are consecutive
and each move's ``previous`` is the version the pointer named just before it.

Other fsspec filesystems (object stores) have no locks or appends: the log is rewritten whole (refused when it
changed since it was read), a lease file refuses a second writer it can see, and one writer at a time is what
such a store supports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import IntegrityError, PermissionDenied, StoreError
from ..identity import Actor, as_actor
from . import _fsio, _journal, recovery
from . import _lifecycle_io as lio
from ._lifecycle_io import AUDIT_FILE, LIFECYCLE_DIR, POINTER_FILE, read_audit_log
from ._manifest import EMBEDDINGS_FILE
from .audit_key import AuditKey, load_audit_key
from .checklist import CHECK_STATES, SIGNOFF_CHECK_NAMES, CheckResult, blocking_sentence
from .filestore import Store
from .names import validate_version_name
from .policy import POLICY_FILE, PolicyState, StorePolicy, access, parse_policy, read_policy_state
from .verify import verify_store

__all__ = ["AUDIT_FILE", "CHECK_STATES", "POINTER_FILE", "SIGNOFF_CHECK_NAMES", "ApprovalRefused", "CheckResult",
           "approval_state", "approvals", "check_four_eyes", "publish", "published_version", "read_audit_log",
           "record_approval", "rollback", "rollback_target",
           "rollback_targets", "set_policy", "trained_by", "verify_store"]


class ApprovalRefused(StoreError):
    """Approval refused: checks failed that were neither acknowledged nor overridden (names and values)."""

    def __init__(self, message: str, *, version: str, failed: list[dict[str, Any]],
                 checks: list[CheckResult] | None = None) -> None:
        super().__init__(message)
        self.version = version
        self.failed = failed
        self.checks = checks or []  # every check that was run, for front ends to show


# ------------------------------------------------------------------------------------------------ actions


def record_approval(store: Store | str, version: str, *, by: Actor | str,
                    checks: Iterable[CheckResult | Mapping[str, Any]], note: str | None = None,
                    acknowledge: Iterable[str] = (), override: bool = False) -> dict[str, Any]:
    """Record that ``by`` signs off ``version`` with the ``checks`` it was shown; return the approval record.

    The recording layer under :func:`behemb_core.signoff.approve` — the one way front ends approve, which runs
    the sign-off checks itself, so no caller records an approval with checks it chose (under a policy ``verify``
    reports an approval that lacks a check of :data:`~behemb_core.store.checklist.SIGNOFF_CHECK_NAMES`).

    Refused (:class:`~behemb_core.errors.PermissionDenied`, saying who may) when the store's policy does not give
    ``by`` the approver role, or when ``by`` trained the version (four eyes; under a policy a version whose
    trainer is not recorded cannot be approved). The version must exist and verify (IntegrityError otherwise). A
    failed check blocks approval (:class:`ApprovalRefused` listing every blocking check with value and threshold)
    unless it is acknowledgeable and named in ``acknowledge``, or ``override=True`` — which the record keeps, with
    the names of all failed and acknowledged checks and the manifest's embeddings sha256. Re-approval adds a
    record; nothing is ever rewritten. An audit line (action ``"approve"``) is appended.
    """
    st = lio.store_of(store)
    actor = as_actor(by)
    if note is not None and not isinstance(note, str):
        raise StoreError(f"note must be a string or None, got {type(note).__name__}")
    validate_version_name(version)
    hashes = _hashes(st, version, "approved")  # a changed version first: its checks say less than this
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
    key = load_audit_key()
    with lio.locked(st):
        recovery.roll_forward(st, actor, key=key)
        j = lio.audit_journal(st)
        state = _permitted(st, actor, "approve", j, key)
        trainer = trained_by(st, version)
        check_four_eyes(st, version, actor, trainer, state)
        if blocking and not override:
            raise ApprovalRefused(f"version {version!r} not approved: {blocking_sentence(blocking)}",
                                  version=version, failed=[c.to_dict() for c in blocking], checks=results)
        seq = _next_seq(j)
        record = {"status": "approved", "version": version, "by": actor.id, "actor": actor.record(), "note": note,
                  "at": lio.utc_now(), "checks": [c.to_dict() for c in results], "acknowledged": acknowledged,
                  "override": bool(override), "failed": [c.name for c in failed],
                  "trained_by": None if trainer is None else trainer.record(),
                  "by_trainer": trainer is not None and trainer.same_person(actor), **hashes}
        body = lio.json_bytes(record)
        filename = lio.record_name(seq)
        entry = {"seq": seq, "at": record["at"], "action": "approve", "version": version, "previous": None,
                 "by": actor.id, "actor": actor.record(), **hashes, "record": filename,
                 "record_sha256": lio.sha256(body), "approval": record}
        staged = _fsio.Staged(st, st.join(LIFECYCLE_DIR, version, filename), body, exclusive=True, point="record")
        _commit(st, j, entry, staged, f"the approval of {version!r}", key)
    return record


def trained_by(store: Store | str, version: str) -> Actor | None:
    """Who trained ``version`` (its manifest's ``trained_by``, sealed with the version), or None when not
    recorded (a library call that named nobody)."""
    rec = lio.store_of(store).manifest(version).get("trained_by")
    if not isinstance(rec, dict):
        return None
    try:
        return Actor.from_record(rec)
    except (KeyError, TypeError, ValueError) as exc:
        raise IntegrityError(f"version {version!r}: its manifest's trained_by is unreadable ({exc})") from None


def check_four_eyes(st: Store, version: str, actor: Actor, trainer: Actor | None, state: PolicyState) -> None:
    """Refuse (:class:`PermissionDenied`) ``actor`` approving ``version`` when four eyes forbid it: under a
    policy, the version's trainer (or anyone, when the trainer is unknown); a store without a policy lets
    everyone do everything, and the approval record says when it was the trainer's own."""
    if state.policy is None:
        return
    if trainer is not None and trainer.same_person(actor):
        others = ", ".join(state.policy.holders("approver")) or "nobody yet"
        raise PermissionDenied(f"{actor.shown} trained {version!r} and may not approve it too (four eyes): it "
                               f"needs an approval from someone else — approvers: {others}")
    if trainer is None:
        raise PermissionDenied(f"{version!r} does not record who trained it, so this store's policy (four eyes) "
                               "cannot tell whether its approver is someone else; train it again under the policy")


def _permitted(st: Store, actor: Actor, action: str, j: _journal.Journal, key: AuditKey | None) -> PolicyState:
    """The policy state, after refusing an actor it does not allow ``action`` (under the lock, on the log read)."""
    state = read_policy_state(st, key=key, journal=j)
    access(st, actor, state=state).require(action)
    required = state.policy.audit_key_id if state.policy else None
    if required is not None and (key is None or key.key_id != required):
        have = "no audit key" if key is None else f"the key {key.key_id}"
        raise PermissionDenied(f"this store's policy requires audit entries signed with the key {required}, and "
                               f"this process has {have} (set BEHEMB_AUDIT_KEY_FILE); nothing was done")
    return state


def approval_state(store: Store | str, version: str, *, policy: StorePolicy | None | bool = True) -> dict[str, Any]:
    """The approvals that count for publishing ``version``: those of its current embeddings and manifest, one per
    distinct approver, under a policy none by its trainer (four eyes; without a policy a self-approval is allowed,
    so it counts, as :func:`publish` takes it). ``{"approvers", "count", "required", "enough", "sentence"}``;
    ``required`` comes from the store's policy (1 without one)."""
    st = lio.store_of(store)
    pol = read_policy_state(st).policy if policy is True else (policy or None)
    hashes = lio.version_hashes(st, version)
    trainer = trained_by(st, version) if st.exists(version) else None
    counted: list[Actor] = []
    for rec in lio.approval_records(st, version):
        if any(rec.get(k) != hashes[k] for k in hashes):
            continue  # approved other bytes (or a record that does not say which: it cannot count)
        if not isinstance(rec.get("actor"), dict):
            raise IntegrityError(f"version {version!r}: an approval record names no actor; run verify")
        who = Actor.from_record(rec["actor"])
        if pol is not None and trainer is not None and trainer.same_person(who):
            continue
        if not any(who.same_person(c) for c in counted):
            counted.append(who)
    required = pol.approvals_required if pol is not None else 1
    enough = len(counted) >= required
    names = ", ".join(a.shown for a in counted) or "nobody"
    sentence = (f"{len(counted)} of {required} required approval{'s' if required > 1 else ''} ({names})" +
                ("" if enough else f": needs {required - len(counted)} more from a distinct approver"))
    return {"approvers": [a.record() for a in counted], "count": len(counted), "required": required,
            "enough": enough, "sentence": sentence}


def set_policy(store: Store | str, policy: StorePolicy | Mapping[str, Any], *, by: Actor | str) -> dict[str, Any]:
    """Make ``policy`` the store's policy: one audit entry ``policy`` with the whole policy, then ``policy.json``.

    The first policy of a store may be set by whoever can write the store (nothing is protected before it);
    every later change needs an admin under the policy in force. The new policy must name an admin (validated),
    and when it requires a signing key (``audit_key_id``) this process must hold that key — otherwise nobody
    could act afterwards. Returns the audit entry."""
    st = lio.store_of(store)
    actor = as_actor(by)
    new = policy if isinstance(policy, StorePolicy) else parse_policy(policy, "policy")
    key = load_audit_key()
    if new.audit_key_id is not None and (key is None or key.key_id != new.audit_key_id):
        have = "no audit key" if key is None else f"the key {key.key_id}"
        raise StoreError(f"the policy requires audit entries signed with the key {new.audit_key_id}, but this "
                         f"process has {have}: set BEHEMB_AUDIT_KEY_FILE to that key first")
    body = lio.json_bytes(new.model_dump(mode="json"))
    with lio.locked(st):
        recovery.roll_forward(st, actor, key=key)
        j = lio.audit_journal(st)
        state = read_policy_state(st, key=key, journal=j)
        if state.policy is not None:
            _permitted(st, actor, "policy", j, key)
        entry = {"seq": _next_seq(j), "at": lio.utc_now(), "action": "policy", "version": None, "previous": None,
                 "by": actor.id, "actor": actor.record(), "policy": new.model_dump(mode="json"),
                 "policy_sha256": lio.sha256(body),
                 "previous_policy_sha256": None if state.entry is None else state.entry.get("policy_sha256")}
        staged = _fsio.Staged(st, st.join(POLICY_FILE), body, point="policy")
        _commit(st, j, entry, staged, "the policy change", key)
    return entry


def publish(store: Store | str, version: str, *, by: Actor | str) -> dict[str, Any]:
    """Point ``<store>/published.json`` at ``version``; return the new pointer (= its audit entry).

    Only an intact version with status ``"approved"`` can be published (a draft or the version that is
    already published: StoreError naming the status), by someone with the publisher role, and under a policy
    only once it has the approvals the policy requires from distinct approvers other than its trainer
    (:func:`approval_state`). The move is atomic on local disk and serialised with every other pointer move; the
    audit log gets a ``"publish"`` line with the previous version.
    """
    st = lio.store_of(store)
    return _move_pointer(st, validate_version_name(version), as_actor(by), "publish", expected=None)


def rollback(store: Store | str, *, by: Actor | str, to: str | None = None) -> dict[str, Any]:
    """Re-publish an approved version: ``to``, or else the version published before the current one (the
    pointer's ``previous``; rolling back twice returns to where you started). Audit action ``"rollback"``; the
    same rules as :func:`publish`."""
    st = lio.store_of(store)
    who = as_actor(by)
    current = lio.read_pointer(st)
    if current is None:
        raise StoreError(f"nothing is published in {st.url}, so there is nothing to roll back; publish a version")
    target = to
    if target is None:
        target = rollback_target(st)
        if target is None:
            raise StoreError(f"no earlier published version to roll back to: {current['version']!r} is the first "
                             f"version published in {st.url}; pass to=<an approved version>")
    return _move_pointer(st, validate_version_name(target), who, "rollback", expected=current["version"])


def _move_pointer(st: Store, version: str, who: Actor, action: str, *, expected: str | None) -> dict[str, Any]:
    hashes = _hashes(st, version, "published")
    key = load_audit_key()
    with lio.locked(st):
        recovery.roll_forward(st, who, key=key)
        j = lio.audit_journal(st)
        state = _permitted(st, who, action, j, key)
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
        approved = records[-1] if records else {}
        for field, now_sha in hashes.items():
            then = approved.get(field)
            if then != now_sha:
                what = "embeddings" if field == "embeddings_sha256" else "manifest"
                raise IntegrityError(f"version {version!r}: approved with {what} sha256 {then} but it now has "
                                     f"{now_sha}; refusing to {action}")
        if state.policy is not None:
            enough = approval_state(st, version, policy=state.policy)
            if not enough["enough"]:
                raise PermissionDenied(f"{version!r} cannot be {action}ed yet: this store's policy needs "
                                       f"{enough['sentence']}")
        entry = _journal.signed(_journal.chained(j, {
            "seq": _next_seq(j), "at": lio.utc_now(), "action": action, "version": version, "previous": now,
            "by": who.id, "actor": who.record(), **hashes}), key)
        staged = _fsio.Staged(st, st.join(POINTER_FILE), lio.json_bytes(entry), point="pointer")
        _commit(st, j, entry, staged, f"the {action} of {version!r}", key)
    return entry


def _next_seq(j: _journal.Journal) -> int:
    entries = j.strict_entries()
    return entries[-1]["seq"] + 1 if entries else 1


def _commit(st: Store, j: _journal.Journal, entry: dict[str, Any], staged: _fsio.Staged, what: str,
            key: AuditKey | None) -> None:
    """Append the audit ``entry`` — the action's one durable decision — then put the ``staged`` derived file in
    place. Everything that needs space was written before the commit (the staged file, the log's new head), so a
    full disk stops the action with nothing decided; after the commit only a rename remains. If even that fails
    the action stays committed and the next lifecycle command, or ``repair``, completes it: say so."""
    try:
        _journal.append(st, j, entry, point=f"audit.{entry['action']}", key=key)
    except BaseException:
        staged.discard()
        raise
    try:
        staged.install()
    except OSError as exc:
        raise StoreError(f"{what} is recorded in the audit log (seq {entry['seq']}) but {staged.path} could not be "
                         f"put in place ({exc.strerror or exc}); the next lifecycle command, or `python -m "
                         f"behemb_core repair --store {st.url} --apply`, completes it") from exc


# ------------------------------------------------------------------------------------------------ readers


def published_version(store: Store | str) -> str | None:
    """The version ``published.json`` names, or None when nothing was published (corrupt: IntegrityError)."""
    pointer = lio.read_pointer(lio.store_of(store))
    return None if pointer is None else pointer["version"]


def rollback_target(store: Store | str) -> str | None:
    """The version :func:`rollback` re-publishes when no ``to`` is given: the one published immediately before
    the current one (the pointer's ``previous``), or None when nothing is published or the current version was
    the first one published. The default of every rollback (command line and app alike)."""
    pointer = lio.read_pointer(lio.store_of(store))
    previous = None if pointer is None else pointer.get("previous")
    return previous if isinstance(previous, str) else None


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
        raise st.missing_error(version)
    return lio.approval_records(st, version)


# ------------------------------------------------------------------------------------------------ helpers


def _hashes(st: Store, version: str, verb: str) -> dict[str, str]:
    """The embeddings' and the manifest's sha256 of an existing version that verifies (else IntegrityError):
    what an approval and a pointer move record."""
    st.manifest(version)  # a missing version: StoreError listing those there
    problems = st.verify_version(version)
    if problems:
        raise IntegrityError(f"version {version!r} cannot be {verb}: it failed verification: " + "; ".join(problems))
    hashes = lio.version_hashes(st, version)
    emb, manifest = hashes["embeddings_sha256"], hashes["manifest_sha256"]
    if emb is None:
        raise IntegrityError(f"version {version!r}: manifest has no sha256 for {EMBEDDINGS_FILE}")
    if manifest is None:  # removed since st.manifest read it
        raise IntegrityError(f"version {version!r}: its manifest is gone")
    return {"embeddings_sha256": emb, "manifest_sha256": manifest}
