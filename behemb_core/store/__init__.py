"""Immutable, checksummed storage of embedding versions, and exports for ANN index builders.

See :mod:`behemb_core.store.filestore` for the on-disk layout (readable with nothing but pyarrow).
"""

from __future__ import annotations

from .export import export_version
from .filestore import Store, StoredVersion, VersionInfo
from .names import next_version_name, validate_version_name

__all__ = [
    "Store",
    "StoredVersion",
    "VersionInfo",
    "export_version",
    "next_version_name",
    "validate_version_name",
]
