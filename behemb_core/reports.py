"""The shapes of the reports that cross modules: evaluation, comparison, noise floor, golden check, manifest.

They are JSON (stored in a version's manifest, printed by the CLI, shown by the app), so they are ``TypedDict``s:
the producing functions return them and the readers index them, and mypy sees a misspelled or renamed field on
either side. The JSON itself is unchanged — these types describe it, they add nothing to it.

Metric keys such as ``"hr@10"`` are not identifiers, hence the functional ``TypedDict`` syntax. The keys for
K = 10 (what ``train --evaluate`` stores) are fields; a report made with other K (``evaluate --k 5,20``) has
``hr@5``… instead, so every block has them as ``NotRequired``, and :func:`metric` / :func:`interval` read the
metric of any K.

Where JSON comes back from disk (a version's manifest), :func:`read_manifest`, :func:`stored_evaluation` and
:func:`stored_noise_floor` check it against these types (pydantic, lax: ints are floats; extra keys are
allowed) and return the very same object, so a store written by any earlier version reads exactly as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, NotRequired, cast

from typing_extensions import TypedDict

from .errors import IntegrityError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BandSummary",
    "Baselines",
    "CatalogueNote",
    "CompareReport",
    "Comparison",
    "CompareCounts",
    "EvaluationReport",
    "EvaluationSplit",
    "GoldenCheck",
    "Histogram",
    "ItemExample",
    "Manifest",
    "MetricName",
    "MethodBlock",
    "MovedItem",
    "NextMode",
    "NoiseCheck",
    "NoiseFloor",
    "NoiseScope",
    "OverlapSummary",
    "PublishSummary",
    "ScoreBlock",
    "SeedSpread",
    "SequentialRulesBlock",
    "SignoffDetails",
    "StoredComparison",
    "Summary",
    "TargetBlock",
    "Verdict",
    "Versus",
    "as_score_block",
    "interval",
    "metric",
    "read_manifest",
    "stored_evaluation",
    "stored_noise_floor",
]

MetricName = Literal["hr", "ndcg", "mrr"]
Verdict = Literal["beyond_noise", "within_noise"]

# ------------------------------------------------------------------------------------------------ evaluation

#: HR/NDCG/MRR at each evaluated K (the K = 10 fields are spelled out; :func:`metric` reads any K) and their
#: bootstrap 95 % intervals (``ci95``: metric key → ``[low, high]``; empty without bootstrap).
ScoreBlock = TypedDict("ScoreBlock", {
    "hr@10": NotRequired[float],
    "ndcg@10": NotRequired[float],
    "mrr@10": NotRequired[float],
    "ci95": dict[str, list[float]],
})


class SeedSpread(TypedDict):
    min: float
    max: float
    std: float


class MethodBlock(ScoreBlock):
    """The evaluated method's scores plus what it was (``evaluate_method``: name, config, seeds…;
    ``evaluate_version``: the version's name, maybe ``None``)."""

    name: str | None
    queries_without_vector: int
    config: NotRequired[dict[str, Any]]
    seeds: NotRequired[list[int]]
    fit_seconds: NotRequired[list[float]]
    seed_spread: NotRequired[dict[str, SeedSpread]]
    by_popularity_decile: NotRequired[list[dict[str, Any]]]


class TargetBlock(ScoreBlock):
    """The ranking by a method's target similarity, with the target's parameters (window, weighting, gamma)."""

    target: dict[str, Any]


class SequentialRulesBlock(ScoreBlock):
    """The sequential-rules baseline (``b`` after ``a`` within ``window`` positions, weighted 1/distance)."""

    window: int


class Baselines(TypedDict, total=False):
    """The reference rows: most-popular (missing only for a stored version scored without its popularity),
    item-kNN and sequential rules (both need the training sessions) and, for a method that fits a target, the
    target ranking. Reports written before sequential rules existed lack that row."""

    most_popular: ScoreBlock
    item_knn: ScoreBlock
    sequential_rules: SequentialRulesBlock
    target_ranking: TargetBlock


class EvaluationSplit(TypedDict):
    kind: str  # "time", "random" or "given"
    test_sessions: int
    pairs: int
    holdout: NotRequired[float]
    train_sessions: NotRequired[int]
    # a "time" split's order: "start time", or "file order" when the sessions have no time (baskets never do)
    order: NotRequired[str]


class Comparison(TypedDict):
    """The method against item-kNN (and most-popular) at the largest K."""

    k: int
    hr_minus_item_knn: float
    hr_ratio_to_item_knn: float | None
    hr_ratio_to_most_popular: float | None
    beats_item_knn: bool
    beats_most_popular: bool


class Versus(TypedDict):
    """HR at ``k`` of one row against another's (``against``: ``"symmetric"`` or ``"sequential_rules"``)."""

    k: int
    against: str
    hr_minus: float | None
    hr_ratio: float | None


class NextMode(TypedDict):
    """The "next item" mode of a directional pair (``Q_a · K_b``) on the same held-out pairs as the symmetric
    ``method`` block: its scores (``method``, same metrics, Ks and intervals), the pair's ``alpha``, the comparison
    against item-kNN (when item-kNN was scored) and HR against the symmetric mode and sequential rules."""

    method: MethodBlock
    alpha: float
    comparison: NotRequired[Comparison]
    vs_symmetric: Versus
    vs_sequential_rules: NotRequired[Versus]


class EvaluationReport(TypedDict):
    """``evaluate_method`` / ``evaluate_version`` / ``evaluate_stored``, and a manifest's ``evaluation``;
    ``next`` only when a directional pair was scored."""

    split: EvaluationSplit
    k: list[int]
    method: MethodBlock
    baselines: Baselines
    comparison: NotRequired[Comparison]
    notes: NotRequired[list[str]]
    next: NotRequired[NextMode]


def metric(block: ScoreBlock | Mapping[str, Any] | None, name: MetricName, k: int) -> float | None:
    """``block``'s ``name@k`` (e.g. ``metric(report["method"], "hr", 10)``), or None when it was not evaluated
    at ``k`` (or there is no block)."""
    if block is None:
        return None
    value = cast(Mapping[str, Any], block).get(f"{name}@{k}")
    return None if value is None else float(value)


def interval(block: ScoreBlock | None, name: MetricName, k: int) -> tuple[float, float] | None:
    """The bootstrap 95 % interval of ``name@k`` in ``block``, or None without one."""
    if block is None:
        return None
    lo_hi = block.get("ci95", {}).get(f"{name}@{k}")
    return (float(lo_hi[0]), float(lo_hi[1])) if lo_hi else None


def as_score_block(block: Mapping[str, Any]) -> ScoreBlock:
    """A scored block as built by :func:`behemb_core.evaluation.metrics.score_block` (metric keys per K, made at
    run time, and ``ci95``), typed."""
    return cast(ScoreBlock, block)


# ------------------------------------------------------------------------------------------------ comparison


class Histogram(TypedDict):
    edges: list[float]
    counts: list[int]


class Summary(TypedDict):
    """A distribution (Jaccard@k or RBO over items): ``None``s when there are no values (``n`` = 0).
    ``quantiles`` are ``q10``, ``q25``, ``q50``, ``q75``, ``q90``."""

    n: int
    mean: float | None
    median: float | None
    quantiles: dict[str, float | None]
    histogram: Histogram


class OverlapSummary(TypedDict):
    jaccard: Summary
    rbo: Summary


class BandSummary(OverlapSummary):
    """One popularity band (``head``, ``torso``, ``tail``)."""

    n: int


class NoiseFloor(TypedDict):
    """Overlap of two runs that differ only by seed (``noise_floor``), and a manifest's ``noise_floor``."""

    method: str
    seeds: list[int]
    k: int
    rbo_p: float
    n_items: int
    overall: OverlapSummary
    bands: dict[str, BandSummary] | None
    band_definition: str
    config: NotRequired[dict[str, Any]]


class NoiseScope(TypedDict):
    """The noise rule for one scope (overall or one band), on Jaccard@k."""

    median_jaccard: float
    noise_median_jaccard: float
    noise_q25_jaccard: float
    limit: float
    beyond_noise: bool
    share_below_noise_q10: float


class NoiseCheck(TypedDict):
    rule: str
    margin: float
    seeds: list[int] | None
    method: str | None
    scopes: dict[str, NoiseScope]


class CompareCounts(TypedDict):
    a_items: int
    b_items: int
    shared: int
    added: int
    removed: int


class ItemExample(TypedDict):
    item_id: Any
    name: NotRequired[str]


class MovedItem(TypedDict):
    item_id: Any
    name: str | None
    popularity: float | None
    jaccard: float
    rbo: float
    old_neighbors: list[Any]
    new_neighbors: list[Any]
    old_neighbor_names: NotRequired[list[str]]
    new_neighbor_names: NotRequired[list[str]]


class CatalogueNote(TypedDict):
    shared_share: float
    same_training_data: bool | None
    comparable: bool
    explanation: str | None


class CompareReport(TypedDict):
    """``compare_versions``: how version ``b`` differs from ``a``."""

    a: str
    b: str
    k: int
    rbo_p: float
    counts: CompareCounts
    added_examples: list[ItemExample]
    removed_examples: list[ItemExample]
    overall: OverlapSummary
    bands: dict[str, BandSummary] | None
    band_definition: str
    most_moved: list[MovedItem]
    noise: NoiseCheck | None
    verdict: Verdict | None
    catalogues: CatalogueNote
    no_verdict_reason: str | None
    sentence: str


class StoredComparison(CompareReport):
    """``compare_stored``: the comparison plus each version's stored quality, evaluation and popularity
    diagnostics (keyed by version name)."""

    noise_floor_from: str | None
    quality: dict[str, MethodBlock | None]
    evaluations: dict[str, EvaluationReport | None]
    popularity: dict[str, dict[str, Any]]
    per_item_jaccard: NotRequired[list[float]]


# ------------------------------------------------------------------------------------------------ golden pairs


class GoldenCheck(TypedDict):
    """``behemb_core.checks.golden.check_golden``: golden pairs re-checked against one version."""

    k: int
    pairs: int
    checked: int
    good_kept: int
    good_lost: int
    bad_present: int
    bad_gone: int
    missing: int
    passed: bool
    share_ok: float | None
    could_not_judge: str | None
    table: pd.DataFrame


# ------------------------------------------------------------------------------------------------ sign-off


class PublishSummary(TypedDict):
    """``behemb_core.checks.published.publish_summary``: what changes if a version is published instead of the
    live one (``None`` fields: not known — nothing published, or an evaluation missing)."""

    published: str | None
    added: int | None
    removed: int | None
    quality_delta: float | None
    median_jaccard: float | None
    sentence: str


class SignoffDetails(TypedDict, total=False):
    """What the sign-off checks measured beyond their results (``signoff_checks``' second value), for the pages.
    A check that leaves more for people adds its key here."""

    evaluation: EvaluationReport
    popularity: dict[str, Any]
    stability: CompareReport
    golden: dict[str, Any]
    served: dict[str, Any]
    summary: PublishSummary


# ------------------------------------------------------------------------------------------------ manifest


class Manifest(TypedDict, total=False):
    """A version's manifest as the readers use it. Written by ``train_version`` (method, config, … evaluation,
    noise floor, dataset, trained_by and any ``extra_manifest``) and the store (files, format, sizes); every key
    may be missing in some version, so all are optional — read with ``.get``."""

    version: str
    format_version: int
    created_at: str
    method: str
    config: dict[str, Any]
    seed: int
    training_seconds: float
    fit_report: dict[str, Any]
    base_version: str | None
    n_items: int
    dim: int
    id_kind: str
    files: dict[str, dict[str, Any]]
    library_versions: dict[str, Any]
    evaluation: EvaluationReport
    noise_floor: NoiseFloor
    dataset: dict[str, Any]
    tuning: dict[str, Any]
    trained_by: dict[str, Any]
    collapse_reference: dict[str, Any]  # item-kNN's popularity diagnostics on the training sessions (--evaluate)
    popularity_diagnosis: dict[str, Any]  # the version's diagnostics, judged against that reference


@cache
def _adapter(kind: str) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter({"evaluation": EvaluationReport, "noise_floor": NoiseFloor}[kind])


def _checked(value: Any, kind: Literal["evaluation", "noise_floor"], where: str) -> Any:
    from pydantic import ValidationError

    try:
        _adapter(kind).validate_python(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(the whole report)"
        raise IntegrityError(f"{where}: the stored {kind.replace('_', ' ')} does not have the expected shape "
                             f"({exc.error_count()} problem(s); first at {field}: {first['msg']})") from None
    return value


def stored_evaluation(manifest: Mapping[str, Any] | None, *, where: str = "manifest") -> EvaluationReport | None:
    """The evaluation stored in a manifest (``train --evaluate``), checked against :class:`EvaluationReport`,
    or None when there is none. The returned object is the manifest's own (unchanged); a malformed one raises
    :class:`~behemb_core.errors.IntegrityError` naming the field."""
    value = (manifest or {}).get("evaluation")
    if value is None:
        return None
    return cast(EvaluationReport, _checked(value, "evaluation", where))


def stored_noise_floor(manifest: Mapping[str, Any] | None, *, where: str = "manifest") -> NoiseFloor | None:
    """The noise floor stored in a manifest (``train --noise-floor``), checked like :func:`stored_evaluation`."""
    value = (manifest or {}).get("noise_floor")
    if value is None:
        return None
    return cast(NoiseFloor, _checked(value, "noise_floor", where))


def read_manifest(manifest: Mapping[str, Any], *, where: str = "manifest") -> Manifest:
    """A manifest read back from disk, typed: its evaluation and noise floor (when present) are checked as in
    :func:`stored_evaluation`; the object returned is the one given."""
    stored_evaluation(manifest, where=where)
    stored_noise_floor(manifest, where=where)
    return cast(Manifest, manifest)
