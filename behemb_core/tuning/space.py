"""What the tuner searches: each method's stages, read from its registry entry (``MethodSpec.search_space``).

A stage (:class:`~behemb_core.methods.facts.Stage`) is a grid over a few parameters, searched on top of the best
config found so far. ``scored_by`` says how a trial of the stage is scored on the validation pairs:

* ``"fit"`` — train the method on the validation-train sessions and rank by cosine of its vectors;
* ``"target"`` — rank by the target similarity ``T`` the method fits (its entry's ``target``) itself (no
  training: counting once per ``(window, weighting)`` and re-normalising per ``gamma`` costs seconds), so its
  cheap parameters are chosen before any fit. A target stage never picks the final config alone: its winner is
  only carried into the next stage, whose fitted trials are compared with the fitted default.

``dim`` is tuned for no method: it sets the size (and serving cost) of every index built from the version, a
deployment decision, and a validation score tends to reward the largest dimension offered.
"""

from __future__ import annotations

from ..errors import ConfigError
from ..methods.base import MethodSpec
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


def tunable_methods() -> list[str]:
    """Every registered method with a search space, in registry order."""
    return [name for name, spec in METHODS.items() if spec.tunable]


def tuned_params(method: str | MethodSpec) -> tuple[str, ...]:
    """Every parameter the search may change, in table order."""
    return tuple(p for stage in search_space(method) for p in stage.params)


__all__ = ["Stage", "search_space", "tunable_methods", "tuned_params"]
