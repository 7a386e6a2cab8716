"""(E) Co-occurrence cosine softmax: unit vectors whose cosine softmax reproduces a popularity-damped,
distance-weighted co-occurrence similarity (see :mod:`behemb_core.target_similarity` and
:mod:`behemb_core.softmax_fit`)."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field, model_validator

from ..cooccurrence import Weighting
from ..directional_fit import fit_directional_softmax
from ..embeddings import DirectionalPair, FitResult, make_embeddings
from ..progress import ProgressCallback, Reporter, as_reporter
from ..softmax_fit import SoftmaxFitParams, fit_cosine_softmax, row_distribution
from ..softmax_sizing import effective_negatives
from ..target_similarity import DirectionalTarget, directional_target, target_similarity
from ..warm_start import warm_rows
from .base import MethodConfig, MethodSpec, TrainingInputs, require_sessions
from .facts import TargetParams, stage

# Up to this many items ``softmax="auto"`` may fit the exact softmax; above it always the sampled one. Where both
# were run the two agree (benchmarks/results/softmax-agreement.md); the full softmax's cost grows with n², so
# above this size the sampled estimator is the faster of the two by a growing factor.
FULL_SOFTMAX_MAX_ITEMS = 15_000
# Below that size ``auto`` takes whichever estimator costs less per epoch, in units of one item's vector against
# another's: the full softmax costs n per row, the sampled one (negatives + POSITIVE_COST × non-zeros of the row
# of T) — a positive costs about six negatives, three compiled passes against three BLAS products (measured on
# Online Retail, MovieLens-small and a Diginetica-like sample: benchmarks/results/small-data-ablation.md). So a
# sparse target — short click sessions, where each item co-occurs with a handful of others — takes the sampled
# softmax even at a few thousand items, and a dense one (baskets: Online Retail's 3,900 items have ~650 partners
# each) keeps the exact softmax.
POSITIVE_COST = 6.0
# ``lr`` is the step at this dimension; other dims scale it by √(REFERENCE_DIM / dim), so unit vectors move by the
# same relative amount at any dim (what that gains at small dims: benchmarks/results/method-defaults.md).
REFERENCE_DIM = 128
# Early stopping defaults (benchmarks/results/warm-start.md): a cold fit at the defaults runs (nearly) all its
# epochs; a warm-started retrain stops once the loss is flat.
MIN_EPOCHS = 3
STOP_TOL = 0.003
STOP_PATIENCE = 1


class CoocSoftmaxConfig(MethodConfig):
    window: int = Field(
        10, title="Window (positions)", ge=1, le=1000,
        description="Items up to this many positions apart form a pair. Wider finds more (weaker) pairs; with "
        "harmonic weighting the far ones count little, so widen it for short or basket-like sessions.",
    )
    weighting: Weighting = Field(
        "harmonic", title="Pair weighting",
        description="Weight of a pair d positions apart: 1 (uniform), 1/d (harmonic) or (window-d+1)/window "
        "(linear). Harmonic trusts adjacent items most; uniform suits unordered baskets.",
    )
    gamma: float = Field(
        0.1, title="Popularity exponent γ", ge=0, le=1,
        description="Popularity exponent: T_ab = C_ab / (d_a·d_b)^gamma. Raise it if popular items crowd every "
        "neighbor list; lower it if rare one-off pairs do. 0.5 is cosine-like (the item-kNN baseline).",
    )
    tau: float = Field(
        0.1, title="Temperature τ", gt=0.005, le=2,
        description="Softmax temperature. Lower sharpens neighbor lists around the strongest pairs; higher "
        "spreads them to broader topics.",
    )
    epochs: int = Field(
        20, title="Epochs (at most)", ge=1, le=500,
        description="Passes over all items, at most: the fit stops earlier once the loss stops improving (below). "
        "Raise it if the loss still falls at the end; lower it to train faster.",
    )
    min_epochs: int = Field(
        MIN_EPOCHS, title="Epochs (at least)", ge=1, le=500,
        description="The fit never stops before this many epochs. A warm-started retrain usually stops here.",
    )
    stop_tol: float = Field(
        STOP_TOL, title="Stop when the loss improves less than", ge=0, le=1,
        description="Relative loss improvement over the last `stop_patience` epochs below which the fit stops "
        "(0 = always run all epochs). Lower it to train longer.",
    )
    stop_patience: int = Field(
        STOP_PATIENCE, title="Over how many epochs", ge=1, le=50,
        description="The window, in epochs, over which the loss improvement is measured for stopping.",
    )
    lr: float = Field(
        0.01, title="Learning rate", gt=0, le=1,
        description="Adam learning rate at dim 128; the step used is lr·√(128/dim), so unit vectors move by the "
        "same relative amount at any dim. Lower it if the per-epoch loss jumps around; raise it if it falls "
        "slowly.",
    )
    batch_size: int = Field(
        1024, title="Batch size", ge=16, le=65536,
        description="Items per optimisation step (at most a sixteenth of the catalogue, so every epoch takes 16+ "
        "steps). Larger is faster per epoch but takes fewer steps.",
    )
    negatives: int = Field(
        2048, title="Shared negatives", ge=16, le=65536,
        description="Shared negative items per step for the sampled softmax (at most a sixteenth of the "
        "catalogue). More is closer to the exact softmax and slower.",
    )
    row_weight_exponent: float = Field(
        0.5, title="Row weight exponent", ge=0, le=2,
        description="Item weight in the loss grows as (row mass)^exponent. Raise it to favour well-observed "
        "items; 0 weighs every item alike.",
    )
    directional: bool = Field(
        False, title="Also fit the 'next item' tables",
        description="Besides the symmetric vectors ('also viewed'), fit query and candidate vectors Q and K that "
        "rank what people go on to next after an item (by Q·K). Worth it where the order of events carries "
        "signal; costs about one more fit.",
    )
    alpha: float = Field(
        0.75, title="Forward share α", ge=0, le=1,
        description="Share of the forward co-occurrence (b after a) in the 'next item' target; the rest is the "
        "symmetric one. 0 ignores order; 1 uses order only. Used only with the 'next item' tables.",
    )
    serves: Literal["also", "next"] = Field(
        "also", title="Meant to serve",
        description="Which ranking the version is for: 'also' (people who viewed this also viewed, the symmetric "
        "vectors) or 'next' (what people go on to next, Q·K; needs the 'next item' tables). Sign-off judges "
        "quality, and the tuner scores trials, in this mode.",
    )
    softmax: Literal["auto", "full", "sampled"] = Field(
        "auto", title="Softmax",
        description=f"'full' is exact but costs items² per epoch; 'sampled' scales to millions of items; "
        f"'auto' uses full where it costs no more than sampled (dense co-occurrence, at most "
        f"{FULL_SOFTMAX_MAX_ITEMS:,} items).",
    )

    @model_validator(mode="after")
    def _next_needs_the_tables(self) -> CoocSoftmaxConfig:
        if self.serves == "next" and not self.directional:
            raise ValueError("serves='next' needs the 'next item' tables: set directional=true too")
        return self

    def step_size(self) -> float:
        """Adam's learning rate for this ``dim``: coordinates of a unit vector shrink as 1/√dim, so the step does."""
        return self.lr * math.sqrt(REFERENCE_DIM / self.dim)

    def fit_params(self) -> SoftmaxFitParams:
        return SoftmaxFitParams(
            dim=self.dim, tau=self.tau, epochs=self.epochs, lr=self.step_size(), batch_size=self.batch_size,
            negatives=self.negatives, row_weight_exponent=self.row_weight_exponent,
            min_epochs=self.min_epochs, tol=self.stop_tol, patience=self.stop_patience,
        )


def use_full_softmax(config: CoocSoftmaxConfig, n_items: int, target_nnz: int) -> bool:
    """Whether the fit uses the exact softmax: as configured, or for ``auto`` when it costs no more per epoch
    than the sampled one (see ``POSITIVE_COST``) on at most ``FULL_SOFTMAX_MAX_ITEMS`` items."""
    if config.softmax != "auto":
        return config.softmax == "full"
    if n_items > FULL_SOFTMAX_MAX_ITEMS:
        return False
    negatives = effective_negatives(config.negatives, n_items)
    return n_items <= negatives + POSITIVE_COST * target_nnz / max(n_items, 1)


def fit_cooc_softmax(
    inputs: TrainingInputs, config: CoocSoftmaxConfig, *, seed: int = 0,
    progress: ProgressCallback | Reporter | None = None,
) -> FitResult:
    """Fit unit vectors to the target similarity ``T`` of the sessions with a cosine softmax.

    Items that co-occur with nothing have an empty row of ``T``: they get no vector and are listed in the
    report. Deterministic for a seed on a given machine (see :mod:`behemb_core.softmax_fit`), warm-started or not:
    with ``inputs.warm_start`` the items it has start from its vectors, new ones from the seeded random start.
    """
    sessions = require_sessions(inputs, "cooc_softmax")
    rep = as_reporter(progress)
    directed = None
    if config.directional:  # one directed count gives both targets
        directed = directional_target(sessions, window=config.window, weighting=config.weighting,
                                      gamma=config.gamma, progress=rep.sub(0.0, 0.1))
        target = directed.symmetric
    else:
        target = target_similarity(sessions, window=config.window, weighting=config.weighting, gamma=config.gamma,
                                   progress=rep.sub(0.0, 0.1))
    keep = np.flatnonzero(target.has_signal)
    if len(keep) < 2:
        from ..errors import ConfigError

        raise ConfigError(
            f"cooc_softmax: only {len(keep)} item(s) co-occur with another item within window={config.window}; "
            "provide sessions with at least two different items"
        )
    t = target.matrix[keep][:, keep].tocsr()
    full = use_full_softmax(config, len(keep), int(t.nnz))
    vocab = sessions.vocab.subset(keep)
    warm = None
    if inputs.warm_start is not None:
        warm = warm_rows(vocab, inputs.warm_start, config.dim, method="cooc_softmax")
    rep("fit", 0.1, f"fitting {len(keep):,} items with the {'full' if full else 'sampled'} softmax"
        + (f", {warm.reused:,} of them warm-started" if warm is not None else ""))
    end = 0.98 if directed is None else 0.54
    res = fit_cosine_softmax(t, config.fit_params(), seed=seed, full=full, progress=rep.sub(0.1, end), warm=warm)
    emb = make_embeddings(vocab, res.vectors, expected_dim=config.dim, method="cooc_softmax")
    pair, pair_report = None, None
    if directed is not None:
        pair, pair_report = _fit_next_tables(directed, keep, t, emb.vectors, config, seed, rep.sub(0.54, 0.98))
    dropped = sessions.vocab.take(np.flatnonzero(~target.has_signal))
    rep("done", 1.0, f"embedded {len(vocab)} items")
    return FitResult(
        directional=pair,
        embeddings=emb,
        report={
            "estimator": res.estimator,
            "batch_size": res.batch_size,
            **({"negatives": res.negatives} if not full else {}),
            "adam_lr": config.step_size(),
            "epoch_losses": res.epoch_losses,
            "epochs_run": res.epochs_run,
            "stopped_early": res.epochs_run < config.epochs,
            "seconds_per_epoch": res.seconds_per_epoch,
            "threads": res.threads,
            "target_nnz": int(t.nnz),
            "items_without_vector": int(len(dropped)),
            "items_without_vector_examples": dropped[:20].tolist(),
            "items_without_vector_reason": f"no co-occurrence with another item within window={config.window}",
            "bit_reproducible": True,
            **({"warm_start": warm.record()} if warm is not None else {}),
            **({"directional": pair_report} if pair_report is not None else {}),
        },
    )


def _fit_next_tables(directed: DirectionalTarget, keep: np.ndarray, t: sp.csr_matrix, symmetric: np.ndarray,
                     config: CoocSoftmaxConfig, seed: int, rep: Reporter) -> tuple[DirectionalPair, dict[str, object]]:
    """The "next item" tables Q and K of the items ``keep`` (the symmetric fit's rows), fitted to the mix of the
    forward and the symmetric target (share ``alpha``) with the symmetric fit's settings, row weights and early
    stopping, both tables starting from the symmetric vectors ``symmetric``.

    Why that start (measured on the README's protocol, `python -m benchmarks.quality`): a Q row has a gradient only
    when it is a batch's query — once an epoch — while every K row moves at every step, so from a random start the
    Q·K fit needs about twice the symmetric fit's epochs. Started from the symmetric vectors — already the fit of
    the α = 0 target — it stops in fewer epochs than the symmetric fit and ranks as well or better (Online Retail
    HR@10 .400 against .397 from a random start; MovieLens-small .062 against .060). At α = 0 the mixed target
    is the symmetric target, so both tables are the symmetric vectors and nothing is fitted."""
    forward_rows = int((np.diff(directed.forward[keep].indptr) > 0).sum())
    counts = {"items_with_forward_pairs": forward_rows, "items_without_forward_pairs": int(len(keep) - forward_rows)}
    if config.alpha == 0.0:  # the α = 0 target is the symmetric one, whose fit is the symmetric table itself
        rep("fit", 1.0, "α 0: the 'next item' tables are the symmetric vectors (no second fit)")
        return DirectionalPair(query=symmetric.copy(), candidate=symmetric.copy(), alpha=0.0), {
            "alpha": 0.0, "epochs_run": 0, "target_nnz": int(t.nnz), **counts,
            "start": "α 0: both tables are the symmetric vectors (the α 0 target is the symmetric target)"}
    p = directed.mixed(config.alpha, keep)
    _, w = row_distribution(t, config.row_weight_exponent)
    full = use_full_softmax(config, len(keep), int(p.nnz))
    rep("fit", 0.0, f"fitting the 'next item' tables (α {config.alpha:g}) with the {'full' if full else 'sampled'} "
        "softmax, from the symmetric vectors")
    res = fit_directional_softmax(p, w, config.fit_params(), seed=seed, full=full, progress=rep, start=symmetric)
    pair = DirectionalPair(query=np.ascontiguousarray(res.query), candidate=np.ascontiguousarray(res.candidate),
                           alpha=float(config.alpha))
    return pair, {"alpha": float(config.alpha), "estimator": res.estimator, "epoch_losses": res.epoch_losses,
                  "epochs_run": res.epochs_run, "seconds_per_epoch": res.seconds_per_epoch,
                  "target_nnz": int(p.nnz), **counts, "start": "the symmetric vectors (both tables)"}


def _target(config: CoocSoftmaxConfig) -> TargetParams:
    return TargetParams(window=config.window, weighting=config.weighting, gamma=config.gamma)


SPEC = MethodSpec(
    name="cooc_softmax", title="Co-occurrence cosine softmax", config_class=CoocSoftmaxConfig, fit=fit_cooc_softmax,
    description="Unit vectors whose cosine softmax reproduces popularity-damped, distance-weighted co-occurrence. "
    "Pick it first: the most accurate neighbors on real data, and the only method that beats item-kNN there — "
    "unless the popularity diagnosis shown after training says its lists lean on bestsellers more than item-kNN's "
    "(then raise gamma, or tune with the collapse gate).",
    version_prefix="cs",
    # The target stage picks the cheap parameters of T without training; the fit stage then tunes the fit. The
    # "next" stage (the tuner's NEXT_STAGE) runs only for a config with directional=true: the forward share α of
    # the "next item" tables, fitted and scored in the mode the config serves.
    search_space=(
        stage("target", "target", window=(10, 1, 2, 3, 5), weighting=("harmonic", "uniform"),
              gamma=(0.1, 0.0, 0.2, 0.3, 0.5)),
        stage("fit", "fit", tau=(0.1, 0.05, 0.2), epochs=(20, 10, 40)),
        stage("next", "fit", alpha=(0.75, 0.0, 0.25, 0.5, 1.0)),
    ),
    warm_up=({"epochs": 1, "softmax": "full"}, {"epochs": 1, "softmax": "sampled", "negatives": 32}),
    collapse_hints=(
        "raise gamma (0.2-0.5): T = D^-γ C D^-γ then damps popular items harder",
        "use a shorter window (e.g. 3-5): wide windows mix in whatever is popular",
    ),
    cooc_window=lambda config: config.window,
    target=_target,
    warm_start=True,
    warm_start_note="items the old version has start from its vectors, new items from the usual random start; the "
    "fit then runs until the loss stops improving, usually `min_epochs`",
)
