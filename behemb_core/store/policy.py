"""Who may do what in a store: roles, four eyes and sign-in, as a policy kept with the store.

The policy lives in ``<store>/policy.json`` next to ``settings.json``, but that file is only a readable copy: the
policy in force is the one the audit log's last ``policy`` entry committed (written by :func:`set_policy`, i.e.
``python -m behemb_core policy …``, never by hand). A ``policy.json`` that differs from that entry, or exists
without one, makes every permission check refuse (fail closed) until ``repair`` or a new ``policy`` command.

Roles (a person may hold several):

==========  ============================================================
viewer      every page, no action
trainer     train and tune versions, mark golden pairs, keep drift reports
approver    approve a version (never one they trained: four eyes)
publisher   publish, roll back, register an ANN index
admin       change the policy and the store's settings, repair
==========  ============================================================

Members are matched against **verified** identities only (an ID token's email, ``sub:<subject>``, or
``group:<name>`` for a name in the token's groups claim); a typed name or an operating-system user holds no role
under a policy. A store without a policy lets everyone do everything, as before, and the front ends say so;
``BEHEMB_REQUIRE_SIGN_IN=1`` refuses unverified actors even there.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import ConfigError, IntegrityError, PermissionDenied
from ..identity import Actor
from . import _journal
from . import _lifecycle_io as lio
from .audit_key import AuditKey, load_audit_key
from .drift_policy import DriftThresholds
from .filestore import Store

POLICY_FILE = "policy.json"
REQUIRE_SIGN_IN_ENV = "BEHEMB_REQUIRE_SIGN_IN"

Role = Literal["viewer", "trainer", "approver", "publisher", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
Action = Literal["train", "golden", "drift", "approve", "publish", "rollback", "index", "settings", "policy",
                 "repair"]
ACTIONS: tuple[str, ...] = get_args(Action)
NEEDS: dict[str, Role] = {"train": "trainer", "golden": "trainer", "drift": "trainer", "approve": "approver",
                          "publish": "publisher", "rollback": "publisher", "index": "publisher", "settings": "admin",
                          "policy": "admin", "repair": "admin"}
WORDS: dict[str, str] = {"train": "train or tune a version", "golden": "mark golden pairs",
                         "drift": "keep a drift report in the store",
                         "approve": "approve a version", "publish": "publish a version", "rollback": "roll back",
                         "index": "register an ANN index", "settings": "change the store's settings",
                         "policy": "change the store's policy", "repair": "repair the store"}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


class TokenIssuer(BaseModel):
    """An identity provider whose ID tokens the command line accepts (``BEHEMB_ID_TOKEN``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str = Field(min_length=1, description="The tokens' 'iss' claim, exactly.")
    audience: str = Field(min_length=1, description="The 'aud' the tokens must carry (the CI job's audience).")
    jwks_uri: str = Field(min_length=1, description="Where the issuer's signing keys are (https://, or file: for a "
                          "copy kept on the machine).")


class StorePolicy(BaseModel):
    """One store's policy (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    members: dict[str, list[Role]] = Field(
        description="Who holds which roles: an email, 'group:<name>' (the groups claim) or 'sub:<subject>'.")
    approvals_required: int = Field(1, ge=1, le=10, description="Approvals from distinct approvers a version needs "
                                    "before it can be published.")
    require_sign_in: bool = Field(True, description="Unverified people (no sign-in) may not even view.")
    unlisted: Literal["viewer", "none"] = Field(
        "viewer", description="What a signed-in person the policy does not name may do: view, or nothing.")
    groups_claim: str = Field("groups", min_length=1, description="The token claim that lists a person's groups.")
    audit_key_id: str | None = Field(None, pattern=r"^[0-9a-f]{16}$", description="Writers must sign audit entries "
                                     "with the key of this id (see `audit-key id`).")
    token_issuers: list[TokenIssuer] = Field(default_factory=list)
    drift: DriftThresholds | None = Field(None, description="When `drift` calls the published version aging or "
                                          "stale (behemb_core.store.drift_policy; None: the defaults).")

    @field_validator("members")
    @classmethod
    def _members(cls, value: dict[str, list[Role]]) -> dict[str, list[Role]]:
        out: dict[str, list[Role]] = {}
        for who, roles in value.items():
            key = member_key(who)
            if key in out:
                raise ValueError(f"member {who!r} is listed twice")
            if not roles:
                raise ValueError(f"member {who!r} has no role (one or more of {', '.join(ROLES)})")
            out[key] = sorted(set(roles), key=ROLES.index)
        if not any("admin" in r for r in out.values()):
            raise ValueError("a policy needs at least one admin, or nobody could ever change it")
        return out

    def holders(self, role: Role) -> list[str]:
        """The members holding ``role``, as written in the policy."""
        return [who for who, roles in self.members.items() if role in roles]


def member_key(who: str) -> str:
    """A member as stored: an email in lower case, ``group:<name>`` or ``sub:<subject>`` (else ValueError)."""
    who = who.strip()
    if who.startswith(("group:", "sub:")):
        kind, _, rest = who.partition(":")
        if not rest.strip():
            raise ValueError(f"member {who!r} names no {kind}")
        return f"{kind}:{rest.strip()}"
    if not _EMAIL.fullmatch(who):
        raise ValueError(f"member {who!r} is not an email, 'group:<name>' or 'sub:<subject>'")
    return who.lower()


def parse_policy(data: Any, where: str) -> StorePolicy:
    """A policy from JSON data; invalid: :class:`ConfigError` naming ``where`` and each field."""
    try:
        return StorePolicy.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{where}: {problems}") from None


# ------------------------------------------------------------------------------------------------ reading


@dataclass(frozen=True)
class PolicyState:
    """The policy in force and the audit entry that committed it (both None for a store without a policy)."""

    policy: StorePolicy | None
    entry: dict[str, Any] | None


def policy_entries(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e.get("action") == "policy"]


def read_policy_state(store: Store | str, *, key: AuditKey | None = None,
                      journal: _journal.Journal | None = None) -> PolicyState:
    """The policy in force (see the module docstring): IntegrityError when ``policy.json`` disagrees with the log,
    or when ``key`` is given and the committing entry's MAC does not hold."""
    st = lio.store_of(store)
    j = journal if journal is not None else lio.audit_journal(st)
    entries = policy_entries(j.strict_entries())
    path = st.join(POLICY_FILE)
    try:
        raw: bytes | None = st.read_bytes(path)
    except FileNotFoundError:
        raw = None
    if not entries:
        if raw is not None:
            raise IntegrityError(f"{path} was not written by `behemb policy` (the audit log has no policy entry), so "
                                 "it is not in force and nothing may change until a person decides: set the policy "
                                 "with `python -m behemb_core policy set`, or set the file aside with `repair --apply`")
        return PolicyState(None, None)
    entry = entries[-1]
    if key is not None and "mac" in entry:
        why = key.check(entry)
        if why:
            raise IntegrityError(f"the policy entry (audit seq {entry['seq']}) {why}; the policy cannot be trusted")
    if raw is not None and lio.sha256(raw) != entry.get("policy_sha256"):
        raise IntegrityError(f"{path} differs from what audit entry seq {entry['seq']} committed (edited by hand?); "
                             "the policy in force is the log's: `repair --apply` restores the file")
    policy = parse_policy(entry.get("policy"), f"policy of audit entry seq {entry['seq']}")
    return PolicyState(policy, entry)


def read_policy(store: Store | str) -> StorePolicy | None:
    """The policy in force, or None when the store has none."""
    return read_policy_state(store, key=load_audit_key()).policy


# ------------------------------------------------------------------------------------------------ deciding


def sign_in_required_by_env(env: Mapping[str, str] | None = None) -> bool:
    return (os.environ if env is None else env).get(REQUIRE_SIGN_IN_ENV, "").strip() in ("1", "true", "yes")


def roles_of(policy: StorePolicy | None, actor: Actor | None) -> frozenset[str]:
    """The roles ``actor`` holds: every role without a policy; under one, those its verified identity is given
    (plus viewer for a signed-in person the policy does not name, unless ``unlisted`` is ``none``)."""
    if policy is None:
        return frozenset(ROLES)
    if actor is None or not actor.verified:
        return frozenset() if policy.require_sign_in else frozenset({"viewer"})
    keys = {f"group:{g}" for g in actor.groups}
    if actor.email:
        keys.add(actor.email.lower())
    if actor.subject:
        keys.add(f"sub:{actor.subject}")
    roles = {r for who, rs in policy.members.items() if who in keys for r in rs}
    if roles or policy.unlisted == "viewer":
        roles.add("viewer")
    return frozenset(roles)


@dataclass(frozen=True)
class Access:
    """What one person may do in one store, with the reason for each refusal (the app disables controls with it)."""

    policy: StorePolicy | None
    actor: Actor | None
    roles: frozenset[str]
    env_requires_sign_in: bool = False

    def refusal(self, action: str) -> str | None:
        """None when ``action`` is allowed, else a sentence saying why not and who may."""
        if action not in NEEDS:
            raise ValueError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
        unverified = self.actor is None or not self.actor.verified
        if unverified and (self.env_requires_sign_in or self.policy is not None):
            who = "nobody is signed in" if self.actor is None else f"{self.actor.shown} is not a signed-in identity"
            why = (f"{REQUIRE_SIGN_IN_ENV}=1" if self.policy is None else "this store's policy")
            return f"to {WORDS[action]} you must sign in ({why} requires it; {who})"
        role = NEEDS[action]
        if role in self.roles:
            return None
        assert self.policy is not None and self.actor is not None
        holders = self.policy.holders(role)
        return (f"{self.actor.shown} may not {WORDS[action]}: that needs the {role} role, which this store's policy "
                f"gives to {', '.join(holders) if holders else 'nobody'}")

    def can(self, action: str) -> bool:
        return self.refusal(action) is None

    def require(self, action: str) -> None:
        """Raise :class:`PermissionDenied` with :meth:`refusal` when ``action`` is not allowed."""
        why = self.refusal(action)
        if why is not None:
            raise PermissionDenied(why)

    @property
    def may_view(self) -> bool:
        if self.policy is None:
            return not (self.env_requires_sign_in and (self.actor is None or not self.actor.verified))
        return bool(self.roles)

    @property
    def view_refusal(self) -> str | None:
        if self.may_view:
            return None
        if self.actor is None or not self.actor.verified:
            return "sign in to use this store"
        return (f"{self.actor.shown} is signed in but holds no role in this store's policy; ask an admin "
                f"({', '.join(self.policy.holders('admin')) if self.policy else 'nobody'}) to add you")


def access(store: Store | str, actor: Actor | None, *, state: PolicyState | None = None) -> Access:
    """What ``actor`` (None: nobody signed in) may do in ``store`` under its policy."""
    policy = (state if state is not None else read_policy_state(store, key=load_audit_key())).policy
    return Access(policy, actor, roles_of(policy, actor), sign_in_required_by_env())


def authorize(store: Store | str, actor: Actor, action: str, *, state: PolicyState | None = None) -> StorePolicy | None:
    """Refuse (:class:`PermissionDenied`) unless ``actor`` may do ``action``; returns the policy in force."""
    a = access(store, actor, state=state)
    a.require(action)
    return a.policy
