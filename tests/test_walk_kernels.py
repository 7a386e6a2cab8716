"""Compiled random walks: golden small graphs, transition frequencies against the analytical probabilities,
determinism independent of threads and chunking, and validation before any compiled code runs."""

from __future__ import annotations

import itertools

import numba
import numpy as np
import pytest
import scipy.sparse as sp

from behemb_core.errors import ConfigError
from behemb_core.walks import generate_walks, walk_corpus_stats


def _csr(edges, n, weights=None):
    rows, cols = zip(*edges, strict=True)
    w = np.ones(len(edges)) if weights is None else np.asarray(weights, dtype=float)
    m = sp.coo_matrix((w, (rows, cols)), shape=(n, n)).tocsr()
    m = (m + m.T).tocsr()
    m.sort_indices()
    return m.indptr.astype(np.int64), m.indices.astype(np.int32), m.data.astype(np.float32)


def _walks(indptr, nodes):
    return [nodes[a:b].tolist() for a, b in zip(indptr[:-1], indptr[1:], strict=True)]


def test_path_graph_walks_follow_edges_and_skip_isolated_nodes():
    g = _csr([(0, 1), (1, 2), (2, 3), (3, 4)], 6)  # node 5 is isolated
    wi, wn = generate_walks(*g, walks_per_node=3, walk_length=7, seed=1)
    walks = _walks(wi, wn)
    assert len(walks) == 5 * 3 and all(len(w) == 7 for w in walks)
    assert 5 not in wn
    assert all(abs(a - b) == 1 for w in walks for a, b in itertools.pairwise(w))
    assert sorted(w[0] for w in walks) == sorted([0, 1, 2, 3, 4] * 3)
    stats = walk_corpus_stats(wi)
    assert stats["n_walks"] == 15 and stats["n_steps"] == 105


def test_first_order_frequencies_match_weights():
    g = _csr([(0, 1), (0, 2), (0, 3)], 4, weights=[1, 2, 7])
    wi, wn = generate_walks(*g, walks_per_node=20000, walk_length=2, seed=3, start_nodes=np.array([0]))
    nxt = wn[wi[:-1] + 1]
    freq = np.bincount(nxt, minlength=4)[1:] / len(nxt)
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.7], atol=0.02)


def test_node2vec_second_order_matches_analytical_probabilities():
    # t=0 -> v=1; from v the candidates are t (return), c=2 (neighbor of t) and far nodes 3, 4.
    edges = [(0, 1), (0, 2), (1, 2), (1, 3), (1, 4)]
    g = _csr(edges, 5)
    for p, q in [(0.25, 1.0), (1.0, 0.25), (4.0, 2.0)]:
        # Walks start at 0; keep those whose first step went to 1, then look at the second step.
        wi, wn = generate_walks(*g, walks_per_node=60000, walk_length=3, p=p, q=q, seed=5,
                                start_nodes=np.array([0]))
        w = wn.reshape(-1, 3)
        second = w[w[:, 1] == 1, 2]
        alpha = np.array([1 / p, 1.0, 1 / q, 1 / q])  # to 0 (return), 2 (common), 3, 4 (far)
        expected = alpha / alpha.sum()
        got = np.array([(second == x).mean() for x in (0, 2, 3, 4)])
        np.testing.assert_allclose(got, expected, atol=0.02, err_msg=f"p={p}, q={q}")


def test_same_seed_same_walks_whatever_threads_and_chunking():
    rng = np.random.default_rng(0)
    m = sp.random(300, 300, density=0.05, random_state=1, format="csr")
    m = (m + m.T).tocsr()
    m.data = rng.random(m.nnz) + 0.1
    m = (m + m.T).tocsr()
    m.sort_indices()
    g = (m.indptr.astype(np.int64), m.indices.astype(np.int32), m.data.astype(np.float32))
    for p, q in [(1, 1), (0.5, 2.0)]:
        base = generate_walks(*g, walks_per_node=4, walk_length=20, p=p, q=q, seed=9)
        with_progress = generate_walks(*g, walks_per_node=4, walk_length=20, p=p, q=q, seed=9,
                                       progress=lambda f: None)
        before = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            single = generate_walks(*g, walks_per_node=4, walk_length=20, p=p, q=q, seed=9)
        finally:
            numba.set_num_threads(before)
        other = generate_walks(*g, walks_per_node=4, walk_length=20, p=p, q=q, seed=10)
        for variant in (with_progress, single):
            np.testing.assert_array_equal(base[0], variant[0])
            np.testing.assert_array_equal(base[1], variant[1])
        assert not np.array_equal(base[1], other[1])


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"p": 0}, "p=0"),
        ({"q": -1}, "q=-1"),
        ({"walk_length": 1}, "walk_length"),
        ({"walks_per_node": 0}, "walks_per_node"),
    ],
)
def test_bad_parameters_name_themselves(kwargs, needle):
    g = _csr([(0, 1)], 2)
    args = {"walks_per_node": 1, "walk_length": 3, "seed": 0, **kwargs}
    with pytest.raises(ConfigError, match=needle):
        generate_walks(*g, **args)


def test_malformed_graphs_are_refused():
    indptr, indices, weights = _csr([(0, 1), (1, 2)], 3)
    with pytest.raises(ValueError):
        generate_walks(indptr, indices[::-1].copy(), weights, walks_per_node=1, walk_length=3, seed=0)
    with pytest.raises(ValueError):
        generate_walks(indptr, indices, -weights, walks_per_node=1, walk_length=3, seed=0)
    with pytest.raises(ValueError):
        generate_walks(indptr[:-1], indices, weights, walks_per_node=1, walk_length=3, seed=0)
