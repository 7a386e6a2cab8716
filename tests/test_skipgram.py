"""The skip-gram wrapper: the corpus file it writes and the vocabulary it hands gensim match gensim's own."""

from __future__ import annotations

import numpy as np
import pytest
from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence

from behemb_core.progress import as_reporter
from behemb_core.skipgram import SkipGramParams, load_vocabulary, train_skipgram, write_corpus


def _zipf_counts(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    counts = np.floor(5000 / np.arange(1, n + 1) ** 1.1).astype(np.int64) + rng.integers(0, 3, n)
    counts[rng.choice(n, n // 10, replace=False)] = 0  # codes absent from the corpus
    return counts  # many ties in the tail, which gensim orders by descending insertion position


def _model(**kw) -> Word2Vec:
    params = dict(vector_size=16, sg=1, hs=0, negative=5, min_count=1, seed=3, workers=1)
    params.update(kw)
    return Word2Vec(**params)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"min_count": 3},
        {"sample": 0.0},
        {"sample": 1e-5, "ns_exponent": -0.5},
        {"sample": 2.0, "ns_exponent": 0.0},
        {"negative": 0, "hs": 1},
    ],
    ids=["defaults", "min_count", "no-downsampling", "strong-downsampling-negative-exponent", "sample>=1", "hs"],
)
def test_load_vocabulary_matches_gensims_own(kw):
    counts = _zipf_counts(3000, seed=1)
    ours, theirs = _model(**kw), _model(**kw)
    codes = load_vocabulary(ours, counts)
    theirs.build_vocab_from_freq({str(c): int(counts[c]) for c in np.flatnonzero(counts > 0).tolist()})

    assert ours.wv.index_to_key == theirs.wv.index_to_key
    assert ours.wv.key_to_index == theirs.wv.key_to_index
    assert [str(c) for c in codes.tolist()] == theirs.wv.index_to_key
    assert set(ours.wv.expandos) == set(theirs.wv.expandos)
    for attr in theirs.wv.expandos:
        assert ours.wv.expandos[attr].dtype == theirs.wv.expandos[attr].dtype, attr
        if theirs.wv.expandos[attr].dtype == object:  # hs: Huffman codes and points, one array per word
            pairs = zip(ours.wv.expandos[attr], theirs.wv.expandos[attr], strict=True)
            assert all(np.array_equal(a, b) for a, b in pairs), attr
        else:
            np.testing.assert_array_equal(ours.wv.expandos[attr], theirs.wv.expandos[attr], err_msg=attr)
    if theirs.negative:
        assert ours.cum_table.dtype == theirs.cum_table.dtype
        np.testing.assert_array_equal(ours.cum_table, theirs.cum_table)
    if kw.get("sample", 1e-3) not in (0.0, 2.0):  # the case exercises downsampling: frequent codes are thinned
        assert (ours.wv.expandos["sample_int"] < 2**32 - 1).sum() > 0
    np.testing.assert_array_equal(ours.wv.vectors, theirs.wv.vectors)
    assert ours.syn1neg.shape == theirs.syn1neg.shape if theirs.negative else ours.syn1.shape == theirs.syn1.shape
    assert ours.effective_min_count == theirs.effective_min_count


def test_write_corpus_is_read_back_by_gensim(tmp_path):
    indptr = np.array([0, 3, 3, 4, 9])  # one empty sentence, which must not become an empty line
    codes = np.array([0, 9, 10, 123456789, 5, 5, 99, 100, 1000])
    path = tmp_path / "corpus.txt"
    n = write_corpus(str(path), indptr, codes)
    assert n == len(codes)
    assert list(LineSentence(str(path))) == [["0", "9", "10"], ["123456789"], ["5", "5", "99", "100", "1000"]]


def _params(**kw) -> SkipGramParams:
    base = dict(dim=16, window=3, negative=5, ns_exponent=0.75, sample=1e-3, epochs=3, min_count=1, workers=1,
                shrink_windows=True, alpha=0.025, min_alpha=0.0001)
    base.update(kw)
    return SkipGramParams(**base)


def _sentences(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, 9, 400)
    codes = (rng.integers(0, 10, lengths.sum()) * 8 + np.repeat(rng.integers(0, 8, 400), lengths)) % 75
    return np.concatenate(([0], np.cumsum(lengths))), codes


def test_training_is_bit_identical_to_gensims_vocabulary_path(tmp_path):
    """One worker: our wrapper and gensim's ``build_vocab_from_freq`` + ``train`` give the same bits."""
    indptr, codes = _sentences()
    res = train_skipgram(indptr, codes, 80, _params(min_count=2), seed=7, progress=as_reporter(None))

    path = tmp_path / "corpus.txt"
    n_tokens = write_corpus(str(path), indptr, codes)
    counts = np.bincount(codes, minlength=80)
    model = Word2Vec(vector_size=16, window=3, negative=5, ns_exponent=0.75, sample=1e-3, epochs=3, min_count=2,
                     workers=1, shrink_windows=True, alpha=0.025, min_alpha=0.0001, sg=1, hs=0, seed=7,
                     compute_loss=True)
    model.build_vocab_from_freq({str(c): int(counts[c]) for c in np.flatnonzero(counts).tolist()})
    model.train(corpus_file=str(path), total_words=n_tokens, epochs=3, compute_loss=True)

    np.testing.assert_array_equal(res.kept_codes, np.flatnonzero(counts >= 2))
    theirs = np.stack([model.wv[str(c)] for c in res.kept_codes.tolist()])
    np.testing.assert_array_equal(res.vectors, theirs)
    assert len(res.epoch_losses) == 3 and all(loss > 0 for loss in res.epoch_losses)


def test_items_below_min_count_get_no_vector():
    indptr, codes = _sentences(1)
    counts = np.bincount(codes, minlength=80)
    res = train_skipgram(indptr, codes, 80, _params(min_count=5, epochs=1), seed=0, progress=as_reporter(None))
    np.testing.assert_array_equal(res.kept_codes, np.flatnonzero(counts >= 5))
    assert res.vectors.shape == (len(res.kept_codes), 16)
