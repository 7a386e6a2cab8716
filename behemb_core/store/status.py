"""The lifecycle's status rule: ``draft``, ``approved`` or ``published``, read from the lifecycle's own files.

Status is never part of a version's immutable files. ``"published"`` when the pointer ``<store>/published.json``
names the version; otherwise the ``"status"`` of its latest approval record (by file name) in
``<store>/lifecycle/<name>/`` — ``"approved"``, also for a version that was published before and is no longer
(it can be published again, e.g. by a rollback); no record means ``"draft"``. The records and the pointer are
written by :mod:`behemb_core.store.lifecycle`; :meth:`Store.status` and :meth:`Store.list_versions` ask here.
"""

from __future__ import annotations

import json
from types import EllipsisType

from ..errors import IntegrityError, StoreError
from ._fsio import StoreFiles
from ._layout import DRAFT, LIFECYCLE_DIR, POINTER_FILE


def published_name(st: StoreFiles) -> str | None:
    """The version the pointer names (None when nothing is published; unreadable: IntegrityError)."""
    path = st.join(POINTER_FILE)
    try:
        pointer = json.loads(st.read_bytes(path).decode("utf-8"))
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError) as exc:
        raise IntegrityError(f"unreadable published pointer {path}: {exc}") from exc
    version = pointer.get("version") if isinstance(pointer, dict) else None
    return version if isinstance(version, str) else None


def version_status(st: StoreFiles, name: str, *, published: str | None | EllipsisType = ...) -> str:
    """Status of version ``name`` (no existence check). ``published``: the pointer's version when the caller
    has read it already (listing many versions reads it once)."""
    if published is ...:
        published = published_name(st)
    if published == name:
        return "published"
    folder = st.join(LIFECYCLE_DIR, name)
    records = sorted(f for f, kind in st.list_dir(folder).items() if kind == "file" and f.endswith(".json"))
    if not records:
        return DRAFT
    latest = f"{folder}/{records[-1]}"
    try:
        status = json.loads(st.read_bytes(latest).decode("utf-8")).get("status")
    except (ValueError, UnicodeDecodeError, AttributeError) as exc:
        raise StoreError(f"unreadable lifecycle record {latest}: {exc}") from exc
    if not isinstance(status, str):
        raise StoreError(f"lifecycle record {latest} has no 'status' string")
    return status
