"""Checks of what the version is worth on its own: quality against item-kNN on the stored evaluation (a judgement
call: acknowledge by name; in the mode the version is meant to serve — its config's ``serves``: the symmetric
"also viewed" vectors, or the "next item" tables ranked by ``Q·K``) and no popularity collapse (a warning
verdict: acknowledge by name; collapsed: override only), judged against item-kNN on the version's own training
sessions when the version stores that reference."""

from __future__ import annotations

from typing import Any

from ..errors import IntegrityError
from ..evaluation.collapse import judged_diagnosis
from ..reports import EvaluationReport, metric
from ..store.checklist import CheckResult
from .context import CheckContext

__all__ = ["check_popularity_collapse", "check_quality_vs_knn"]


def check_quality_vs_knn(ctx: CheckContext) -> CheckResult:
    """HR@k at most ``knn_tolerance`` below item-kNN's on the version's evaluation; could not judge without one
    (or with one whose shape this library cannot read).

    A version whose config serves the "next item" mode (``serves == "next"``) is judged by the evaluation's
    ``next`` block (see :func:`_check_next_mode`); every other version (no ``serves``: all versions made before
    the mode existed; ``"also"``) by the symmetric HR@k, as always."""
    k, tol = ctx.k, ctx.policy.knn_tolerance
    name = "quality vs item-kNN"
    try:
        evaluation = ctx.evaluation
    except IntegrityError as exc:
        return CheckResult(name, False, None, f"HR@{k} within {tol} of item-kNN", str(exc), acknowledgeable=True,
                           could_not_judge=f"the stored evaluation cannot be read: {exc}")
    serves = (ctx.manifest.get("config") or {}).get("serves")
    if serves == "next":
        return _check_next_mode(ctx, evaluation)
    if serves not in (None, "also"):
        why = (f"the version's config says it serves {serves!r}, a mode this library does not know ('also' or "
               "'next')")
        return CheckResult(name, False, None, f"HR@{k} within {tol} of item-kNN", why, acknowledgeable=True,
                           could_not_judge=why)
    if evaluation is not None:
        ours, knn = metric(evaluation["method"], "hr", k), metric(evaluation["baselines"].get("item_knn"), "hr", k)
        if ours is not None and knn is not None:
            popular = metric(evaluation["baselines"].get("most_popular"), "hr", k)
            ctx.details["evaluation"] = evaluation
            return CheckResult(
                name, ours >= knn - tol, round(ours - knn, 3), f"HR@{k} − item-kNN HR@{k} ≥ −{tol}",
                f"HR@{k} {ours:.3f} vs item-kNN {knn:.3f}, most-popular "
                + ("not evaluated" if popular is None else f"{popular:.3f}"), acknowledgeable=True,
            )
    why = ("no evaluation is stored with this version" if evaluation is None
           else f"the stored evaluation has no HR@{k} of this version and item-kNN")
    return CheckResult(
        name, False, None, f"HR@{k} within {tol} of item-kNN",
        f"{why} (train with --evaluate) — acknowledge to approve without one",
        acknowledgeable=True, could_not_judge=why,
    )


def _check_next_mode(ctx: CheckContext, evaluation: EvaluationReport | None) -> CheckResult:
    """The "next item" mode: the evaluation's ``next`` block HR@k (``Q·K`` on the same held-out pairs) at most
    ``knn_tolerance`` below item-kNN's; the sequential-rules baseline's HR@k is given for reference (not judged).
    Could not judge without an evaluation, without a ``next`` block (made before the tables existed, or without
    them) or without both HRs — never a pass then."""
    k, tol = ctx.k, ctx.policy.knn_tolerance
    name, threshold = "quality vs item-kNN", f"next-item HR@{k} within {tol} of item-kNN"
    why: str | None = None
    if evaluation is None:
        why = "no evaluation is stored with this version"
    elif evaluation.get("next") is None:
        why = ("the version serves the 'next item' mode but its evaluation has no 'next' block (no next-item HR to "
               "judge)")
    else:
        block: dict[str, Any] = dict(evaluation["next"])
        baselines: dict[str, Any] = dict(evaluation.get("baselines") or {})
        ours, knn = metric(block.get("method"), "hr", k), metric(baselines.get("item_knn"), "hr", k)
        if ours is not None and knn is not None:
            ctx.details["evaluation"] = evaluation
            rules = metric(baselines.get("sequential_rules"), "hr", k)
            symmetric = metric(evaluation.get("method"), "hr", k)
            return CheckResult(
                name, ours >= knn - tol, round(ours - knn, 3), f"next-item HR@{k} − item-kNN HR@{k} ≥ −{tol}",
                f"judged the 'next item' mode (Q·K), the mode this version serves: next-item HR@{k} {ours:.3f} vs "
                f"item-kNN {knn:.3f}; for reference sequential rules "
                + ("not evaluated" if rules is None else f"{rules:.3f}")
                + (f", the symmetric mode {symmetric:.3f}" if symmetric is not None else ""),
                acknowledgeable=True,
            )
        why = f"the stored evaluation has no next-item HR@{k} of this version and item-kNN"
    return CheckResult(
        name, False, None, threshold,
        f"{why}; the version serves the 'next item' mode, so its symmetric HR is not judged (train with --evaluate "
        "and the next-item tables) — acknowledge to approve without one",
        acknowledgeable=True, could_not_judge=why,
    )


def check_popularity_collapse(ctx: CheckContext) -> CheckResult:
    """The popularity diagnostics of the version's cached top-k lists, judged against item-kNN on the version's own
    training sessions when the version stores that reference (``collapse_reference``, made by ``train --evaluate``
    at the same k and hub factor), else on the absolute thresholds alone (said in the detail). ``ok`` passes,
    ``warning`` is a warning (acknowledge by name), ``collapsed`` fails (override only)."""
    diag = judged_diagnosis(ctx.stored, k=ctx.k, thresholds=ctx.policy.collapse, neighbors=ctx.neighbors())
    ctx.details["popularity"] = diag
    judged = diag["judged"]
    verdict = judged["verdict"]
    if judged["basis"] == "item_knn":
        threshold = (f"verdict ok: no measure past its threshold and over {judged['margin']:g}× item-kNN's on the "
                     "training sessions (warning: acknowledge; collapsed: override)")
        detail = judged["summary"]
    else:
        threshold = "verdict ok on the absolute thresholds (warning: acknowledge; collapsed: override)"
        detail = f"{diag.get('summary', '')} Judged on absolute thresholds only: {judged['why_absolute']}."
    return CheckResult("no popularity collapse", verdict == "ok", verdict, threshold, detail,
                       acknowledgeable=verdict != "collapsed")
