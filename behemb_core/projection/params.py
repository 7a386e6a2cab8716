"""The parameters a projection depends on: one validated config, passed whole, and all of it in the cache key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import ConfigError
from ..validation import problems


class ProjectionParams(BaseModel):
    """How a version's map is computed (UMAP settings, fit sample size, seed, placement batch).

    Validated like the method configs (unknown keys refused, bounds checked, JSON round trip), but strictly
    typed: ``True`` or ``5.0`` is not an integer here. Constructing it with a bad value raises
    :class:`~behemb_core.errors.ConfigError` naming every bad parameter and its value.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    n_neighbors: int = Field(15, ge=2, le=200, title="Neighbors (n_neighbors)",
                             description="Larger = more global structure, smaller = tighter local groups.")
    min_dist: float = Field(0.1, ge=0.0, le=1.0, title="Minimum distance (min_dist)",
                            description="How tightly points may pack together.")
    max_fit_items: int = Field(20_000, ge=10, le=10_000_000, title="Items in the fit (max)",
                               description="Larger catalogues are fitted on a popularity-stratified sample of this "
                               "many items; every other item is placed among its nearest fitted items.")
    seed: int = Field(0, ge=0, le=2**32 - 1, title="Seed")
    n_epochs: int | None = Field(None, ge=1, le=10_000, title="Epochs",
                                 description="UMAP's optimisation epochs; None = umap's default.")
    transform_chunk: int = Field(20_000, ge=1, le=10_000_000, title="Placement batch",
                                 description="Items placed onto the fitted map at a time.")

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigError(_describe(exc)) from None

    @field_validator("*", mode="before")
    @classmethod
    def _plain_numbers(cls, value: Any) -> Any:
        """numpy scalars count as the Python numbers they hold (bools stay refused)."""
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.floating):
            return float(value)
        return value

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (what the cache key hashes and the cache sidecar records)."""
        return self.model_dump(mode="json")


def as_params(params: ProjectionParams | Mapping[str, Any] | None) -> ProjectionParams:
    """``params`` as a :class:`ProjectionParams` (a mapping is validated; ``None`` means the defaults)."""
    if isinstance(params, ProjectionParams):
        return params
    if params is not None and not isinstance(params, Mapping):
        raise ConfigError(f"projection: parameters must be a ProjectionParams or a mapping, got {params!r}")
    return ProjectionParams(**dict(params or {}))


def _describe(exc: ValidationError) -> str:
    return "projection: invalid parameters: " + "; ".join(problems(exc, ProjectionParams))
