"""Quality on real data: every behavior method beats most-popular by a wide margin on held-out next items.

Online Retail (UCI, CC BY 4.0) from ../shared/data: invoices as baskets, the last 10 % of invoices by time
held out. Measured with the settings below: most-popular HR@10 0.021; ppmi_svd 0.31, item2vec 0.30,
graph 0.28, cooc_softmax 0.26 (dim 32; 10 epochs). The floors are set well under those numbers but far above
the baseline. At its defaults cooc_softmax must also beat item-kNN, on Online Retail and MovieLens-small.
"""

from __future__ import annotations

import numpy as np
import pytest

from behemb_core.demo import ONLINE_RETAIL_FILTERS
from behemb_core.evaluation import (
    evaluate_embeddings,
    evaluate_item_knn,
    evaluate_most_popular,
    next_item_pairs,
    time_split,
)
from behemb_core.ingest import read_event_log, read_item_metadata
from behemb_core.methods.base import TrainingInputs
from behemb_core.methods.registry import get_method, parse_config

pytestmark = pytest.mark.slow  # see pyproject.toml: CI runs it, `-m 'not slow'` skips it while editing

SETTINGS = {
    "cooc_softmax": {"dim": 32, "epochs": 10},
    "ppmi_svd": {"dim": 32},
    "item2vec": {"dim": 32, "epochs": 3},
    "graph": {"dim": 32, "epochs": 2, "walks_per_node": 4, "walk_length": 30},
}


@pytest.fixture(scope="module")
def retail_split(online_retail_dir):
    dataset = read_event_log(online_retail_dir, filters=ONLINE_RETAIL_FILTERS, name_column="Description")
    train, test = time_split(dataset.sessions, holdout=0.1)
    pairs = next_item_pairs(test)
    return train, pairs, evaluate_most_popular(train, pairs, k=10)


def test_retail_read_is_plausible(retail_split):
    train, pairs, popular = retail_split
    assert train.n_sessions > 15_000 and train.n_items > 3_000
    assert len(pairs.queries) > 40_000
    assert 0.005 < popular["hr@10"] < 0.05


@pytest.mark.parametrize("method", sorted(SETTINGS))
def test_methods_beat_most_popular_on_online_retail(retail_split, method):
    train, pairs, popular = retail_split
    result = get_method(method).fit(TrainingInputs(sessions=train), parse_config(method, SETTINGS[method]), seed=0)
    report = evaluate_embeddings(result.embeddings, pairs, k=10)
    assert report["hr@10"] >= 0.2, report
    assert report["hr@10"] >= 5 * popular["hr@10"], (report, popular)
    assert report["ndcg@10"] > 5 * popular["ndcg@10"]


def test_movielens_sessions_and_titles(movielens_dir):
    dataset = read_event_log(movielens_dir / "ratings.csv").with_metadata(
        read_item_metadata(movielens_dir / "movies.csv")
    )
    s = dataset.sessions
    assert s.users is not None and s.n_sessions > 3_000
    # One user per session by construction; sessions of one user are ordered by time.
    assert len(np.unique(s.users)) <= 610
    names = dataset.item_meta.names_for(np.array([1, 318]))
    assert names.tolist() == ["Toy Story (1995)", "Shawshank Redemption, The (1994)"]
    train, test = time_split(s, holdout=0.1)
    pairs = next_item_pairs(test)
    result = get_method("ppmi_svd").fit(TrainingInputs(sessions=train), parse_config("ppmi_svd", {"dim": 32}), seed=0)
    ours = evaluate_embeddings(result.embeddings, pairs)
    popular = evaluate_most_popular(train, pairs)
    # Measured: ppmi_svd 0.055 vs most-popular 0.018 (rating logs are a hard next-item task).
    assert ours["hr@10"] > 2 * popular["hr@10"], (ours, popular)


@pytest.fixture(scope="module")
def movielens_split(movielens_dir):
    train, test = time_split(read_event_log(movielens_dir / "ratings.csv").sessions, holdout=0.1)
    return train, next_item_pairs(test)


@pytest.mark.parametrize("data", ["online_retail", "movielens_small"])
def test_cooc_softmax_defaults_beat_item_knn(data, request):
    """The default method earns its place: ≥ 5 % more HR@10 than item-kNN on the same time split, at its
    defaults (dim 128). Measured (benchmarks/results/quality.md): Online Retail 0.371 vs 0.290, MovieLens-small
    0.062 vs 0.055."""
    if data == "online_retail":
        train, pairs, _ = request.getfixturevalue("retail_split")
    else:
        train, pairs = request.getfixturevalue("movielens_split")
    knn = evaluate_item_knn(train, pairs, k=10)
    result = get_method("cooc_softmax").fit(TrainingInputs(sessions=train), parse_config("cooc_softmax"), seed=0)
    ours = evaluate_embeddings(result.embeddings, pairs, k=10)
    assert ours["hr@10"] >= 1.05 * knn["hr@10"], (ours, knn)
