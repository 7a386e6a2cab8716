"""(B) Item2Vec: skip-gram with negative sampling over sessions (Barkan & Koenigstein 2016), through gensim."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from pydantic import Field

from ..embeddings import FitResult, make_embeddings
from ..progress import ProgressCallback, Reporter, as_reporter
from ..skipgram import SkipGramParams, train_skipgram
from ..warm_start import WarmRows, warm_rows
from .base import MethodConfig, MethodSpec, TrainingInputs, require_sessions
from .facts import stage


class SkipGramConfig(MethodConfig):
    """Skip-gram parameters shared by item2vec and graph (Caselles-Dupré et al. 2018: they matter)."""

    window: int = Field(5, title="Window (positions)",
        ge=1, le=100, description="Context window in positions; wider = more topical, more popular.")
    negative: int = Field(5, title="Negative samples", ge=1, le=50, description="Negative samples per positive pair.")
    ns_exponent: float = Field(
        0.75, title="Negative-sampling exponent", ge=-2.0, le=2.0,
        description="Exponent of the negative-sampling distribution; 0.75 is word2vec's, lower or negative "
        "values sample more long-tail items and often win for recommendation.",
    )
    sample: float = Field(
        1e-3, title="Down-sampling threshold", ge=0, le=1,
        description="Down-sampling threshold for frequent items (smaller = stronger); 0 disables it.",
    )
    epochs: int = Field(10, title="Epochs", ge=1, le=500, description="Passes over the corpus.")
    min_count: int = Field(1, title="Minimum count",
        ge=1, description="Items seen fewer times get no vector (gensim's 5 drops the tail).")
    workers: int = Field(
        2, title="Threads", ge=1, le=64,
        description="Training threads. Only workers=1 is bit-reproducible for a seed.",
    )
    shrink_windows: bool = Field(True, title="Random window shrinking",
        description="Sample the effective window per position (word2vec default).")
    alpha: float = Field(0.025, title="Start learning rate", gt=0, le=1, description="Initial learning rate.")
    min_alpha: float = Field(0.0001, title="End learning rate", ge=0, le=1, description="Final learning rate.")

    def skipgram_params(self) -> SkipGramParams:
        return SkipGramParams(
            dim=self.dim, window=self.window, negative=self.negative, ns_exponent=self.ns_exponent,
            sample=self.sample, epochs=self.epochs, min_count=self.min_count, workers=self.workers,
            shrink_windows=self.shrink_windows, alpha=self.alpha, min_alpha=self.min_alpha,
        )


# Early stopping defaults (benchmarks/results/warm-start.md).
MIN_EPOCHS = 3
STOP_TOL = 0.01
STOP_PATIENCE = 1
# Stored vectors are unit length; gensim's trained input vectors are longer. A warm start scales them to this
# norm, about the median of a converged item2vec's vectors at the defaults (benchmarks/results/warm-start.md).
WARM_NORM = 3.0
# A warm start's schedule: SGNS with the cold schedule's high rate scrambles the old vectors before it settles.
WARM_EPOCHS = 2
WARM_ALPHA = 0.01


class Item2VecConfig(SkipGramConfig):
    min_epochs: int = Field(
        MIN_EPOCHS, title="Epochs (at least)", ge=1, le=500,
        description="Training never stops before this many epochs (`epochs` is the most). A warm-started retrain "
        "usually stops here.",
    )
    stop_tol: float = Field(
        STOP_TOL, title="Stop when the loss improves less than", ge=0, le=1,
        description="Relative loss improvement over the last `stop_patience` epochs below which training stops "
        "(0 = always run all epochs, in one gensim call).",
    )
    stop_patience: int = Field(
        STOP_PATIENCE, title="Over how many epochs", ge=1, le=50,
        description="The window, in epochs, over which the loss improvement is measured for stopping.",
    )
    warm_epochs: int = Field(
        WARM_EPOCHS, title="Warm start: epochs (at most)", ge=1, le=500,
        description="A warm-started retrain trains at most this many epochs (and stops earlier by the same loss "
        "rule), its learning rate falling from `warm_alpha` to `min_alpha` over them: it starts near the answer.",
    )
    warm_alpha: float = Field(
        WARM_ALPHA, title="Warm start: start learning rate", gt=0, le=1,
        description="Start learning rate of a warm-started retrain. Lower keeps the old neighbors more stable; "
        "higher adapts faster to new behaviour.",
    )

    def skipgram_params(self, *, warm: bool = False) -> SkipGramParams:
        """gensim's parameters; for a warm-started retrain its shorter, gentler schedule."""
        params = replace(super().skipgram_params(), min_epochs=self.min_epochs, tol=self.stop_tol,
                         patience=self.stop_patience)
        if warm:
            params = replace(params, epochs=self.warm_epochs, alpha=self.warm_alpha,
                             min_alpha=min(self.min_alpha, self.warm_alpha),
                             min_epochs=min(self.min_epochs, self.warm_epochs))
        return params


def fit_item2vec(
    inputs: TrainingInputs, config: Item2VecConfig, *, seed: int = 0,
    progress: ProgressCallback | Reporter | None = None,
) -> FitResult:
    """Train SGNS on the sessions as sentences. Items below ``min_count`` are reported, not embedded.

    With ``inputs.warm_start`` the items it has start from its vectors (scaled to :data:`WARM_NORM`), new items
    from gensim's seeded random start, and training follows the warm schedule (``warm_epochs``, ``warm_alpha``)."""
    sessions = require_sessions(inputs, "item2vec")
    rep = as_reporter(progress)
    warm = None
    if inputs.warm_start is not None:
        warm = warm_rows(sessions.vocab, inputs.warm_start, config.dim, method="item2vec")
    rep("prepare", 0.0, "writing the training corpus")
    res = train_skipgram(
        sessions.indptr, sessions.codes, sessions.n_items, config.skipgram_params(warm=warm is not None),
        seed=seed, progress=rep.sub(0.02, 0.98), warm=warm, warm_scale=WARM_NORM,
    )
    vocab = sessions.vocab.subset(res.kept_codes)
    emb = make_embeddings(vocab, res.vectors, expected_dim=config.dim, method="item2vec")
    missing = np.setdiff1d(np.arange(sessions.n_items), res.kept_codes)
    rep("done", 1.0, f"embedded {len(vocab)} items")
    return FitResult(
        embeddings=emb,
        report={
            "epoch_losses": res.epoch_losses,
            "epochs_run": res.epochs_run,
            "stopped_early": res.epochs_run < (config.warm_epochs if warm is not None else config.epochs),
            "corpus_tokens": int(sessions.n_events),
            "corpus_seconds": res.corpus_seconds,
            "gensim_train_seconds": res.train_seconds,
            "items_without_vector": int(len(missing)),
            "items_without_vector_examples": sessions.vocab.take(missing[:20]).tolist(),
            "items_without_vector_reason": f"seen fewer than min_count={config.min_count} times",
            "bit_reproducible": config.workers == 1,
            **({"warm_start": _reused(warm, res.kept_codes)} if warm is not None else {}),
        },
    )


def _reused(warm: WarmRows, kept: np.ndarray) -> dict[str, int]:
    """Items of the fit's vocabulary (those that got a vector) that started from the base, and new ones."""
    reused = int(np.isin(warm.codes, kept).sum())
    return {"items_reused": reused, "items_new": int(len(kept)) - reused}


#: What to change when skip-gram's neighbor lists collapse onto popular items (item2vec and graph).
SKIPGRAM_HINTS = (
    "lower ns_exponent (0 or -0.5) so negative samples come more often from tail items",
    "down-sample frequent items harder: sample = 1e-4 ... 1e-5",
    "use a shorter window (e.g. 2-3): wide windows mix in whatever is popular",
)

SPEC = MethodSpec(
    name="item2vec", title="Item2Vec (SGNS)", config_class=Item2VecConfig, fit=fit_item2vec,
    description="Skip-gram with negative sampling over sessions (gensim Word2Vec, sg=1). Pick it when the order "
    "inside long sessions matters more than plain co-occurrence.",
    version_prefix="i2v",
    search_space=(
        stage("sampling", "fit", ns_exponent=(0.75, -0.5, 0.0), window=(5, 3, 10)),
        stage("epochs", "fit", epochs=(10, 5, 20)),
    ),
    warm_up=({"epochs": 1, "workers": 1},),
    collapse_hints=SKIPGRAM_HINTS,
    cooc_window=lambda config: config.window,
    warm_start=True,
    warm_start_note="items the old version has start from its vectors, new items from gensim's random start; "
    "training then runs at most `warm_epochs` epochs from the learning rate `warm_alpha`",
)
