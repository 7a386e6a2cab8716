"""The Spark engine counts the *directed* pair table too (issue 24): a work dir prepared with ``directed=True`` holds
exactly ``count_pairs(..., directed=True)`` of its sessions — the same keys and integer counts, for windows and
weightings with and without per-distance counts — and its folded form is the symmetric table Spark counts without
``directed``. A symmetric work dir refuses a directed reading with what to do. ``cooc_softmax`` with the "next
item" tables, trained from a work dir, gets the same Q and K as the single-machine job (it reads the exported
sessions, whose fingerprint equals the single machine's). One shared ``local[2]`` session (conftest).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_spark_engine import sessions_jsonl, tricky_log

from behemb_core.cooccurrence import PairCounts, count_pairs, forward_from_pairs
from behemb_core.errors import ConfigError
from behemb_core.ingest import DatasetSpec, load
from behemb_core.prepared import PreparedDataset

pytestmark = pytest.mark.spark


def prepare_dir(spark, tmp_path: Path, spec: DatasetSpec, window: int, weighting: str, *, directed: bool
                ) -> PreparedDataset:
    from behemb_core.spark.job import prepare

    work = tmp_path / f"work-{len(list(tmp_path.iterdir()))}"
    return prepare(spark, spec, str(work), pairs=(window, weighting), directed=directed)


def assert_same_table(here: PairCounts, there: PairCounts) -> None:
    assert there.directed == here.directed
    assert there.vocab == here.vocab and (there.window, there.weighting) == (here.window, here.weighting)
    assert there.keys.dtype == here.keys.dtype == np.int64 and there.counts.dtype == here.counts.dtype == np.int64
    assert np.array_equal(here.keys, there.keys) and np.array_equal(here.counts, there.counts)


def as_dict(pairs: PairCounts) -> dict[tuple[int, int, int], int]:
    """``(first item id, second item id, offset) → count``."""
    n, n_off = pairs.n_items, pairs.n_offsets
    pair, offset = np.divmod(pairs.keys, n_off)
    a, b = np.divmod(pair, n)
    ids = pairs.vocab.ids
    return {(int(ids[x]), int(ids[y]), int(o)): int(c) for x, y, o, c in zip(a, b, offset, pairs.counts, strict=True)}


# ------------------------------------------------------------------------------------------------ tests


def test_a_directed_table_keeps_which_item_came_first(spark, tmp_path: Path) -> None:
    """A hand-counted case: 3 1 2 | 1 3 | 2 1 2, window 2, harmonic (counted per distance)."""
    src = tmp_path / "s"
    src.mkdir()
    (src / "a.jsonl").write_text("".join(json.dumps({"session_id": i, "items": items}) + "\n"
                                         for i, items in enumerate([[3, 1, 2], [1, 3], [2, 1, 2]])))
    prepared = prepare_dir(spark, tmp_path, DatasetSpec(paths=[str(src)], format="sessions"), 2, "harmonic",
                           directed=True)
    directed = prepared.pairs(2, "harmonic", directed=True)
    # 3→1 and 1→2 adjacent, 3→2 two apart (offset 1); 1→3; 2→1, 1→2 (2→2 is an item with itself: not a pair)
    assert as_dict(directed) == {(1, 2, 0): 2, (1, 3, 0): 1, (2, 1, 0): 1, (3, 1, 0): 1, (3, 2, 1): 1}
    assert as_dict(prepared.pairs(2, "harmonic")) == {(1, 2, 0): 3, (1, 3, 0): 2, (2, 3, 1): 1}
    assert prepared.meta["pairs"] == {"window": 2, "weighting": "harmonic", "directed": True}
    f = forward_from_pairs(directed).toarray()  # rows: the item first; 1/d weights
    assert f[0].tolist() == [0.0, 2.0, 1.0] and f[2].tolist() == [1.0, 0.5, 0.0] and f[1].tolist() == [1.0, 0, 0]


@pytest.mark.parametrize("window, weighting", [(0, "uniform"), (1, "uniform"), (3, "harmonic"), (2, "linear"),
                                               (5, "uniform")])
def test_the_directed_spark_table_equals_count_pairs_directed(spark, tmp_path: Path, window: int,
                                                             weighting: str) -> None:
    """Sessions from JSON Lines (repeats, sessions split at max_length, string and integer session ids): the
    directed table and its fold equal the single machine's, bit for bit, for every window and weighting."""
    spec = DatasetSpec(paths=[str(sessions_jsonl(tmp_path / "s"))], format="sessions",
                       options={"max_length": 12, "min_count": 2})
    sessions = load(spec).sessions
    prepared = prepare_dir(spark, tmp_path, spec, window, weighting, directed=True)
    here = count_pairs(sessions, window=window, weighting=weighting, directed=True)
    there = prepared.pairs(window, weighting, directed=True)
    assert_same_table(here, there)
    assert np.any(here.keys // here.n_offsets % here.n_items < here.keys // here.n_offsets // here.n_items)
    folded = prepared.pairs(window, weighting)  # the symmetric reading of a directed work dir
    assert_same_table(count_pairs(sessions, window=window, weighting=weighting), folded)
    assert prepared.has_pairs(window, weighting) and prepared.has_pairs(window, weighting, directed=True)


@pytest.mark.parametrize("options", [{}, {"use_session_column": False, "gap_minutes": 30}], ids=["invoice", "gap"])
def test_the_fold_of_the_directed_table_is_the_symmetric_spark_table(spark, tmp_path: Path, options: dict) -> None:
    """On the log built to trip an engine up (timestamp ties in invoices, shared invoices, messy ids): the Spark
    directed table equals ``count_pairs(directed=True)``, and ``undirected()`` of it equals the symmetric table
    Spark counts — the two work dirs hold the same sessions."""
    spec = DatasetSpec(paths=[str(tricky_log(tmp_path / "log"))], format="events",
                       filters={"exclude_session_prefix": "C"}, options=options)
    sessions = load(spec).sessions
    directed = prepare_dir(spark, tmp_path, spec, 3, "linear", directed=True)
    symmetric = prepare_dir(spark, tmp_path, spec, 3, "linear", directed=False)
    assert directed.fingerprint() == symmetric.fingerprint() == sessions.fingerprint()
    table = directed.pairs(3, "linear", directed=True)
    assert_same_table(count_pairs(sessions, window=3, weighting="linear", directed=True), table)
    assert_same_table(symmetric.pairs(3, "linear"), table.undirected())
    assert len(table.keys) > len(table.undirected().keys)  # both orders of some pairs occurred


def test_a_symmetric_work_dir_refuses_a_directed_reading(spark, tmp_path: Path) -> None:
    from behemb_core.spark.job import prepare

    spec = DatasetSpec(paths=[str(sessions_jsonl(tmp_path / "s"))], format="sessions")
    prepared = prepare_dir(spark, tmp_path, spec, 5, "uniform", directed=False)
    assert prepared.meta["pairs"] == {"window": 5, "weighting": "uniform"}  # as before directed tables existed
    assert prepared.has_pairs(5, "uniform") and not prepared.has_pairs(5, "uniform", directed=True)
    with pytest.raises(ConfigError, match="has a symmetric pair table \\(window 5, uniform weighting\\); this job "
                       "needs a directed pair table.*prepare again .*directed pairs"):
        prepared.pairs(5, "uniform", directed=True)
    with pytest.raises(ConfigError, match="directed=True needs a pair table"):
        prepare(spark, spec, str(tmp_path / "never"), directed=True)
    assert not (tmp_path / "never").exists()  # refused before Spark read anything


def test_next_item_tables_trained_from_a_work_dir_equal_the_single_machine(spark, tmp_path: Path) -> None:
    """``cooc_softmax`` with ``directional=true`` from a work dir (directed or not: it counts the exported
    sessions on the driver) gives the same symmetric vectors and the same Q and K, bit for bit."""
    from behemb_core.store import Store
    from behemb_core.train import train_version

    spec = DatasetSpec(paths=[str(sessions_jsonl(tmp_path / "s"))], format="sessions")
    ds = load(spec)
    config = {"dim": 8, "window": 3, "weighting": "harmonic", "epochs": 3, "directional": True, "alpha": 0.75,
              "softmax": "full"}
    st = Store(str(tmp_path / "store"))
    train_version(st, "cooc_softmax", config, dataset=ds, seed=4, name="local")
    for name, directed in (("spark", True), ("spark-sym", False)):
        prepared = prepare_dir(spark, tmp_path, spec, 3, "harmonic", directed=directed)
        train_version(st, "cooc_softmax", config, dataset=prepared, seed=4, name=name)
    a = st.load_version("local")
    assert a.directional is not None and a.directional.query.shape[1] == 8
    for name in ("spark", "spark-sym"):
        b = st.load_version(name)
        assert b.embeddings.vocab == a.embeddings.vocab
        assert np.array_equal(b.embeddings.vectors, a.embeddings.vectors)
        assert b.directional is not None
        assert np.array_equal(b.directional.query, a.directional.query)
        assert np.array_equal(b.directional.candidate, a.directional.candidate)
        assert b.directional.alpha == a.directional.alpha == 0.75
        assert st.manifest(name)["fit_report"]["directional"]["target_nnz"] == (
            st.manifest("local")["fit_report"]["directional"]["target_nnz"])
