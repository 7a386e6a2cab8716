"""Were two versions trained on data from the same source? Ids are matched as text, so two catalogues whose ids
collide by chance (Online Retail and Diginetica share 86 ids) look as if they shared items: when the training data
differ in source, the shared ids may not be the same products, and every report that counts them says so.

The source of a version's training data is what its manifest records under ``dataset.source``: the kind of input
(an event log, basket lines, JSON-lines sessions) and, for an event log, the columns the item, session and user
ids were read from. Newer files of the same export (a retrain on next month's data) have the same source; a
version without a recorded source (trained from sessions in a library call) is never said to differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["shared_ids_note", "source_difference", "source_signature"]

_KINDS = {"event_log": "an event log", "baskets": "basket lines", "sessions_jsonl": "JSON-lines sessions"}
_ROLES = ("item", "session", "user")


def source_signature(manifest: Mapping[str, Any] | None) -> tuple[str, ...] | None:
    """What identifies the source of a version's training data (kind, and for an event log the item, session
    and user columns), or None when the manifest records no source."""
    source = ((manifest or {}).get("dataset") or {}).get("source")
    if not isinstance(source, Mapping) or not source.get("kind"):
        return None
    kind = str(source["kind"])
    if kind != "event_log":
        return (kind,)
    columns = source.get("columns")
    if not isinstance(columns, Mapping):
        columns = {}
    return (kind, *(str(columns.get(role) or "") for role in _ROLES))


def _described(signature: tuple[str, ...]) -> str:
    kind = _KINDS.get(signature[0], signature[0])
    cols = [f"{role} column {name!r}" for role, name in zip(_ROLES, signature[1:], strict=False) if name]
    return f"{kind} ({', '.join(cols)})" if cols else kind


def source_difference(manifest_a: Mapping[str, Any] | None,
                      manifest_b: Mapping[str, Any] | None) -> tuple[str, str] | None:
    """How the training data of two versions differ in source — the two sources in words — or None when they
    have the same source or one of them records none (then nothing can be said)."""
    a, b = source_signature(manifest_a), source_signature(manifest_b)
    if a is None or b is None or a == b:
        return None
    return _described(a), _described(b)


def shared_ids_note(name_a: str, manifest_a: Mapping[str, Any] | None, name_b: str,
                    manifest_b: Mapping[str, Any] | None, shared: int) -> str | None:
    """The sentence every comparison adds when the two versions share ids but their training data differ in
    source: the shared ids may not be the same products. None when they share nothing or the sources agree (or
    are not recorded)."""
    diff = None if shared <= 0 else source_difference(manifest_a, manifest_b)
    if diff is None:
        return None
    return (f"{name_a} and {name_b} were trained on data from different sources ({name_a}: {diff[0]}; {name_b}: "
            f"{diff[1]}): the {shared:,} ids they share may not be the same products, since ids are matched as "
            "text.")
