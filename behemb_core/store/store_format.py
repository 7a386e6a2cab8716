"""The store's format number: ``<store>/behemb-store.json`` = ``{"format": 1}``, written by the first write.

A store whose format this code does not know is refused before anything is read or written, with a message that
names the file and the formats this version of behemb knows — an older behemb never misreads, or writes into, a
store a newer one laid out differently. A store without the file is one that was never written to: the first write
adds it. A store that holds versions, an audit log or a pointer but no format file (one made before the number
existed, or whose file was removed) is refused the same way: its format cannot be known.
"""

from __future__ import annotations

import json

from ..errors import StoreError
from . import _fsio
from ._fsio import StoreFiles
from ._layout import AUDIT_FILE, POINTER_FILE
from ._manifest import MANIFEST_FILE

FORMAT_FILE = "behemb-store.json"
FORMAT = 1
KNOWN_FORMATS = (1,)


def store_format(st: StoreFiles) -> int | None:
    """The store's format number, None when the store has no format file yet (and nothing else); an unknown or
    unreadable one, or none in a store with contents, raises :class:`StoreError` naming the file."""
    path = st.join(FORMAT_FILE)
    try:
        raw = st.read_bytes(path)
    except FileNotFoundError:
        held = _contents(st)
        if held:
            raise StoreError(f"{path} is missing although the store holds {held}: this store's format cannot be "
                             "known (it was made before stores had a format number, or the file was removed); this "
                             f"version of behemb reads and writes format {', '.join(map(str, KNOWN_FORMATS))} "
                             "only") from None
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise StoreError(f"{path} is not valid JSON ({exc}); this store's format cannot be known") from None
    number = data.get("format") if isinstance(data, dict) else None
    if number not in KNOWN_FORMATS:
        raise StoreError(f"{path} says this store has format {number!r}; this version of behemb reads and writes "
                         f"format {', '.join(map(str, KNOWN_FORMATS))} only: use the behemb that wrote it")
    return int(number)


def _contents(st: StoreFiles) -> str:
    """What of a store's lasting contents is there (complete versions, the audit log, the pointer), in words;
    empty if none (a lock file or a leftover folder is not a store's content)."""
    top = st.list_dir(st.root)
    held = [what for name, what in ((AUDIT_FILE, AUDIT_FILE), (POINTER_FILE, POINTER_FILE)) if name in top]
    versions = st.join("versions")
    if "versions" in top and any(kind == "directory" and st.fs.isfile(f"{versions}/{name}/{MANIFEST_FILE}")
                                 for name, kind in st.list_dir(versions).items()):
        held.insert(0, "versions")
    return " and ".join(held)


def ensure_format(st: StoreFiles) -> None:
    """Refuse an unknown format; write the format file when the store has none (exclusive create)."""
    if store_format(st) is None:
        _fsio.create_exclusive(st, st.join(FORMAT_FILE), (json.dumps({"format": FORMAT}) + "\n").encode("ascii"),
                               point="format")
