"""Immutable, checksummed storage of embedding versions, and exports for ANN index builders.

See :mod:`behemb_core.store.filestore` for the on-disk layout (readable with nothing but pyarrow).
"""

from __future__ import annotations

from .export import export_version
from .filestore import Store, StoredVersion, VersionInfo
from .lifecycle import (
    ApprovalRefused,
    CheckResult,
    approval_state,
    approvals,
    publish,
    published_version,
    read_audit_log,
    register_index,
    register_index_from_export,
    rollback,
    rollback_targets,
    set_policy,
    trained_by,
    verify_store,
)
from .location import check_store_location, open_store
from .names import next_version_name, validate_version_name

__all__ = [
    "ApprovalRefused",
    "CheckResult",
    "Store",
    "StoredVersion",
    "VersionInfo",
    "approval_state",
    "approvals",
    "check_store_location",
    "export_version",
    "next_version_name",
    "open_store",
    "publish",
    "published_version",
    "read_audit_log",
    "register_index",
    "register_index_from_export",
    "rollback",
    "rollback_targets",
    "set_policy",
    "trained_by",
    "validate_version_name",
    "verify_store",
]

from .golden import GOLDEN_LABELS, check_golden, golden_pairs, mark_pair  # noqa: E402  (golden pairs)

__all__ += ["GOLDEN_LABELS", "check_golden", "golden_pairs", "mark_pair"]

from .settings import INTERACTIONS, StoreSettings, interaction_verb, read_settings, write_settings  # noqa: E402

__all__ += ["INTERACTIONS", "StoreSettings", "interaction_verb", "read_settings", "write_settings"]
