"""Bulk neighbor export and the two-version diff: planted data, exact oracle, tiny dims."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from behemb_core.embeddings import make_embeddings
from behemb_core.errors import ConfigError, InputError
from behemb_core.neighbor_export import (
    COLUMNS,
    export_neighbors,
    neighbor_diff,
    neighbors_bytes,
    parse_item_list,
    read_item_list,
    resolve_items,
)
from behemb_core.neighbors import top_k_neighbors
from behemb_core.vocab import Vocabulary


def _emb(n: int = 300, d: int = 8, seed: int = 0, ids=None):
    rng = np.random.default_rng(seed)
    vocab = Vocabulary(np.arange(n) if ids is None else ids)
    return make_embeddings(vocab, rng.standard_normal((n, d)).astype(np.float32))


def _names(emb):
    return np.array([f"item {i}" for i in emb.vocab.ids.tolist()], dtype=object)


@pytest.fixture(scope="module")
def planted_emb(planted):
    from behemb_core.methods.base import TrainingInputs
    from behemb_core.methods.registry import get_method, parse_config

    result = get_method("ppmi_svd").fit(TrainingInputs(sessions=planted.sessions), parse_config("ppmi_svd", {"dim": 8}),
                                        seed=0)
    return getattr(result, "embeddings", result)


def test_parse_item_list_forms(tmp_path):
    assert parse_item_list("a, b;c\n\n# note\nd\te\n") == ["a", "b", "c", "d", "e"]
    assert parse_item_list('item_id,name\n85123A,"WHITE, HEART"\n22423,x\n') == ["85123A", "22423"]
    (tmp_path / "ids.txt").write_text("\n\n# nothing\n")
    with pytest.raises(InputError, match="ids.txt.*no item id"):
        read_item_list(tmp_path / "ids.txt")


def test_ids_list_keeps_order_and_reports_unknown_and_repeats():
    emb = _emb(50)
    q = resolve_items(emb, ["7", "3", "x-1", "7", "999", "03"])
    assert emb.vocab.take(q.codes).tolist() == [7, 3]
    assert q.unknown == ["x-1", "999", "03"]
    assert q.duplicates == 1


def test_list_export_rows_columns_and_unknown_ids(tmp_path):
    emb = _emb(60)
    res = export_neighbors(emb, tmp_path / "out.csv", k=4, items=["5", "nope", "2"], names=_names(emb))
    assert res.unknown == ["nope"] and res.queries == 2 and res.rows == 8
    frame = pd.read_csv(tmp_path / "out.csv")
    assert tuple(frame.columns) == COLUMNS
    assert frame["query_item_id"].tolist() == [5] * 4 + [2] * 4  # the order given
    assert frame["rank"].tolist() == [1, 2, 3, 4] * 2
    oracle = top_k_neighbors(emb, 4, queries=np.array([5, 2]))
    assert frame["item_id"].tolist() == emb.vocab.take(oracle.codes.ravel()).tolist()
    np.testing.assert_allclose(frame["score"], oracle.scores.ravel(), rtol=1e-5)
    assert frame["query_name"].iloc[0] == "item 5" and frame["name"].iloc[0] == f"item {frame['item_id'].iloc[0]}"
    with pytest.raises(ConfigError, match="none of the 2 item ids.*a, b"):
        export_neighbors(emb, tmp_path / "none.csv", k=4, items=["a", "b"])
    assert not (tmp_path / "none.csv").exists()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_whole_catalogue_streamed_in_blocks_equals_in_memory_answer(planted_emb, tmp_path, fmt):
    emb = planted_emb
    names = _names(emb)
    path = tmp_path / f"all.{fmt}"
    res = export_neighbors(emb, path, k=5, names=names, block_rows=128)  # several blocks / row groups
    oracle = top_k_neighbors(emb, 5)
    n = len(emb)
    assert res.queries == n and res.rows == n * 5 and res.unknown == []
    if fmt == "parquet":
        meta = pq.ParquetFile(path).metadata
        assert meta.num_row_groups == -(-n // 128)
        frame = pq.read_table(path).to_pandas()
        assert str(pq.read_schema(path).field("score").type) == "float"
    else:
        frame = pd.read_csv(path)
    assert tuple(frame.columns) == COLUMNS
    assert frame["query_item_id"].tolist() == np.repeat(emb.vocab.ids, 5).tolist()
    assert frame["item_id"].tolist() == emb.vocab.take(oracle.codes.ravel()).tolist()
    np.testing.assert_allclose(frame["score"].to_numpy(), oracle.scores.ravel(), rtol=1e-5, atol=1e-6)
    assert (frame["name"] == "item " + frame["item_id"].astype(str)).all()
    # The in-memory bytes (the app's download) are the same file.
    data, mem = neighbors_bytes(emb, fmt=fmt, k=5, names=names, block_rows=128)
    assert data == path.read_bytes() and mem.rows == res.rows


def test_string_ids_and_short_catalogue(tmp_path):
    emb = _emb(3, ids=["a", "b", "c"])
    res = export_neighbors(emb, tmp_path / "s.parquet", k=5)
    frame = pq.read_table(tmp_path / "s.parquet").to_pandas()
    assert res.rows == 6 and frame.groupby("query_item_id").size().tolist() == [2, 2, 2]  # only 2 others exist
    assert (frame["name"] == "").all()


def test_refuses_store_paths_bad_suffix_and_existing_file_atomically(tmp_path):
    emb = _emb(20)
    store = tmp_path / "store"
    (store / "versions").mkdir(parents=True)
    for bad in (store / "n.csv", store / "versions" / "deep" / "n.parquet"):
        with pytest.raises(ConfigError, match="inside the store"):
            export_neighbors(emb, bad, k=2, store_root=store)
    assert sorted(p.name for p in store.rglob("*")) == ["versions"]
    with pytest.raises(ConfigError, match=r"\.csv or \.parquet"):
        export_neighbors(emb, tmp_path / "n.txt", k=2)
    target = tmp_path / "n.csv"
    target.write_text("old")
    with pytest.raises(ConfigError, match="exists"):
        export_neighbors(emb, target, k=2)
    assert target.read_text() == "old"
    export_neighbors(emb, target, k=2, overwrite=True)
    assert tuple(pd.read_csv(target).columns) == COLUMNS
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_diff_kept_gained_lost_with_names():
    emb_a = _emb(40, seed=1)
    vec = emb_a.vectors.copy()
    vec[10:] = np.random.default_rng(5).standard_normal((30, 8))  # B moves most items
    emb_b = make_embeddings(emb_a.vocab, vec)
    names = _names(emb_a)
    diff = neighbor_diff(emb_a, emb_b, 3, k=6, names_a=names, names_b=names)
    a = set(map(str, emb_a.vocab.take(top_k_neighbors(emb_a, 6, queries=np.array([3])).codes[0])))
    b = set(map(str, emb_a.vocab.take(top_k_neighbors(emb_b, 6, queries=np.array([3])).codes[0])))
    got = {c: set(diff.loc[diff["change"] == c, "item_id"]) for c in ("kept", "gained", "lost")}
    assert got == {"kept": a & b, "gained": b - a, "lost": a - b}
    assert got["gained"] and got["lost"]
    assert (diff["name"] == "item " + diff["item_id"]).all()
    assert diff["change"].tolist() == sorted(diff["change"], key=["kept", "gained", "lost"].index)
    assert diff.loc[diff["change"] == "lost", "rank_b"].isna().all()
    assert diff.loc[diff["change"] == "gained", "rank_a"].isna().all()
    same = neighbor_diff(emb_a, emb_a, 3, k=6)
    assert set(same["change"]) == {"kept"} and (same["rank_a"] == same["rank_b"]).all()
    with pytest.raises(KeyError, match="version A has no vector for item 'zz'"):
        neighbor_diff(emb_a, _emb(5, ids=["a", "b", "c", "d", "zz"]), "zz")
    with pytest.raises(KeyError, match="version B has no vector for item 'zz'"):
        neighbor_diff(_emb(5, ids=["a", "b", "c", "d", "zz"]), emb_a, "zz")
