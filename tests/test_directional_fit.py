"""The "next item" tables of the default method (issue 24): the forward target from the same counting kernel, the
two-table cosine softmax fitted to it, and the config switch.

Planted sequences with a known direction — in every session ``a`` comes right before ``b``, never after — must rank
``b`` first for ``a`` and must not rank ``a`` first for ``b``; the symmetric vectors may not change when the tables
are asked for too; the same seed gives the same tables.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from behemb_core.cooccurrence import cooccurrence_from_pairs, count_pairs, forward_from_pairs
from behemb_core.directional_fit import fit_directional_softmax
from behemb_core.errors import ConfigError
from behemb_core.methods.base import TrainingInputs
from behemb_core.methods.registry import get_method, parse_config
from behemb_core.softmax_fit import SoftmaxFitParams, row_distribution
from behemb_core.synthetic import sessions_from_lists
from behemb_core.target_similarity import directional_target, target_similarity

CHAINS = 30


def planted_sequences(n_sessions: int = 2000, seed: int = 0) -> list[list[int]]:
    """Sessions ``noise, a, b, noise`` with ``(a, b) = (2c, 2c + 1)`` for a random chain ``c``: b always follows
    a, a never follows b; noise items 100-199 sit around them in both orders."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_sessions):
        c = int(rng.integers(0, CHAINS))
        x, y = (int(v) for v in rng.integers(100, 200, size=2))
        out.append([x, 2 * c, 2 * c + 1, y])
    return out


def fit_default(sessions, seed: int = 0, **values):
    spec = get_method("cooc_softmax")
    cfg = parse_config(spec, {"dim": 16, **values})
    return spec.fit(TrainingInputs(sessions=sessions), cfg, seed=seed)


def top_next(res, item: int) -> int:
    """The item the "next" tables rank first after ``item`` (itself excluded)."""
    vocab, pair = res.embeddings.vocab, res.directional
    a = vocab.code(item)
    scores = pair.query[a] @ pair.candidate.T
    scores[a] = -np.inf
    return int(vocab.ids[int(np.argmax(scores))])


# ------------------------------------------------------------------------------------------ the counting kernel
@pytest.mark.parametrize(("window", "weighting"), [(10, "harmonic"), (0, "uniform"), (3, "linear"), (1, "uniform")])
def test_a_directed_count_folds_into_the_symmetric_table_bit_for_bit(window, weighting) -> None:
    s = sessions_from_lists(planted_sequences(300) + [[1, 2, 1, 3, 2]])
    plain = count_pairs(s, window=window, weighting=weighting)
    directed = count_pairs(s, window=window, weighting=weighting, directed=True)
    folded = directed.undirected()
    assert directed.directed and not folded.directed
    np.testing.assert_array_equal(folded.keys, plain.keys)
    np.testing.assert_array_equal(folded.counts, plain.counts)
    c = cooccurrence_from_pairs(plain)
    assert (cooccurrence_from_pairs(directed) != c).nnz == 0
    f = forward_from_pairs(directed)
    np.testing.assert_allclose((f + f.T).toarray(), c.toarray(), rtol=1e-6)


def test_forward_counts_keep_the_order_and_the_distance_weight() -> None:
    s = sessions_from_lists([["a", "b", "c"], ["a", "b"]])
    f = forward_from_pairs(count_pairs(s, window=10, weighting="harmonic", directed=True)).toarray()
    code = {x: s.vocab.code(x) for x in "abc"}
    assert f[code["a"], code["b"]] == pytest.approx(2.0) and f[code["b"], code["a"]] == 0
    assert f[code["a"], code["c"]] == pytest.approx(0.5) and f[code["c"], code["a"]] == 0
    assert f[code["b"], code["c"]] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="directed"):
        forward_from_pairs(count_pairs(s, window=10))


def test_the_directional_target_mixes_forward_and_symmetric_rows() -> None:
    s = sessions_from_lists(planted_sequences(500))
    d = directional_target(s, window=3, weighting="harmonic", gamma=0.1)
    same = target_similarity(s, window=3, weighting="harmonic", gamma=0.1)
    assert (d.symmetric.matrix != same.matrix).nnz == 0  # one directed count gives the usual target
    keep = np.flatnonzero(d.symmetric.has_signal)
    p0, _ = row_distribution(d.symmetric.matrix[keep][:, keep], 0.5)
    np.testing.assert_allclose(d.mixed(0.0, keep).toarray(), p0.toarray(), atol=1e-6)
    p1 = d.mixed(1.0, keep)
    np.testing.assert_allclose(np.asarray(p1.sum(axis=1)).ravel(), 1.0, atol=1e-5)
    vocab = s.vocab.subset(keep)
    a, b = vocab.code(0), vocab.code(1)
    assert p1[a, b] > 0 and p1[b, a] == 0  # a → b forward only
    assert d.mixed(0.75, keep)[b, a] > 0  # the symmetric share keeps b → a at a quarter
    with pytest.raises(ValueError, match="alpha"):
        d.mixed(1.5, keep)


# ------------------------------------------------------------------------------------------------- the fit
@pytest.mark.parametrize("softmax", ["full", "sampled"])
def test_planted_direction_ranks_b_after_a_and_not_a_after_b(softmax: str) -> None:
    res = fit_default(sessions_from_lists(planted_sequences()), window=3, epochs=30, softmax=softmax,
                      negatives=32, batch_size=64, alpha=1.0, directional=True, stop_tol=0)
    after_a = [top_next(res, 2 * c) for c in range(CHAINS)]
    after_b = [top_next(res, 2 * c + 1) for c in range(CHAINS)]
    assert after_a == [2 * c + 1 for c in range(CHAINS)]
    assert not any(after_b[c] == 2 * c for c in range(CHAINS))
    # the symmetric table cannot tell the two apart: each is the other's nearest
    emb = res.embeddings
    sims = emb.vectors @ emb.vectors.T
    np.fill_diagonal(sims, -np.inf)
    firsts = [int(emb.vocab.ids[np.argmax(sims[emb.vocab.code(2 * c + 1)])]) for c in range(CHAINS)]
    assert sum(f == 2 * c for c, f in enumerate(firsts)) >= CHAINS * 0.9
    assert res.report["directional"]["estimator"] == softmax and res.report["directional"]["alpha"] == 1.0


@pytest.mark.parametrize("softmax", ["full", "sampled"])
def test_same_seed_same_tables_and_the_symmetric_vectors_do_not_change(softmax: str) -> None:
    s = sessions_from_lists(planted_sequences(800))
    kw = {"window": 3, "epochs": 5, "softmax": softmax, "negatives": 32, "batch_size": 64}
    one = fit_default(s, directional=True, **kw)
    two = fit_default(s, directional=True, **kw)
    plain = fit_default(s, **kw)
    np.testing.assert_array_equal(one.directional.query, two.directional.query)
    np.testing.assert_array_equal(one.directional.candidate, two.directional.candidate)
    np.testing.assert_array_equal(one.embeddings.vectors, plain.embeddings.vectors)
    assert plain.directional is None and "directional" not in plain.report
    other = fit_default(s, directional=True, seed=1, **kw)
    assert not np.array_equal(one.directional.query, other.directional.query)


def test_the_two_table_fit_refuses_a_target_with_an_empty_row() -> None:
    p = sp.csr_matrix(np.array([[0, 1], [0, 0]], dtype=np.float32))
    with pytest.raises(ValueError, match="every row"):
        fit_directional_softmax(p, np.ones(2, np.float32), SoftmaxFitParams(dim=4), full=True)


@pytest.mark.parametrize("alpha", [-0.1, 1.5])
def test_alpha_outside_zero_one_is_a_config_error(alpha: float) -> None:
    with pytest.raises(ConfigError, match="alpha"):
        parse_config("cooc_softmax", {"directional": True, "alpha": alpha})


def test_a_full_softmax_step_moves_only_the_batch_query_rows_and_the_candidates() -> None:
    """Q rows outside the batch have no gradient and must not move (Adam's momentum would move them if they
    were updated with a zero gradient), across several steps."""
    from behemb_core.directional_fit import _TwoTableTrainer

    rng = np.random.default_rng(0)
    n, d = 12, 4
    t = sp.random(n, n, density=0.5, random_state=1, format="csr") + sp.eye(n, k=1, format="csr")
    t.setdiag(0)
    t.eliminate_zeros()
    p, w = row_distribution(t, 0.5)
    e = rng.standard_normal((2 * n, d)).astype(np.float32)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    trainer = _TwoTableTrainer(SoftmaxFitParams(dim=d, negatives=0), p, w, e, rng)
    before = e.copy()
    trainer.full(np.array([0, 1]))
    trainer.full(np.array([2, 3]))
    trainer.full(np.array([2, 3]))
    untouched = np.arange(4, n)
    np.testing.assert_array_equal(e[untouched], before[untouched])
    assert not np.array_equal(e[:4], before[:4]) and not np.array_equal(e[n:], before[n:])


def test_both_tables_start_from_the_given_vectors_and_a_wrong_shape_is_refused() -> None:
    """The default method starts Q and K from its symmetric vectors (measured faster and as good: see
    ``_fit_next_tables``); with a tiny step one epoch leaves both tables at the start, and without it they are
    the seeded random start, far from it."""
    n, d = 40, 8
    t = sp.random(n, n, density=0.3, random_state=2, format="csr") + sp.eye(n, k=1, format="csr")
    t.setdiag(0)
    t.eliminate_zeros()
    p, w = row_distribution(t, 0.5)
    start = np.random.default_rng(5).standard_normal((n, d)).astype(np.float32)
    start /= np.linalg.norm(start, axis=1, keepdims=True)
    params = SoftmaxFitParams(dim=d, epochs=1, lr=1e-6, negatives=0)
    warm = fit_directional_softmax(p, w, params, full=True, start=start)
    np.testing.assert_allclose(warm.query, start, atol=1e-4)
    np.testing.assert_allclose(warm.candidate, start, atol=1e-4)
    cold = fit_directional_softmax(p, w, params, full=True)
    assert np.abs(cold.query - start).max() > 0.5
    with pytest.raises(ValueError, match="start vectors"):
        fit_directional_softmax(p, w, params, full=True, start=start[:, :4])
    res = fit_default(sessions_from_lists(planted_sequences(300)), window=3, epochs=2, directional=True)
    assert res.report["directional"]["start"] == "the symmetric vectors (both tables)"


def test_alpha_zero_tables_are_the_symmetric_vectors_without_a_second_fit() -> None:
    """At α 0 the mixed target is the symmetric target, whose fit is the symmetric table: no second fit, both
    tables equal it, so the next mode then ranks exactly as the symmetric one (self excluded)."""
    s = sessions_from_lists(planted_sequences(300))
    res = fit_default(s, window=3, epochs=3, directional=True, alpha=0.0)
    pair, emb = res.directional, res.embeddings
    np.testing.assert_array_equal(pair.query, emb.vectors)
    np.testing.assert_array_equal(pair.candidate, emb.vectors)
    assert pair.alpha == 0.0 and pair.query is not pair.candidate
    report = res.report["directional"]
    assert report["epochs_run"] == 0 and report["start"].startswith("α 0")
    moved = fit_default(s, window=3, epochs=3, directional=True, alpha=0.5).directional
    assert not np.array_equal(moved.query, emb.vectors)
