"""Item ids and the one object that maps them to row indices.

Item ids are kept as given: integers stay integers, catalogue codes such as ``85123A`` stay strings. A column of
ids is *normalised* once at the boundary (:func:`normalize_ids`): if every value is a canonical integer (``"12"``,
not ``"012"`` or ``"12.0"``) the column becomes ``int64``, otherwise every value becomes a string. The same rule
applies to sessions, event logs, item metadata, content vectors and ids typed on the command line, so the same
item always has the same id wherever it came from.

A :class:`Vocabulary` is sorted, which makes item codes canonical: the same set of items always gets the same
codes, whatever order the input listed them in.

Two id sets meet by their text: an integer vocabulary looked up with strings finds ``"12"`` (never ``"012"``),
a string vocabulary looked up with integers finds ``12`` as ``"12"``. :meth:`Vocabulary.union` and
:meth:`Vocabulary.align` apply the same rule to two whole vocabularies (versions, behavior and content
vectors, projections), so every module that lines up two catalogues agrees on which items are the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError

#: An id in its canonical integer form (no sign but ``-``, no leading zero, fits int64): read as an integer.
CANONICAL_INT = r"^-?(?:0|[1-9][0-9]{0,17})$"


def normalize_ids(values: Any, *, what: str = "item id") -> np.ndarray:
    """Return ids as an ``int64`` array when all are canonical integers, else as an ``object`` array of ``str``.

    Missing values (None/NaN/empty string) are an error here: callers drop or report them before.
    Floats that are whole numbers (``17850.0``, as pandas writes integer columns with gaps) become integers.
    """
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        return values.astype(np.int64, copy=False)
    s = pd.Series(values) if not isinstance(values, pd.Series) else values
    if s.dtype.kind in "iu":
        return s.to_numpy(dtype=np.int64)
    if s.dtype.kind == "b":
        raise InputError(f"{what}s must be integers or strings, got booleans")
    if s.dtype.kind == "f":
        arr = s.to_numpy()
        if np.isnan(arr).any():
            raise InputError(f"{what} is missing (NaN)")
        if np.all(np.mod(arr, 1) == 0) and np.all(np.abs(arr) < 2**53):
            return arr.astype(np.int64)
        return _as_str_array(s)
    strs = _as_str_array(s)
    if len(strs) and pd.Series(strs).str.fullmatch(CANONICAL_INT).all():
        return pd.Series(strs).astype(np.int64).to_numpy()
    return strs


def _as_str_array(s: pd.Series) -> np.ndarray:
    if s.isna().any():
        raise InputError(f"an id is missing at position {int(np.flatnonzero(s.isna().to_numpy())[0])}")
    # Whole-number floats mixed into object columns (e.g. 12.0) print as "12" so they match integer ids.
    def fmt(v: Any) -> str:
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        if isinstance(v, (bytes, bytearray)):
            return v.decode("utf-8")
        return str(v)

    if s.dtype == object:
        out = np.array([fmt(v) for v in s.tolist()], dtype=object)
    else:
        out = s.astype(str).to_numpy(dtype=object)
    return out


def parse_id_like(text: str, kind: str) -> int | str:
    """Interpret an id typed by a user (CLI, search box) in the id kind of a vocabulary (``"int"``/``"str"``)."""
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            return text
    return str(text)


class Vocabulary:
    """Sorted, unique item ids and their row indices (codes).

    All modules exchange item *ids* through this object; bare row indices never leave the module that owns
    the array they index.
    """

    __slots__ = ("_ids", "_index")

    def __init__(self, ids: Sequence[Any] | np.ndarray, *, assume_sorted_unique: bool = False) -> None:
        arr = ids if isinstance(ids, np.ndarray) else normalize_ids(list(ids))
        if arr.dtype.kind not in "iO":
            arr = normalize_ids(arr)
        if not assume_sorted_unique:
            arr = np.unique(arr) if arr.dtype.kind == "i" else np.array(sorted(set(arr.tolist())), dtype=object)
        self._ids = arr
        self._ids.setflags(write=False)
        self._index = pd.Index(arr)

    @classmethod
    def from_codes(cls, ids: np.ndarray) -> tuple[Vocabulary, np.ndarray]:
        """Build a vocabulary from a column of (normalised) ids and return it with the column's codes."""
        # Hash-based factorize, then sorting only the uniques (np.unique would sort the whole column).
        codes, uniq = pd.factorize(ids, sort=True)
        uniq = np.asarray(uniq, dtype=np.int64 if ids.dtype.kind == "i" else object)
        return cls(uniq, assume_sorted_unique=True), codes.astype(np.int32, copy=False)

    @property
    def ids(self) -> np.ndarray:
        """The ids in code order (read-only)."""
        return self._ids

    @property
    def kind(self) -> str:
        """``"int"`` when ids are integers, ``"str"`` otherwise."""
        return "int" if self._ids.dtype.kind == "i" else "str"

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and len(self) == len(other) and bool(
            np.array_equal(self._ids, other._ids)
        )

    def __hash__(self) -> int:  # pragma: no cover - vocabularies are not used as dict keys
        return hash((len(self), self.kind))

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} {self.kind} ids)"

    def codes(self, ids: Iterable[Any] | np.ndarray, *, missing: int = -1) -> np.ndarray:
        """Codes of ``ids``; ids not in the vocabulary get ``missing`` (default -1)."""
        arr = ids if isinstance(ids, np.ndarray) else np.asarray(list(ids), dtype=object)
        if len(arr) == 0:
            return np.zeros(0, dtype=np.int64)
        if arr.dtype.kind in "OU" and self.kind == "int":
            text = pd.Series(arr).astype(str)
            ok = text.str.fullmatch(CANONICAL_INT).to_numpy()
            out = np.full(len(arr), missing, dtype=np.int64)
            found = self._index.get_indexer(text[ok].astype(np.int64).to_numpy())
            found[found < 0] = missing
            out[ok] = found
            return out
        if arr.dtype.kind in "iu" and self.kind == "str":
            arr = arr.astype(str).astype(object)
        out = self._index.get_indexer(arr).astype(np.int64)
        if missing != -1:
            out[out < 0] = missing
        return out

    def code(self, item_id: Any) -> int:
        """Code of one id; raises ``KeyError`` naming the id when it is unknown."""
        c = int(self.codes(np.asarray([item_id], dtype=object))[0])
        if c < 0:
            raise KeyError(f"item {item_id!r} is not in the vocabulary ({len(self)} items)")
        return c

    def take(self, codes: np.ndarray) -> np.ndarray:
        """Ids for an array of codes."""
        return self._ids[np.asarray(codes, dtype=np.int64)]

    def subset(self, codes: np.ndarray) -> Vocabulary:
        """A vocabulary of the given (sorted, unique) codes."""
        codes = np.asarray(codes, dtype=np.int64)
        return Vocabulary(self._ids[codes], assume_sorted_unique=bool(np.all(np.diff(codes) > 0)))

    def union(self, other: Vocabulary) -> Vocabulary:
        """The sorted vocabulary of the items in ``self`` or ``other``.

        Two vocabularies of one kind keep it. An integer and a string vocabulary are united by the ids' text
        (``12`` and ``"12"`` are one item) and the texts are normalised as any id column is
        (:func:`normalize_ids`): strings, unless every one is a canonical integer.
        """
        if self.kind == other.kind:
            return Vocabulary(np.concatenate([self._ids, other._ids]))
        return Vocabulary(normalize_ids(np.concatenate([_texts(self._ids), _texts(other._ids)])))

    def align(self, other: Vocabulary) -> VocabAlignment:
        """``self`` and ``other`` on their :meth:`union`: where each item of either lands, and which are shared."""
        universe = self.union(other)
        return VocabAlignment(universe, universe.codes(self._ids), universe.codes(other._ids))


def _texts(ids: np.ndarray) -> np.ndarray:
    return ids.astype(str).astype(object) if ids.dtype.kind != "O" else ids


@dataclass(frozen=True)
class VocabAlignment:
    """Two vocabularies (``left``, ``right``) lined up on their union (:meth:`Vocabulary.align`).

    ``left_codes[i]`` is the code in ``universe`` of ``left``'s item ``i`` (likewise ``right_codes``); every item
    of both is in the universe, so neither array holds ``-1``.
    """

    universe: Vocabulary
    left_codes: np.ndarray
    right_codes: np.ndarray

    def right_of_left(self) -> np.ndarray:
        """For each of ``left``'s items, its code in ``right``, or ``-1`` when ``right`` lacks it."""
        where = np.full(len(self.universe), -1, dtype=np.int64)
        where[self.right_codes] = np.arange(len(self.right_codes))
        return where[self.left_codes]

    def shared(self) -> tuple[np.ndarray, np.ndarray]:
        """Codes in ``left`` and in ``right`` of the items both hold, in ``left``'s code order."""
        in_right = self.right_of_left()
        left = np.flatnonzero(in_right >= 0)
        return left, in_right[left]

    def only_left(self) -> np.ndarray:
        """Codes in ``left`` of the items ``right`` lacks (ascending)."""
        return np.flatnonzero(self.right_of_left() < 0)

    def only_right(self) -> np.ndarray:
        """Codes in ``right`` of the items ``left`` lacks (ascending)."""
        in_left = np.zeros(len(self.universe), dtype=bool)
        in_left[self.left_codes] = True
        return np.flatnonzero(~in_left[self.right_codes])
