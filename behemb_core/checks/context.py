"""What a sign-off check reads: :class:`CheckContext` — the version, the published version, their exact top-k
neighbor lists, the comparison of the two, the golden pairs — each computed at most once per run, on first use.

A check takes the context and returns a :class:`~behemb_core.store.checklist.CheckResult`; what it measured for
people beyond the result goes into :attr:`CheckContext.details`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from ..compare import compare_versions
from ..diagnostics import CollapseThresholds
from ..errors import IntegrityError
from ..neighbors import NeighborTable
from ..progress import Reporter
from ..reports import CompareReport, EvaluationReport, SignoffDetails, stored_evaluation, stored_noise_floor
from ..store import Store, StoredVersion, published_version
from ..store.checklist import CheckResult
from ..store.golden import golden_pairs
from .cache import neighbor_table, overlap_from_tables

__all__ = ["Check", "CheckContext", "SignoffPolicy", "VectorsUnusable"]


class SignoffPolicy(BaseModel):
    """Thresholds of the sign-off checks (recorded with every approval)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    k: int = Field(10, ge=1, le=100, description="Cut-off for neighbor lists and HR@K.")
    knn_tolerance: float = Field(
        0.02, ge=0, le=1, description="HR@K may be at most this far below item-kNN's on the same split."
    )
    collapse: CollapseThresholds = Field(default_factory=CollapseThresholds)
    min_shared_share: float = Field(
        0.5, ge=0, le=1, description="Share of each catalogue's items the other must have for a comparison to "
        "mean something (same catalogue, stability vs published).",
    )
    min_shared_items: int = Field(
        50, ge=1, description="At least this many items must be in both versions for a comparison to mean something.",
    )
    served_recall: float = Field(
        0.95, ge=0, le=1, description="Recall@K the version's ANN index must reach against exact search (served "
        "neighbors match the inspected ones).",
    )


class VectorsUnusable(Exception):
    """The version's vectors could not be loaded, so a check that needs them cannot run (the checklist ends)."""


@dataclass
class CheckContext:
    """Everything the sign-off checks of one version read, loaded or computed once, on first use.

    ``evaluation`` is the evaluation to judge quality by (None: the one stored with the version). ``report``
    receives progress (the exact top-k of a large catalogue takes seconds)."""

    store: Store
    version: str
    policy: SignoffPolicy
    evaluation_given: EvaluationReport | None = None
    report: Reporter | None = None
    details: SignoffDetails = field(default_factory=lambda: SignoffDetails())
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def k(self) -> int:
        """The cut-off of neighbor lists and HR@K."""
        return self.policy.k

    def _once(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    # ------------------------------------------------------------------ the version
    def _load(self) -> tuple[StoredVersion | None, IntegrityError | None, list[str]]:
        """Load (and so verify, hashing every file once); only when that fails is the version verified again,
        to list every problem."""
        try:
            return self.store.load_version(self.version), None, []
        except IntegrityError as exc:
            return None, exc, self.store.verify_version(self.version)

    def file_problems(self) -> list[str]:
        """Every file that does not match the manifest's sha256 (empty when intact)."""
        return list(self._once("load", self._load)[2])

    def load_error(self) -> IntegrityError | None:
        """Why the version's vectors cannot be used, or None."""
        return self._once("load", self._load)[1]

    @property
    def stored(self) -> StoredVersion:
        """The version, verified and loaded (:class:`VectorsUnusable` when it cannot be)."""
        stored, error, _ = self._once("load", self._load)
        if stored is None:
            raise VectorsUnusable(str(error))
        return stored

    @property
    def manifest(self) -> dict[str, Any]:
        return self.stored.manifest

    @property
    def evaluation(self) -> EvaluationReport | None:
        """The evaluation quality is judged by: the one given, else the one stored with the version (checked
        against its type: :class:`~behemb_core.errors.IntegrityError` when it is malformed)."""
        if self.evaluation_given is not None:
            return self.evaluation_given
        return stored_evaluation(self.manifest, where=f"version {self.version}")

    def neighbors(self) -> NeighborTable:
        """The version's exact top-k over its whole catalogue (once per version and k: cached)."""
        return self._once("neighbors", lambda: neighbor_table(self.store, self.stored, self.k, progress=self.report))

    # ------------------------------------------------------------------ the published version
    @property
    def published(self) -> str | None:
        """The version published now, or None."""
        return self._once("published", lambda: published_version(self.store))

    @property
    def published_stored(self) -> StoredVersion:
        """The published version, loaded (only when one is published and it is another version)."""
        live = self.published
        if live is None:
            raise ValueError("nothing is published")
        return self._once("published_stored", lambda: self.store.load_version(live))

    def comparison(self) -> CompareReport:
        """:func:`~behemb_core.compare.compare_versions` of the published version (a) and this one (b), with this
        version's noise floor when it was measured at the policy's k; the neighbor lists are each version's
        cached top-k."""
        def make() -> CompareReport:
            live = self.published_stored
            noise = stored_noise_floor(self.manifest, where=f"version {self.version}")
            if noise is not None and int(noise["k"]) != self.k:
                noise = None
            live_table = neighbor_table(self.store, live, self.k, progress=self.report)
            overlap = overlap_from_tables(live.embeddings, self.stored.embeddings, live_table, self.neighbors(),
                                          k=self.k)
            return compare_versions(live, self.stored, k=self.k, noise=noise, overlap=overlap)
        return self._once("comparison", make)

    # ------------------------------------------------------------------ golden pairs
    def golden_pairs(self) -> pd.DataFrame:
        """The store's golden pairs (the latest mark of each)."""
        return self._once("golden", lambda: golden_pairs(self.store))


#: A sign-off check: reads the context, returns its result (see :mod:`behemb_core.checks`).
Check = Callable[[CheckContext], CheckResult]
