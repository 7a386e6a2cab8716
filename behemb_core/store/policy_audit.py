"""The store's policy re-checked over its audit log, entry by entry, with the policy in force at each entry.

The verbs refuse what the policy forbids, but the log is a file: whoever can write the store can append an entry
the verbs would have refused. ``verify`` therefore replays the log and reports, naming the entry,

* an approval, publish, rollback or policy change by an actor who is not verified or did not hold the role then;
* an approval by the version's trainer (four eyes), or of a version whose trainer is not recorded;
* a publish or rollback with fewer distinct approvals of the version's bytes than the policy then required;
* under a policy that names a signing key, an entry that does not claim a MAC of that key (with the key, ``verify``
  also checks the MAC itself).
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError, StoreError
from ..identity import Actor
from ._layout import AUDIT_FILE
from .audit_key import MAC_FIELD
from .checklist import SIGNOFF_CHECK_NAMES
from .filestore import Store
from .policy import NEEDS, StorePolicy, parse_policy, roles_of

_ACTED = {"approve": "approve", "publish": "publish", "rollback": "rollback", "policy": "policy"}


def policy_problems(st: Store, entries: list[dict[str, Any]]) -> list[str]:
    """Every entry that breaks the policy in force when it was written (see the module docstring)."""
    out: list[str] = []
    policy: StorePolicy | None = None
    approvals: dict[str, list[tuple[str | None, Actor]]] = {}  # version -> (embeddings sha, approver)
    trainers: dict[str, Actor | None] = {}
    for e in entries:
        where = f"{AUDIT_FILE} seq {e['seq']} ({e['action']} of {e.get('version')!r} by {e.get('by')!r})"
        actor = _actor(e)
        if policy is not None and policy.audit_key_id is not None:
            mac = e.get(MAC_FIELD)
            if not (isinstance(mac, str) and f":{policy.audit_key_id}:" in mac):
                out.append(f"{where}: not signed with the key {policy.audit_key_id} the policy requires")
        action = _ACTED.get(e["action"])
        if action is not None and policy is not None:
            out += _role_problems(where, policy, actor, action)
        version = e.get("version")
        if e["action"] == "approve" and isinstance(version, str):
            trainer = trainers.setdefault(version, _trainer(st, version, e))
            if policy is not None and actor is not None:
                if trainer is None:
                    out.append(f"{where}: the version does not record who trained it, so four eyes cannot hold")
                elif trainer.same_person(actor):
                    out.append(f"{where}: approved by the person who trained it (four eyes)")
                out += _checklist_problems(where, e)
            if actor is not None:
                approvals.setdefault(version, []).append((e.get("embeddings_sha256"), actor))
        elif e["action"] in ("publish", "rollback") and isinstance(version, str) and policy is not None:
            trainer = trainers.setdefault(version, _trainer(st, version, e))
            distinct: list[Actor] = []
            for sha, who in approvals.get(version, []):
                if sha != e.get("embeddings_sha256") or (trainer is not None and trainer.same_person(who)):
                    continue
                if not any(who.same_person(d) for d in distinct):
                    distinct.append(who)
            if len(distinct) < policy.approvals_required:
                out.append(f"{where}: {len(distinct)} distinct approval(s) of these bytes, but the policy in force "
                           f"required {policy.approvals_required}")
        elif e["action"] == "policy":
            try:
                policy = parse_policy(e.get("policy"), f"{AUDIT_FILE} seq {e['seq']}")
            except ConfigError as exc:
                out.append(str(exc))
    return out


def _checklist_problems(where: str, e: dict[str, Any]) -> list[str]:
    """An approval must record the whole sign-off checklist (or stop where ``vectors valid`` failed)."""
    checks = (e.get("approval") or {}).get("checks") or []
    names = tuple(c.get("name") for c in checks if isinstance(c, dict))
    stopped = names == SIGNOFF_CHECK_NAMES[:2] and any(
        c.get("name") == "vectors valid" and not c.get("passed") for c in checks if isinstance(c, dict))
    if set(SIGNOFF_CHECK_NAMES) <= set(names) or stopped:  # checks added to signoff.SIGNOFF_CHECKS may follow
        return []
    return [f"{where}: records the checks {list(names)}, not the sign-off checklist — recorded by a caller that "
            "chose its checks, not by signoff.approve"]


def _actor(e: dict[str, Any]) -> Actor | None:
    return _actor_of(e.get("actor"))


def _actor_of(rec: Any) -> Actor | None:
    """The actor an entry or a manifest records, None when absent or unreadable (reported as no actor)."""
    if not isinstance(rec, dict):
        return None
    try:
        return Actor.from_record(rec)
    except (KeyError, TypeError, ValueError):
        return None


def _role_problems(where: str, policy: StorePolicy, actor: Actor | None, action: str) -> list[str]:
    if actor is None:
        return [f"{where}: records no actor, under a policy that requires one"]
    if not actor.verified:
        return [f"{where}: by an unverified actor ({actor.via}) under a policy that requires sign-in"]
    role = NEEDS[action]
    if role not in roles_of(policy, actor):
        return [f"{where}: {actor.id} did not hold the {role} role under the policy in force then"]
    return []


def _trainer(st: Store, version: str, e: dict[str, Any]) -> Actor | None:
    """Who trained ``version``: its sealed manifest, else what the approval recorded (a version now gone)."""
    rec: Any = None
    try:
        manifest = st.manifest_or_none(version)
    except StoreError:  # an unreadable manifest is reported by the version checks
        manifest = None
    if manifest is not None:
        rec = manifest.get("trained_by")
    elif isinstance(e.get("approval"), dict):
        rec = e["approval"].get("trained_by")
    return _actor_of(rec)
