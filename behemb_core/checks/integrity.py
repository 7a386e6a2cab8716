"""Checks that the version is what its manifest says: files intact, vectors valid, one row per item. A failure
blocks approval unless overridden."""

from __future__ import annotations

import numpy as np

from ..store.checklist import CheckResult
from .context import CheckContext

__all__ = ["check_files_intact", "check_unique_ids", "check_vectors_valid"]


def check_files_intact(ctx: CheckContext) -> CheckResult:
    """Every file of the version matches the manifest's sha256."""
    problems = ctx.file_problems()
    return CheckResult("files intact", not problems, len(problems), "0 checksum problems",
                       "; ".join(problems) or "every file matches the manifest's sha256")


def check_vectors_valid(ctx: CheckContext) -> CheckResult:
    """The vectors load, are finite and have unit norm. When they cannot be loaded nothing after this check can
    be judged: the checklist ends here."""
    threshold = "finite, non-zero, |norm − 1| < 0.001"
    error = ctx.load_error()
    if error is not None:
        return CheckResult("vectors valid", False, None, "finite, non-zero, unit norm", str(error))
    emb = ctx.stored.embeddings
    max_dev = float(np.max(np.abs(np.linalg.norm(emb.vectors, axis=1) - 1.0)))
    return CheckResult("vectors valid", bool(np.isfinite(emb.vectors).all() and max_dev < 1e-3), round(max_dev, 6),
                       threshold, f"{len(emb)} vectors of dimension {emb.dim}")


def check_unique_ids(ctx: CheckContext) -> CheckResult:
    """One row per item id."""
    emb = ctx.stored.embeddings
    n_unique = len(np.unique(emb.vocab.ids))
    return CheckResult("unique ids", n_unique == len(emb), n_unique, f"= {len(emb)} rows", "")
