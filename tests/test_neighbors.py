"""Exact neighbors against a brute-force oracle; approximate neighbors' recall against exact."""

from __future__ import annotations

import numpy as np
import pytest

from behemb_core.embeddings import make_embeddings
from behemb_core.neighbors import item_neighbors, top_k_neighbors
from behemb_core.vocab import Vocabulary


def _emb(n, d, seed=0, ids=None):
    rng = np.random.default_rng(seed)
    return make_embeddings(Vocabulary(np.arange(n) if ids is None else ids), rng.standard_normal((n, d)))


@pytest.mark.parametrize("block_size", [1, 7, 4096])
def test_exact_matches_oracle_for_any_block_size(block_size):
    emb = _emb(300, 16)
    got = top_k_neighbors(emb, 10, block_size=block_size)
    sims = emb.vectors @ emb.vectors.T
    np.fill_diagonal(sims, -np.inf)
    oracle = np.argsort(-sims, axis=1, kind="stable")[:, :10]
    np.testing.assert_array_equal(got.codes, oracle)
    np.testing.assert_allclose(got.scores, np.take_along_axis(sims, oracle, axis=1), rtol=1e-6)


def test_ties_break_by_lower_code_and_short_catalogues_pad():
    vec = np.array([[1, 0], [1, 0], [1, 0], [0, 1]], dtype=np.float32)
    emb = make_embeddings(Vocabulary(np.arange(4)), vec)
    got = top_k_neighbors(emb, 5)
    assert got.codes[3].tolist()[:3] == [0, 1, 2]  # all tied at cosine 0
    assert got.codes[0].tolist() == [1, 2, 3, -1, -1] and np.isnan(got.scores[0, 3])
    kept_self = top_k_neighbors(emb, 2, exclude_self=False, queries=np.array([2]))
    assert kept_self.codes[0].tolist() == [0, 1]


def test_item_neighbors_by_string_id_and_unknown_item():
    emb = _emb(50, 8, ids=np.array([f"A{i:02d}" for i in range(50)], dtype=object))
    rows = item_neighbors(emb, "A07", 3, names=np.array([f"name {i}" for i in range(50)], dtype=object))
    assert [r["rank"] for r in rows] == [1, 2, 3] and all(r["item_id"] != "A07" for r in rows)
    assert rows[0]["name"].startswith("name ")
    with pytest.raises(KeyError, match="A99"):
        item_neighbors(emb, "A99", 3)


@pytest.mark.parametrize("block_size", [7, 100, 4096])
def test_whole_catalogue_upper_triangle_search_equals_row_by_row(block_size):
    """The whole-catalogue path computes only the upper triangle and merges it column-wise too; it must give
    the row-by-row answer, differing at most in the order of neighbors whose similarities are exactly equal."""
    rng = np.random.default_rng(11)
    v = rng.standard_normal((1500, 8)).astype(np.float32)
    v[700:740] = v[:40]  # exact duplicates: ties
    v = np.round(v, 1)
    emb = make_embeddings(Vocabulary(np.arange(1500)), v)
    for k in (1, 10):
        whole = top_k_neighbors(emb, k, block_size=block_size)
        rows = top_k_neighbors(emb, k, queries=np.arange(1500), block_size=block_size)
        np.testing.assert_allclose(whole.scores, rows.scores, atol=1e-6)
        x = emb.vectors.astype(np.float64)
        r, c = np.nonzero(whole.codes != rows.codes)
        gaps = np.abs(np.einsum("ij,ij->i", x[r], x[whole.codes[r, c]])
                      - np.einsum("ij,ij->i", x[r], x[rows.codes[r, c]]))
        assert np.all(gaps < 1e-12)
        assert not np.any(whole.codes == np.arange(1500)[:, None])  # never itself
