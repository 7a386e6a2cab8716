"""Sessions in compressed form, the rules that clean them, and their canonical fingerprint.

A :class:`Sessions` object stores all sessions as one CSR-like pair of arrays (``indptr``, ``codes``): the items
of session ``s`` are ``codes[indptr[s]:indptr[s+1]]``, coded through one sorted :class:`Vocabulary`. Nothing
loops over sessions or events in Python; every rule below is a vectorised mask over the flat arrays.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from .vocab import Vocabulary


class SessionOptions(BaseModel):
    """How raw interactions become training sessions (recorded in every version's manifest)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gap_minutes: float = Field(
        30.0, title="Inactivity gap (minutes)",
        gt=0, description="Event logs: a new session starts after this much inactivity of one user."
    )
    use_session_column: bool = Field(
        True, title="Use the session column",
        description="Event logs with a session column: group by it (within one user) instead of the gap."
    )
    collapse_repeats: bool = Field(
        True, title="Collapse repeats",
        description="Collapse consecutive repeats of the same item within a session (A A B -> A B)."
    )
    min_count: int = Field(1, title="Minimum item count",
        ge=1, description="Drop items seen fewer times than this (after collapsing).")
    min_length: int = Field(2, title="Minimum session length",
        ge=1, description="Drop sessions shorter than this (after the item filter).")
    max_length: int = Field(
        1000, title="Maximum session length",
        ge=2,
        le=10_000,
        description="Split longer sessions into chunks of at most this many items "
        "(gensim silently truncates sentences beyond 10,000 tokens).",
    )


@dataclass(frozen=True)
class Sessions:
    """Cleaned sessions: a vocabulary plus flat, CSR-style arrays.

    ``session_ids`` are strings; ``users`` (per session, normalised ids) and ``start_times`` (per session,
    int64 nanoseconds since the epoch) are present when the input had them.
    """

    vocab: Vocabulary
    indptr: np.ndarray
    codes: np.ndarray
    session_ids: np.ndarray
    users: np.ndarray | None = None
    start_times: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.indptr) - 1
        assert self.indptr[0] == 0 and self.indptr[-1] == len(self.codes)
        assert len(self.session_ids) == n
        assert self.users is None or len(self.users) == n
        assert self.start_times is None or len(self.start_times) == n

    @property
    def n_sessions(self) -> int:
        return len(self.indptr) - 1

    @property
    def n_events(self) -> int:
        return len(self.codes)

    @property
    def n_items(self) -> int:
        return len(self.vocab)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.indptr)

    def item_counts(self) -> np.ndarray:
        """Events per item, in code order."""
        return np.bincount(self.codes, minlength=len(self.vocab)).astype(np.int64)

    def item_session_counts(self) -> np.ndarray:
        """Number of distinct sessions containing each item, in code order."""
        n = len(self.vocab)
        key = self.session_of_event() * n + self.codes
        key.sort()  # in place; numpy's hash-based np.unique is ~10x slower on millions of int64 keys
        first = np.ones(len(key), dtype=bool)
        first[1:] = key[1:] != key[:-1]
        return np.bincount(key[first] % n, minlength=n).astype(np.int64)

    def item_stats(self) -> pd.DataFrame:
        """Training popularity per item: ``item_id``, ``events``, ``sessions``."""
        return pd.DataFrame(
            {"item_id": self.vocab.ids, "events": self.item_counts(), "sessions": self.item_session_counts()}
        )

    def session_of_event(self) -> np.ndarray:
        """For every event, the index of its session."""
        return np.repeat(np.arange(self.n_sessions, dtype=np.int64), self.lengths)

    def to_lists(self) -> list[list]:
        """All sessions as Python lists of ids (tests and small data only)."""
        ids = self.vocab.take(self.codes).tolist()
        return [ids[a:b] for a, b in zip(self.indptr[:-1].tolist(), self.indptr[1:].tolist(), strict=True)]

    def select(self, mask: np.ndarray) -> Sessions:
        """Sessions where ``mask`` is true, vocabulary unchanged (so codes stay comparable)."""
        keep = np.flatnonzero(mask)
        lengths = self.lengths[keep]
        indptr = np.zeros(len(keep) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        ev = np.repeat(mask, self.lengths)
        return Sessions(
            vocab=self.vocab,
            indptr=indptr,
            codes=self.codes[ev],
            session_ids=self.session_ids[keep],
            users=None if self.users is None else self.users[keep],
            start_times=None if self.start_times is None else self.start_times[keep],
        )

    def fingerprint(self) -> str:
        """sha256 of the canonical sessions: the same sessions give the same hash whatever file they came from.

        It covers the item ids (the vocabulary is sorted, so codes are canonical), the session boundaries and
        the item sequence, in session order. Session ids, users and times do not enter it.
        """
        h = hashlib.sha256()
        h.update(b"behemb-sessions-v1\0")
        h.update(self.vocab.kind.encode())
        if self.vocab.kind == "int":
            h.update(np.ascontiguousarray(self.vocab.ids, dtype="<i8").tobytes())
        else:
            h.update("\x1f".join(self.vocab.ids.tolist()).encode("utf-8"))
        h.update(b"\0")
        h.update(np.ascontiguousarray(self.indptr, dtype="<i8").tobytes())
        h.update(np.ascontiguousarray(self.codes, dtype="<i4").tobytes())
        return "sha256:" + h.hexdigest()


@dataclass
class DropLog:
    """Counts of events (or rows) removed by each rule; nothing is dropped without a line here."""

    counts: Counter = field(default_factory=Counter)
    notes: Counter = field(default_factory=Counter)

    def add(self, reason: str, n: int) -> None:
        if n:
            self.counts[reason] += int(n)

    def note(self, what: str, n: int) -> None:
        """Count something that changed the data without removing events (e.g. sessions split)."""
        if n:
            self.notes[what] += int(n)

    def as_dict(self) -> dict[str, int]:
        return {k: int(v) for k, v in sorted(self.counts.items(), key=lambda kv: -kv[1])}


@dataclass(frozen=True)
class RawSessions:
    """Sessions before cleaning: per-event item ids (normalised) in session order, plus session boundaries."""

    indptr: np.ndarray
    item_ids: np.ndarray
    session_ids: np.ndarray
    users: np.ndarray | None = None
    start_times: np.ndarray | None = None


def _compact(indptr: np.ndarray, keep_event: np.ndarray) -> np.ndarray:
    """New indptr after removing events where ``keep_event`` is false (sessions may become empty)."""
    kept_before = np.concatenate(([0], np.cumsum(keep_event, dtype=np.int64)))
    return kept_before[indptr]


def build_sessions(raw: RawSessions, options: SessionOptions, drops: DropLog) -> Sessions:
    """Apply the cleaning rules in a fixed, documented order and return canonical :class:`Sessions`.

    Order: collapse consecutive repeats → drop items rarer than ``min_count`` → split sessions longer than
    ``max_length`` into chunks → drop sessions shorter than ``min_length``. Every removed event is counted in
    ``drops`` under its reason.
    """
    vocab, codes = Vocabulary.from_codes(raw.item_ids)
    indptr = raw.indptr.astype(np.int64, copy=False)
    session_ids, users, starts = raw.session_ids, raw.users, raw.start_times
    n_sess = len(indptr) - 1
    sess_of = np.repeat(np.arange(n_sess, dtype=np.int64), np.diff(indptr))

    if options.collapse_repeats and len(codes) > 1:
        dup = np.zeros(len(codes), dtype=bool)
        dup[1:] = (codes[1:] == codes[:-1]) & (sess_of[1:] == sess_of[:-1])
        drops.add("consecutive repeat collapsed", int(dup.sum()))
        keep = ~dup
        codes, sess_of, indptr = codes[keep], sess_of[keep], _compact(indptr, keep)

    if options.min_count > 1:
        counts = np.bincount(codes, minlength=len(vocab))
        keep = counts[codes] >= options.min_count
        drops.add(f"item seen fewer than min_count={options.min_count} times", int((~keep).sum()))
        codes, sess_of, indptr = codes[keep], sess_of[keep], _compact(indptr, keep)

    lengths = np.diff(indptr)
    if (lengths > options.max_length).any():
        # Position of each event inside its session, then chunk number = position // max_length.
        pos = np.arange(len(codes), dtype=np.int64) - np.repeat(indptr[:-1], lengths)
        chunk = pos // options.max_length
        n_chunks = np.maximum(1, -(-lengths // options.max_length))
        parent = np.repeat(np.arange(len(lengths)), n_chunks)
        chunk_no = np.arange(len(parent)) - np.repeat(np.cumsum(n_chunks) - n_chunks, n_chunks)
        new_lengths = np.minimum(
            options.max_length, np.repeat(lengths, n_chunks) - chunk_no * options.max_length
        )
        new_lengths = np.maximum(new_lengths, 0)
        indptr = np.concatenate(([0], np.cumsum(new_lengths)))
        suffix = np.where(chunk_no > 0, np.char.add("#", (chunk_no + 1).astype(str)), "")
        session_ids = np.char.add(session_ids[parent].astype(str), suffix).astype(object)
        users = None if users is None else users[parent]
        starts = None if starts is None else starts[parent]
        drops.note(f"sessions split at max_length={options.max_length}", int((n_chunks > 1).sum()))
        del chunk, pos

    lengths = np.diff(indptr)
    short = lengths < options.min_length
    if short.any():
        ev_short = np.repeat(short, lengths)
        drops.add(f"session shorter than min_length={options.min_length}", int(ev_short.sum()))
        keep_s = ~short
        codes = codes[~ev_short]
        indptr = np.concatenate(([0], np.cumsum(lengths[keep_s])))
        session_ids = session_ids[keep_s]
        users = None if users is None else users[keep_s]
        starts = None if starts is None else starts[keep_s]

    # Compact the vocabulary to the items that survived, so every item has at least one event.
    present = np.bincount(codes, minlength=len(vocab)) > 0
    if not present.all():
        remap = np.cumsum(present) - 1
        codes = remap[codes]
        vocab = vocab.subset(np.flatnonzero(present))
    return Sessions(
        vocab=vocab,
        indptr=indptr.astype(np.int64),
        codes=codes.astype(np.int32),
        session_ids=np.asarray(session_ids, dtype=object),
        users=users,
        start_times=starts,
    )
