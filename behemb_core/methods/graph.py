"""(C) Graph embeddings: random walks over the item co-occurrence graph, then skip-gram on the walks.

Walks are compiled (numba), seeded per walk so they are identical whatever the thread count; node2vec's
second-order bias uses rejection sampling, so memory stays proportional to the edges.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from ..cooccurrence import count_cooccurrence, ppmi
from ..embeddings import FitResult, make_embeddings
from ..graph_build import build_item_graph
from ..progress import ProgressCallback, Reporter, as_reporter
from ..skipgram import train_skipgram
from ..walks import generate_walks
from .base import MethodSpec, TrainingInputs, require_sessions
from .facts import stage
from .item2vec import SKIPGRAM_HINTS, SkipGramConfig


class GraphConfig(SkipGramConfig):
    cooc_window: int = Field(
        5, title="Co-occurrence window",
        ge=0, le=1000, description="Co-occurrence window that defines edges; 0 = whole session."
    )
    edge_weight: Literal["count", "ppmi"] = Field(
        "ppmi", title="Edge weight", description="Edge weight: raw co-occurrence count, or PPMI (damps popular hubs)."
    )
    ppmi_alpha: float = Field(0.75, title="PPMI context smoothing α",
        gt=0, le=1, description="Context smoothing when edge_weight=ppmi.")
    top_k: int = Field(20, title="Neighbors per item (top k)",
        ge=1, le=1000, description="Strongest neighbors each item keeps as edges.")
    max_degree: int = Field(
        200, title="Maximum degree",
        ge=1, le=100_000, description="Cap on edges per node, so hubs do not dominate cost or walks."
    )
    # How corpus size traded against HR@10 and time: benchmarks/results/graph-corpus.md, method-defaults.md.
    walks_per_node: int = Field(
        8, title="Walks per item", ge=1, le=1000,
        description="Walks started from every node. The walk corpus (items × walks × length) sets the cost of "
        "skip-gram, the dominant cost: raise it if neighbor lists of rarer items look noisy, lower it to train "
        "faster.",
    )
    walk_length: int = Field(20, title="Walk length", ge=2, le=10_000, description="Nodes per walk.")
    p: float = Field(1.0, title="Return parameter p",
        gt=0, le=100, description="node2vec return parameter (low = stay local).")
    q: float = Field(1.0, title="In-out parameter q",
        gt=0, le=100, description="node2vec in-out parameter (low = explore outward, DFS-like).")
    epochs: int = Field(3, title="Epochs",
        ge=1, le=500, description="Skip-gram passes over the walks (they are already many).")


def fit_graph(
    inputs: TrainingInputs, config: GraphConfig, *, seed: int = 0,
    progress: ProgressCallback | Reporter | None = None,
) -> FitResult:
    """Build the graph, walk it (DeepWalk when p = q = 1, node2vec otherwise), train skip-gram on the walks.

    Items without edges (they never co-occur with anything, or only below the PPMI threshold) are reported
    and get no vector.
    """
    sessions = require_sessions(inputs, "graph")
    rep = as_reporter(progress)
    counts = count_cooccurrence(sessions, window=config.cooc_window, progress=rep.sub(0.0, 0.1))
    if config.edge_weight == "ppmi":
        rep("ppmi", 0.1, "computing PPMI edge weights")
    weights = ppmi(counts, alpha=config.ppmi_alpha) if config.edge_weight == "ppmi" else counts
    rep("graph", 0.12, "building the item graph")
    graph = build_item_graph(weights, top_k=config.top_k, max_degree=config.max_degree)
    degree = np.diff(graph.indptr)
    walk_rep = rep.sub(0.15, 0.3)
    walk_rep("walks", 0.0, "random walks")
    w_indptr, w_nodes = generate_walks(
        graph.indptr.astype(np.int64), graph.indices.astype(np.int32), graph.data.astype(np.float32),
        walks_per_node=config.walks_per_node, walk_length=config.walk_length, p=config.p, q=config.q,
        seed=seed, progress=lambda f: walk_rep("walks", f, f"random walks {f:.0%}"),
    )
    res = train_skipgram(
        w_indptr, w_nodes, sessions.n_items, config.skipgram_params(), seed=seed, progress=rep.sub(0.3, 0.98)
    )
    vocab = sessions.vocab.subset(res.kept_codes)
    emb = make_embeddings(vocab, res.vectors, expected_dim=config.dim, method="graph")
    isolated = np.flatnonzero(degree == 0)
    rep("done", 1.0, f"embedded {len(vocab)} items")
    return FitResult(
        embeddings=emb,
        report={
            "graph_nodes_with_edges": int((degree > 0).sum()),
            "graph_edges": int(graph.nnz // 2),
            "graph_max_degree": int(degree.max(initial=0)),
            "walks": int(len(w_indptr) - 1),
            "walk_steps": int(len(w_nodes)),
            "walk_mode": "deepwalk" if config.p == 1 and config.q == 1 else "node2vec",
            "epoch_losses": res.epoch_losses,
            "gensim_train_seconds": res.train_seconds,
            "items_without_vector": int(sessions.n_items - len(vocab)),
            "items_without_vector_examples": sessions.vocab.take(isolated[:20]).tolist(),
            "items_without_vector_reason": "no edge in the item graph (no positive co-occurrence weight)",
        },
    )


_TINY_WALKS = {"epochs": 1, "walks_per_node": 1, "walk_length": 5, "workers": 1}

SPEC = MethodSpec(
    name="graph", title="Graph walks (DeepWalk / node2vec)", config_class=GraphConfig, fit=fit_graph,
    description="Random walks over the top-k co-occurrence graph, then skip-gram on the walks. Pick it for sparse "
    "data where related items are several hops apart.",
    version_prefix="graph",
    search_space=(
        stage("walks", "fit", p=(1.0, 0.5, 2.0), q=(1.0, 0.5, 2.0)),
        stage("corpus", "fit", walks_per_node=(8, 16), window=(5, 10)),
    ),
    warm_up=(_TINY_WALKS, {**_TINY_WALKS, "p": 0.5, "q": 2}),  # DeepWalk's and node2vec's walk kernels
    collapse_hints=(*SKIPGRAM_HINTS, "use edge_weight='ppmi' (ppmi_alpha 0.75) so hub edges are damped"),
    cooc_window=lambda config: config.cooc_window,  # the edges' window, not the skip-gram window over walks
)
