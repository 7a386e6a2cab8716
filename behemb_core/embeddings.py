"""The one result type every method returns: item id → L2-normalised float32 vector, with its provenance."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import FitError
from .vocab import Vocabulary

SOURCES = ("behavior", "fused", "content_only")


@dataclass(frozen=True)
class ItemEmbeddings:
    """Vectors for the items of ``vocab`` (row ``i`` belongs to ``vocab.ids[i]``).

    ``source`` says where each row came from: ``behavior`` (learned from sessions), ``fused`` (behavior and
    content) or ``content_only`` (cold start: mapped content vector). ``behavior_version`` names the stored
    version the behavior vectors came from, when they came from one (fusion over an existing version).
    """

    vocab: Vocabulary
    vectors: np.ndarray
    source: np.ndarray
    behavior_version: str | None = None

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.vocab)

    def vector(self, item_id: Any) -> np.ndarray:
        return self.vectors[self.vocab.code(item_id)]


@dataclass(frozen=True)
class DirectionalPair:
    """The "next item" tables beside a symmetric one: query vectors ``Q`` and candidate vectors ``K`` (unit rows,
    float32, ``n × dim``), row ``i`` of both belonging to row ``i`` of the symmetric embeddings. The items people
    go on to *after* item ``a`` are ranked by ``Q_a · K_b`` — an ANN index is built over ``K`` and queried with
    ``Q``. ``alpha`` is the share of the forward co-occurrence (b after a) in the target they were fitted to, the
    rest being the symmetric one."""

    query: np.ndarray
    candidate: np.ndarray
    alpha: float

    def __post_init__(self) -> None:
        q, k = self.query, self.candidate
        if q.ndim != 2 or q.shape != k.shape:
            raise FitError(f"a directional pair needs Q and K of one shape, got {q.shape} and {k.shape}")
        for name, x in (("query", q), ("candidate", k)):
            if x.dtype != np.float32 or not np.isfinite(x).all():
                raise FitError(f"directional {name} vectors must be finite float32")
            norms = np.linalg.norm(x, axis=1)
            if len(norms) and np.abs(norms - 1).max() > 1e-3:
                raise FitError(f"directional {name} vectors are not L2-normalised (norms from {norms.min():.4f} "
                               f"to {norms.max():.4f})")
        if not 0.0 <= float(self.alpha) <= 1.0:
            raise FitError(f"directional alpha must be within [0, 1], got {self.alpha}")


@dataclass
class FitResult:
    """What a fit returns: the embeddings, a JSON-able report (stats, dropped items, per-epoch losses) and, when
    the method fitted them, the directional "next item" tables aligned with the embeddings' rows."""

    embeddings: ItemEmbeddings
    report: dict[str, Any] = field(default_factory=dict)
    directional: DirectionalPair | None = None


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Row-normalise in float32; zero rows stay zero (the post-condition check catches them)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    np.divide(x, norms, out=x, where=norms > 0)
    return x


def make_embeddings(
    vocab: Vocabulary,
    vectors: np.ndarray,
    *,
    source: np.ndarray | str = "behavior",
    behavior_version: str | None = None,
    expected_dim: int | None = None,
    method: str = "",
) -> ItemEmbeddings:
    """Normalise, check the post-conditions, and wrap; raise :class:`FitError` instead of returning junk."""
    vectors = l2_normalize(np.array(vectors, dtype=np.float32, copy=True))
    if isinstance(source, str):
        source = np.full(len(vocab), source, dtype=object)
    emb = ItemEmbeddings(vocab=vocab, vectors=vectors, source=np.asarray(source, dtype=object),
                         behavior_version=behavior_version)
    check_embeddings(emb, expected_dim=expected_dim, method=method)
    return emb


def check_embeddings(emb: ItemEmbeddings, *, expected_dim: int | None = None, method: str = "") -> None:
    """Post-conditions of every fit: shape, finite values, no zero rows, unit norm, unique ids, known sources."""
    who = f"{method}: " if method else ""
    v = emb.vectors
    if v.ndim != 2 or v.shape[0] != len(emb.vocab):
        raise FitError(f"{who}expected a {len(emb.vocab)} x d matrix, got shape {v.shape}")
    if v.shape[0] == 0:
        raise FitError(f"{who}no item received a vector (is the training data empty after cleaning?)")
    if expected_dim is not None and v.shape[1] != expected_dim:
        raise FitError(f"{who}expected dimension {expected_dim}, got {v.shape[1]}")
    if v.dtype != np.float32:
        raise FitError(f"{who}expected float32 vectors, got {v.dtype}")
    bad = ~np.isfinite(v).all(axis=1)
    if bad.any():
        ids = emb.vocab.take(np.flatnonzero(bad)[:5]).tolist()
        raise FitError(f"{who}{int(bad.sum())} vectors contain NaN/inf (e.g. items {ids})")
    norms = np.linalg.norm(v, axis=1)
    zero = norms < 1e-6
    if zero.any():
        ids = emb.vocab.take(np.flatnonzero(zero)[:5]).tolist()
        raise FitError(f"{who}{int(zero.sum())} vectors are zero (e.g. items {ids})")
    if not np.allclose(norms, 1.0, atol=1e-3):
        raise FitError(f"{who}vectors are not L2-normalised (norms from {norms.min():.4f} to {norms.max():.4f})")
    if len(emb.source) != len(emb.vocab) or not set(np.unique(emb.source).tolist()) <= set(SOURCES):
        raise FitError(f"{who}source column must hold one of {SOURCES} per item")
