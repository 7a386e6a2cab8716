"""A *prepared* dataset: what the Spark engine's prepare step writes to a work dir, read back on the driver.

Layout of a work dir (any URL fsspec opens: a folder, ``s3://…``, …)::

    prepared.json   written last — its presence means the prepare step finished; counts, drops, summary,
                    fingerprint, source and session options, the pair table's window and weighting
    items/          Parquet: item_id, events, sessions (the vocabulary with training popularity)
    sessions/       Parquet: order, session_id, user, start, items (the cleaned sessions, in session order)
    pairs/          Parquet: a, b, offset, count (exact pair counts, a < b — or, in a table prepared
                    ``directed``, a the item that came first; see :class:`~behemb_core.cooccurrence.PairCounts`)
    names/          Parquet: item_id, name (when the data names its items)

Reading is pyarrow only (no Spark): the driver that trains from a work dir needs the library and nothing else.
What grows with items (vocabulary, pair table) is read whole; the sessions are read only by methods that learn
from them, or streamed once to check the fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from .cooccurrence import PairCounts, Weighting, pair_keys_fit, pair_offsets
from .errors import ConfigError, InputError
from .metadata import ItemMetadata
from .sessions import SessionOptions, Sessions
from .vocab import Vocabulary

FORMAT = "behemb-prepared-v1"
META_FILE = "prepared.json"


def filesystem(url: str):
    """The fsspec file system and path of ``url`` (a local path, ``s3://``, ``s3a://``, …)."""
    import fsspec

    return fsspec.core.url_to_fs(url)


def join(url: str, *parts: str) -> str:
    return "/".join([url.rstrip("/"), *parts])


def parquet_files(fs: Any, path: str) -> list[str]:
    """The data files of a Parquet folder Spark wrote, in part order (``_SUCCESS`` and ``.crc`` files left out)."""
    return sorted(f for f in fs.ls(path, detail=False)
                  if f.endswith(".parquet") and not f.rsplit("/", 1)[-1].startswith(("_", ".")))


def read_table(url: str, columns: list[str] | None = None) -> pa.Table:
    """A Parquet folder written by Spark, whole."""
    fs, path = filesystem(url)
    return pads.dataset(parquet_files(fs, path), filesystem=fs, format="parquet").to_table(columns=columns)


def ids_of(array: pa.Array | pa.ChunkedArray, kind: str) -> np.ndarray:
    """Item ids of a column as the library keeps them: int64, or an object array of str."""
    if kind == "int":
        return np.asarray(pc.cast(array, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=object)


class PreparedDataset:
    """A finished work dir. Everything a training job needs from the data, for :func:`~behemb_core.train.train_version`:
    the vocabulary and item statistics, the pair table, the cleaned sessions (loaded on first use), the item
    names, and the dataset's summary, fingerprint, source and session options for the manifest."""

    def __init__(self, url: str, meta: dict[str, Any]) -> None:
        self.url = url
        self.meta = meta

    @classmethod
    def open(cls, url: str) -> PreparedDataset:
        """Open a work dir; an unfinished or foreign one is an :class:`InputError` that says so."""
        fs, path = filesystem(url)
        meta_path = join(path, META_FILE)
        try:
            if not fs.exists(meta_path):
                what = "the prepare step did not finish there" if fs.exists(path) else "no such folder"
                raise InputError(f"not a prepared dataset ({what}: {META_FILE} is missing)", path=url)
            with fs.open(meta_path, "rb") as fh:
                meta = json.loads(fh.read().decode("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"cannot read {META_FILE}: {exc}", path=url) from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise InputError(f"{META_FILE} is not a behemb prepared dataset (expected format {FORMAT!r})", path=url)
        return cls(url, meta)

    # What the manifest records -------------------------------------------------------------------------------

    @property
    def source(self) -> dict[str, Any]:
        return dict(self.meta["source"])

    @property
    def options(self) -> SessionOptions:
        return SessionOptions.model_validate(self.meta["options"])

    @property
    def drops(self) -> dict[str, int]:
        return dict(self.meta["drops"])

    @property
    def notes(self) -> dict[str, int]:
        return dict(self.meta["notes"])

    @property
    def summary(self) -> dict[str, Any]:
        return dict(self.meta["summary"])

    def fingerprint(self) -> str:
        return str(self.meta["fingerprint"])

    def manifest_section(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint(), "summary": self.summary, "source": self.source,
                "session_options": self.options.model_dump(mode="json")}

    # Items ---------------------------------------------------------------------------------------------------

    @cached_property
    def _items(self) -> tuple[Vocabulary, np.ndarray, np.ndarray]:
        table = read_table(join(self.url, "items"))
        # Arrow sorts text by UTF-8 bytes, which is code point order: the order of Python's str and the Vocabulary.
        order = pc.sort_indices(table["item_id"]).to_numpy()
        ids = ids_of(table["item_id"], self.meta["item_id_kind"])[order]
        events = table["events"].to_numpy()[order].astype(np.int64)
        sessions = table["sessions"].to_numpy()[order].astype(np.int64)
        return Vocabulary(ids, assume_sorted_unique=True), events, sessions

    @property
    def vocab(self) -> Vocabulary:
        return self._items[0]

    def item_counts(self) -> np.ndarray:
        """Events per item, in vocabulary order."""
        return self._items[1]

    def item_stats(self) -> pd.DataFrame:
        vocab, events, sessions = self._items
        return pd.DataFrame({"item_id": vocab.ids, "events": events, "sessions": sessions})

    @cached_property
    def item_meta(self) -> ItemMetadata | None:
        names = self.meta.get("names")
        if not names:
            return None
        table = read_table(join(self.url, "names"))
        frame = pd.DataFrame({"item_id": ids_of(table["item_id"], self.meta["item_id_kind"]),
                              "name": np.asarray(table["name"].to_numpy(zero_copy_only=False), dtype=object)})
        frame = frame.sort_values("item_id", kind="stable").reset_index(drop=True)
        frame.attrs.update(names.get("attrs", {}))
        return ItemMetadata(frame)

    # Pairs ---------------------------------------------------------------------------------------------------

    def has_pairs(self, window: int, weighting: Weighting, *, directed: bool = False) -> bool:
        """Whether the pair table serves ``window`` and ``weighting``: the same window, counted per distance when
        the weight depends on it (per-distance counts serve every such weighting). A directed table serves both
        readings (the symmetric one by folding it); a symmetric table cannot serve ``directed``."""
        p = self.meta.get("pairs") or {}
        return bool(p) and p["window"] == window and (
            pair_offsets(p["window"], p["weighting"]) == pair_offsets(window, weighting)) and (
            bool(p.get("directed", False)) or not directed)

    def pairs(self, window: int, weighting: Weighting, *, directed: bool = False) -> PairCounts:
        """The exact pair table for ``window`` and ``weighting`` — with ``directed``, the table that keeps which
        item came first (``count_pairs(..., directed=True)``); without, the symmetric one (a directed table is
        folded: :meth:`~behemb_core.cooccurrence.PairCounts.undirected`). A work dir counted with other settings,
        or without direction when ``directed`` is asked for, is refused with what to prepare instead."""
        if not self.has_pairs(window, weighting, directed=directed):
            p = self.meta.get("pairs")
            had = (f"{'a directed' if p.get('directed') else 'a symmetric'} pair table (window {p['window']}, "
                   f"{p['weighting']} weighting)") if p else "no pair table"
            needs = f"{'a directed' if directed else 'a'} pair table with window {window} and {weighting} weighting"
            how = "prepare again with --window/--weighting" + (" and directed pairs" if directed else "")
            raise ConfigError(f"the prepared dataset has {had}; this job needs {needs}: {how}")
        stored_directed = bool(self.meta["pairs"].get("directed", False))
        vocab = self.vocab
        n = len(vocab)
        pair_keys_fit(n, window, weighting)
        kind = self.meta["item_id_kind"]
        table = read_table(join(self.url, "pairs"))
        a = vocab.codes(ids_of(table["a"], kind))
        b = vocab.codes(ids_of(table["b"], kind))
        out_of_order = (a == b) if stored_directed else (a >= b)
        if len(a) and ((a < 0).any() or (b < 0).any() or out_of_order.any()):
            raise InputError("the pair table names items outside the vocabulary or out of order; prepare again",
                             path=self.url)
        n_offsets = pair_offsets(window, weighting)
        keys = (a.astype(np.int64) * n + b) * n_offsets + table["offset"].to_numpy().astype(np.int64)
        order = np.argsort(keys, kind="stable")
        counts = PairCounts(keys=keys[order], counts=table["count"].to_numpy().astype(np.int64)[order], vocab=vocab,
                            window=window, weighting=weighting, directed=stored_directed)
        return counts if directed else counts.undirected()

    # Sessions ------------------------------------------------------------------------------------------------

    @cached_property
    def sessions(self) -> Sessions:
        """The cleaned sessions, in session order (read whole: for the methods that learn from sessions)."""
        table = read_table(join(self.url, "sessions"))
        table = table.take(pc.sort_indices(table["order"]))
        items = table["items"].combine_chunks()
        lengths = np.diff(np.asarray(items.offsets)).astype(np.int64)
        indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        codes = self.vocab.codes(ids_of(items.flatten(), self.meta["item_id_kind"])).astype(np.int32)
        users_col = table["user"]
        users = None
        if users_col.null_count < len(users_col):
            if users_col.null_count == 0 and pa.types.is_integer(users_col.type):
                users = users_col.to_numpy().astype(np.int64)
            else:  # missing users are None, as the single-machine readers keep them
                users = np.array(users_col.to_pylist(), dtype=object)
        starts = table["start"]
        start_times = None
        if starts.null_count < len(starts):
            start_times = pc.fill_null(starts, np.iinfo(np.int64).min).to_numpy().astype(np.int64)
        return Sessions(vocab=self.vocab, indptr=indptr, codes=codes,
                        session_ids=np.asarray(table["session_id"].to_numpy(zero_copy_only=False), dtype=object),
                        users=users, start_times=start_times)


def corpus_fingerprint(url: str, vocab: Vocabulary, kind: str) -> tuple[str, np.ndarray]:
    """:meth:`Sessions.fingerprint` of a work dir's sessions, streamed file by file in session order (two passes:
    the boundaries, then the items), and the session lengths. Memory stays at one file's rows."""
    fs, path = filesystem(join(url, "sessions"))
    files = parquet_files(fs, path)
    h = hashlib.sha256()
    h.update(b"behemb-sessions-v1\0")
    h.update(vocab.kind.encode())
    if vocab.kind == "int":
        h.update(np.ascontiguousarray(vocab.ids, dtype="<i8").tobytes())
    else:
        h.update("\x1f".join(vocab.ids.tolist()).encode("utf-8"))
    h.update(b"\0")
    h.update(np.zeros(1, dtype="<i8").tobytes())
    total, last = 0, None
    all_lengths = []
    for f in files:
        t = pads.dataset(f, filesystem=fs, format="parquet").to_table(columns=["order", "items"])
        order = t["order"].to_numpy()
        if len(order) and ((last is not None and order[0] <= last) or (np.diff(order) <= 0).any()):
            raise InputError("the prepared sessions are not in session order; prepare again", path=url)
        if len(order):
            last = order[-1]
        lengths = pc.list_value_length(t["items"]).to_numpy().astype(np.int64)
        ends = total + np.cumsum(lengths)
        if len(ends):
            total = int(ends[-1])
        h.update(np.ascontiguousarray(ends, dtype="<i8").tobytes())
        all_lengths.append(lengths)
    for f in files:
        items = pads.dataset(f, filesystem=fs, format="parquet").to_table(columns=["items"])["items"]
        flat = pc.list_flatten(items)
        h.update(np.ascontiguousarray(vocab.codes(ids_of(flat, kind)), dtype="<i4").tobytes())
    lengths = np.concatenate(all_lengths) if all_lengths else np.zeros(0, np.int64)
    return "sha256:" + h.hexdigest(), lengths
