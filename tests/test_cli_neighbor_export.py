"""`neighbors --items-file/--all/--item … --output` end to end on a small planted store."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import write_sessions_jsonl

from behemb_core.cli import main
from behemb_core.neighbors import top_k_neighbors
from behemb_core.store import Store
from behemb_core.synthetic import planted_sessions


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-export")
    planted = planted_sessions(n_items=120, n_clusters=6, n_sessions=1200, seed=3)
    write_sessions_jsonl(root / "sessions.jsonl", planted.sessions)
    (root / "items.csv").write_text("item_id,name\n" + "".join(f"{i},product {i}\n" for i in range(120)))
    code = main(["train", "--input", str(root / "sessions.jsonl"), "--item-meta", str(root / "items.csv"),
                 "--method", "ppmi_svd", "--set", "dim=8", "--store", str(root / "store"), "--version", "v1",
                 "--quiet"])
    assert code == 0
    return root / "store"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_items_file_to_csv_reports_unknown_ids(store, capsys, tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("7\n3\nnot-an-item\n# a comment\n5000\n")
    out_path = tmp_path / "out" / "nb.csv"
    code, out, err = run(capsys, "neighbors", "--store", store, "--version", "v1", "--items-file", ids, "-k", 3,
                         "--output", out_path, "--quiet")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["queries"] == 2 and summary["rows"] == 6
    assert summary["unknown_count"] == 2 and summary["unknown"] == ["not-an-item", "5000"]
    assert "2 of 4 item ids are not in version 'v1'" in err and "not-an-item, 5000" in err
    frame = pd.read_csv(out_path)
    assert list(frame.columns) == ["query_item_id", "query_name", "rank", "item_id", "name", "score"]
    assert frame["query_item_id"].tolist() == [7, 7, 7, 3, 3, 3]
    assert frame["query_name"].tolist()[:1] == ["product 7"]
    assert (frame["name"] == "product " + frame["item_id"].astype(str)).all()


def test_all_to_parquet_equals_exact_answer_and_refuses_store_and_existing(store, capsys, tmp_path):
    out_path = tmp_path / "all.parquet"
    code, out, err = run(capsys, "neighbors", "--store", store, "--version", "v1", "--all", "-k", 4,
                         "--output", out_path, "--quiet")
    assert code == 0, err
    emb = Store(store).load_version("v1").embeddings
    frame = pq.read_table(out_path).to_pandas()
    assert json.loads(out)["rows"] == len(frame) == 4 * len(emb)
    oracle = top_k_neighbors(emb, 4)
    assert frame["item_id"].tolist() == emb.vocab.take(oracle.codes.ravel()).tolist()
    np.testing.assert_allclose(frame["score"], oracle.scores.ravel(), rtol=1e-5)

    code, _, err = run(capsys, "neighbors", "--store", store, "--version", "v1", "--all", "--output", out_path)
    assert code == 1 and "exists" in err
    code, _, err = run(capsys, "neighbors", "--store", store, "--version", "v1", "--all", "--output",
                       store / "versions" / "v1" / "x.csv")
    assert code == 1 and "inside the store" in err
    assert not (store / "versions" / "v1" / "x.csv").exists()
    code, _, err = run(capsys, "neighbors", "--store", store, "--version", "v1", "--all")
    assert code == 1 and "--output" in err
    code, _, err = run(capsys, "neighbors", "--store", store, "--version", "v1")
    assert code == 1 and "--items-file" in err


def test_single_item_output(store, capsys, tmp_path):
    code, out, err = run(capsys, "neighbors", "--store", store, "--version", "v1", "--item", "7", "-k", 2,
                         "--output", tmp_path / "one.csv", "--quiet")
    assert code == 0, err
    assert pd.read_csv(tmp_path / "one.csv")["rank"].tolist() == [1, 2]
    code, _, err = run(capsys, "neighbors", "--store", store, "--version", "v1", "--item", "nope",
                       "--output", tmp_path / "two.csv", "--quiet")
    assert code == 1 and "none of the 1 item ids" in err and "nope" in err
