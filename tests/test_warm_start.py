"""Warm-started retrains: a fit starts from a stored version's vectors (items it has), new items from scratch;
early stopping; the manifest's record; refusals (another catalogue, another dimension, a method that cannot)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import write_sessions_jsonl

from behemb_core.cli import main
from behemb_core.embeddings import make_embeddings
from behemb_core.errors import ConfigError, IntegrityError
from behemb_core.ingest.dataset import Dataset
from behemb_core.methods.registry import METHODS, get_method
from behemb_core.sessions import SessionOptions
from behemb_core.store import Store
from behemb_core.train import fit_method, train_version, warm_start_choice
from behemb_core.vocab import Vocabulary
from behemb_core.warm_start import EarlyStop

FAST = {
    "cooc_softmax": {"dim": 16, "epochs": 6, "min_epochs": 2},
    "item2vec": {"dim": 16, "epochs": 3, "workers": 1, "min_epochs": 1},
}
WARMERS = sorted(name for name, spec in METHODS.items() if spec.warm_start)
NEW_FROM = 560  # items with these codes appear only in the new data


def _split(planted):
    """(old sessions: none with an item >= NEW_FROM, all sessions) — a retrain with 40 new items."""
    s = planted.sessions
    new_item = np.zeros(s.n_sessions, dtype=bool)
    sess = s.session_of_event()
    np.logical_or.at(new_item, sess, s.codes >= NEW_FROM)
    return s.select(~new_item), s


@pytest.fixture(scope="module")
def bases(planted):
    old, _ = _split(planted)
    return {m: fit_method(m, FAST[m], sessions=old, seed=0)[1].embeddings for m in WARMERS}


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", a, b)


def test_both_iterative_methods_can_warm_start_the_others_say_why_not() -> None:
    assert WARMERS == ["cooc_softmax", "item2vec"]
    for spec in METHODS.values():
        if not spec.warm_start:
            assert spec.warm_start_refusal() is not None and "cannot warm-start" in spec.warm_start_refusal()
            with pytest.raises(ConfigError, match="cannot warm-start.*--warm-start"):
                spec.check_sources(sessions=True, warm_start=True, say={"warm_start": "--warm-start"})


@pytest.mark.parametrize("method", WARMERS)
def test_warm_start_is_deterministic_for_a_seed(planted, bases, method) -> None:
    _, new = _split(planted)
    runs = [fit_method(method, FAST[method], sessions=new, seed=3, warm_start=bases[method])[1] for _ in range(2)]
    assert np.array_equal(runs[0].embeddings.vectors, runs[1].embeddings.vectors)
    assert runs[0].report["warm_start"] == runs[1].report["warm_start"]


@pytest.mark.parametrize("method", WARMERS)
def test_old_items_start_from_the_base_and_new_items_get_vectors(planted, bases, method) -> None:
    _, new = _split(planted)
    base = bases[method]
    gentle = {**FAST[method], "epochs": 1, "min_epochs": 1, "stop_tol": 1.0, "lr": 1e-4, "warm_epochs": 1,
              "warm_alpha": 1e-5, "min_alpha": 1e-6}
    cfg = {k: v for k, v in gentle.items() if k in get_method(method).config_class.model_fields}
    _, warm, _ = fit_method(method, cfg, sessions=new, seed=0, warm_start=base)
    _, cold, _ = fit_method(method, cfg, sessions=new, seed=1)
    emb = warm.embeddings
    record = warm.report["warm_start"]
    assert record["items_new"] >= 30 and record["items_reused"] == len(base)
    assert record["items_reused"] + record["items_new"] == len(emb)
    assert warm.report["epochs_run"] == 1
    new_ids = new.vocab.take(np.arange(NEW_FROM, new.n_items))
    assert (emb.vocab.codes(new_ids) >= 0).sum() >= 30  # new items have vectors
    at = emb.vocab.codes(base.vocab.ids)
    assert _cos(emb.vectors[at], base.vectors).min() > 0.9  # old items stayed near where they started
    cold_at = cold.embeddings.vocab.codes(base.vocab.ids)
    assert np.median(_cos(cold.embeddings.vectors[cold_at], base.vectors)) < 0.5  # a cold fit starts elsewhere


@pytest.mark.parametrize("method", WARMERS)
def test_a_base_of_another_catalogue_or_dimension_is_refused(planted, bases, method) -> None:
    _, new = _split(planted)
    rng = np.random.default_rng(0)
    other = make_embeddings(Vocabulary(np.asarray([f"sku-{i}" for i in range(50)], dtype=object)),
                            rng.standard_normal((50, 16)))
    with pytest.raises(ConfigError, match="shares no item with this catalogue.*another catalogue"):
        fit_method(method, FAST[method], sessions=new, seed=0, warm_start=other)
    with pytest.raises(ConfigError, match="16 dimensions, this fit 8"):
        fit_method(method, {**FAST[method], "dim": 8}, sessions=new, seed=0, warm_start=bases[method])


def test_early_stop_rule() -> None:
    rule = EarlyStop(max_epochs=10, min_epochs=3, tol=0.01, patience=1)
    assert not rule.should_stop([10.0, 9.99])  # below the floor
    assert rule.should_stop([10.0, 9.0, 8.95])  # 0.6 % < 1 %
    assert not rule.should_stop([10.0, 9.0, 8.0])
    assert rule.should_stop([1.0] * 10)  # the most epochs
    assert not EarlyStop(max_epochs=10, tol=0.0).should_stop([1.0] * 5)  # tol 0 never stops early


def test_cold_fit_reports_epochs_run_and_can_run_them_all(planted) -> None:
    s = planted.sessions
    _, res, _ = fit_method("cooc_softmax", {"dim": 16, "epochs": 8, "stop_tol": 0.0}, sessions=s, seed=0)
    assert res.report["epochs_run"] == 8 and not res.report["stopped_early"]
    _, res, _ = fit_method("cooc_softmax", {"dim": 16, "epochs": 40, "stop_tol": 0.5}, sessions=s, seed=0)
    assert res.report["epochs_run"] == 3 and res.report["stopped_early"]  # the floor, min_epochs=3


def _dataset(sessions) -> Dataset:
    return Dataset(sessions=sessions, drops={}, notes={}, source={"kind": "test"}, options=SessionOptions())


def test_manifest_records_the_base_and_the_base_is_verified(tmp_path: Path, planted) -> None:
    old, new = _split(planted)
    store = Store(tmp_path / "store")
    v1 = train_version(store, "cooc_softmax", FAST["cooc_softmax"], dataset=_dataset(old), seed=0, name="v1")
    v2 = train_version(store, "cooc_softmax", FAST["cooc_softmax"], dataset=_dataset(new), seed=0, name="v2",
                       warm_start="v1")
    record = store.manifest("v2")["warm_start"]
    assert record["version"] == "v1"
    assert record["embeddings_sha256"] == store.manifest("v1")["files"]["embeddings.parquet"]["sha256"]
    assert record["items_reused"] == v1["items"] and record["items_reused"] + record["items_new"] == v2["items"]
    assert store.manifest("v2")["fit_report"]["epochs_run"] >= 2
    with pytest.raises(ConfigError, match="cannot warm-start cooc_softmax from version 'v1': it has 16 dimensions"):
        train_version(store, "cooc_softmax", {**FAST["cooc_softmax"], "dim": 8}, dataset=_dataset(new),
                      warm_start="v1")
    with pytest.raises(ConfigError, match="ppmi_svd cannot warm-start"):
        train_version(store, "ppmi_svd", {"dim": 16}, dataset=_dataset(new), warm_start="v1")
    path = Path(store.version_path("v1")) / "embeddings.parquet"
    path.write_bytes(path.read_bytes()[:-8] + b"tampered")
    with pytest.raises(IntegrityError, match="sha256"):
        train_version(store, "cooc_softmax", FAST["cooc_softmax"], dataset=_dataset(new), warm_start="v1")


def test_cli_train_warm_start_end_to_end(tmp_path: Path, planted, capsys) -> None:
    old, new = _split(planted)
    old_file = write_sessions_jsonl(tmp_path / "old.jsonl", old)
    new_file = write_sessions_jsonl(tmp_path / "new.jsonl", new)
    store = tmp_path / "store"
    common = ["--store", str(store), "--quiet", "--method", "item2vec", "--set", "dim=16", "--set", "workers=1"]
    assert main(["train", "--input", str(old_file), "--version", "m1", *common]) == 0
    assert main(["train", "--input", str(new_file), "--version", "m2", "--warm-start", "m1", *common]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert json.loads(out[-1])["version"] == "m2"
    manifest = Store(store).manifest("m2")
    assert manifest["warm_start"]["version"] == "m1" and manifest["warm_start"]["items_new"] > 0
    # Refused before any data is read: the input does not even exist.
    code = main(["train", "--input", str(tmp_path / "missing.jsonl"), "--store", str(store), "--quiet",
                 "--method", "ppmi_svd", "--warm-start", "m1"])
    err = capsys.readouterr().err
    assert code != 0 and "ppmi_svd cannot warm-start" in err and "--warm-start" in err
    code = main(["train", "--input", str(tmp_path / "missing.jsonl"), "--store", str(store), "--quiet",
                 "--method", "item2vec", "--warm-start", "m1"])  # dim 128 against a 16-dim base
    assert code != 0 and "16 dimensions" in capsys.readouterr().err


def test_warm_start_choice_says_why_not(tmp_path: Path, monkeypatch) -> None:
    store = Store(tmp_path / "store")
    assert warm_start_choice(store, "ppmi_svd")[1].startswith("ppmi_svd cannot warm-start")
    assert warm_start_choice(store, "cooc_softmax") == (
        None, "nothing is published yet: a warm start starts from the published version")
    monkeypatch.setattr("behemb_core.store.lifecycle.published_version", lambda store: "pub")
    assert warm_start_choice(store, "cooc_softmax") == ("pub", None)


def test_train_page_warm_start_checkbox(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("streamlit")
    from conftest import open_app
    from test_app_pages import finish_training

    from behemb_core.demo import load_demo_dataset

    store_dir = tmp_path / "store"
    at = open_app(store_dir, "pages/2_Train.py", monkeypatch)
    box = at.checkbox(key="train_warm_start")
    assert box.disabled and "nothing is published" in box.help
    train_version(Store(store_dir), "cooc_softmax", {"dim": 8, "epochs": 3}, dataset=load_demo_dataset(), name="pub")
    monkeypatch.setattr("behemb_core.store.lifecycle.published_version", lambda store: "pub")
    at.run()
    box = at.checkbox(key="train_warm_start")
    assert not box.disabled and "(pub)" in box.label
    at.selectbox(key="train_method").set_value("ppmi_svd").run()
    box = at.checkbox(key="train_warm_start")
    assert box.disabled and "ppmi_svd cannot warm-start" in box.help.replace("\\", "")
    at.selectbox(key="train_method").set_value("cooc_softmax").run()
    at.number_input(key="cfg_cooc_softmax_dim").set_value(8)
    at.number_input(key="cfg_cooc_softmax_epochs").set_value(3)
    at.checkbox(key="train_evaluate").uncheck()
    at.checkbox(key="train_warm_start").check()
    at.text_input(key="train_name").set_value("warm")
    at.button(key="train_submit").click().run()
    finish_training(at)
    assert not at.exception and not [e.value for e in at.error], [e.value for e in at.error]
    assert Store(store_dir).manifest("warm")["warm_start"]["version"] == "pub"
