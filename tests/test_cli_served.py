"""``neighbors --item ID --served`` (issue 23 "Show it"): the exact list and the list the version's ANN index serves,
as JSON (``"served"``: exact, served, only_exact, only_served, same, source) and as tables with a line on what differs
and where the index came from; refused with one clear error beside --all, --items-file, --output and --explain; a
tampered index file is an error naming the file, not a traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from behemb_core.ann.index import AnnParams
from behemb_core.ann.served import build_version_index
from behemb_core.cli import main
from behemb_core.demo import load_demo_dataset
from behemb_core.store import Store
from behemb_core.train import train_version

pytest.importorskip("faiss")

ITEM = "85123A"
VERSION = "demo-ppmi"
WEAK = AnnParams(m=4, ef_construction=8, ef_search=1)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-served") / "store"
    train_version(Store(path), "ppmi_svd", {"dim": 32}, dataset=load_demo_dataset(), seed=0, name=VERSION)
    return path


@pytest.fixture
def store(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("BEHEMB_ID_TOKEN", "BEHEMB_ID_TOKEN_FILE"):
        monkeypatch.delenv(var, raising=False)
    path = tmp_path / "store"
    shutil.copytree(template, path)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error(code: int, out: str, err: str) -> str:
    assert code == 1 and out == ""
    lines = [line for line in err.strip().splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def served_json(capsys: pytest.CaptureFixture[str], store: Path) -> dict:
    code, out, _ = run(capsys, "neighbors", "--store", store, "--version", VERSION, "--item", ITEM, "--served",
                       "--json")
    assert code == 0
    return json.loads(out)


def test_json_with_a_weak_registered_index_lists_what_differs(store: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    record = build_version_index(store, VERSION, params=WEAK, register_as="weak")
    doc = served_json(capsys, store)
    served = doc["served"]
    assert set(served) >= {"exact", "served", "only_exact", "only_served", "same", "source"}
    assert served["exact"] == doc["neighbors"]  # the exact list is the command's own
    assert len(served["served"]) == 10 and not served["same"]  # a weak index on this catalogue misses some
    exact_rank = {r["item_id"]: r["rank"] for r in served["exact"]}
    served_ids = [r["item_id"] for r in served["served"]]
    for r in served["served"]:
        assert r["exact_rank"] == exact_rank.get(r["item_id"]) and r["name"]
    assert served["only_served"] == [i for i in served_ids if i not in exact_rank]
    assert served["only_exact"] == [r["item_id"] for r in served["exact"] if r["item_id"] not in served_ids]
    assert served["only_exact"] and len(served["only_exact"]) == len(served["only_served"])
    # the served scores are the vectors' cosines, whatever the index's search order
    emb = Store(store).load_version(VERSION).embeddings
    q = emb.vectors[emb.vocab.code(ITEM)]
    cos = [float(emb.vectors[emb.vocab.code(i)] @ q) for i in served_ids]
    assert np.allclose(cos, [r["score"] for r in served["served"]], atol=1e-5)
    src = served["source"]
    assert src["kind"] == "registered" and src["name"] == "weak" and src["params"]["ef_search"] == 1
    assert src["measurement"]["recall"] == record["measurement"]["recall"] < 0.95


def test_json_without_an_index_builds_one_in_memory_and_stores_nothing(store: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    doc = served_json(capsys, store)
    src = doc["served"]["source"]
    assert src["kind"] == "memory" and src["index_file"] is None and src["measurement"] is None
    assert src["params"] == AnnParams().model_dump(mode="json")
    assert not (store / "ann").exists() and not (store / "indexes").exists()
    code, out, _ = run(capsys, "neighbors", "--store", store, "--version", VERSION, "--item", ITEM, "--json")
    assert code == 0 and "served" not in json.loads(out)  # only asked for


def test_table_prints_the_served_list_after_the_exact_one(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = build_version_index(store, VERSION, params=WEAK, register_as="weak")
    served = served_json(capsys, store)["served"]
    code, out, _ = run(capsys, "neighbors", "--store", store, "--version", VERSION, "--item", ITEM, "--served")
    assert code == 0
    exact_part, served_part = out.split("# Served by the ANN index:\n")
    assert exact_part.startswith("# People who") and served_part.splitlines()[0].split() == [
        "rank", "item_id", "score", "exact_rank", "name"]
    rows = served_part.splitlines()[1:11]
    assert [r.split()[1] for r in rows] == [r["item_id"] for r in served["served"]]
    assert [r.split()[3] for r in rows] == ["-" if r["exact_rank"] is None else str(r["exact_rank"])
                                            for r in served["served"]]
    lines = served_part.splitlines()[11:]
    assert lines[0].startswith(f"# the index serves {10 - len(served['only_served'])} of the exact top 10")
    assert "exact neighbors the index misses: " + ", ".join(served["only_exact"]) in lines[0]
    assert lines[1].startswith("# served by the registered index 'weak': hnsw-m4-efc8")
    assert f"recall@10 {record['measurement']['recall']:.3f}" in lines[1] and record["index_file"] in lines[1]


def test_table_without_an_index_says_so(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "neighbors", "--store", store, "--version", VERSION, "--item", ITEM, "--served")
    assert code == 0
    assert "# no index was built for this version; shown is what an index built with the default parameters" in out
    assert "(nothing stored)" in out


@pytest.mark.parametrize("extra", [["--all", "--output", "x.csv"], ["--items-file", "ids.txt", "--output", "x.csv"],
                                   ["--all"], ["--item", ITEM, "--output", "x.csv"], ["--item", ITEM, "--explain"]])
def test_served_is_for_one_item_only(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     extra: list[str]) -> None:
    (tmp_path / "ids.txt").write_text(f"{ITEM}\n")
    extra = [str(tmp_path / e) if e in ("x.csv", "ids.txt") else e for e in extra]
    line = one_error(*run(capsys, "neighbors", "--store", store, "--version", VERSION, "--served", *extra))
    assert "--served" in line and "--item ID" in line
    assert not (tmp_path / "x.csv").exists()


def test_a_tampered_index_file_is_one_error(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = build_version_index(store, VERSION, register_as="main")
    path = store / record["index_file"]
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    line = one_error(*run(capsys, "neighbors", "--store", store, "--version", VERSION, "--item", ITEM, "--served"))
    assert record["index_file"] in line and "sha256" in line


def test_an_unknown_item_is_one_error(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = one_error(*run(capsys, "neighbors", "--store", store, "--version", VERSION, "--item", "NOPE", "--served"))
    assert "'NOPE' has no vector" in line
