"""The drift report's types: one TypedDict per part, the rules and the verdict."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

Verdict = Literal["fresh", "aging", "stale", "could not judge"]
RuleState = Literal["ok", "aging", "stale", "not judged"]
#: Exit code of ``drift`` when the version is stale: retrain recommended (0: fresh or aging, 1: an error,
#: 2: usage, 3: could not judge — as ``verify``).
EXIT_STALE = 4
EXIT_COULD_NOT_JUDGE = 3


class MissingItem(TypedDict):
    item_id: Any
    name: str
    events: int
    sessions: int


class Coverage(TypedDict):
    events: int
    sessions: int
    items: int
    missing_events: int
    missing_sessions: int
    missing_items: int
    missing_events_share: float
    missing_sessions_share: float
    missing_items_share: float
    top_missing: list[MissingItem]


class Decay(TypedDict):
    k: int
    pairs: int
    queries_without_vector: int
    hr: float | None
    hr_ci95: list[float] | None
    stored_hr: float | None
    stored_hr_ci95: list[float] | None
    hr_vs_stored: float | None
    tail_pairs: int
    version_hr_on_tail: float | None
    version_hr_on_tail_ci95: list[float] | None
    item_knn_hr_on_tail: float | None
    item_knn_hr_on_tail_ci95: list[float] | None
    hr_vs_item_knn: float | None
    holdout: float
    notes: list[str]


class SupportRow(TypedDict):
    item_id: Any
    name: str
    events: int
    neighbors: int
    still_cooccurring: int
    share: float


class NeighborSupport(TypedDict):
    k: int
    window: int
    items: int
    mean_share: float | None
    items_without_support: int
    top: list[SupportRow]


class HeadItem(TypedDict):
    item_id: Any
    name: str
    events_new: int
    training_rank: int | None


class PopularityShift(TypedDict):
    judged: bool
    head: int
    head_overlap: float | None
    spearman: float | None
    items_compared: int
    head_share_then: float | None
    head_share_now: float | None
    risers: list[HeadItem]
    note: str | None


class Rule(TypedDict):
    rule: str
    value: float | None
    aging: float
    stale: float
    state: RuleState
    words: str


class DriftReport(TypedDict):
    kind: Literal["drift"]
    version: str | None
    at: str
    data: dict[str, Any]
    coverage: Coverage | None
    decay: Decay | None
    neighbor_support: NeighborSupport | None
    popularity: PopularityShift | None
    thresholds: dict[str, Any]
    rules: list[Rule]
    verdict: Verdict
    reason: str
    could_not_judge: list[str]

