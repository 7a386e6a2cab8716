"""The contract every embedding method honours: one class that each method's tests inherit.

A subclass names the registry entry and a small, fast config (and, for a method that needs more than sessions,
the inputs it gets), and inherits every check: the registry entry and its capabilities, config round-trips,
seed determinism where the README promises it, the post-fit checks, progress and cancel. A new method gets all
of them by adding one such subclass; ``tests/test_methods.py`` fails while a registered method has none.

The data are tiny planted clusters, so the whole contract over every method runs in seconds.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import pytest

from behemb_core.embeddings import SOURCES, FitResult, check_embeddings
from behemb_core.errors import Cancelled, ConfigError
from behemb_core.methods.base import MethodConfig, MethodSpec, TrainingInputs
from behemb_core.methods.registry import METHODS, get_method
from behemb_core.progress import ProgressEvent
from behemb_core.store import validate_version_name
from behemb_core.synthetic import PlantedData, planted_sessions


@lru_cache(maxsize=1)
def tiny_planted() -> PlantedData:
    """120 items in 6 planted clusters, 600 sessions: enough signal for every method at dim 8."""
    return planted_sessions(n_items=120, n_clusters=6, n_sessions=600, seed=0)


class MethodContract:
    """Inherit it as ``class TestXxxContract(MethodContract)`` and set ``method`` and ``config``."""

    method: ClassVar[str]
    config: ClassVar[dict[str, Any]] = {}
    # Same seed and data, same vectors — what the README promises for this method with ``config``.
    deterministic: ClassVar[bool] = True
    # Another seed gives other vectors; false where the seed cannot reach the result with these inputs.
    seed_matters: ClassVar[bool] = True

    # ------------------------------------------------------------------------------------- subclass hooks
    def inputs(self, data: PlantedData) -> TrainingInputs:
        """The ready inputs of a fit; a method that needs more than sessions overrides this."""
        return TrainingInputs(sessions=data.sessions)

    def known_ids(self, data: PlantedData) -> set[Any]:
        """Every item id a fit may return a vector for."""
        return set(data.sessions.vocab.ids.tolist())

    # ------------------------------------------------------------------------------------------- helpers
    @pytest.fixture(scope="class")
    def spec(self) -> MethodSpec:
        return get_method(self.method)

    @pytest.fixture(scope="class")
    def data(self) -> PlantedData:
        return tiny_planted()

    def fit(self, spec: MethodSpec, data: PlantedData, *, seed: int = 0, progress: Any = None) -> FitResult:
        return spec.fit(self.inputs(data), spec.parse_config(self.config), seed=seed, progress=progress)

    @pytest.fixture(scope="class")
    def fitted(self, spec: MethodSpec, data: PlantedData) -> FitResult:
        return self.fit(spec, data, seed=3)

    @pytest.fixture(scope="class")
    def events(self, spec: MethodSpec, data: PlantedData) -> list[ProgressEvent]:
        seen: list[ProgressEvent] = []
        self.fit(spec, data, seed=1, progress=seen.append)
        return seen

    # ------------------------------------------------------------------------------- the registry entry
    def test_registered_under_its_name(self, spec: MethodSpec) -> None:
        assert METHODS[self.method] is spec and spec.name == self.method
        assert issubclass(spec.config_class, MethodConfig)
        assert spec.title and spec.description and callable(spec.fit)
        validate_version_name(f"{spec.version_prefix}_v1")  # the generated version names are valid

    def test_capabilities_are_consistent(self, spec: MethodSpec) -> None:
        if spec.learns_from_sessions:  # trained on sessions alone: nothing to build on, no content
            assert not spec.accepts_base_version and not spec.accepts_content
        if spec.builds_on is not None:  # the base it asks for by default is a registered behavior method
            plan = spec.builds_on(spec.parse_config({}))
            base = get_method(plan.method)
            assert base.learns_from_sessions
            base.parse_config(plan.config)

    # ----------------------------------------------------------------------------------------- configs
    @pytest.mark.parametrize("which", ["defaults", "test config"])
    def test_config_round_trips_through_json(self, spec: MethodSpec, which: str) -> None:
        cfg = spec.parse_config({} if which == "defaults" else self.config)
        dumped = cfg.model_dump(mode="json")
        again = spec.parse_config(json.loads(json.dumps(dumped)))
        assert again.model_dump(mode="json") == dumped
        assert again == cfg

    def test_unknown_parameter_is_refused_by_name(self, spec: MethodSpec) -> None:
        with pytest.raises(ConfigError) as err:
            spec.parse_config({"no_such_parameter": 1})
        assert "no_such_parameter" in str(err.value) and self.method in str(err.value)

    # ----------------------------------------------------------------------------------- the fit result
    def test_post_fit_checks(self, spec: MethodSpec, data: PlantedData, fitted: FitResult) -> None:
        emb = fitted.embeddings
        check_embeddings(emb, method=self.method)  # the library's own post-conditions hold
        ids = emb.vocab.ids.tolist()
        assert len(ids) > 0 and len(set(ids)) == len(ids) == emb.vectors.shape[0]  # one row per item
        assert set(ids) <= self.known_ids(data)
        assert emb.vectors.dtype == np.float32 and np.isfinite(emb.vectors).all()
        np.testing.assert_allclose(np.linalg.norm(emb.vectors, axis=1), 1.0, atol=1e-4)
        cfg = spec.parse_config(self.config)
        if cfg.dim is not None:
            assert emb.dim == cfg.dim
        assert len(emb.source) == len(ids) and set(emb.source.tolist()) <= set(SOURCES)
        assert json.loads(json.dumps(fitted.report, allow_nan=False)) == fitted.report  # stored in the manifest

    def test_same_seed_same_vectors(self, spec: MethodSpec, data: PlantedData) -> None:
        if not self.deterministic:
            pytest.skip(f"{self.method} promises no determinism with this config")
        a = self.fit(spec, data, seed=5).embeddings
        b = self.fit(spec, data, seed=5).embeddings
        assert a.vocab.ids.tolist() == b.vocab.ids.tolist()
        np.testing.assert_array_equal(a.vectors, b.vectors)

    def test_other_seed_other_vectors(self, spec: MethodSpec, data: PlantedData, fitted: FitResult) -> None:
        if not self.seed_matters:
            pytest.skip(f"the seed cannot change {self.method}'s vectors with these inputs")
        other = self.fit(spec, data, seed=6).embeddings
        assert not np.array_equal(fitted.embeddings.vectors, other.vectors)

    # --------------------------------------------------------------------------------- progress, cancel
    def test_progress_is_reported_and_monotone(self, events: list[ProgressEvent]) -> None:
        assert events and all(isinstance(e, ProgressEvent) and e.stage for e in events)
        fractions = [e.fraction for e in events if e.fraction is not None]
        assert fractions and all(0.0 <= f <= 1.0 for f in fractions)
        assert fractions == sorted(fractions) and fractions[-1] == 1.0

    @pytest.mark.parametrize("at", ["first event", "halfway", "the end"])
    def test_cancel_from_progress_stops_the_fit(self, spec: MethodSpec, data: PlantedData, at: str) -> None:
        reached = {
            "first event": lambda e: True,
            "halfway": lambda e: e.fraction is not None and e.fraction >= 0.5,
            "the end": lambda e: e.fraction == 1.0,
        }[at]
        calls: list[ProgressEvent] = []
        cancelled: list[int] = []

        def cancel(event: ProgressEvent) -> None:
            calls.append(event)
            if not cancelled and reached(event):
                cancelled.append(len(calls))
                raise Cancelled("stop")

        result = None
        with pytest.raises(Cancelled):
            result = self.fit(spec, data, seed=1, progress=cancel)
        assert result is None  # nothing is returned
        assert cancelled == [len(calls)]  # and nothing more is reported: the fit stopped at the cancel
