"""Opening a store by the location a user typed: checked first, so a bad location is one clear sentence.

:func:`check_store_location` refuses, with a :class:`~behemb_core.errors.StoreError` naming the location:
a NUL byte; an unknown fsspec protocol (``nosuch://x``); a protocol whose optional package is missing (``s3://``
without s3fs — the message says what to ``pip install``); and, for a local folder, a path that is a regular file,
lies under a regular file, or is too long. A folder that does not exist yet is fine (it is created on the first
write). :func:`open_store` checks and then returns the :class:`~behemb_core.store.filestore.Store`.

:func:`default_store` is the one default location, shared by the app's sidebar and every command's ``--store``:
``$BEHEMB_STORE`` when set, else ``data/store``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from typing import Any

import fsspec
from fsspec.core import split_protocol
from fsspec.implementations.local import LocalFileSystem

from ..boundary import plain_reason
from ..errors import StoreError
from .filestore import Store

_LOCAL_PROTOCOLS = {None, "file", "local"}

#: The store used when none is given (the app's sidebar and the command line's ``--store``).
DEFAULT_STORE = "data/store"
#: Environment variable that overrides :data:`DEFAULT_STORE` (e.g. a shared folder); an explicit location wins.
STORE_ENV = "BEHEMB_STORE"


def default_store() -> str:
    """``$BEHEMB_STORE`` when set (and not blank), else :data:`DEFAULT_STORE`."""
    return os.environ.get(STORE_ENV, "").strip() or DEFAULT_STORE


def _package_for(protocol: str, exc: ImportError) -> str | None:
    """The pip package that provides ``protocol`` (``s3`` → ``s3fs``), from fsspec's registry."""
    from fsspec.registry import known_implementations

    cls = str(known_implementations.get(protocol, {}).get("class", ""))
    top = cls.split(".")[0]
    if top and top != "fsspec":
        return top
    return (exc.name or "").split(".")[0] or None


def check_store_location(location: str | os.PathLike[str]) -> str:
    """Return the location as text if a store can live there, else raise :class:`StoreError` saying why."""
    url = os.fspath(location)
    if not isinstance(url, str):
        raise StoreError(f"the store location must be text, got {type(url).__name__}")
    if "\0" in url:
        raise StoreError(f"the store location {url!r} contains a NUL byte")
    if not url.strip():
        raise StoreError("the store location is empty; give a folder or an fsspec URL")
    if "::" not in url:  # chained URLs (simplecache::s3://…) are left to fsspec
        protocol, _ = split_protocol(url)
        if protocol not in _LOCAL_PROTOCOLS:
            try:
                fsspec.get_filesystem_class(protocol)
            except ValueError:
                raise StoreError(
                    f"unknown storage protocol {protocol!r} in store URL {url!r}; a store is a local folder or an "
                    "fsspec URL such as memory://…, s3://…, gs://…, file://…") from None
            except ImportError as exc:
                pkg = _package_for(protocol, exc)
                how = f"pip install {pkg}" if pkg else f"install the package it needs ({exc})"
                raise StoreError(
                    f"the store URL {url!r} needs the optional package {pkg or 'for ' + repr(protocol)}, which is "
                    f"not installed: {how}") from None
    try:
        fs, root = fsspec.core.url_to_fs(url)
    except ImportError as exc:
        raise StoreError(f"the store URL {url!r} needs a package that is not installed ({exc})") from None
    except (ValueError, TypeError) as exc:
        raise StoreError(f"cannot use the store location {url!r}: {exc}") from None
    if isinstance(fs, LocalFileSystem):
        _check_local_folder(root or url)
    return url


def _check_local_folder(path: str) -> None:
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        _check_ancestors(path)
        return
    except OSError as exc:
        raise StoreError(f"the store folder {path} cannot be used: {plain_reason(exc)}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise StoreError(f"the store location {path} is a file, not a folder; give a folder (created if missing)")


def _check_ancestors(path: str) -> None:
    """A store folder that does not exist yet: its nearest existing ancestor must be a folder."""
    parent = os.path.dirname(os.path.abspath(path))
    while True:
        try:
            st = os.stat(parent)
        except (FileNotFoundError, NotADirectoryError):
            nxt = os.path.dirname(parent)
            if nxt == parent:
                return
            parent = nxt
            continue
        except OSError as exc:
            raise StoreError(f"the store location {path} cannot be used: {plain_reason(exc)} ({parent})") from None
        if not stat.S_ISDIR(st.st_mode):
            raise StoreError(f"the store location {path} is under the file {parent}, which is not a folder")
        return


def open_store(location: str | os.PathLike[str], *, storage_options: Mapping[str, Any] | None = None) -> Store:
    """:func:`check_store_location`, then the :class:`Store` at ``location``."""
    return Store(check_store_location(location), storage_options=storage_options)
