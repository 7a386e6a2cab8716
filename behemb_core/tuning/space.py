"""What the tuner searches: one table of stages per method, candidates in order, the default first.

A stage is a grid over a few parameters, searched on top of the best config found so far. ``scored_by`` says
how a trial of the stage is scored on the validation pairs:

* ``"fit"`` — train the method on the validation-train sessions and rank by cosine of its vectors;
* ``"target"`` — rank by ``cooc_softmax``'s target similarity ``T`` itself (no training: counting once per
  ``(window, weighting)`` and re-normalising per ``gamma`` costs seconds), so its cheap parameters are chosen
  before any fit. A target stage never picks the final config alone: its winner is only carried into the next
  stage, whose fitted trials are compared with the fitted default.

``dim`` is tuned for no method: it sets the size (and serving cost) of every index built from the version, a
deployment decision, and a validation score tends to reward the largest dimension offered.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import ConfigError
from ..methods.base import MethodConfig, MethodSpec
from ..methods.registry import METHODS, get_method


@dataclass(frozen=True)
class Stage:
    """A grid over ``grid``'s parameters (ordered candidates; the first is the method's default)."""

    name: str
    scored_by: Literal["fit", "target"]
    grid: tuple[tuple[str, tuple[Any, ...]], ...]

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.grid)

    def candidates(self, base: MethodConfig) -> list[tuple[str, list[Any]]]:
        """Each parameter's candidates with ``base``'s own value first (added when the table lacks it)."""
        out = []
        for name, values in self.grid:
            own = getattr(base, name)
            out.append((name, [own, *(v for v in values if v != own)]))
        return out

    def combinations(self, base: MethodConfig, start: MethodConfig) -> Iterator[dict[str, Any]]:
        """Every combination, ``start``'s values first, so a stage begins where the search stands.

        The loops nest in table order (the last parameter varies fastest), which lets the target stage count
        co-occurrence once per ``(window, weighting)`` and keep only the current count in memory."""
        lists = []
        for name, values in self.candidates(base):
            current = getattr(start, name)
            lists.append([current, *(v for v in values if v != current)])
        for combo in itertools.product(*lists):
            yield dict(zip(self.params, combo))

    def size(self, base: MethodConfig) -> int:
        n = 1
        for _, values in self.candidates(base):
            n *= len(values)
        return n


def _stage(name: str, scored_by: Literal["fit", "target"], **grid: tuple[Any, ...]) -> Stage:
    return Stage(name=name, scored_by=scored_by, grid=tuple(grid.items()))


# The one table. Candidates start with the method's default; the brief grids are documented in the README.
SEARCH_SPACES: dict[str, tuple[Stage, ...]] = {
    "cooc_softmax": (
        _stage("target", "target", window=(10, 1, 2, 3, 5), weighting=("harmonic", "uniform"),
               gamma=(0.1, 0.0, 0.2, 0.3, 0.5)),
        _stage("fit", "fit", tau=(0.1, 0.05, 0.2), epochs=(20, 10, 40)),
    ),
    "ppmi_svd": (
        _stage("cooccurrence", "fit", window=(5, 1, 2, 3, 10, 0), weighting=("uniform", "harmonic")),
        _stage("ppmi", "fit", alpha=(0.75, 0.5, 1.0), eig_weight=(0.5, 0.0, 1.0)),
    ),
    "item2vec": (
        _stage("sampling", "fit", ns_exponent=(0.75, -0.5, 0.0), window=(5, 3, 10)),
        _stage("epochs", "fit", epochs=(10, 5, 20)),
    ),
    "graph": (
        _stage("walks", "fit", p=(1.0, 0.5, 2.0), q=(1.0, 0.5, 2.0)),
        _stage("corpus", "fit", walks_per_node=(8, 16), window=(5, 10)),
    ),
}


def search_space(method: str | MethodSpec) -> tuple[Stage, ...]:
    """The stages of ``method``; a method without a search space (fusion) is a clear :class:`ConfigError`."""
    spec = get_method(method)  # unknown names: the registry's error lists the known methods
    try:
        return SEARCH_SPACES[spec.name]
    except KeyError:
        if not spec.accepts_base_version:
            raise ConfigError(f"{spec.name} cannot be tuned: it has no search space") from None
        tunable = [m for m in METHODS if m in SEARCH_SPACES]
        raise ConfigError(
            f"{spec.name} cannot be tuned: it builds on behavior vectors and its own parameters have no "
            f"next-item search space; tune its base method (one of {tunable}) and build on that version"
        ) from None


def tuned_params(method: str | MethodSpec) -> tuple[str, ...]:
    """Every parameter the search may change, in table order."""
    return tuple(p for stage in search_space(method) for p in stage.params)
