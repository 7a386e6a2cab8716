"""Who acts: the identity recorded with every lifecycle action (train, approve, publish, roll back, policy change).

An :class:`Actor` is either **verified** — a front end checked an identity provider's token: the app's OpenID
Connect sign-in (Streamlit's ``st.user``), or the command line's ID token (:mod:`behemb_core.id_token`) — or
**unverified**: a typed name (the app without sign-in) or the operating-system user and host (the command line
without a token). The library never checks tokens itself; it records what the front end tells it, and the audit
log's MAC (:mod:`behemb_core.store.audit_key`) is what makes a record made by the key holder trustworthy.

The identity is the token's email (lower-cased), else its subject, always with the issuer. Two actors are the
same person (:meth:`Actor.same_person`) when both are verified and share issuer and subject or email, or when
neither is verified and their names are equal ignoring case — a typed name proves nothing, so a verified actor
is never taken to be an unverified one or the other way round by name alone.
"""

from __future__ import annotations

import getpass
import socket
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import ConfigError, StoreError

Via = Literal["app sign-in", "id token", "typed name", "os user"]
MAX_NAME_LENGTH = 100


@dataclass(frozen=True)
class Actor:
    """One person (or CI job) acting on a store. ``id`` is what the audit log's ``by`` shows."""

    id: str
    verified: bool
    via: Via
    issuer: str | None = None
    subject: str | None = None
    email: str | None = None
    name: str | None = None
    groups: tuple[str, ...] = field(default_factory=tuple)
    label: str | None = None  # a free label (``--by``): recorded, never the identity
    host: str | None = None

    def __post_init__(self) -> None:
        check_name(self.id, "identity")
        if self.verified and self.via not in ("app sign-in", "id token"):
            raise ConfigError(f"an actor identified by {self.via} cannot be verified")
        if self.verified and not (self.issuer and self.subject):
            raise ConfigError(f"a verified actor needs the token's issuer and subject, got {self.issuer=}, "
                              f"{self.subject=}")
        if self.label is not None:
            check_name(self.label, "label")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def typed(cls, name: str, *, via: Via = "typed name") -> Actor:
        """An unverified actor known only by a name someone typed (the app without sign-in, a library call)."""
        return cls(id=check_name(name, "name").strip(), verified=False, via=via)

    @classmethod
    def os_user(cls, label: str | None = None) -> Actor:
        """The command line without a token: the operating-system user at this host, unverified."""
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (containers) and no LOGNAME/USER
            user = "unknown-user"
        host = socket.gethostname() or "unknown-host"
        return cls(id=f"{user}@{host}", verified=False, via="os user", label=label, host=host)

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any], *, via: Via, groups_claim: str = "groups",
                    label: str | None = None) -> Actor:
        """A verified actor from an ID token's claims (``iss`` and ``sub`` required; ``email``, ``name`` and the
        groups claim optional). The identity is the email, else the subject."""
        iss, sub = claims.get("iss"), claims.get("sub")
        if not isinstance(iss, str) or not iss or not isinstance(sub, str) or not sub:
            raise ConfigError(f"an ID token must carry 'iss' and 'sub'; got iss={iss!r}, sub={sub!r}")
        email = claims.get("email")
        email = email.strip().lower() if isinstance(email, str) and email.strip() else None
        name = claims.get("name")
        return cls(id=email or sub, verified=True, via=via, issuer=iss, subject=sub, email=email,
                   name=name if isinstance(name, str) else None, groups=groups_of(claims.get(groups_claim)),
                   label=label)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Actor:
        """Inverse of :meth:`record` (an audit entry's ``actor``)."""
        return cls(id=record["id"], verified=bool(record.get("verified")), via=record.get("via", "typed name"),
                   issuer=record.get("issuer"), subject=record.get("subject"), email=record.get("email"),
                   name=record.get("name"), groups=tuple(record.get("groups") or ()), label=record.get("label"),
                   host=record.get("host"))

    # ------------------------------------------------------------------ use
    def record(self) -> dict[str, Any]:
        """The JSON form kept in audit entries, approval records and a version's manifest (``trained_by``)."""
        return {"id": self.id, "verified": self.verified, "via": self.via, "issuer": self.issuer,
                "subject": self.subject, "email": self.email, "name": self.name, "groups": list(self.groups),
                "label": self.label, "host": self.host}

    def same_person(self, other: Actor) -> bool:
        """True when both records name the same person (see the module docstring)."""
        if self.verified != other.verified:
            return False
        if self.verified:
            if self.issuer != other.issuer:
                return False
            return self.subject == other.subject or (self.email is not None and self.email == other.email)
        return self.id.casefold() == other.id.casefold()

    @property
    def shown(self) -> str:
        """How people see the actor: ``alice@example.com`` or ``alice (unverified)``."""
        return self.id if self.verified else f"{self.id} (unverified)"


def check_name(value: object, what: str) -> str:
    """A name or label: a non-empty string of at most 100 characters without control characters."""
    if not isinstance(value, str):
        raise ConfigError(f"{what} must be a string, got {type(value).__name__} {value!r}")
    if not value.strip():
        raise ConfigError(f"{what} must not be empty or blank, got {value!r}")
    if len(value) > MAX_NAME_LENGTH:
        raise ConfigError(f"{what} has {len(value)} characters (at most {MAX_NAME_LENGTH}): {value[:30]!r}...")
    bad = sorted({c for c in value if unicodedata.category(c) in ("Cc", "Zl", "Zp")})
    if bad:
        raise ConfigError(f"{what} {value!r} contains control characters {bad!r}")
    return value


def groups_of(value: object) -> tuple[str, ...]:
    """A groups claim as a sorted tuple of names: a list of strings, or one string (some providers send that)."""
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, (list, tuple)):
        return tuple(sorted({g for g in value if isinstance(g, str) and g}))
    return ()


def as_actor(by: Actor | str) -> Actor:
    """``by`` itself, or an unverified actor named by the string (what library callers without sign-in pass).
    A string that cannot name anyone raises :class:`StoreError` naming ``'by'``."""
    if isinstance(by, Actor):
        return by
    if not isinstance(by, str):
        raise StoreError(f"'by' must be a string naming who acts, or an Actor, got {type(by).__name__} {by!r}")
    if not by.strip():
        raise StoreError(f"'by' must name who acts; got the empty or blank string {by!r}")
    try:
        return Actor.typed(by)
    except ConfigError as exc:
        raise StoreError(f"'by': {exc}") from None
