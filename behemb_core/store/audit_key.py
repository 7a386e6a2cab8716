"""The audit key: an HMAC-SHA256 secret that authenticates every line of the audit log and the golden pairs log.

The hash chain alone shows that a log was edited only to someone who kept an earlier copy: whoever can write the
store can edit a line and recompute the chain and its head. Each line therefore also carries a MAC,
``"mac": "hmac-sha256:<key id>:<hex>"``, over the line's canonical JSON without the ``mac`` field (so it covers
``prev_sha256`` and with it everything before). The key never lives in the store: the app's server and the
command line read it from the environment —

* ``BEHEMB_AUDIT_KEY_FILE``: a file holding the key (a secrets file of the server, mode 0600), or
* ``BEHEMB_AUDIT_KEY``: the key itself (CI secrets).

A key is at least 32 characters of text (``python -m behemb_core audit-key new --out FILE`` makes one). Its id,
the first 16 hex digits of a hash of the key, travels with each MAC, so ``verify`` can tell "signed with another
key" from "edited". Writers without the key write lines without a MAC; ``verify`` with the key reports each of
them (nobody holding the key vouched for it) and ``verify`` without the key says it could not check any.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError

KEY_ENV = "BEHEMB_AUDIT_KEY"
KEY_FILE_ENV = "BEHEMB_AUDIT_KEY_FILE"
MIN_KEY_LENGTH = 32
MAC_FIELD = "mac"
_SCHEME = "hmac-sha256"


@dataclass(frozen=True)
class AuditKey:
    """A secret and its public id."""

    secret: bytes
    source: str  # where it came from, for messages (never the secret)

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_KEY_LENGTH:
            raise ConfigError(f"the audit key from {self.source} has {len(self.secret)} bytes; at least "
                              f"{MIN_KEY_LENGTH} are needed (make one with `python -m behemb_core audit-key new`)")

    @property
    def key_id(self) -> str:
        return hashlib.sha256(b"behemb audit key id\0" + self.secret).hexdigest()[:16]

    def mac(self, entry: Mapping[str, Any]) -> str:
        """The ``mac`` value of ``entry`` (its other fields)."""
        digest = hmac.new(self.secret, canonical(entry), hashlib.sha256).hexdigest()
        return f"{_SCHEME}:{self.key_id}:{digest}"

    def check(self, entry: Mapping[str, Any]) -> str | None:
        """None when ``entry`` carries a valid MAC of this key; else why not, in words."""
        value = entry.get(MAC_FIELD)
        if value is None:
            return "has no MAC: it was written without the audit key"
        if not isinstance(value, str) or value.count(":") != 2:
            return f"has a malformed MAC {str(value)[:40]!r}"
        scheme, key_id, _ = value.split(":")
        if scheme != _SCHEME:
            return f"has a MAC of unknown scheme {scheme!r}"
        if key_id != self.key_id:
            return f"was signed with another key (id {key_id}, this key is {self.key_id})"
        if not hmac.compare_digest(value, self.mac(entry)):
            return "was changed after it was written: its MAC does not match"
        return None


def canonical(entry: Mapping[str, Any]) -> bytes:
    """The bytes a MAC covers: compact sorted ASCII JSON of every field but ``mac``."""
    body = {k: v for k, v in entry.items() if k != MAC_FIELD}
    return json.dumps(body, sort_keys=True, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def load_audit_key(env: Mapping[str, str] | None = None) -> AuditKey | None:
    """The key from ``BEHEMB_AUDIT_KEY_FILE`` (preferred) or ``BEHEMB_AUDIT_KEY``; None when neither is set. A
    file that cannot be read or a key that is too short raises :class:`ConfigError` naming the variable."""
    env = os.environ if env is None else env
    path = env.get(KEY_FILE_ENV)
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{KEY_FILE_ENV}={path}: the audit key file cannot be read ({exc})") from None
        return AuditKey(text.encode("utf-8"), f"{KEY_FILE_ENV}={path}")
    value = env.get(KEY_ENV)
    if value:
        return AuditKey(value.strip().encode("utf-8"), KEY_ENV)
    return None


def new_key_file(path: str | os.PathLike[str]) -> AuditKey:
    """Write a new random key (256 bits, hex) to ``path``, readable by its owner only; never replaces a file."""
    target = Path(path)
    text = secrets.token_hex(32)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{target} exists; an audit key file is never replaced (entries signed with it would "
                          "no longer verify)") from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text + "\n")
    return AuditKey(text.encode("utf-8"), str(target))
