"""(A) Co-occurrence → PPMI → truncated SVD: the deterministic, fast "ships-first" baseline."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from ..cooccurrence import cooccurrence_from_pairs, count_pairs, pair_offsets, ppmi
from ..embeddings import FitResult, make_embeddings
from ..errors import ConfigError
from ..progress import ProgressCallback, Reporter, as_reporter
from ..svd import randomized_svd
from .base import MethodConfig, MethodSpec, TrainingInputs, require_sessions
from .facts import stage


class PpmiSvdConfig(MethodConfig):
    window: int = Field(
        5, title="Window (positions)", ge=0, le=1000,
        description="Items up to this many positions apart count as a pair; 0 = the whole session (baskets). "
        "Wider windows blur topics and favour popular items.",
    )
    weighting: Literal["uniform", "harmonic", "linear"] = Field(
        "uniform", title="Pair weighting", description="Weight of a pair at distance d: 1, 1/d, or (window-d+1)/window."
    )
    alpha: float = Field(
        0.75, title="Context smoothing α", gt=0, le=1,
        description="Context-distribution smoothing of PPMI; 0.75 (Levy et al. 2015) damps popular items, "
        "1 = plain PPMI.",
    )
    shift: float = Field(1.0, title="PMI shift",
        ge=1, le=100, description="Shifted PPMI: subtract log(shift); 1 = no shift.")
    eig_weight: float = Field(
        0.5, title="Eigenvalue weight p", ge=0, le=1,
        description="Eigenvalue weighting p in E = U·S^p; 0.5 is a robust default, 1 over-weights the top "
        "(often popularity) directions.",
    )
    n_iter: int = Field(3, title="Power iterations",
        ge=0, le=20, description="Power iterations of randomized SVD (more = more exact).")
    oversample: int = Field(10, title="Oversampling",
        ge=0, le=200, description="Extra random directions in randomized SVD.")


def fit_ppmi_svd(
    inputs: TrainingInputs, config: PpmiSvdConfig, *, seed: int = 0,
    progress: ProgressCallback | Reporter | None = None,
) -> FitResult:
    """Embed items as rows of ``U·S^p`` from the SVD of the PPMI co-occurrence matrix.

    The pair counts come from ``inputs.pairs`` when given (counted by the Spark engine), else from the sessions.
    Items whose PPMI row is empty (they only co-occur with items they are no more likely than chance to meet)
    get no vector; they are listed in the report, never given a random one. Deterministic for a given seed.
    """
    rep = as_reporter(progress)
    pairs = inputs.pairs or count_pairs(
        require_sessions(inputs, "ppmi_svd"), window=config.window, weighting=config.weighting,
        progress=rep.sub(0.0, 0.4),
    )
    if (pairs.window, pairs.n_offsets) != (config.window, pair_offsets(config.window, config.weighting)):
        raise ConfigError(f"ppmi_svd: the pair table was counted with window {pairs.window} ({pairs.weighting}), "
                          f"the config asks for window {config.window} ({config.weighting})")
    if pairs.weighting != config.weighting:
        pairs = pairs.reweighted(config.weighting)
    counts = cooccurrence_from_pairs(pairs)
    vocab_all = pairs.vocab
    rep("ppmi", 0.45, "computing PPMI")
    m = ppmi(counts, alpha=config.alpha, shift=config.shift)
    has_signal = np.diff(m.indptr) > 0
    keep = np.flatnonzero(has_signal)
    if len(keep) <= config.dim:
        raise ConfigError(
            f"ppmi_svd: dim={config.dim} needs more than {config.dim} items with co-occurrence signal, "
            f"but only {len(keep)} have any; lower dim or provide more sessions"
        )
    m = m[keep][:, keep]
    u, s, _ = randomized_svd(
        m, config.dim, n_oversamples=config.oversample, n_iter=config.n_iter, seed=seed,
        progress=rep.sub(0.5, 0.95),
    )
    vectors = u * np.power(s, config.eig_weight)[None, :]
    vocab = vocab_all.subset(keep)
    emb = make_embeddings(vocab, vectors, expected_dim=config.dim, method="ppmi_svd")
    dropped = vocab_all.take(np.flatnonzero(~has_signal))
    rep("done", 1.0, f"embedded {len(vocab)} items")
    return FitResult(
        embeddings=emb,
        report={
            "cooccurrence_nnz": int(counts.nnz),
            "ppmi_nnz": int(m.nnz),
            "singular_values_top": [float(x) for x in s[:10]],
            "items_without_vector": int(len(dropped)),
            "items_without_vector_examples": dropped[:20].tolist(),
            "items_without_vector_reason": "no positive PMI with any other item",
        },
    )


SPEC = MethodSpec(
    name="ppmi_svd", title="PPMI + SVD", config_class=PpmiSvdConfig, fit=fit_ppmi_svd,
    description="Windowed co-occurrence → PPMI → randomized SVD. Pick it for the fastest iterations on very large "
    "catalogues, or for vectors that are identical for a seed on any machine.",
    version_prefix="ppmi", pair_table=lambda config: (config.window, config.weighting),
    search_space=(
        stage("cooccurrence", "fit", window=(5, 1, 2, 3, 10, 0), weighting=("uniform", "harmonic")),
        stage("ppmi", "fit", alpha=(0.75, 0.5, 1.0), eig_weight=(0.5, 0.0, 1.0)),
    ),
    warm_up=({}, {"weighting": "harmonic"}),
    collapse_hints=(
        "use alpha = 0.75 (context smoothing), not 1: plain PPMI favours popular contexts",
        "use eig_weight p < 1 (0.5 or 0): p = 1 stretches the leading, often popularity, directions",
        "use a shorter window (e.g. 2-3)",
        "use shift > 1 (e.g. 2-5) so weak, popularity-driven associations are cut",
    ),
    cooc_window=lambda config: config.window,
)
