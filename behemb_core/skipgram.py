"""Skip-gram with negative sampling through gensim, fed at gensim's fastest: ``corpus_file`` mode.

Shared by ``item2vec`` (sentences = sessions) and ``graph`` (sentences = random walks). Sentences arrive as
CSR arrays of item codes; a compiled writer turns them into a whitespace-separated text file in one pass, the
vocabulary is handed to gensim from counts we already have (no second scan of the corpus, and none of gensim's
per-word Python loops: :func:`load_vocabulary` builds the same state with numpy), and vectors come back
aligned to our codes, never gensim's vocabulary order.

Reproducibility: with ``workers=1`` the result is bit-identical for the same seed and data. With several
workers, gensim's threads race on shared weights (Hogwild), so results differ slightly from run to run.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from .progress import Reporter
from .warm_start import EarlyStop, WarmRows


@dataclass(frozen=True)
class SkipGramParams:
    dim: int
    window: int
    negative: int
    ns_exponent: float
    sample: float
    epochs: int
    min_count: int
    workers: int
    shrink_windows: bool
    alpha: float
    min_alpha: float
    # Early stopping (:class:`~behemb_core.warm_start.EarlyStop`): ``epochs`` is then the most epochs run. With
    # ``tol = 0`` gensim trains all epochs in one call; otherwise one call per epoch, on the same learning-rate
    # schedule, so that it can stop between epochs.
    min_epochs: int = 1
    tol: float = 0.0
    patience: int = 1


@dataclass
class SkipGramResult:
    vectors: np.ndarray  # (n_kept, dim) float32, rows aligned with `kept_codes`
    kept_codes: np.ndarray  # codes (into the caller's vocabulary) that received a vector, ascending
    epoch_losses: list[float] = field(default_factory=list)
    train_seconds: float = 0.0
    corpus_seconds: float = 0.0

    @property
    def epochs_run(self) -> int:
        return len(self.epoch_losses)


@njit(cache=True)
def _n_digits(v: int) -> int:
    n = 1
    while v >= 10:
        v //= 10
        n += 1
    return n


@njit(cache=True)
def _encoded_bytes(codes: np.ndarray) -> int:
    """Bytes of the encoded corpus: each code's digits plus one separator (space or newline)."""
    total = 0
    for k in range(len(codes)):
        total += _n_digits(codes[k]) + 1
    return total


@njit(cache=True)
def _write_tokens(indptr: np.ndarray, codes: np.ndarray, out: np.ndarray) -> int:
    """ASCII-encode sentences: codes separated by spaces, one sentence per line; empty sentences are skipped
    (an empty line would be an empty sentence to gensim). Returns bytes written."""
    p = 0
    for s in range(len(indptr) - 1):
        start, end = indptr[s], indptr[s + 1]
        for k in range(start, end):
            v = codes[k]
            nd = _n_digits(v)
            for j in range(nd - 1, -1, -1):
                out[p + j] = 48 + v % 10
                v //= 10
            p += nd
            out[p] = 32 if k < end - 1 else 10
            p += 1
    return p


def write_corpus(path: str, indptr: np.ndarray, codes: np.ndarray) -> int:
    """Write sentences (CSR of non-negative int codes) to ``path`` in gensim's LineSentence format.

    Memory: the encoded text (digits + 1 byte per token) and nothing else the size of the corpus — ~0.8 GB at
    10^8 walk tokens.
    """
    codes = np.ascontiguousarray(codes)
    indptr = np.ascontiguousarray(indptr)
    if codes.dtype.kind not in "iu" or (len(codes) and codes.min() < 0):
        raise ValueError("skip-gram corpus: codes must be non-negative integers")
    buf = np.empty(_encoded_bytes(codes), dtype=np.uint8)
    n = _write_tokens(indptr, codes, buf)
    with open(path, "wb") as fh:
        fh.write(buf[:n].data)
    return len(codes)


def load_vocabulary(model, counts: np.ndarray) -> np.ndarray:
    """Give a fresh gensim ``Word2Vec`` its vocabulary from per-code counts; returns the kept codes in gensim order.

    Produces the state ``model.build_vocab_from_freq({str(code): count})`` would — the same word order
    (descending count, ties by descending code), the same ``count`` and ``sample_int`` attributes, the same
    negative-sampling table and the same initial weights — with numpy instead of gensim's Python loops per word
    (timings in ``benchmarks/results/library-measurements.md``). ``tests/test_skipgram.py`` checks the equality
    against gensim itself, so a gensim upgrade that changes these internals fails there, not silently here.
    """
    counts = np.asarray(counts, dtype=np.int64)
    codes = np.flatnonzero(counts >= model.min_count)
    kept = counts[codes]
    order = np.lexsort((-codes, -kept))  # gensim's sort_by_descending_frequency of insertion (= code) order
    codes, kept = codes[order], kept[order]

    wv = model.wv
    wv.index_to_key = [str(c) for c in codes.tolist()]
    wv.key_to_index = {key: i for i, key in enumerate(wv.index_to_key)}
    wv.expandos = {}
    wv.allocate_vecattrs(attrs=["count", "sample_int"], types=[int, np.uint32])
    wv.expandos["count"][:] = kept

    retain_total = int(kept.sum())
    sample = model.sample
    if not sample:
        threshold = float(retain_total)
    elif sample < 1.0:
        threshold = sample * retain_total
    else:
        threshold = float(int(sample * (3 + np.sqrt(5)) / 2))
    v = kept.astype(np.float64)
    probability = np.minimum((np.sqrt(v / threshold) + 1) * (threshold / v), 1.0)
    wv.expandos["sample_int"][:] = (probability * (2**32 - 1)).astype(np.uint32)

    model.effective_min_count = model.min_count
    model.corpus_count = 0
    if model.negative:
        cumulative = np.cumsum(np.power(v, float(model.ns_exponent)))  # sequential sums, as gensim's loop
        domain = 2**31 - 1
        model.cum_table = (np.rint(cumulative / cumulative[-1] * domain).astype(np.uint32) if len(v)
                           else np.zeros(0, dtype=np.uint32))
    if model.hs:
        model.create_binary_tree()
    model.prepare_weights()
    return codes


def train_skipgram(
    indptr: np.ndarray,
    codes: np.ndarray,
    n_items: int,
    params: SkipGramParams,
    *,
    seed: int,
    progress: Reporter,
    epoch_stage: str = "epoch",
    warm: WarmRows | None = None,
    warm_scale: float = 1.0,
) -> SkipGramResult:
    """Train SGNS (``sg=1``, ``hs=0``) on sentences of item codes ``0..n_items-1``.

    Items seen fewer than ``params.min_count`` times get no vector; they are absent from ``kept_codes``.
    Progress reports every epoch with the loss of that epoch (gensim's counter is cumulative; we report
    differences). With several workers gensim's loss counter is itself approximate.

    With ``warm`` (rows = codes ``0..n_items-1``), the input vectors of the kept items it names start from its
    (unit) vectors times ``warm_scale`` — set after the vocabulary is built, before training — and the others from
    gensim's seeded random start. Training stops early by ``params``' rule (:class:`~.warm_start.EarlyStop`).
    """
    from gensim.models import Word2Vec
    from gensim.models.callbacks import CallbackAny2Vec

    counts = np.bincount(np.asarray(codes, dtype=np.int64), minlength=n_items)

    class _EpochReporter(CallbackAny2Vec):
        def __init__(self) -> None:
            self.epoch = 0
            self.previous = 0.0
            self.losses: list[float] = []

        def on_epoch_end(self, model: Word2Vec) -> None:
            total = float(model.get_latest_training_loss())
            loss = total - self.previous
            self.previous = total
            self.epoch += 1
            self.losses.append(loss)
            progress(
                epoch_stage,
                self.epoch / params.epochs,
                f"epoch {self.epoch}/{params.epochs}, loss {loss:,.0f}",
                epoch=self.epoch,
                epochs=params.epochs,
                loss=loss,
            )

    progress("corpus", 0.0, "writing the skip-gram corpus")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="behemb-sg-") as tmp:
        path = os.path.join(tmp, "corpus.txt")
        n_tokens = write_corpus(path, indptr, codes)
        corpus_seconds = time.perf_counter() - t0
        model = Word2Vec(
            vector_size=params.dim,
            window=params.window,
            negative=params.negative,
            ns_exponent=params.ns_exponent,
            sample=params.sample,
            epochs=params.epochs,
            min_count=params.min_count,
            workers=params.workers,
            shrink_windows=params.shrink_windows,
            alpha=params.alpha,
            min_alpha=params.min_alpha,
            sg=1,
            hs=0,
            seed=seed,
            compute_loss=True,
        )
        kept = load_vocabulary(model, counts)
        if warm is not None:
            _set_warm_vectors(model, kept, warm, warm_scale, n_items)
        callback = _EpochReporter()
        progress("skipgram", 0.0, f"training skip-gram: {params.epochs} epochs over {n_tokens:,} tokens")
        t1 = time.perf_counter()
        if params.tol <= 0:
            model.train(corpus_file=path, total_words=n_tokens, epochs=params.epochs, compute_loss=True,
                        callbacks=[callback])
        else:
            _train_until_converged(model, path, n_tokens, params, callback)
        train_seconds = time.perf_counter() - t1

    keys = np.asarray(model.wv.index_to_key).astype(np.int64)
    order = np.argsort(keys)
    return SkipGramResult(
        vectors=np.asarray(model.wv.vectors, dtype=np.float32)[order],
        kept_codes=keys[order],
        epoch_losses=callback.losses,
        train_seconds=train_seconds,
        corpus_seconds=corpus_seconds,
    )


def _set_warm_vectors(model, kept: np.ndarray, warm: WarmRows, scale: float, n_items: int) -> None:
    """Overwrite the input vectors of the kept codes ``warm`` names (gensim order ``kept``) with its vectors."""
    if warm.n_items != n_items or warm.vectors.shape[1:] != (model.vector_size,):
        raise ValueError(f"warm start for {warm.n_items} items × {warm.vectors.shape[1:]}, "
                         f"fit of {n_items} × {model.vector_size}")
    row_of = np.full(n_items, -1, dtype=np.int64)
    row_of[warm.codes] = np.arange(len(warm.codes))
    rows = row_of[kept]
    has = rows >= 0
    model.wv.vectors[np.flatnonzero(has)] = warm.vectors[rows[has]] * np.float32(scale)


def _train_until_converged(model, path: str, n_tokens: int, params: SkipGramParams, callback) -> None:
    """One gensim ``train`` call per epoch on the learning rate one call over ``params.epochs`` would use (linear
    from ``alpha`` to ``min_alpha``), until :class:`~.warm_start.EarlyStop` says stop. gensim resets its loss
    counter at every call, so the callback's differences stay per-epoch losses."""
    stop = EarlyStop(max_epochs=params.epochs, min_epochs=params.min_epochs, tol=params.tol,
                     patience=params.patience)
    span = params.alpha - params.min_alpha
    for epoch in range(params.epochs):
        start = params.alpha - span * epoch / params.epochs
        end = params.alpha - span * (epoch + 1) / params.epochs
        callback.previous = 0.0
        model.train(corpus_file=path, total_words=n_tokens, epochs=1, start_alpha=start,
                    end_alpha=max(end, 1e-12), compute_loss=True, callbacks=[callback])
        if stop.should_stop(callback.losses):
            break
    model.alpha, model.min_alpha, model.epochs = params.alpha, params.min_alpha, params.epochs
