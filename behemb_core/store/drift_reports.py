"""Drift reports kept in the store, beside the versions they judge (never inside them)::

    <store>/drift/<version>/<UTC timestamp>.json     one report per run of `drift` (see behemb_core.drift)

A report is written once, whole (temp file + exclusive link through the store's file layer, :mod:`._fsio`), under
the lifecycle lock, and never rewritten; it records who ran it (``actor``) and its own sha256 is what
:func:`drift_reports` returns beside it. Nothing published changes: a report is an observation about a version.

Who may keep one: the ``drift`` action of the store policy (:data:`behemb_core.store.policy.NEEDS`), i.e. the
**trainer** role — the scheduler job that would retrain on a *stale* verdict is a trainer. Anyone who may view the
store may read reports, and may run the check without keeping it (``drift --no-save``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..errors import IntegrityError, StoreError
from ..identity import Actor, as_actor
from . import _fsio
from . import _lifecycle_io as lio
from .filestore import Store
from .names import validate_version_name
from .policy import access

__all__ = ["DRIFT_DIR", "drift_reports", "latest_drift_report", "save_drift_report"]

DRIFT_DIR = "drift"


def _folder(st: Store, version: str) -> str:
    return st.join(DRIFT_DIR, validate_version_name(version))


def save_drift_report(store: Store | str, report: Mapping[str, Any], *, by: Actor | str) -> str:
    """Keep ``report`` (a drift report of ``report["version"]``) as ``drift/<version>/<stamp>.json``; returns the
    path. Refused (:class:`PermissionDenied`) unless ``by`` may keep drift reports (the trainer role)."""
    st = lio.store_of(store)
    version = report.get("version")
    if not isinstance(version, str):
        raise StoreError("a drift report can only be kept for a version (this one judged none)")
    if not st.exists(validate_version_name(version)):
        raise st.missing_error(version)
    actor = as_actor(by)
    record = {**report, "by": actor.id, "actor": actor.record()}
    data = lio.json_bytes(record)
    with lio.locked(st):
        access(st, actor).require("drift")
        for _attempt in range(5):  # two reports in the same microsecond: the second gets the next stamp
            path = f"{_folder(st, version)}/{lio.stamp()}.json"
            if _fsio.create_exclusive(st, path, data, point="drift.report"):
                return path
    raise StoreError(f"could not find a free name for a drift report under {_folder(st, version)}")


def drift_reports(store: Store | str, version: str) -> list[dict[str, Any]]:
    """Every kept drift report of ``version``, oldest first; each with ``path`` and ``sha256`` of its file added.
    A file that is not a JSON object raises :class:`IntegrityError` naming it."""
    st = lio.store_of(store)
    folder = _folder(st, version)
    out = []
    for name in sorted(n for n, kind in st.list_dir(folder).items() if kind == "file" and n.endswith(".json")
                       and _fsio.TMP_MARK not in n):
        path = f"{folder}/{name}"
        raw = st.read_bytes(path)
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise IntegrityError(f"drift report {path} is not valid JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("version") != version:
            raise IntegrityError(f"drift report {path} is not a drift report of version {version!r}")
        out.append({**data, "path": path, "sha256": lio.sha256(raw)})
    return out


def latest_drift_report(store: Store | str, version: str) -> dict[str, Any] | None:
    """The most recent kept drift report of ``version`` (None when it has none): what the sign-off of the next
    version shows as the reason it was trained."""
    reports = drift_reports(store, version)
    return reports[-1] if reports else None
