"""What the tuner searches: each method's stages, read from its registry entry (``MethodSpec.search_space``).

A stage (:class:`~behemb_core.methods.facts.Stage`) is a grid over a few parameters, searched on top of the best
config found so far. ``scored_by`` says how a trial of the stage is scored on the validation pairs:

* ``"fit"`` — train the method on the validation-train sessions and rank by cosine of its vectors;
* ``"target"`` — rank by the target similarity ``T`` the method fits (its entry's ``target``) itself (no
  training: counting once per ``(window, weighting)`` and re-normalising per ``gamma`` costs seconds), so its
  cheap parameters are chosen before any fit. A target stage never picks the final config alone: its winner is
  only carried into the next stage, whose fitted trials are compared with the fitted default.

A stage named :data:`NEXT_STAGE` tunes the "next item" tables (query and candidate vectors ranked by ``Q·K``) of a
method that can fit them: it runs only for a config that asks for them (``directional``), so a symmetric-only
search runs exactly the trials it always did. Which ranking a trial is *scored* by is the config's ``serves``
(:func:`scoring_mode`): ``"also"`` (the symmetric vectors, as always) or ``"next"`` (``Q·K``).

``dim`` is tuned for no method: it sets the size (and serving cost) of every index built from the version, a
deployment decision, and a validation score tends to reward the largest dimension offered.
"""

from __future__ import annotations

from typing import Literal

from ..errors import ConfigError
from ..methods.base import MethodConfig, MethodSpec
from ..methods.facts import Stage
from ..methods.registry import METHODS, get_method


def search_space(method: str | MethodSpec) -> tuple[Stage, ...]:
    """The stages of ``method``; a method without a search space (fusion) is a clear :class:`ConfigError`."""
    spec = get_method(method)  # unknown names: the registry's error lists the known methods
    if spec.tunable:
        if any(s.scored_by == "target" for s in spec.search_space) and spec.target is None:
            raise ConfigError(f"{spec.name}: a 'target' stage needs the entry's target similarity (target=...)")
        return spec.search_space
    if not spec.accepts_base_version:
        raise ConfigError(f"{spec.name} cannot be tuned: it has no search space")
    tunable = [name for name, entry in METHODS.items() if entry.tunable]
    raise ConfigError(
        f"{spec.name} cannot be tuned: it builds on behavior vectors and its own parameters have no next-item "
        f"search space; tune its base method (one of {tunable}) and build on that version"
    )


#: The name of the stage that tunes only the "next item" tables (e.g. the forward share α); see the module text.
NEXT_STAGE = "next"

Mode = Literal["also", "next"]


def fits_next_tables(config: MethodConfig) -> bool:
    """Whether ``config`` asks its method for the "next item" tables too (a ``directional`` switch set to true)."""
    return getattr(config, "directional", False) is True


def scoring_mode(config: MethodConfig) -> Mode:
    """The ranking a trial of ``config`` is scored by: its ``serves`` (``"also"`` when the method has no such
    field); ``"next"`` without the tables is refused."""
    mode = getattr(config, "serves", "also")
    if mode not in ("also", "next"):
        raise ConfigError(f"serves must be 'also' or 'next', got {mode!r}")
    if mode == "next" and not fits_next_tables(config):
        raise ConfigError("serves='next' needs the 'next item' tables: set directional=true too")
    return "next" if mode == "next" else "also"


def stages_for(method: str | MethodSpec, config: MethodConfig) -> tuple[Stage, ...]:
    """The stages a search from ``config`` runs: :func:`search_space` without the :data:`NEXT_STAGE` stage unless
    ``config`` fits the "next item" tables (its parameters change nothing else)."""
    stages = search_space(method)
    if fits_next_tables(config):
        return stages
    return tuple(s for s in stages if s.name != NEXT_STAGE)


def tunable_methods() -> list[str]:
    """Every registered method with a search space, in registry order."""
    return [name for name, spec in METHODS.items() if spec.tunable]


def tuned_params(method: str | MethodSpec) -> tuple[str, ...]:
    """Every parameter the search may change, in table order."""
    return tuple(p for stage in search_space(method) for p in stage.params)


__all__ = [
    "NEXT_STAGE", "Mode", "Stage", "fits_next_tables", "scoring_mode", "search_space", "stages_for", "tunable_methods",
    "tuned_params",
]
