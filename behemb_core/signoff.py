"""The sign-off checklist a version must pass (or have acknowledged/overridden) before it can be published.

The checklist is :data:`SIGNOFF_CHECKS`, a tuple of functions ``check_x(context) -> CheckResult`` (see
:mod:`behemb_core.checks`), read when the checks run: a new check is one function and one entry here, and the
Publish page, ``approve`` and the approval record pick it up. Each result carries its value and threshold, so an
approval records exactly what was seen. Acknowledgeable checks (quality vs item-kNN, same catalogue as
published, a change beyond retraining noise, golden pairs) are judgement calls the approver may accept by name;
the others need an explicit, recorded override. A check that could not judge (no evaluation, too few shared
items, no golden pair in the version) is never a pass: it is a warning with the reason, to be acknowledged by
name.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from .checks.cache import CHECKLIST_CACHE, checklist_key
from .checks.context import Check, CheckContext, SignoffPolicy, VectorsUnusable
from .checks.golden import check_golden_pairs
from .checks.integrity import check_files_intact, check_unique_ids, check_vectors_valid
from .checks.published import check_same_catalogue, check_stability, publish_summary, summary_of
from .checks.quality import check_popularity_collapse, check_quality_vs_knn
from .checks.served import check_served_neighbors
from .checks.wording import describe_blocking
from .compare.sources import shared_ids_note
from .identity import Actor, as_actor
from .progress import ProgressCallback, as_reporter
from .reports import EvaluationReport, PublishSummary, SignoffDetails
from .store import Store
from .store.checklist import CheckResult
from .store.lifecycle import ApprovalRefused, check_four_eyes, record_approval, trained_by
from .store.policy import access, read_policy_state

__all__ = ["SIGNOFF_CHECKS", "Check", "CheckContext", "CheckResult", "SignoffPolicy", "approve", "publish_summary",
           "signoff_checks"]

#: The sign-off checklist, in the order the checks run and are shown. Read each time the checks run, so adding
#: a check is one function and one entry here (tests may extend it with ``monkeypatch.setattr``).
SIGNOFF_CHECKS: tuple[Check, ...] = (
    check_files_intact,
    check_vectors_valid,
    check_unique_ids,
    check_quality_vs_knn,
    check_popularity_collapse,
    check_same_catalogue,
    check_stability,
    check_golden_pairs,
    check_served_neighbors,
)


def signoff_checks(
    store: Store,
    version: str,
    *,
    policy: SignoffPolicy | None = None,
    evaluation: EvaluationReport | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[list[CheckResult], SignoffDetails]:
    """Run every check of :data:`SIGNOFF_CHECKS` on ``version``; returns the results and the detailed reports
    behind them (``evaluation``, ``popularity``, ``stability``, ``golden`` when judged, and ``summary``: what
    changes if the version is published).

    ``evaluation`` defaults to the report stored with the version (``train --evaluate``); stability is checked
    against the currently published version with the noise floor stored with the candidate, if any. When the
    vectors cannot be loaded nothing after ``vectors valid`` can be judged and the list ends there.

    A run is cached on everything it reads (:mod:`behemb_core.checks.cache`): the version's and the published
    version's manifests and file stamps, the golden log, the thresholds, the evaluation given and the checklist.
    The Publish page calls this on every rerun; only the first call for a state of the store does the work.
    """
    policy = policy or SignoffPolicy()
    checks = tuple(SIGNOFF_CHECKS)
    key = checklist_key(store, version, policy_json=policy.model_dump_json(), evaluation=evaluation, checks=checks)
    results, details = CHECKLIST_CACHE.get_or_make(
        key, lambda: _run(CheckContext(store, version, policy, evaluation, as_reporter(progress)), checks))
    return list(results), copy.deepcopy(details)


def _run(ctx: CheckContext, checks: tuple[Check, ...]) -> tuple[tuple[CheckResult, ...], SignoffDetails]:
    rep = ctx.report or as_reporter(None)
    results: list[CheckResult] = []
    for i, check in enumerate(checks):
        rep("checks", i / len(checks), f"checking {check.__name__.removeprefix('check_').replace('_', ' ')}")
        try:
            result = check(ctx)
        except VectorsUnusable:  # the vectors cannot be loaded: nothing after "vectors valid" can be judged
            return tuple(results), ctx.details
        if not isinstance(result, CheckResult):
            raise TypeError(f"sign-off check {check.__name__} returned {type(result).__name__}, not a CheckResult")
        results.append(result)
    if ctx.load_error() is None:
        ctx.details["summary"] = _with_ids_note(ctx, summary_of(ctx))
    rep("done", 1.0, "checks done")
    return tuple(results), ctx.details


def _with_ids_note(ctx: CheckContext, summary: PublishSummary) -> PublishSummary:
    """The publish summary, saying — when the published version's training data come from another source — that
    the ids both versions share may not be the same products (ids are matched as text)."""
    stability = ctx.details.get("stability")
    if ctx.published is None or ctx.published == ctx.version or not stability:
        return summary
    note = shared_ids_note(ctx.published, ctx.published_stored.manifest, ctx.version, ctx.manifest,
                           int(stability["counts"]["shared"]))
    return summary if note is None else {**summary, "sentence": f"{summary['sentence']} {note}"}


def approve(store: Store, version: str, *, by: Actor | str, note: str | None = None,
            acknowledge: Iterable[str] = (), override: bool = False, policy: SignoffPolicy | None = None,
            progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Sign ``version`` off: run every sign-off check now (:func:`signoff_checks`) and record the approval with
    exactly those results — the one way to approve, used by the app and the command line alike.

    Refused before the checks run when ``by`` may not approve in this store (:class:`PermissionDenied`: no
    approver role, not signed in, or ``by`` trained the version — four eyes); then as
    :func:`behemb_core.store.lifecycle.record_approval` says (failed checks neither acknowledged by name nor
    overridden: :class:`~behemb_core.store.lifecycle.ApprovalRefused`, naming every blocking check with its value
    and threshold or why it could not judge). Returns the approval record."""
    actor = as_actor(by)
    state = read_policy_state(store)
    access(store, actor, state=state).require("approve")
    check_four_eyes(store, version, actor, trained_by(store, version), state)
    checks, _ = signoff_checks(store, version, policy=policy, progress=progress)
    try:
        return record_approval(store, version, by=actor, checks=checks, note=note, acknowledge=acknowledge,
                               override=override)
    except ApprovalRefused as exc:  # the store names the checks; say why each blocks, in the page's words
        blocking = [CheckResult.from_dict(f) for f in exc.failed]
        raise ApprovalRefused(f"version {version!r} not approved: {describe_blocking(blocking)}", version=version,
                              failed=exc.failed, checks=exc.checks) from None
