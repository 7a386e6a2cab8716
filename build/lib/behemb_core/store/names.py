"""Version names: the one rule every stored version name obeys, and the generator of fresh names.

A version name becomes a folder name inside the store, so the rule is strict on purpose: a name that passes
:func:`validate_version_name` can never address anything outside ``<store>/versions/`` (no separators, no ``..``,
no leading dot, which also keeps the store's own ``.tmp-*`` work folders out of the name space).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..errors import StoreError

MAX_NAME_LENGTH = 64
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_COUNTER_RE = re.compile(r".*_v([0-9]+)")
RULE = (
    f"a version name is 1-{MAX_NAME_LENGTH} characters from A-Z a-z 0-9 . _ -, starts with a letter or digit "
    "and contains no '..'"
)


def validate_version_name(name: object) -> str:
    """Return ``name`` unchanged if it is a safe version name, else raise :class:`StoreError`.

    Guarantees for an accepted name: 1-64 characters of ``[A-Za-z0-9._-]``, first character a letter or digit
    (so never ``.``, ``..``, a hidden name or an option-like ``-x``), no ``..`` anywhere and no ``/`` or ``\\``;
    joining it to a folder therefore always yields a direct child of that folder.
    """
    if not isinstance(name, str):
        raise StoreError(f"version name must be a string, got {type(name).__name__} {name!r}; {RULE}")
    problem = None
    if not name:
        problem = "it is empty"
    elif len(name) > MAX_NAME_LENGTH:
        problem = f"it has {len(name)} characters"
    elif "/" in name or "\\" in name:
        problem = "it contains a path separator"
    elif name.startswith((".", "-")):
        problem = f"it starts with {name[0]!r}"
    elif ".." in name:
        problem = "it contains '..'"
    elif not _NAME_RE.fullmatch(name):
        bad = sorted({c for c in name if not (c.isascii() and (c.isalnum() or c in "._-"))})
        problem = f"it contains {''.join(bad)!r}" if bad else "it does not start with a letter or digit"
    if problem is not None:
        raise StoreError(f"invalid version name {name!r}: {problem}; {RULE}")
    return name


def is_valid_version_name(name: object) -> bool:
    """True when :func:`validate_version_name` would accept ``name`` (used to skip foreign folders)."""
    try:
        validate_version_name(name)
    except StoreError:
        return False
    return True


def version_counter(name: str) -> int | None:
    """The ``N`` of a name of the form ``<anything>_v<N>``, or ``None`` when the name has no counter."""
    m = _COUNTER_RE.fullmatch(name)
    return int(m.group(1)) if m else None


def next_version_name(existing: Iterable[str], prefix: str) -> str:
    """A fresh name ``<prefix>_v<N>`` where ``N`` is one more than the largest counter in ``existing``.

    The counter is global over all prefixes (``beh_v9`` follows ``fus_v8``), so version numbers tell the order
    in which versions were made whatever method made them. The result is validated, which also rejects an
    unusable ``prefix``.
    """
    counters = [c for c in (version_counter(n) for n in existing) if c is not None]
    n = max(counters, default=0) + 1
    return validate_version_name(f"{prefix}_v{n}")
