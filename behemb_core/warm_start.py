"""Warm-started retrains: start a fit from a stored version's vectors, and stop it when the loss stops improving.

A method that can warm-start (``MethodSpec.warm_start``) gets the stored vectors in ``TrainingInputs.warm_start``;
:func:`warm_rows` lines them up with the items of the new fit — items the base has start from its vector, new items
from the method's usual random start — and refuses a base of another dimension or one that shares no item with the
new catalogue (partial overlap is the normal case: catalogues churn).

:class:`EarlyStop` is the stopping rule both iterative fits use, warm or cold: after at least ``min_epochs`` epochs,
stop once the loss improved by less than ``tol`` (relative) over the last ``patience`` epochs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .embeddings import ItemEmbeddings
from .errors import ConfigError
from .vocab import Vocabulary


@dataclass(frozen=True)
class EarlyStop:
    """Stop when the relative improvement of the loss over ``patience`` epochs falls below ``tol``, never before
    ``min_epochs`` epochs (and never after ``max_epochs``). ``tol = 0`` never stops early."""

    max_epochs: int
    min_epochs: int = 1
    tol: float = 0.0
    patience: int = 1

    def should_stop(self, losses: list[float]) -> bool:
        """Whether to stop after the epochs whose losses are ``losses`` (one per epoch run so far)."""
        done = len(losses)
        if done >= self.max_epochs:
            return True
        if self.tol <= 0 or done < max(self.min_epochs, self.patience + 1):
            return False
        before, now = losses[-1 - self.patience], losses[-1]
        if not (np.isfinite(before) and np.isfinite(now)) or before == 0:
            return False
        return (before - now) / abs(before) < self.tol


@dataclass(frozen=True)
class WarmRows:
    """The base vectors of the items a fit shares with its warm-start base: ``codes`` are rows of the fit
    (ascending), ``vectors`` their base vectors (unit rows, float32)."""

    codes: np.ndarray
    vectors: np.ndarray
    n_items: int

    @property
    def reused(self) -> int:
        return int(len(self.codes))

    @property
    def new(self) -> int:
        return int(self.n_items - len(self.codes))

    def record(self) -> dict[str, int]:
        """What a fit report says about it: ``items_reused`` and ``items_new``."""
        return {"items_reused": self.reused, "items_new": self.new}


def warm_rows(vocab: Vocabulary, base: ItemEmbeddings, dim: int, *, method: str, what: str = "the base version"
              ) -> WarmRows:
    """Line ``base`` up with the items ``vocab`` of a new fit of dimension ``dim``.

    Refused (:class:`~behemb_core.errors.ConfigError`) when the dimensions differ or when no item is shared —
    a base trained on another catalogue would start nothing and only pretend to be a retrain."""
    if base.dim != dim:
        raise ConfigError(
            f"{method}: cannot warm-start from {what}: it has {base.dim} dimensions, this fit {dim}; train with "
            f"dim={base.dim} or without a warm start"
        )
    try:
        at = base.vocab.codes(vocab.ids)
    except (TypeError, ValueError):  # ids of kinds that cannot be compared: nothing is shared
        at = np.full(len(vocab), -1, dtype=np.int64)
    codes = np.flatnonzero(at >= 0)
    if len(codes) == 0:
        raise ConfigError(
            f"{method}: cannot warm-start from {what}: it shares no item with this catalogue ({len(base):,} items "
            f"there, {len(vocab):,} here) — it was trained on another catalogue; train without a warm start"
        )
    return WarmRows(codes=codes, vectors=np.asarray(base.vectors[at[codes]], dtype=np.float32), n_items=len(vocab))


__all__ = ["EarlyStop", "WarmRows", "warm_rows"]
