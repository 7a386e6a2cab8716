"""Immutable, checksummed storage of embedding versions, and exports for ANN index builders.

See :mod:`behemb_core.store.filestore` for the on-disk layout (readable with nothing but pyarrow).
"""

from __future__ import annotations

from .export import export_version
from .filestore import Store, StoredVersion, VersionInfo
from .indexes import register_index, register_index_from_export
from .lifecycle import (
    ApprovalRefused,
    CheckResult,
    approval_state,
    approvals,
    publish,
    published_version,
    read_audit_log,
    rollback,
    rollback_target,
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
    "rollback_target",
    "rollback_targets",
    "set_policy",
    "trained_by",
    "validate_version_name",
    "verify_store",
]

from .golden import GOLDEN_LABELS, golden_pairs, mark_pair  # golden pairs; judged in checks/golden.py

__all__ += ["GOLDEN_LABELS", "golden_pairs", "mark_pair"]

from .settings import INTERACTIONS, StoreSettings, interaction_verb, read_settings, write_settings  # noqa: E402

__all__ += ["INTERACTIONS", "StoreSettings", "interaction_verb", "read_settings", "write_settings"]

# The store's file-writing layer, for the library's other durable files (projection cache, neighbor exports):
# a file staged whole under a temporary name and put in place atomically, a filesystem outside a store.
from ._fsio import Location, Staged, remove_quietly  # noqa: E402

__all__ += ["Location", "Staged", "remove_quietly"]
