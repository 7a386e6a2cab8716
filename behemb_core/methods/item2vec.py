"""(B) Item2Vec: skip-gram with negative sampling over sessions (Barkan & Koenigstein 2016), through gensim."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from ..embeddings import FitResult, make_embeddings
from ..progress import ProgressCallback, Reporter, as_reporter
from ..skipgram import SkipGramParams, train_skipgram
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


class Item2VecConfig(SkipGramConfig):
    pass


def fit_item2vec(
    inputs: TrainingInputs, config: Item2VecConfig, *, seed: int = 0,
    progress: ProgressCallback | Reporter | None = None,
) -> FitResult:
    """Train SGNS on the sessions as sentences. Items below ``min_count`` are reported, not embedded."""
    sessions = require_sessions(inputs, "item2vec")
    rep = as_reporter(progress)
    rep("prepare", 0.0, "writing the training corpus")
    res = train_skipgram(
        sessions.indptr, sessions.codes, sessions.n_items, config.skipgram_params(),
        seed=seed, progress=rep.sub(0.02, 0.98),
    )
    vocab = sessions.vocab.subset(res.kept_codes)
    emb = make_embeddings(vocab, res.vectors, expected_dim=config.dim, method="item2vec")
    missing = np.setdiff1d(np.arange(sessions.n_items), res.kept_codes)
    rep("done", 1.0, f"embedded {len(vocab)} items")
    return FitResult(
        embeddings=emb,
        report={
            "epoch_losses": res.epoch_losses,
            "corpus_tokens": int(sessions.n_events),
            "corpus_seconds": res.corpus_seconds,
            "gensim_train_seconds": res.train_seconds,
            "items_without_vector": int(len(missing)),
            "items_without_vector_examples": sessions.vocab.take(missing[:20]).tolist(),
            "items_without_vector_reason": f"seen fewer than min_count={config.min_count} times",
            "bit_reproducible": config.workers == 1,
        },
    )


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
)
