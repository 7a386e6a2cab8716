"""What every embedding method shares: the config base class, the inputs a fit receives, the method spec."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..embeddings import FitResult, ItemEmbeddings
from ..metadata import ItemMetadata
from ..progress import ProgressCallback
from ..sessions import Sessions
from ..vocab import Vocabulary


class MethodConfig(BaseModel):
    """Base of every method's config: validated, JSON round-trippable, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dim: int = Field(128, title="Dimensions", ge=2, le=2048, description="Vector dimension.")


@dataclass(frozen=True)
class ContentVectors:
    """Content vectors for items (any dimension), from a user table or from item text."""

    vocab: Vocabulary
    vectors: np.ndarray
    origin: str = "table"


@dataclass(frozen=True)
class TrainingInputs:
    """Everything a fit may use. Behaviour methods need ``sessions``; fusion also uses ``base``, ``content``
    and ``item_meta`` (whose text becomes content vectors when no content table is given)."""

    sessions: Sessions | None = None
    content: ContentVectors | None = None
    item_meta: ItemMetadata | None = None
    base: ItemEmbeddings | None = None
    base_version: str | None = None


# fit(inputs: TrainingInputs, config, *, seed: int, progress: ProgressCallback | None) -> FitResult
FitFunction = Callable[..., FitResult]


@dataclass(frozen=True)
class MethodSpec:
    """One registry entry: canonical name, config class, fit function and a one-line description."""

    name: str
    title: str
    config_class: type[MethodConfig]
    fit: FitFunction
    description: str
    version_prefix: str

    def parse_config(self, values: dict[str, Any] | None = None) -> MethodConfig:
        from .registry import parse_config

        return parse_config(self.name, values or {})


__all__ = ["MethodConfig", "ContentVectors", "TrainingInputs", "MethodSpec", "ProgressCallback"]


def require_sessions(inputs: TrainingInputs, method: str) -> Sessions:
    """The sessions of ``inputs``, or a clear error when a behaviour method gets none."""
    from ..errors import ConfigError

    if inputs.sessions is None or inputs.sessions.n_events == 0:
        raise ConfigError(f"{method} learns from sessions, but no sessions were given (or none survived cleaning)")
    return inputs.sessions
