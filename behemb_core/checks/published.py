"""Checks against the published version — same catalogue (acknowledge by name) and stability within retraining
noise (acknowledge by name) — and :func:`publish_summary`, what changes if the version is published. With
nothing published, or too little in common, they could not judge: a warning with the reason, never a pass."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import IntegrityError
from ..reports import CompareReport, EvaluationReport, PublishSummary, metric, stored_evaluation
from ..store.checklist import CheckResult
from .context import CheckContext, SignoffPolicy

__all__ = ["check_same_catalogue", "check_stability", "publish_summary", "summary_of"]

NOTHING_PUBLISHED = "nothing is published yet, so there is no catalogue or neighbor list to compare with"
IS_PUBLISHED = "this version is the published one"


def check_same_catalogue(ctx: CheckContext) -> CheckResult:
    """Enough of the published version's items are in this one and the other way round."""
    name, threshold = "same catalogue as published", _catalogue_threshold(ctx.policy)
    if ctx.published is None:  # nothing to compare with: said, never passed (the approver decides)
        return CheckResult(name, False, None, threshold, NOTHING_PUBLISHED, acknowledgeable=True,
                           could_not_judge=NOTHING_PUBLISHED)
    if ctx.published == ctx.version:  # the published version itself: same catalogue — judged, and identical
        return CheckResult(name, True, 1.0, threshold, IS_PUBLISHED)
    cmp = ctx.comparison()
    ctx.details["stability"] = cmp
    shared, of_live, of_cand = _shares(cmp)
    same_source, data = _data_sentence(ctx.published_stored.manifest, ctx.manifest)
    ok = shared >= ctx.policy.min_shared_items and min(of_live, of_cand) >= ctx.policy.min_shared_share
    detail = (f"{shared:,} items in both: {of_live:.0%} of the published version's {cmp['counts']['a_items']:,} "
              f"items are in this one, {of_cand:.0%} of this version's {cmp['counts']['b_items']:,} items are in the "
              f"published one; {data}.")
    if not ok:
        detail += " This looks like a model for another catalogue; approve only if that is intended."
    elif not same_source:
        detail += " The catalogues overlap enough; check that the data change is intended."
    return CheckResult(name, ok, round(min(of_live, of_cand), 3), threshold, detail, acknowledgeable=True)


def check_stability(ctx: CheckContext) -> CheckResult:
    """The neighbor lists moved no more than retraining noise moves them, or a warning saying why that could not
    be judged (never a silent pass)."""
    name, threshold = "stability vs published", "median Jaccard@k within retraining noise"
    if ctx.published is None:
        return CheckResult(name, False, None, "within retraining noise", NOTHING_PUBLISHED, acknowledgeable=True,
                           could_not_judge=NOTHING_PUBLISHED)
    if ctx.published == ctx.version:
        return CheckResult(name, True, 1.0, "within retraining noise", IS_PUBLISHED)
    cmp = ctx.comparison()
    ctx.details["stability"] = cmp
    policy = ctx.policy
    shared, of_live, _ = _shares(cmp)
    median = _median_jaccard(cmp)
    if shared == 0:
        reason = "the two versions share no items, so their neighbor lists cannot be compared"
    elif shared < policy.min_shared_items or of_live < policy.min_shared_share:
        reason = (f"only {shared:,} items ({of_live:.0%} of the published catalogue) are in both versions — too few "
                  f"for the overlap to mean anything (needs {policy.min_shared_items} and "
                  f"{policy.min_shared_share:.0%})")
    elif cmp["verdict"] is None:
        reason = (cmp.get("no_verdict_reason") or "no noise floor is stored with this version (train with "
                  "--noise-floor), so the change cannot be judged against retraining noise").rstrip(".")
    else:
        return CheckResult(name, cmp["verdict"] == "within_noise", median, threshold, cmp["sentence"],
                           acknowledgeable=True)
    detail = f"Could not judge: {reason}." if shared == 0 else f"{cmp['sentence']} Could not judge: {reason}."
    return CheckResult(name, False, median, threshold, detail, acknowledgeable=True, could_not_judge=reason)


def summary_of(ctx: CheckContext) -> PublishSummary:
    """:func:`publish_summary` of the context's version against the published one."""
    live = ctx.published
    if live is None or live == ctx.version:
        return publish_summary(live, ctx.version, None, None, None, k=ctx.k)
    fingerprints = {(m.get("dataset") or {}).get("fingerprint") for m in (ctx.manifest, ctx.published_stored.manifest)}
    return publish_summary(live, ctx.version, ctx.comparison(), _readable(lambda: ctx.evaluation),
                           _readable(lambda: stored_evaluation(ctx.published_stored.manifest)), k=ctx.k,
                           same_data=len(fingerprints) == 1 and None not in fingerprints)


def _readable(read: Callable[[], EvaluationReport | None]) -> EvaluationReport | None:
    """An evaluation, or None when it cannot be read (the quality check says why; the summary says "unknown")."""
    try:
        return read()
    except IntegrityError:
        return None


def publish_summary(live: str | None, version: str, cmp: CompareReport | None,
                    evaluation: EvaluationReport | None, live_evaluation: EvaluationReport | None, *,
                    k: int = 10, same_data: bool = True) -> PublishSummary:
    """What changes if ``version`` is published instead of ``live``: items added and removed, the HR@k change
    (when both versions store an evaluation) and the median neighbor overlap, with one sentence for people."""
    if cmp is None:
        sentence = (f"Nothing is published yet: publishing makes {version} the first published version."
                    if live is None else f"{version} is the published version.")
        return {"published": live, "added": None, "removed": None, "quality_delta": None,
                "median_jaccard": None, "sentence": sentence}
    c = cmp["counts"]
    ours = metric(evaluation["method"], "hr", k) if evaluation else None
    theirs = metric(live_evaluation["method"], "hr", k) if live_evaluation else None
    # Each stored evaluation was measured on its own version's training data: a difference means something only
    # when that data is the same (``same_data``); otherwise it is not computed, never shown as a change.
    delta = None if ours is None or theirs is None or not same_data else round(ours - theirs, 3)
    median = _median_jaccard(cmp)
    parts = [f"{c['added']:,} items added and {c['removed']:,} removed ({c['shared']:,} kept)"]
    if delta is not None:
        parts.append(f"HR@{k} {delta:+.3f}")
    elif ours is not None and theirs is not None:
        parts.append(f"HR@{k} not comparable (each was measured on its own, different training data; score both "
                     "on the same data on the Compare page)")
    else:
        parts.append(f"HR@{k} change unknown (an evaluation is missing)")
    parts.append(f"median neighbor overlap (Jaccard@{cmp['k']}) {median:.3f}" if median is not None else
                 "neighbor lists cannot be compared (no shared items)")
    return {"published": live, "added": c["added"], "removed": c["removed"], "quality_delta": delta,
            "median_jaccard": median, "sentence": f"Publishing {version} instead of {live}: " + "; ".join(parts) + "."}


# ------------------------------------------------------------------------------------------------ helpers


def _catalogue_threshold(policy: SignoffPolicy) -> str:
    return (f"≥ {policy.min_shared_share:.0%} of each version's items in the other and ≥ {policy.min_shared_items} "
            "shared items")


def _median_jaccard(cmp: CompareReport) -> float | None:
    """The median Jaccard@k over the shared items, rounded, or None when no item is shared."""
    median = cmp["overall"]["jaccard"]["median"] if cmp["overall"] else None
    return None if median is None else round(float(median), 3)


def _shares(cmp: CompareReport) -> tuple[int, float, float]:
    c = cmp["counts"]
    shared = int(c["shared"])
    return shared, shared / c["a_items"] if c["a_items"] else 0.0, shared / c["b_items"] if c["b_items"] else 0.0


def _data_sentence(live_manifest: dict[str, Any], manifest: dict[str, Any]) -> tuple[bool, str]:
    """Whether the two versions were trained on the same data source, and a sentence saying how they differ."""
    a, b = live_manifest.get("dataset") or {}, manifest.get("dataset") or {}
    if not a or not b:
        return True, "the training data of one version is not recorded"
    if a.get("fingerprint") == b.get("fingerprint"):
        return True, "trained on the same data"

    def files(d: dict[str, Any]) -> list[str]:
        src = d.get("source") or {}
        return sorted(str(p).rsplit("/", 1)[-1] for p in src.get("paths", [])) if isinstance(src, dict) else []

    fa, fb = files(a), files(b)
    if fa and fa == fb:
        return True, "trained on other data from the same source files"
    return False, (f"trained on different data ({', '.join(fb) or 'unknown files'} instead of "
                   f"{', '.join(fa) or 'unknown files'})")
