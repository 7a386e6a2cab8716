"""The behavior methods: the shared contract (``method_contract.py``) for ppmi_svd, item2vec and graph, every
registered method covered by it, capabilities instead of names, and quality on planted clusters (a known right
answer)."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest
from method_contract import MethodContract

from behemb_core.errors import ConfigError
from behemb_core.methods.base import TrainingInputs
from behemb_core.methods.registry import METHODS, coerce_setting, get_method, parse_config
from behemb_core.neighbors import top_k_neighbors
from behemb_core.synthetic import cluster_precision_at_k


class TestPpmiSvdContract(MethodContract):
    method = "ppmi_svd"
    config = {"dim": 8}


class TestItem2VecContract(MethodContract):
    method = "item2vec"
    config = {"dim": 8, "epochs": 2, "workers": 1}  # gensim is bit-reproducible only with one worker


class TestGraphContract(MethodContract):
    method = "graph"
    config = {"dim": 8, "epochs": 1, "walks_per_node": 2, "walk_length": 10, "workers": 1}


def test_every_registered_method_inherits_the_contract():
    """A new method is one module plus one registry line — and one contract subclass in its tests."""
    here = Path(__file__).parent
    for path in sorted(here.glob("test_*.py")):
        if "(MethodContract)" in path.read_text():
            importlib.import_module(path.stem)
    classes, todo = set(), [MethodContract]
    while todo:
        for sub in todo.pop().__subclasses__():
            classes.add(sub)
            todo.append(sub)
    assert sorted({c.method for c in classes}) == sorted(METHODS)

# Small but real settings; precision floors are set a little below what was measured (see each comment).
FAST = {
    "ppmi_svd": {"dim": 32},
    "item2vec": {"dim": 32, "workers": 1, "epochs": 8},
    "graph": {"dim": 32, "workers": 1, "epochs": 3, "walks_per_node": 8, "walk_length": 30},
}
# Measured precision@10 of cluster-mates on the `planted` fixture: ppmi_svd 0.99, item2vec 0.97, graph 0.9+.
FLOOR = {"ppmi_svd": 0.93, "item2vec": 0.9, "graph": 0.85}


@pytest.fixture(scope="module")
def fitted(planted):
    out = {}
    for name, cfg in FAST.items():
        spec = get_method(name)
        out[name] = spec.fit(TrainingInputs(sessions=planted.sessions), parse_config(name, cfg), seed=11)
    return out


@pytest.mark.parametrize("name", sorted(FAST))
def test_contract_shape_norm_dtype(fitted, planted, name):
    emb = fitted[name].embeddings
    assert emb.vectors.dtype == np.float32
    assert emb.vectors.shape == (len(emb.vocab), 32)
    np.testing.assert_allclose(np.linalg.norm(emb.vectors, axis=1), 1.0, atol=1e-4)
    assert set(emb.vocab.ids.tolist()) <= set(planted.sessions.vocab.ids.tolist())
    assert set(emb.source.tolist()) == {"behavior"}
    assert len(emb) >= 0.98 * planted.sessions.n_items


@pytest.mark.parametrize("name", sorted(FAST))
def test_planted_clusters_recovered(fitted, planted, name):
    emb = fitted[name].embeddings
    nb = top_k_neighbors(emb, 10)
    cluster = planted.cluster_of[planted.sessions.vocab.codes(emb.vocab.ids)]
    precision = cluster_precision_at_k(nb.codes, cluster)
    # A random embedding would score 1/30 here.
    assert precision >= FLOOR[name], f"{name}: precision@10 of cluster-mates {precision:.3f}"


def test_progress_is_reported_and_monotone(planted):
    events = []
    get_method("item2vec").fit(
        TrainingInputs(sessions=planted.sessions), parse_config("item2vec", FAST["item2vec"]), seed=1,
        progress=events.append,
    )
    fractions = [e.fraction for e in events if e.fraction is not None]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    epochs = [e for e in events if e.stage == "epoch"]
    assert [e.metrics["epoch"] for e in epochs] == list(range(1, 9))
    # gensim's loss is cumulative; we report per-epoch amounts, which shrink as training converges.
    losses = [e.metrics["loss"] for e in epochs]
    assert all(loss > 0 for loss in losses) and losses[-1] < losses[0]


def test_cancel_from_progress_callback_stops_training(planted):
    from behemb_core.errors import Cancelled

    def cancel(event):
        if event.stage == "epoch" and event.metrics.get("epoch") == 2:
            raise Cancelled("stop")

    with pytest.raises(Cancelled):
        get_method("item2vec").fit(
            TrainingInputs(sessions=planted.sessions), parse_config("item2vec", FAST["item2vec"]), seed=1,
            progress=cancel,
        )


@pytest.mark.parametrize(
    "name, sources, message",
    [
        ("ppmi_svd", {"sessions": False}, "ppmi_svd needs --input"),
        ("ppmi_svd", {"sessions": True, "base_version": True},
         "ppmi_svd does not build on behavior vectors: it cannot use --base-version"),
        ("graph", {"sessions": True, "content": True}, "graph cannot use --content-vectors"),
        ("fusion", {"sessions": False}, "fusion needs --input or --base-version"),
        ("fusion", {"sessions": False, "content": True}, "fusion needs --input or --base-version"),
    ],
)
def test_sources_are_checked_by_capability_in_the_callers_words(name, sources, message):
    cli = {"sessions": "--input", "base_version": "--base-version", "content": "--content-vectors"}
    with pytest.raises(ConfigError) as err:
        get_method(name).check_sources(**sources, say=cli)
    assert str(err.value) == message
    get_method("fusion").check_sources(sessions=False, base_version=True, content=True, say=cli)  # all usable
    get_method("ppmi_svd").check_sources(sessions=True)


@pytest.mark.parametrize(
    "name, values, needle",
    [
        ("ppmi_svd", {"alpha": 0}, "alpha=0"),
        ("ppmi_svd", {"dim": 1}, "dim=1"),
        ("ppmi_svd", {"windw": 3}, "windw"),
        ("item2vec", {"epochs": 0}, "epochs=0"),
        ("graph", {"p": -1}, "p=-1"),
        ("fusion", {"behavior_weight": 1.5}, "behavior_weight=1.5"),
    ],
)
def test_invalid_config_names_parameter_and_value(name, values, needle):
    with pytest.raises(ConfigError) as err:
        parse_config(name, values)
    assert needle in str(err.value) and name in str(err.value)


def test_unknown_method_lists_known_ones():
    with pytest.raises(ConfigError, match="ppmi_svd"):
        get_method("word2vec")


def test_set_values_are_typed():
    assert coerce_setting("item2vec", "ns_exponent", "-0.5") == -0.5
    assert coerce_setting("item2vec", "shrink_windows", "false") is False
    assert coerce_setting("ppmi_svd", "weighting", "harmonic") == "harmonic"
    with pytest.raises(ConfigError, match="window"):
        coerce_setting("ppmi_svd", "windows", "3")


def test_ppmi_svd_dim_larger_than_catalogue_is_a_clear_error(planted):
    small = planted.sessions.select(np.arange(planted.sessions.n_sessions) < 5)
    with pytest.raises(ConfigError, match="dim=128"):
        get_method("ppmi_svd").fit(TrainingInputs(sessions=small), parse_config("ppmi_svd", {}), seed=0)


def test_eig_weight_one_is_dominated_by_top_direction(planted):
    """p = 1 stretches the leading singular direction; p = 0.5 keeps clusters apart better (never worse here)."""
    spec = get_method("ppmi_svd")
    inputs = TrainingInputs(sessions=planted.sessions)
    cluster = planted.cluster_of
    scores = {}
    for p in (0.0, 0.5, 1.0):
        emb = spec.fit(inputs, parse_config("ppmi_svd", {"dim": 32, "eig_weight": p}), seed=0).embeddings
        truth = cluster[planted.sessions.vocab.codes(emb.vocab.ids)]
        scores[p] = cluster_precision_at_k(top_k_neighbors(emb, 10).codes, truth)
    assert scores[0.5] >= scores[1.0] - 0.005
