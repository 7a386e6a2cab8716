"""The sign-off checklist a version must pass (or have acknowledged/overridden) before it can be published.

Each check is a :class:`~behemb_core.store.lifecycle.CheckResult` with its value and threshold, so an approval
records exactly what was seen. Acknowledgeable checks (quality vs item-kNN, same catalogue as published, a change
beyond retraining noise, golden pairs) are judgement calls the approver may accept by name; the others need an
explicit, recorded override. A check that could not judge (no evaluation, too few shared items, no golden pair
in the version) is never a pass: it is a warning with the reason, to be acknowledged by name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .compare import compare_versions
from .diagnostics import CollapseThresholds, popularity_diagnostics
from .errors import IntegrityError
from .identity import Actor, as_actor
from .progress import ProgressCallback, as_reporter
from .store import Store
from .store.golden import check_golden, golden_pairs
from .store.lifecycle import CheckResult, _check_four_eyes, _record_approval, published_version, trained_by
from .store.policy import access, read_policy_state


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


def signoff_checks(
    store: Store,
    version: str,
    *,
    policy: SignoffPolicy | None = None,
    evaluation: dict[str, Any] | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[list[CheckResult], dict[str, Any]]:
    """Run every check on ``version``; returns the results and the detailed reports behind them.

    ``evaluation`` defaults to the report stored with the version (``train --evaluate``); stability is checked
    against the currently published version with the noise floor stored with the candidate, if any.
    """
    policy = policy or SignoffPolicy()
    rep = as_reporter(progress)
    checks: list[CheckResult] = []
    details: dict[str, Any] = {}

    problems = store.verify_version(version)
    checks.append(CheckResult(
        "files intact", not problems, len(problems), "0 checksum problems",
        "; ".join(problems) or "every file matches the manifest's sha256",
    ))
    try:
        stored = store.load_version(version)
    except IntegrityError as exc:  # unusable vectors: nothing else can be judged
        checks.append(CheckResult("vectors valid", False, None, "finite, non-zero, unit norm", str(exc)))
        return checks, details
    emb = stored.embeddings
    manifest = stored.manifest
    norms = np.linalg.norm(emb.vectors, axis=1)
    max_dev = float(np.max(np.abs(norms - 1.0)))
    checks.append(CheckResult(
        "vectors valid", bool(np.isfinite(emb.vectors).all() and max_dev < 1e-3), round(max_dev, 6),
        "finite, non-zero, |norm − 1| < 0.001", f"{len(emb)} vectors of dimension {emb.dim}",
    ))
    n_unique = len(np.unique(emb.vocab.ids))
    checks.append(CheckResult("unique ids", n_unique == len(emb), n_unique, f"= {len(emb)} rows", ""))

    rep("quality", 0.2, "checking quality against item-kNN")
    evaluation = evaluation if evaluation is not None else manifest.get("evaluation")
    k = policy.k
    if evaluation and "item_knn" in evaluation.get("baselines", {}) and f"hr@{k}" in evaluation["method"]:
        ours, knn = evaluation["method"][f"hr@{k}"], evaluation["baselines"]["item_knn"][f"hr@{k}"]
        checks.append(CheckResult(
            "quality vs item-kNN", ours >= knn - policy.knn_tolerance, round(ours - knn, 3),
            f"HR@{k} − item-kNN HR@{k} ≥ −{policy.knn_tolerance}",
            f"HR@{k} {ours:.3f} vs item-kNN {knn:.3f}, most-popular "
            f"{evaluation['baselines'].get('most_popular', {}).get(f'hr@{k}', float('nan')):.3f}",
            acknowledgeable=True,
        ))
        details["evaluation"] = evaluation
    else:
        checks.append(CheckResult(
            "quality vs item-kNN", False, None, f"HR@{k} within {policy.knn_tolerance} of item-kNN",
            "no evaluation stored with this version (train with --evaluate) — acknowledge to approve without one",
            acknowledgeable=True, could_not_judge="no evaluation is stored with this version",
        ))

    rep("popularity", 0.4, "checking popularity collapse")
    diag = popularity_diagnostics(emb, stored.item_stats, k=k, thresholds=policy.collapse,
                                  method=manifest.get("method"))
    details["popularity"] = diag
    checks.append(CheckResult(
        "no popularity collapse", diag["verdict"] != "collapsed", diag["verdict"],
        "verdict ok or warning", diag.get("summary", ""),
    ))

    rep("stability", 0.7, "comparing with the published version")
    live = published_version(store)
    if live is None:  # nothing to compare with: said, never passed (the approver decides)
        why = "nothing is published yet, so there is no catalogue or neighbor list to compare with"
        checks.append(CheckResult("same catalogue as published", False, None, _catalogue_threshold(policy), why,
                                  acknowledgeable=True, could_not_judge=why))
        checks.append(CheckResult("stability vs published", False, None, "within retraining noise", why,
                                  acknowledgeable=True, could_not_judge=why))
        details["summary"] = publish_summary(live, version, None, evaluation, None, k=k)
    elif live == version:  # the published version itself: same catalogue, same lists — judged, and identical
        why = "this version is the published one"
        checks.append(CheckResult("same catalogue as published", True, 1.0, _catalogue_threshold(policy), why))
        checks.append(CheckResult("stability vs published", True, 1.0, "within retraining noise", why))
        details["summary"] = publish_summary(live, version, None, evaluation, None, k=k)
    else:
        live_stored = store.load_version(live)
        noise = manifest.get("noise_floor")
        if noise is not None and int(noise.get("k", k)) != k:
            noise = None
        cmp = compare_versions(live_stored, stored, k=k, noise=noise)
        details["stability"] = cmp
        checks.append(_catalogue_check(cmp, live_stored.manifest, manifest, policy))
        checks.append(_stability_check(cmp, policy))
        details["summary"] = publish_summary(live, version, cmp, evaluation, live_stored.manifest.get("evaluation"),
                                             k=k)
    rep("golden", 0.9, "re-checking golden pairs")
    pairs = golden_pairs(store)
    if pairs.empty:
        why = "no golden pairs are marked yet, so no pair could be checked (mark some on the Neighbors page)"
        checks.append(CheckResult(
            "golden pairs", False, None, f"no good pair lost, no bad pair in the top {k}", why,
            acknowledgeable=True, could_not_judge=why,
        ))
    else:
        g = check_golden(emb, pairs, k=k)
        details["golden"] = {key: v for key, v in g.items() if key != "table"}
        checks.append(CheckResult(
            "golden pairs", bool(g["passed"]) and not g["could_not_judge"],
            None if g["share_ok"] is None else round(g["share_ok"], 3),
            f"no good pair lost, no bad pair in the top {k}",
            f"{g['good_kept']} good kept, {g['good_lost']} lost; {g['bad_present']} bad present, "
            f"{g['bad_gone']} gone; {g['missing']} not in this version",
            acknowledgeable=True, could_not_judge=g["could_not_judge"],
        ))
    rep("done", 1.0, "checks done")
    return checks, details


def approve(store: Store, version: str, *, by: Actor | str, note: str | None = None,
            acknowledge: Iterable[str] = (), override: bool = False, policy: SignoffPolicy | None = None,
            progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Sign ``version`` off: run every sign-off check now (:func:`signoff_checks`) and record the approval with
    exactly those results — the one way to approve, used by the app and the command line alike.

    Refused before the checks run when ``by`` may not approve in this store (:class:`PermissionDenied`: no
    approver role, not signed in, or ``by`` trained the version — four eyes); then as
    :func:`behemb_core.store.lifecycle._record_approval` says (failed checks neither acknowledged by name nor
    overridden: :class:`~behemb_core.store.lifecycle.ApprovalRefused`). Returns the approval record."""
    actor = as_actor(by)
    state = read_policy_state(store)
    access(store, actor, state=state).require("approve")
    _check_four_eyes(store, version, actor, trained_by(store, version), state)
    checks, _ = signoff_checks(store, version, policy=policy, progress=progress)
    return _record_approval(store, version, by=actor, checks=checks, note=note, acknowledge=acknowledge,
                            override=override)


# ------------------------------------------------------------------------------------------------ helpers


def _catalogue_threshold(policy: SignoffPolicy) -> str:
    return (f"≥ {policy.min_shared_share:.0%} of each version's items in the other and ≥ {policy.min_shared_items} "
            "shared items")


def _shares(cmp: dict[str, Any]) -> tuple[int, float, float]:
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


def _catalogue_check(cmp: dict[str, Any], live_manifest: dict[str, Any], manifest: dict[str, Any],
                     policy: SignoffPolicy) -> CheckResult:
    """Same catalogue as published: enough of the published items are in the candidate and the other way round."""
    shared, of_live, of_cand = _shares(cmp)
    same_source, data = _data_sentence(live_manifest, manifest)
    ok = shared >= policy.min_shared_items and min(of_live, of_cand) >= policy.min_shared_share
    detail = (f"{shared:,} items in both: {of_live:.0%} of the published version's {cmp['counts']['a_items']:,} "
              f"items are in this one, {of_cand:.0%} of this version's {cmp['counts']['b_items']:,} items are in the "
              f"published one; {data}.")
    if not ok:
        detail += " This looks like a model for another catalogue; approve only if that is intended."
    elif not same_source:
        detail += " The catalogues overlap enough; check that the data change is intended."
    return CheckResult("same catalogue as published", ok, round(min(of_live, of_cand), 3),
                       _catalogue_threshold(policy), detail, acknowledgeable=True)


def _stability_check(cmp: dict[str, Any], policy: SignoffPolicy) -> CheckResult:
    """Stability vs published, or a warning saying why it could not be judged (never a silent pass)."""
    name, threshold = "stability vs published", "median Jaccard@k within retraining noise"
    shared, of_live, _ = _shares(cmp)
    median = cmp["overall"]["jaccard"]["median"] if cmp["overall"] else None
    median = None if median is None else round(float(median), 3)
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


def publish_summary(live: str | None, version: str, cmp: dict[str, Any] | None,
                    evaluation: dict[str, Any] | None, live_evaluation: dict[str, Any] | None, *,
                    k: int = 10) -> dict[str, Any]:
    """What changes if ``version`` is published instead of ``live``: items added and removed, the HR@k change
    (when both versions store an evaluation) and the median neighbor overlap, with one sentence for people."""
    if cmp is None:
        sentence = (f"Nothing is published yet: publishing makes {version} the first published version."
                    if live is None else f"{version} is the published version.")
        return {"published": live, "added": None, "removed": None, "quality_delta": None,
                "median_jaccard": None, "sentence": sentence}
    c = cmp["counts"]
    key = f"hr@{k}"
    delta = None
    if evaluation and live_evaluation and key in evaluation.get("method", {}) \
            and key in live_evaluation.get("method", {}):
        delta = round(evaluation["method"][key] - live_evaluation["method"][key], 3)
    median = cmp["overall"]["jaccard"]["median"] if cmp["overall"] else None
    median = None if median is None else round(float(median), 3)
    parts = [f"{c['added']:,} items added and {c['removed']:,} removed ({c['shared']:,} kept)"]
    parts.append(f"HR@{k} {delta:+.3f}" if delta is not None else f"HR@{k} change unknown (an evaluation is missing)")
    parts.append(f"median neighbor overlap (Jaccard@{cmp['k']}) {median:.3f}" if median is not None else
                 "neighbor lists cannot be compared (no shared items)")
    return {"published": live, "added": c["added"], "removed": c["removed"], "quality_delta": delta,
            "median_jaccard": median, "sentence": f"Publishing {version} instead of {live}: " + "; ".join(parts) + "."}
