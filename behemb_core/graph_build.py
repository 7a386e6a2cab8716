"""The weighted item graph used by graph embeddings: top-k co-occurrence neighbors, symmetric, degree-capped."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def top_k_per_row(m: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the ``k`` largest entries of every row (ties broken by column), vectorised over all rows."""
    m = m.tocsr()
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    order = np.lexsort((m.indices, -m.data, rows))
    rank = np.arange(len(order)) - m.indptr[rows[order]]
    sel = order[rank < k]
    out = sp.csr_matrix((m.data[sel], (rows[sel], m.indices[sel])), shape=m.shape)
    out.sort_indices()
    return out


def build_item_graph(weights: sp.csr_matrix, *, top_k: int, max_degree: int) -> sp.csr_matrix:
    """Symmetric graph from a (symmetric) item–item weight matrix.

    Each item keeps its ``top_k`` strongest neighbors; an edge exists if either endpoint chose it (union),
    which keeps long-tail items connected to the hubs they co-occur with. Hubs in Zipf-popular catalogues then
    collect tens of thousands of edges; capping every node at its ``max_degree`` strongest edges (an edge
    survives only if both endpoints keep it) bounds walk cost and stops hubs from swallowing the walks.
    """
    chosen = top_k_per_row(weights, top_k)
    union = chosen.maximum(chosen.T).tocsr()
    deg = np.diff(union.indptr)
    if deg.max(initial=0) > max_degree:
        capped = top_k_per_row(union, max_degree)
        union = capped.minimum(capped.T).tocsr()
    union.eliminate_zeros()
    union.sort_indices()
    return union.astype(np.float32)
