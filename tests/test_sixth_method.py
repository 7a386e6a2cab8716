"""A sixth method is one module plus one registry line: this test module defines a small method — random
indexing (each item's co-occurrence row, log-damped, projected by a seeded Gaussian matrix) — registers it from
here, and runs it through training, tuning, warm-up, diagnostics, evidence and fusion without any other module
of the product knowing its name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pydantic import Field

from behemb_core.cooccurrence import count_cooccurrence
from behemb_core.diagnostics import CollapseThresholds, popularity_diagnostics
from behemb_core.embeddings import FitResult, make_embeddings
from behemb_core.explain import evidence_plan, explain_version
from behemb_core.ingest import read_session_jsonl
from behemb_core.methods.base import MethodConfig, MethodSpec, TrainingInputs, require_sessions
from behemb_core.methods.facts import stage
from behemb_core.methods.registry import METHODS, get_method, parse_config, register_method, unregister_method
from behemb_core.progress import as_reporter
from behemb_core.store import Store
from behemb_core.train import train_version
from behemb_core.tuning import tune_method
from behemb_core.warmup import warm_up_training

NAME = "rand_index"
HINT = "random indexing collapsed: lower the log damping"
FITS: list[dict] = []  # every fit of the method, so the test sees who ran it


class RandIndexConfig(MethodConfig):
    window: int = Field(3, ge=0, le=100, description="Co-occurrence window; 0 = the whole session.")
    damping: float = Field(1.0, gt=0, description="Rows are log(1 + count / damping).")


def fit_rand_index(inputs: TrainingInputs, config: RandIndexConfig, *, seed: int = 0, progress=None) -> FitResult:
    sessions = require_sessions(inputs, NAME)
    rep = as_reporter(progress)
    FITS.append(config.model_dump())
    counts = count_cooccurrence(sessions, window=config.window).tocsr()
    counts.data = np.log1p(counts.data / config.damping)
    keep = np.flatnonzero(np.diff(counts.indptr) > 0)
    projection = np.random.default_rng(seed).standard_normal((sessions.n_items, config.dim)).astype(np.float32)
    vectors = counts[keep] @ projection
    rep("done", 1.0, f"embedded {len(keep)} items")
    emb = make_embeddings(sessions.vocab.subset(keep), vectors, expected_dim=config.dim, method=NAME)
    return FitResult(embeddings=emb, report={"items_without_vector": int(sessions.n_items - len(keep))})


SPEC = MethodSpec(
    name=NAME, title="Random indexing", config_class=RandIndexConfig, fit=fit_rand_index,
    description="Co-occurrence rows through a seeded random projection.", version_prefix="ri",
    search_space=(stage("window", "fit", window=(3, 1, 0)),),
    warm_up=({"window": 1},),
    collapse_hints=(HINT,),
    cooc_window=lambda config: config.window,
)


@pytest.fixture
def registered() -> Iterator[MethodSpec]:
    spec = register_method(SPEC)  # the one registry line
    FITS.clear()
    try:
        yield spec
    finally:
        unregister_method(NAME)
    assert NAME not in METHODS


@pytest.fixture(scope="module")
def dataset(planted, tmp_path_factory):
    from conftest import write_sessions_jsonl

    s = planted.sessions.select(np.arange(planted.sessions.n_sessions) < 3000)
    return read_session_jsonl(write_sessions_jsonl(tmp_path_factory.mktemp("sixth") / "sessions.jsonl", s))


def test_a_registered_method_is_everywhere_a_method_is(registered: MethodSpec, dataset, planted, tmp_path: Path):
    # training: a version with the entry's prefix, the method's config in the manifest
    store = Store(str(tmp_path / "store"))
    summary = train_version(store, NAME, {"dim": 16, "window": 0}, dataset=dataset, seed=1, evaluate=True)
    assert summary["version"].startswith("ri_")
    stored = store.load_version(summary["version"])
    assert stored.manifest["method"] == NAME and stored.manifest["config"]["window"] == 0
    assert "item_knn" in stored.manifest["evaluation"]["baselines"]  # evaluated against the baselines too
    # the planted clusters come out: most neighbors share the query's cluster
    cluster = dict(zip(planted.sessions.vocab.ids.tolist(), planted.cluster_of.tolist(), strict=True))
    from behemb_core.neighbors import top_k_neighbors

    emb = stored.embeddings
    nb = top_k_neighbors(emb, 5)
    labels = np.array([cluster[i] for i in emb.vocab.ids.tolist()])
    assert (labels[nb.codes] == labels[:, None]).mean() > 0.5

    # tuning: the entry's search space is searched, trial 1 is the start
    result = tune_method(dataset.sessions, NAME, budget_seconds=120, seed=0, base_config={"dim": 8})
    windows = [t["params"]["window"] for t in result.trials if t["status"] in ("ok", "repeat")]
    assert set(windows) == {3, 1, 0} and result.method == NAME

    # warm-up runs the entry's warm-up configs
    FITS.clear()
    warm_up_training()
    assert [f["window"] for f in FITS] == [1] and FITS[0]["dim"] == 8

    # diagnostics: a tripped rule shows the entry's own hint first
    strict = CollapseThresholds(max_gini=0.0, collapse_min_rules=1)
    report = popularity_diagnostics(emb, stored.item_stats, k=5, thresholds=strict, method=NAME)
    assert report["verdict"] != "ok" and report["hints"][0] == HINT

    # evidence: counted with the window the config implies (0 = the whole session)
    plan = evidence_plan(stored.manifest, dataset.sessions.fingerprint())
    assert plan.window == 0 and plan.source == "training_data"
    query = emb.vocab.ids[0]
    explained = explain_version(stored, dataset.sessions, query, k=5)
    assert explained["window"] == 0 and all(r["cooccurrences"] >= 0 for r in explained["neighbors"])

    # fusion can build on it, chosen from the registry and validated when its config is parsed
    fusion = get_method("fusion")
    assert NAME in fusion.field_choices()["base_method"]
    cfg = parse_config("fusion", {"base_method": NAME, "base_config": {"dim": 16, "window": 2}})
    assert fusion.window_of(cfg) == 2
    import pandas as pd

    from behemb_core.metadata import ItemMetadata

    ids = dataset.sessions.vocab.ids
    meta = ItemMetadata(pd.DataFrame({"item_id": ids, "name": [f"cluster {cluster[i]} item" for i in ids]}))
    fused = train_version(store, "fusion", cfg, dataset=dataset, item_meta=meta, seed=0)
    fit_report = store.manifest(fused["version"])["fit_report"]
    assert fit_report["base_method"] == NAME and fit_report["classes"]["fused"] > 0


def test_unregistered_it_is_gone_and_built_ins_stay(registered: MethodSpec) -> None:
    from behemb_core.errors import ConfigError

    with pytest.raises(ConfigError, match="already registered"):
        register_method(SPEC)
    with pytest.raises(ConfigError, match="built-in"):
        unregister_method("fusion")
    with pytest.raises(ConfigError, match="is not a behavior method"):
        parse_config("fusion", {"base_method": "no_such"})
