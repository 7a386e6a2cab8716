"""The sign-off checklist a version must pass (or have acknowledged/overridden) before it can be published.

Each check is a :class:`~behemb_core.store.lifecycle.CheckResult` with its value and threshold, so an approval
records exactly what was seen. Acknowledgeable checks (quality vs item-kNN, a change beyond retraining noise)
are judgement calls the approver may accept by name; the others need an explicit, recorded override.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .compare import compare_versions
from .diagnostics import CollapseThresholds, popularity_diagnostics
from .errors import IntegrityError
from .progress import ProgressCallback, as_reporter
from .store import Store
from .store.golden import check_golden, golden_pairs
from .store.lifecycle import CheckResult, published_version


class SignoffPolicy(BaseModel):
    """Thresholds of the sign-off checks (recorded with every approval)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    k: int = Field(10, ge=1, le=100, description="Cut-off for neighbour lists and HR@K.")
    knn_tolerance: float = Field(
        0.02, ge=0, le=1, description="HR@K may be at most this far below item-kNN's on the same split."
    )
    collapse: CollapseThresholds = Field(default_factory=CollapseThresholds)


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
            "quality vs item-kNN", ours >= knn - policy.knn_tolerance, round(ours - knn, 4),
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
            acknowledgeable=True,
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
    if live is None or live == version:
        checks.append(CheckResult(
            "stability vs published", True, None, "within retraining noise",
            "nothing else is published yet" if live is None else "this version is the published one",
        ))
    else:
        noise = manifest.get("noise_floor")
        if noise is not None and int(noise.get("k", k)) != k:
            noise = None
        cmp = compare_versions(store.load_version(live), stored, k=k, noise=noise)
        details["stability"] = cmp
        median = cmp["overall"]["jaccard"]["median"] if cmp["overall"] else None
        if cmp["verdict"] is None:
            checks.append(CheckResult(
                "stability vs published", True, median, "within retraining noise",
                f"{cmp['sentence']} No noise floor is stored with this version (train with --noise-floor), "
                "so the change cannot be judged against retraining noise.",
            ))
        else:
            checks.append(CheckResult(
                "stability vs published", cmp["verdict"] == "within_noise", median,
                "median Jaccard@k within retraining noise", cmp["sentence"], acknowledgeable=True,
            ))
    rep("golden", 0.9, "re-checking golden pairs")
    pairs = golden_pairs(store)
    if pairs.empty:
        checks.append(CheckResult(
            "golden pairs", True, None, f"no good pair lost, no bad pair in the top {k}", "no golden pairs marked yet",
        ))
    else:
        g = check_golden(emb, pairs, k=k)
        details["golden"] = {key: v for key, v in g.items() if key != "table"}
        checks.append(CheckResult(
            "golden pairs", bool(g["passed"]), g["share_ok"], f"no good pair lost, no bad pair in the top {k}",
            f"{g['good_kept']} good kept, {g['good_lost']} lost; {g['bad_present']} bad present, "
            f"{g['bad_gone']} gone; {g['missing']} not in this version",
            acknowledgeable=True,
        ))
    rep("done", 1.0, "checks done")
    return checks, details
