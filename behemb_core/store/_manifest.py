"""The manifest of a stored version: JSON-safe conversion, the keys the store owns, and (de)serialisation.

The manifest is the last file written into a version and the only place its checksums live, so it must be
plain, deterministic JSON (sorted keys, indent 2, no NaN) that any program can read.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import importlib.metadata
import json
import math
import platform
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import numpy as np

from ..errors import StoreError

FORMAT_VERSION = 1
EMBEDDINGS_FILE = "embeddings.parquet"
ITEMS_FILE = "items.parquet"
ITEM_STATS_FILE = "item_stats.parquet"
DIRECTIONAL_FILE = "directional.parquet"
MANIFEST_FILE = "manifest.json"

#: What the manifest's ``directional`` section (and every export of the pair) says about using Q and K.
DIRECTIONAL_HOW = "rank candidates b of item a by Q_a·K_b: an ANN index over K, queried with Q"

#: Parquet schema metadata key of embeddings.parquet holding :func:`manifest_seal` of the version's manifest.
SEAL_KEY = "behemb.manifest_seal"

#: Keys the store sets itself; a caller may not give them different values.
STORE_KEYS = ("format_version", "version", "created_at", "n_items", "dim", "id_kind", "library_versions", "files")


def json_safe(obj: Any, where: str = "manifest") -> Any:
    """Convert ``obj`` to plain JSON types (numpy scalars/arrays, tuples, pydantic models, dates, paths).

    Refuses NaN/inf and anything without an obvious JSON form with a :class:`StoreError` naming the key path,
    so a manifest is never written with values another program cannot parse.
    """
    if obj is None or isinstance(obj, bool):
        return obj
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, np.generic):
        return json_safe(obj.item(), where)
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise StoreError(f"{where} is {obj!r}; manifests must hold finite numbers (JSON has no NaN/inf)")
        return float(obj)
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biufUSO":
            raise StoreError(f"{where} is an array of dtype {obj.dtype}, which has no JSON form")
        return json_safe(obj.tolist(), where)
    if isinstance(obj, Mapping):
        out: dict[str, Any] = {}
        for key, value in obj.items():
            if isinstance(key, np.generic):
                key = key.item()
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise StoreError(f"{where} has a key {key!r} of type {type(key).__name__}; use strings")
            skey = str(key)
            if skey in out:
                raise StoreError(f"{where} has the key {skey!r} twice (once as a number)")
            out[skey] = json_safe(value, f"{where}[{skey!r}]")
        return out
    if isinstance(obj, (list, tuple)):
        return [json_safe(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, (set, frozenset)):
        return json_safe(sorted(obj, key=repr), where)
    if hasattr(obj, "model_dump") and callable(obj.model_dump):  # pydantic models (method configs)
        return json_safe(obj.model_dump(mode="json"), where)
    if isinstance(obj, (_dt.datetime, _dt.date)):
        return obj.isoformat()
    if isinstance(obj, PurePath):
        return str(obj)
    raise StoreError(f"{where} is a {type(obj).__name__}, which has no JSON form; convert it before saving")


def manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    """Deterministic UTF-8 JSON of an already JSON-safe manifest (sorted keys, indent 2, trailing newline)."""
    text = json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")


def parse_manifest(data: bytes, where: str) -> dict[str, Any]:
    """Parse manifest bytes; unreadable JSON or an unknown ``format_version`` is a :class:`StoreError`."""
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StoreError(f"{where}: unreadable manifest ({exc})") from exc
    if not isinstance(manifest, dict):
        raise StoreError(f"{where}: manifest must be a JSON object, got {type(manifest).__name__}")
    fmt = manifest.get("format_version")
    if fmt != FORMAT_VERSION:
        raise StoreError(
            f"{where}: format_version {fmt!r} is not supported (this library reads format {FORMAT_VERSION})"
        )
    return manifest


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape the stored numbers (python, numpy, scipy, pandas, pyarrow, gensim,
    behemb_core), read from package metadata so nothing heavy is imported; absent packages are omitted."""
    out = {"python": platform.python_version()}
    for dist in ("numpy", "scipy", "pandas", "pyarrow", "scikit-learn", "gensim", "numba"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    try:
        own = getattr(importlib.import_module("behemb_core"), "__version__", None)
    except ImportError:  # pragma: no cover - we are inside behemb_core
        own = None
    if isinstance(own, str):
        out["behemb_core"] = own
    return out


def build_manifest(
    caller: Mapping[str, Any],
    *,
    version: str,
    n_items: int,
    dim: int,
    id_kind: str,
    files: dict[str, dict[str, Any]],
    directional: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The caller's (JSON-safe) manifest extended with the store's keys.

    A caller value for a store key is accepted only when it equals what the store would write, so a manifest
    can never claim, say, a different dimension than the data it describes. ``directional`` (the section
    :func:`directional_section` makes) is set only for a version that stores a directional pair; a caller may not
    claim one otherwise.
    """
    own: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "version": version,
        "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="microseconds"),
        "n_items": int(n_items),
        "dim": int(dim),
        "id_kind": id_kind,
        "library_versions": library_versions(),
        "files": files,
    }
    if directional is not None:
        own["directional"] = directional
    clash = sorted(k for k in (*STORE_KEYS, "directional") if k in caller and (k not in own or caller[k] != own[k]))
    if clash:
        raise StoreError(f"manifest keys {clash} are set by the store; remove them from the manifest you pass")
    out = dict(caller)
    out.update(own)
    return out


def directional_section(alpha: float, dim: int) -> dict[str, Any]:
    """The manifest's ``directional`` section of a version storing "next item" tables: the file, the share
    ``alpha`` of the forward co-occurrence in their target, their dimension and how to query them."""
    return {"file": DIRECTIONAL_FILE, "alpha": float(alpha), "dim": int(dim), "how_to_query": DIRECTIONAL_HOW}


def manifest_seal(manifest: Mapping[str, Any]) -> str:
    """sha256 of the manifest without its ``files`` table (sorted-key JSON). It is known before the data files
    are written, so ``embeddings.parquet`` carries it in its schema metadata, and ``embeddings.parquet`` in turn is
    hashed in ``files``: an edit of any manifest value (method, seed, item count…) breaks one of the two."""
    import hashlib

    core = {k: v for k, v in manifest.items() if k != "files"}
    return hashlib.sha256(manifest_bytes(core)).hexdigest()
