"""The facts a method's registry entry carries besides its fit: what the tuner searches (:class:`Stage`), which
target similarity it fits (:class:`TargetParams`), and the small helpers that declare them.

They live with the method (its :class:`~.base.MethodSpec` line in :mod:`.registry`), so a module outside
``methods/`` asks the entry — ``spec.search_space``, ``spec.target(config)``, ``spec.cooc_window(config)``,
``spec.collapse_hints``, ``spec.warm_up`` — and never decides by a method's name.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from ..cooccurrence import Weighting


@dataclass(frozen=True)
class Stage:
    """One stage of a method's search space: a grid over ``grid``'s parameters (ordered candidates; the first is
    the method's default), searched on top of the best config found so far.

    ``scored_by`` says how a trial is scored on the validation pairs: ``"fit"`` trains the method and ranks by
    cosine of its vectors; ``"target"`` ranks by the target similarity the method fits (``MethodSpec.target``),
    without training — only for a method that declares a target."""

    name: str
    scored_by: Literal["fit", "target"]
    grid: tuple[tuple[str, tuple[Any, ...]], ...]

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.grid)

    def candidates(self, base: BaseModel) -> list[tuple[str, list[Any]]]:
        """Each parameter's candidates with ``base``'s own value first (added when the table lacks it)."""
        out = []
        for name, values in self.grid:
            own = getattr(base, name)
            out.append((name, [own, *(v for v in values if v != own)]))
        return out

    def combinations(self, base: BaseModel, start: BaseModel) -> Iterator[dict[str, Any]]:
        """Every combination, ``start``'s values first, so a stage begins where the search stands.

        The loops nest in table order (the last parameter varies fastest), which lets the target stage count
        co-occurrence once per ``(window, weighting)`` and keep only the current count in memory."""
        lists = []
        for name, values in self.candidates(base):
            current = getattr(start, name)
            lists.append([current, *(v for v in values if v != current)])
        for combo in itertools.product(*lists):
            yield dict(zip(self.params, combo, strict=True))

    def size(self, base: BaseModel) -> int:
        n = 1
        for _, values in self.candidates(base):
            n *= len(values)
        return n


def stage(name: str, scored_by: Literal["fit", "target"], **grid: tuple[Any, ...]) -> Stage:
    """A :class:`Stage` from keyword grids: ``stage("ppmi", "fit", alpha=(0.75, 0.5), eig_weight=(0.5, 0.0))``."""
    return Stage(name=name, scored_by=scored_by, grid=tuple(grid.items()))


@dataclass(frozen=True)
class TargetParams:
    """The target similarity ``T = D^-γ C D^-γ`` a method fits: ``C`` counted with ``window`` (0 = the whole
    session) and ``weighting``, popularity-damped by ``gamma``. Its sparse ranking is an honest baseline for that
    method (what a perfect fit would serve), and the tuner can score it without training."""

    window: int
    weighting: Weighting
    gamma: float

    def as_dict(self) -> dict[str, Any]:
        return {"window": self.window, "weighting": self.weighting, "gamma": self.gamma}


__all__ = ["Stage", "TargetParams", "stage"]
