"""Why are two items neighbors? Direct evidence from the sessions, for people who must trust the list.

For a query item and each of its neighbors: the co-occurrence count (within the window), the number of
distinct sessions that contain both, their PPMI, and a few example sessions. A neighbor with **no direct
co-occurrence** comes only from the embedding's smoothing (shared neighbors of neighbors): sometimes a good
generalisation, sometimes junk — it is flagged so a human looks.

Evidence only means something over the version's **own training data**: :func:`explain_version` compares the
fingerprint the manifest records with the sessions given and refuses to count over other data (zero counts over
another catalogue would read as "no support"); :func:`evidence_plan` decides the window, so the CLI and the app
count alike.

The "next item" mode (``mode="next"``, a version with directional tables) lists the items people go on to after
the query (:func:`~.neighbors.next_item_neighbors`), and its evidence is the **forward** co-occurrence
(:class:`ForwardEvidence`): how often the neighbor came *after* the query within the window, weighted by distance
as the method weights its pairs and as a raw count, next to how often it came before. A neighbor that never came
after the query is the one flagged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from .cooccurrence import Weighting, count_cooccurrence, count_pairs, forward_from_pairs, ppmi
from .embeddings import DirectionalPair, ItemEmbeddings
from .errors import ConfigError
from .methods.registry import get_method
from .neighbors import next_item_neighbors, require_next_tables, top_k_neighbors
from .sessions import Sessions
from .vocab import parse_id_like

#: Window for versions whose config has none (e.g. fusion): the skip-gram default.
DEFAULT_EVIDENCE_WINDOW = 5

#: Which list the evidence is for: "also" (the symmetric neighbors) or "next" (what people go on to after the item).
ExplainMode = Literal["also", "next"]


@dataclass(frozen=True)
class Evidence:
    """Co-occurrence counts, PPMI and an item → sessions index over one set of sessions (built once)."""

    sessions: Sessions
    counts: sp.csr_matrix
    pmi: sp.csr_matrix
    item_sessions: sp.csr_matrix  # item × session incidence (sorted session indices per row)
    window: int

    @classmethod
    def build(cls, sessions: Sessions, *, window: int = 5, alpha: float = 0.75) -> Evidence:
        counts = count_cooccurrence(sessions, window=window)
        inc = sp.csr_matrix(
            (np.ones(sessions.n_events, dtype=np.int8), (sessions.codes, sessions.session_of_event())),
            shape=(sessions.n_items, sessions.n_sessions),
        )
        inc.sum_duplicates()
        inc.sort_indices()
        return cls(sessions=sessions, counts=counts, pmi=ppmi(counts, alpha=alpha), item_sessions=inc, window=window)

    def _sessions_of(self, code: int) -> np.ndarray:
        return self.item_sessions.indices[self.item_sessions.indptr[code] : self.item_sessions.indptr[code + 1]]

    def pair(self, a_id: Any, b_id: Any, *, examples: int = 3, names: dict | None = None) -> dict[str, Any]:
        """Evidence for one pair of item ids (items unknown to the sessions have zero evidence)."""
        vocab = self.sessions.vocab
        a = int(vocab.codes(np.asarray([a_id], dtype=object))[0])
        b = int(vocab.codes(np.asarray([b_id], dtype=object))[0])
        out: dict[str, Any] = {"cooccurrences": 0.0, "sessions_together": 0, "ppmi": 0.0, "examples": []}
        if a < 0 or b < 0:
            out["no_direct_support"] = True
            return out
        both = np.intersect1d(self._sessions_of(a), self._sessions_of(b), assume_unique=True)
        out["cooccurrences"] = float(self.counts[a, b])
        out["sessions_together"] = int(len(both))
        out["ppmi"] = round(float(self.pmi[a, b]), 4)
        out["no_direct_support"] = bool(len(both) == 0)
        for s in both[:examples].tolist():
            start, end = int(self.sessions.indptr[s]), int(self.sessions.indptr[s + 1])
            codes = self.sessions.codes[start:end]
            # Show the stretch of the session around the two items (at most 15 items), marking both.
            pos = np.flatnonzero((codes == a) | (codes == b))
            lo = max(0, int(pos.min()) - 3)
            hi = min(len(codes), max(int(pos.max()) + 4, lo + 5), lo + 15)
            ids = vocab.take(codes[lo:hi]).tolist()
            out["examples"].append(
                {
                    "session_id": str(self.sessions.session_ids[s]),
                    "length": int(len(codes)),
                    "from_position": lo,
                    "items": [
                        {"item_id": i, "name": names.get(i, "") if names else "",
                         "is_pair": bool(c in (a, b))}
                        for i, c in zip(ids, codes[lo:hi].tolist(), strict=True)
                    ],
                }
            )
        return out


@dataclass(frozen=True)
class ForwardEvidence:
    """Ordered co-occurrence over one set of sessions: for items ``a`` then ``b`` (``b`` within ``window``
    positions after ``a``; 0 = anywhere later in the session), ``weighted[a, b]`` — the forward counts ``F`` as
    the method weighs its pairs (``weighting`` by distance, :func:`~.cooccurrence.forward_from_pairs`) — and
    ``counts[a, b]``, how many times it happened. Pairs of an item with itself are not counted."""

    sessions: Sessions
    weighted: sp.csr_matrix
    counts: sp.csr_matrix
    window: int
    weighting: Weighting

    @classmethod
    def build(cls, sessions: Sessions, *, window: int = 5, weighting: Weighting = "uniform") -> ForwardEvidence:
        pairs = count_pairs(sessions, window=window, weighting=weighting, directed=True)
        n = pairs.n_items
        first, then = np.divmod(pairs.keys // pairs.n_offsets, n) if n else (pairs.keys, pairs.keys)
        raw = sp.csr_matrix((pairs.counts.astype(np.float64), (first, then)), shape=(n, n))
        raw.sum_duplicates()  # one entry per pair (a table with offsets has one key per distance)
        return cls(sessions=sessions, weighted=forward_from_pairs(pairs), counts=raw, window=window,
                   weighting=weighting)

    def pair(self, a_id: Any, b_id: Any) -> dict[str, Any]:
        """``b`` after ``a``: ``forward`` (weighted), ``forward_count`` and ``backward_count`` (``a`` after ``b``,
        for contrast); all zero for items the sessions do not know."""
        codes = self.sessions.vocab.codes(np.asarray([a_id, b_id], dtype=object))
        a, b = int(codes[0]), int(codes[1])
        if a < 0 or b < 0:
            return {"forward": 0.0, "forward_count": 0, "backward_count": 0}
        return {"forward": round(float(self.weighted[a, b]), 6), "forward_count": int(self.counts[a, b]),
                "backward_count": int(self.counts[b, a])}


def _neighbor_rows(
    emb: ItemEmbeddings, item_id: Any, k: int, names: np.ndarray | None, pair: DirectionalPair | None = None
) -> tuple[Any, list[dict[str, Any]], dict | None]:
    """The typed query id, its top-``k`` rows (rank, item_id, score, name) and the id → name map; with ``pair``
    the "next item" list (``Q_a · K_b``) instead of the symmetric one."""
    if isinstance(item_id, str):
        item_id = parse_id_like(item_id, emb.vocab.kind)
    name_of = dict(zip(emb.vocab.ids.tolist(), names.tolist(), strict=True)) if names is not None else None
    if pair is not None:
        return item_id, next_item_neighbors(emb, pair, item_id, k, names=names), name_of
    table = top_k_neighbors(emb, k, queries=np.array([emb.vocab.code(item_id)]))
    rows = []
    for rank, (c, score) in enumerate(zip(table.codes[0].tolist(), table.scores[0].tolist(), strict=True), start=1):
        if c < 0:
            break
        nid = emb.vocab.ids[c].item() if emb.vocab.kind == "int" else emb.vocab.ids[c]
        row = {"rank": rank, "item_id": nid, "score": round(float(score), 6)}
        if name_of is not None:
            row["name"] = name_of.get(nid, "")
        rows.append(row)
    return item_id, rows, name_of


def explain_neighbors(
    emb: ItemEmbeddings,
    evidence: Evidence,
    item_id: Any,
    *,
    k: int = 10,
    names: np.ndarray | None = None,
    examples: int = 3,
    forward: ForwardEvidence | None = None,
    pair: DirectionalPair | None = None,
) -> dict[str, Any]:
    """The top-``k`` neighbors of ``item_id`` in ``emb`` with the session evidence for each.

    ``names`` (aligned with ``emb.vocab``) label the query, the neighbors and the items of example sessions.

    With ``pair`` (a version's "next item" tables) the list is what people go on to after the item
    (``mode: "next"``) and ``forward`` — built over the same sessions — must be given: each row then adds
    ``forward``, ``forward_count`` and ``backward_count`` (:meth:`ForwardEvidence.pair`), and a neighbor is
    without direct support when it never came after the item within the window (it may still share sessions).
    """
    if pair is not None and forward is None:
        raise ValueError("the 'next item' evidence needs the forward counts (ForwardEvidence) of the sessions")
    item_id, rows, name_of = _neighbor_rows(emb, item_id, k, names, pair)
    for row in rows:
        row.update(evidence.pair(item_id, row["item_id"], examples=examples, names=name_of))
        if pair is not None and forward is not None:
            row.update(forward.pair(item_id, row["item_id"]))
            row["no_direct_support"] = row["forward_count"] == 0
    unsupported = sum(r["no_direct_support"] for r in rows)
    known = item_id in evidence.sessions.vocab
    query_sessions = int(len(evidence._sessions_of(evidence.sessions.vocab.code(item_id)))) if known else 0
    out: dict[str, Any] = {
        "query": {"item_id": item_id, "name": name_of.get(item_id, "") if name_of else None,
                  "sessions": query_sessions},
        "mode": "next" if pair is not None else "also",
        "window": evidence.window,
        "neighbors": rows,
        "without_direct_support": unsupported,
    }
    if pair is not None and forward is not None:
        out["weighting"] = forward.weighting
    return out


@dataclass(frozen=True)
class EvidencePlan:
    """Whether and how to count evidence for a version over some sessions (see :func:`evidence_plan`).

    ``source`` is ``"training_data"`` (the sessions' fingerprint is the one the version was trained on),
    ``"unverified"`` (the version records no training data, e.g. fusion: counted, with a note) or
    ``"other_data"`` (a different dataset: nothing is counted). ``note`` is the sentence to show, if any.
    ``weighting`` is how the method weighs a pair by distance (:func:`implied_weighting`): the forward evidence
    of the "next item" mode is weighted so.
    """

    window: int
    source: Literal["training_data", "unverified", "other_data"]
    note: str | None
    weighting: Weighting = "uniform"

    @property
    def usable(self) -> bool:
        return self.source != "other_data"


def implied_window(manifest: Mapping[str, Any]) -> int:
    """The co-occurrence window a version's config implies (its method's registry entry says which: 0 = the whole
    session, as for baskets), else :data:`DEFAULT_EVIDENCE_WINDOW` for a method that implies none or a config
    this library can no longer read. A version built on a stored base version (fusion) gets the default too: its
    config's base-method settings were not the ones the base was trained with."""
    try:
        spec = get_method(str(manifest.get("method")))
        config = spec.parse_config(dict(manifest.get("config") or {}))
        window = spec.cooc_window(config) if manifest.get("base_version") else spec.window_of(config)
    except ConfigError:
        window = None
    return DEFAULT_EVIDENCE_WINDOW if window is None else int(window)


def implied_weighting(manifest: Mapping[str, Any]) -> Weighting:
    """How a version's method weighs a pair by the distance between the items (its registry entry's target
    parameters), else ``"uniform"`` (a method without a target, a version built on a base version, a config this
    library can no longer read)."""
    try:
        spec = get_method(str(manifest.get("method")))
        if spec.target is None or manifest.get("base_version"):
            return "uniform"
        return spec.target(spec.parse_config(dict(manifest.get("config") or {}))).weighting
    except ConfigError:
        return "uniform"


def evidence_plan(manifest: Mapping[str, Any], fingerprint: str, *, mode: ExplainMode = "also") -> EvidencePlan:
    """The window (:func:`implied_window`) and whether sessions with ``fingerprint`` are the version's training
    data; for ``mode="next"`` also the method's distance weighting (:func:`implied_weighting`) of the forward
    counts."""
    if mode not in ("also", "next"):
        raise ConfigError(f"mode must be 'also' or 'next', got {mode!r}")
    window = implied_window(manifest)
    weighting = implied_weighting(manifest) if mode == "next" else "uniform"
    trained_on = (manifest.get("dataset") or {}).get("fingerprint")
    if not trained_on:
        return EvidencePlan(window, "unverified", "This version does not record its training data: the evidence "
                            "comes from the dataset in use, which may not be the data it learned from.", weighting)
    if trained_on != fingerprint:
        return EvidencePlan(window, "other_data", (
            f"The dataset in use (fingerprint {fingerprint[:19]}…) is not the one this version was trained on "
            f"({trained_on[:19]}…), so no co-occurrence evidence is shown: counts from other data would read as "
            "'no support'. Load the version's training data (Data page, or --input) to see its evidence."),
            weighting)
    return EvidencePlan(window, "training_data", None, weighting)


def explain_version(
    version: Any,
    sessions: Sessions,
    item_id: Any,
    *,
    k: int = 10,
    names: np.ndarray | None = None,
    examples: int = 3,
    evidence: Evidence | None = None,
    fingerprint: str | None = None,
    mode: ExplainMode = "also",
    forward: ForwardEvidence | None = None,
) -> dict[str, Any]:
    """:func:`explain_neighbors` for a stored version (``embeddings`` and ``manifest``; ``directional`` and ``name``
    for ``mode="next"``), counted only over its own training data.

    ``fingerprint`` of ``sessions`` may be passed when known (it is computed otherwise); ``evidence`` built over
    ``sessions`` with :func:`evidence_plan`'s window may be passed to reuse it, and so may ``forward`` (built with
    the plan's window and weighting) in the "next" mode. The report adds ``evidence_source`` and ``note`` (see
    :class:`EvidencePlan`). Over other data the neighbors are listed without any counts and
    ``without_direct_support`` is ``None``: not judged, never "all unsupported". ``mode="next"`` for a version
    without "next item" tables is a :class:`ConfigError` saying how to get them.
    """
    fp = fingerprint if fingerprint is not None else sessions.fingerprint()
    plan = evidence_plan(version.manifest or {}, fp, mode=mode)
    pair = None
    if mode == "next":
        pair = require_next_tables(getattr(version, "directional", None), getattr(version, "name", None))
    if not plan.usable:
        item_id, rows, name_of = _neighbor_rows(version.embeddings, item_id, k, names, pair)
        return {"query": {"item_id": item_id, "name": name_of.get(item_id, "") if name_of else None,
                          "sessions": None},
                "mode": mode, "window": plan.window, "neighbors": rows, "without_direct_support": None,
                "evidence_source": plan.source, "note": plan.note}
    if evidence is None or evidence.window != plan.window:
        evidence = Evidence.build(sessions, window=plan.window)
    if pair is not None and (forward is None or forward.window != plan.window
                             or forward.weighting != plan.weighting):
        forward = ForwardEvidence.build(sessions, window=plan.window, weighting=plan.weighting)
    report = explain_neighbors(version.embeddings, evidence, item_id, k=k, names=names, examples=examples,
                               forward=forward if pair is not None else None, pair=pair)
    return {**report, "evidence_source": plan.source, "note": plan.note}
