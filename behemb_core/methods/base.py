"""What every embedding method shares: the config base class, the inputs a fit receives, the fit protocol and
the registry entry (:class:`MethodSpec`) with the capabilities front ends and the orchestrator read.

A method is one module with a config class and a fit function, plus one :class:`MethodSpec` line in
:mod:`.registry`. The spec says what the method can use (sessions, a base version, content vectors); nothing
outside this package decides by a method's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..content import ContentVectors
from ..cooccurrence import PairCounts, Weighting
from ..embeddings import FitResult, ItemEmbeddings
from ..errors import ConfigError
from ..metadata import ItemMetadata
from ..progress import ProgressCallback, Reporter
from ..sessions import Sessions
from ..validation import problems
from .facts import Stage, TargetParams


class MethodConfig(BaseModel):
    """Base of every method's config: validated, JSON round-trippable, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dim: int = Field(128, title="Dimensions", ge=2, le=2048, description="Vector dimension.")


@dataclass(frozen=True)
class TrainingInputs:
    """Everything a fit may use, ready to use: nothing in here is trained or read by the fit itself.

    Behavior methods need ``sessions``. A method that builds on behavior vectors gets them in ``base``: a
    stored version (named by ``base_version``) or a base method the orchestrator trained first in this job
    (its fit report in ``base_report``). ``content`` holds content vectors; ``item_meta`` the item metadata
    (whose text becomes content vectors when no content table is given). ``pairs`` is a pair table counted
    elsewhere (the Spark engine) for a method that can start from one (``MethodSpec.pair_table``).
    ``warm_start`` holds a stored version's vectors to start from, for a method that can
    (``MethodSpec.warm_start``): items it has start there, new items from scratch."""

    sessions: Sessions | None = None
    content: ContentVectors | None = None
    item_meta: ItemMetadata | None = None
    base: ItemEmbeddings | None = None
    base_version: str | None = None
    base_report: dict[str, Any] | None = None
    pairs: PairCounts | None = None
    warm_start: ItemEmbeddings | None = None


class FitFunction(Protocol):
    """A method's fit: ready inputs and a validated config in, checked embeddings out; nothing is written.

    Progress goes to ``progress`` (fractions 0 → 1 of this fit); a :class:`~behemb_core.errors.Cancelled`
    raised by it stops the fit and propagates."""

    def __call__(
        self, inputs: TrainingInputs, config: Any, *, seed: int, progress: ProgressCallback | Reporter | None = None
    ) -> FitResult: ...


@dataclass(frozen=True)
class BaseTraining:
    """The behavior method (and its config values) to train first for a method that builds on behavior
    vectors and was given no base version."""

    method: str
    config: dict[str, Any]


@dataclass(frozen=True)
class MethodSpec:
    """One registry entry: canonical name, config class, fit function, a one-line description, and what the
    method can use.

    * ``learns_from_sessions`` — the fit needs nothing but sessions, so it can be retrained on an evaluation
      split or with another seed (evaluation, noise floor, tuning), and its versions are behavior vectors
      another method can build on.
    * ``builds_on`` — the method builds on behavior vectors: it accepts a stored base version, and without one
      this function of its config names the base method the orchestrator trains first on the sessions.
    * ``accepts_content`` — the method uses content vectors (a table, or item text from the metadata).
    * ``pair_table`` — the fit can start from exact pair counts instead of sessions; this function of its config
      gives the window and weighting they must be counted with.
    * ``warm_start`` — the fit can start from a stored version's vectors (a warm-started retrain:
      ``TrainingInputs.warm_start``); ``warm_start_note`` says what that means for the method or, when it cannot,
      why (the refusal's reason).

    And the facts other modules ask of a method, so that none of them decides by its name:

    * ``search_space`` — the tuner's stages (:class:`~.facts.Stage`); empty = the method cannot be tuned.
    * ``warm_up`` — configs whose fits on tiny data run every compiled path of the method once
      (:mod:`behemb_core.warmup`); each is merged over ``{"dim": 8}``.
    * ``collapse_hints`` — what to change when its neighbor lists collapse onto popular items (diagnostics).
    * ``cooc_window`` — the co-occurrence window (positions; 0 = the whole session) a config implies, which the
      Neighbors evidence counts with; ``None`` = the method implies none (then a builder's base decides).
    * ``target`` — the target similarity a config fits (:class:`~.facts.TargetParams`), whose sparse ranking the
      evaluation reports beside the method and the tuner can score without training.
    * ``base_methods`` — for a method that builds on behavior vectors: the registry its base method is chosen
      from (any entry that ``learns_from_sessions``), named by the config field ``base_method_field``; checked
      when the config is parsed, before any data is read.
    """

    name: str
    title: str
    config_class: type[MethodConfig]
    fit: FitFunction
    description: str
    version_prefix: str
    learns_from_sessions: bool = True
    builds_on: Callable[[Any], BaseTraining] | None = None
    accepts_content: bool = False
    pair_table: Callable[[Any], tuple[int, Weighting]] | None = None
    search_space: tuple[Stage, ...] = ()
    warm_up: tuple[dict[str, Any], ...] = ()
    collapse_hints: tuple[str, ...] = ()
    cooc_window: Callable[[Any], int | None] = lambda config: None
    target: Callable[[Any], TargetParams] | None = None
    base_methods: Mapping[str, MethodSpec] | None = field(default=None, repr=False, compare=False)
    base_method_field: str = "base_method"
    warm_start: bool = False
    warm_start_note: str = "its fit does not start from item vectors, so there is nothing to start from the old ones"

    @property
    def accepts_base_version(self) -> bool:
        return self.builds_on is not None

    @property
    def tunable(self) -> bool:
        return bool(self.search_space)

    def behavior_methods(self) -> list[str]:
        """The methods this one can build on (every registry entry that learns from sessions), in registry order."""
        return [name for name, spec in (self.base_methods or {}).items() if spec.learns_from_sessions]

    def field_choices(self) -> dict[str, list[str]]:
        """Config fields whose choices come from the registry, not from the config class (a form's selectbox)."""
        if self.builds_on is None or self.base_methods is None:
            return {}
        return {self.base_method_field: self.behavior_methods()}

    def base_spec(self, config: MethodConfig) -> MethodSpec | None:
        """The registry entry of the base method ``config`` names (None for a method that builds on nothing)."""
        if self.builds_on is None or self.base_methods is None:
            return None
        plan = self.builds_on(config)
        spec = self.base_methods.get(plan.method)
        if spec is None or not spec.learns_from_sessions:
            raise ConfigError(
                f"{self.name}: {self.base_method_field}={plan.method!r} is not a behavior method; choose one of "
                f"{self.behavior_methods()}"
            )
        return spec

    def window_of(self, config: MethodConfig) -> int | None:
        """The co-occurrence window ``config`` implies (0 = the whole session), following a builder to its
        base method; None when the method implies none."""
        own = self.cooc_window(config)
        if own is not None or self.builds_on is None:
            return own
        base = self.base_spec(config)
        if base is None:
            return None
        return base.window_of(base.parse_config(self.builds_on(config).config))

    def parse_config(self, values: dict[str, Any] | MethodConfig | None = None) -> MethodConfig:
        """Validate ``values`` into this method's config; errors name every bad parameter and its value. A
        builder's base method and its config are validated too, so a bad one fails before any data is read."""
        if isinstance(values, self.config_class):
            return values
        try:
            config = self.config_class.model_validate(values or {})
        except ValidationError as exc:
            raise ConfigError(f"{self.name}: invalid config: " + "; ".join(problems(exc, self.config_class))) from None
        base = self.base_spec(config)
        if base is not None and self.builds_on is not None:
            try:
                base.parse_config(self.builds_on(config).config)
            except ConfigError as exc:
                raise ConfigError(f"{self.name}: base_config: {exc}") from None
        return config

    def known_parameters(self) -> str:
        return ", ".join(sorted(self.config_class.model_fields))

    def warm_start_refusal(self) -> str | None:
        """Why this method cannot warm-start (a sentence), or None when it can."""
        return None if self.warm_start else f"{self.name} cannot warm-start: {self.warm_start_note}"

    def check_sources(
        self, *, sessions: bool, base_version: bool = False, content: bool = False, warm_start: bool = False,
        say: Mapping[str, str] | None = None,
    ) -> None:
        """Refuse, before anything is read or trained, a job whose sources this method cannot use or lacks.

        ``say`` names the sources in the caller's words — keys ``sessions``, ``base_version``, ``content``,
        ``warm_start``; the command line passes its options (``{"sessions": "--input", …}``) — so the decision is
        made here once."""
        words = {"sessions": "sessions to learn from", "base_version": "a base version", "content": "content vectors",
                 "warm_start": "a warm start", **(say or {})}
        refusal = self.warm_start_refusal()
        if warm_start and refusal is not None:
            raise ConfigError(f"{refusal} ({words['warm_start']} was given)")
        if warm_start and not sessions:
            raise ConfigError(f"a warm start retrains {self.name} on new data: it needs {words['sessions']}")
        if base_version and not self.accepts_base_version:
            raise ConfigError(
                f"{self.name} does not build on behavior vectors: it cannot use {words['base_version']}"
            )
        if content and not self.accepts_content:
            raise ConfigError(f"{self.name} cannot use {words['content']}")
        if not sessions and not (base_version and self.accepts_base_version):
            raise ConfigError(f"{self.name} needs {words['sessions']}"
                              + (f" or {words['base_version']}" if self.accepts_base_version else ""))


__all__ = [
    "BaseTraining", "ContentVectors", "FitFunction", "MethodConfig", "MethodSpec", "ProgressCallback", "Stage",
    "TargetParams", "TrainingInputs", "require_sessions",
]


def require_sessions(inputs: TrainingInputs, method: str) -> Sessions:
    """The sessions of ``inputs``, or a clear error when a behavior method gets none."""
    if inputs.sessions is None or inputs.sessions.n_events == 0:
        raise ConfigError(f"{method} learns from sessions, but no sessions were given (or none survived cleaning)")
    return inputs.sessions
