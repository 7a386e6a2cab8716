"""What the store's file layer needs of a store, and what an object store can promise: the filesystem protocol,
a location outside a store, and S3's conditional writes. The bottom of the store package: it imports nothing of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from fsspec.implementations.local import LocalFileSystem


class StoreFiles(Protocol):
    """What this layer needs of a store (:class:`~behemb_core.store.filestore.Store` has it): the fsspec
    filesystem, whether it is the local disk, the root and path joining. A protocol, so the file layer sits
    below the store and imports nothing of it."""

    fs: Any
    is_local: bool
    root: str
    url: str

    def join(self, *parts: str) -> str: ...

    def read_bytes(self, path: str) -> bytes: ...

    def list_dir(self, path: str) -> dict[str, str]: ...


@dataclass(frozen=True)
class Location:
    """A filesystem to write to outside a store (exports): what :class:`Staged` needs of a :class:`StoreFiles`."""

    fs: Any

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)


def conditional_writes(st: StoreFiles) -> bool:
    """True for object stores whose writes can be conditional — create only if absent (``If-None-Match: *``) and
    replace only if unchanged (``If-Match``): S3 and S3-compatible servers through s3fs."""
    protocol = getattr(st.fs, "protocol", ())
    protocols = (protocol,) if isinstance(protocol, str) else tuple(protocol)
    return any(p in ("s3", "s3a") for p in protocols)


def precondition_failed(exc: OSError) -> bool:
    """An S3 412 (a condition did not hold) or 409 (a concurrent conditional write), as s3fs raises them."""
    response = getattr(exc.__cause__, "response", None)
    error = response.get("Error", {}) if isinstance(response, dict) else {}
    return error.get("Code") in ("PreconditionFailed", "ConditionalRequestConflict") or bool(error.get("Condition"))
