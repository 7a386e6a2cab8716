"""Sparse co-occurrence, PPMI and randomized SVD against dense, obvious oracles."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from behemb_core.cooccurrence import count_cooccurrence, ppmi
from behemb_core.svd import randomized_svd
from behemb_core.synthetic import sessions_from_lists

_sessions = sessions_from_lists


def _dense_oracle(s, window, weighting):
    n = s.n_items
    out = np.zeros((n, n))
    for a, b in zip(s.indptr[:-1], s.indptr[1:], strict=True):
        seq = s.codes[a:b]
        for i in range(len(seq)):
            for j in range(i + 1, len(seq)):
                d = j - i
                if window and d > window or seq[i] == seq[j]:
                    continue
                w = 1.0 if weighting == "uniform" or window == 0 else (
                    1.0 / d if weighting == "harmonic" else (window - d + 1) / window)
                out[seq[i], seq[j]] += w
                out[seq[j], seq[i]] += w
    return out


session_lists = st.lists(st.lists(st.integers(0, 15), min_size=1, max_size=12), min_size=1, max_size=25)


@settings(max_examples=60, deadline=None)
@given(session_lists, st.integers(0, 6), st.sampled_from(["uniform", "harmonic", "linear"]))
def test_cooccurrence_matches_dense_oracle(lists, window, weighting):
    s = _sessions(lists)
    got = count_cooccurrence(s, window=window, weighting=weighting).toarray()
    np.testing.assert_allclose(got, _dense_oracle(s, window, weighting), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(got, got.T)
    assert np.all(np.diag(got) == 0)


def test_whole_session_window_counts_every_pair_once():
    s = _sessions([[1, 2, 3, 4], [1, 2]])
    c = count_cooccurrence(s, window=0).toarray()
    code = {v: i for i, v in enumerate(s.vocab.ids.tolist())}
    assert c[code[1], code[2]] == 2  # both sessions
    assert c[code[1], code[4]] == 1  # distance 3 inside the basket
    assert c.sum() == 2 * (6 + 1)


def test_ppmi_matches_formula_and_alpha_damps_popular_contexts():
    rng = np.random.default_rng(0)
    lists = [list(rng.choice(12, size=6, p=np.r_[0.45, np.full(11, 0.05)])) for _ in range(300)]
    counts = count_cooccurrence(_sessions(lists), window=2)
    dense = counts.toarray().astype(np.float64)
    row, col = dense.sum(1), dense.sum(0)
    for alpha in (1.0, 0.75):
        pc = col**alpha / (col**alpha).sum()
        with np.errstate(divide="ignore"):
            expected = np.log(dense / dense.sum()) - np.log(row[:, None] / dense.sum()) - np.log(pc[None, :])
        expected = np.where(dense > 0, np.maximum(expected, 0), 0)
        np.testing.assert_allclose(ppmi(counts, alpha=alpha).toarray(), expected, rtol=1e-4, atol=1e-5)
    # Smoothing lowers the inflated PMI of the rarest context and raises that of the most popular one.
    plain, smooth = ppmi(counts, alpha=1.0).toarray(), ppmi(counts, alpha=0.75).toarray()
    rare, popular = np.argmin(col), np.argmax(col)
    assert np.all(smooth[:, rare] <= plain[:, rare] + 1e-6) and smooth[:, rare].sum() < plain[:, rare].sum()
    assert np.all(smooth[:, popular] >= plain[:, popular] - 1e-6)
    assert smooth[:, popular].sum() > plain[:, popular].sum()


def test_randomized_svd_matches_exact_singular_values():
    import scipy.sparse as sp

    rng = np.random.default_rng(1)
    low = rng.standard_normal((300, 12)) @ rng.standard_normal((12, 300))
    m = sp.csr_matrix(low + 0.01 * rng.standard_normal((300, 300)))
    u, s, vt = randomized_svd(m, 10, seed=3)
    exact = np.linalg.svd(m.toarray(), compute_uv=False)[:10]
    np.testing.assert_allclose(s, exact, rtol=1e-3)
    np.testing.assert_allclose(u.T @ u, np.eye(10), atol=1e-4)
    u2, s2, _ = randomized_svd(m, 10, seed=3)
    np.testing.assert_array_equal(u, u2)
    # The factors give the best rank-10 approximation, and the right vectors are orthonormal too.
    eu, es, evt = np.linalg.svd(m.toarray())
    best = (eu[:, :10] * es[:10]) @ evt[:10]
    np.testing.assert_allclose((u * s) @ vt, best, atol=1e-2 * np.abs(best).max())
    np.testing.assert_allclose(vt @ vt.T, np.eye(10), atol=1e-4)


def test_randomized_svd_of_a_rank_deficient_matrix_falls_back_and_stays_orthonormal():
    import scipy.sparse as sp

    rng = np.random.default_rng(2)
    m = sp.csr_matrix(rng.standard_normal((200, 3)) @ rng.standard_normal((3, 150)))  # rank 3, asked for 8
    u, s, vt = randomized_svd(m, 8, seed=0)
    exact = np.linalg.svd(m.toarray(), compute_uv=False)[:8]
    np.testing.assert_allclose(s[:3], exact[:3], rtol=1e-4)
    assert np.all(s[3:] < 1e-3 * s[0])
    assert np.isfinite(u).all() and np.isfinite(vt).all()


@pytest.mark.parametrize("spread", [1.0, 1e3, 1e6])
def test_orthonormalize_keeps_the_column_space_of_ill_conditioned_blocks(spread):
    from behemb_core.svd import orthonormalize

    rng = np.random.default_rng(3)
    y = (rng.standard_normal((5000, 40)) * np.logspace(0, -np.log10(spread), 40)).astype(np.float32)
    q = orthonormalize(y)
    np.testing.assert_allclose(q.T @ q, np.eye(40), atol=1e-5)
    # y lies in span(q): projecting onto it changes nothing.
    residual = y - q @ (q.T @ y)
    assert np.linalg.norm(residual) < 1e-4 * np.linalg.norm(y)


def test_orthonormalize_of_dependent_columns_falls_back_to_householder():
    from behemb_core.svd import orthonormalize

    rng = np.random.default_rng(4)
    y = rng.standard_normal((1000, 6)).astype(np.float32)
    y[:, 5] = y[:, 0]  # exactly dependent: the Gram matrix is singular
    q = orthonormalize(y)
    assert np.isfinite(q).all()
    residual = y - q @ (q.T @ y)
    assert np.linalg.norm(residual) < 1e-4 * np.linalg.norm(y)


@pytest.mark.parametrize("weighting", ["uniform", "harmonic"])
def test_cooccurrence_merged_from_many_chunks_equals_one_pass(monkeypatch, weighting):
    import behemb_core.cooccurrence as cooc
    from behemb_core.synthetic import planted_sessions

    sessions = planted_sessions(n_items=300, n_sessions=2000, seed=5).sessions
    whole = count_cooccurrence(sessions, window=4, weighting=weighting)
    monkeypatch.setattr(cooc, "_PAIR_BUFFER", 500)  # forces dozens of compressed chunks
    chunked = count_cooccurrence(sessions, window=4, weighting=weighting)
    assert whole.nnz > 1000
    np.testing.assert_array_equal(whole.indptr, chunked.indptr)
    np.testing.assert_array_equal(whole.indices, chunked.indices)
    np.testing.assert_allclose(whole.data, chunked.data, rtol=1e-6)
