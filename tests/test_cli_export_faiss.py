"""``export --format faiss`` end to end (issue 23): the index, its ids and its receipt are written, the index is
registered in the same step (``verify`` then reports skew until its version is published, and ok after), bad
``--ann-*`` values are one clear error naming the flag, ``--no-register`` registers nothing, and
``register-index --export`` records the index file and its sha256 from a faiss export."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from conftest import write_sessions_jsonl

from behemb_core.ann.index import AnnParams, load_index
from behemb_core.cli import main
from behemb_core.store import Store
from behemb_core.store.lifecycle import record_approval
from behemb_core.synthetic import planted_sessions

pytest.importorskip("faiss")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli-faiss")
    planted = planted_sessions(n_items=200, n_clusters=10, n_sessions=2500, seed=3)
    write_sessions_jsonl(root / "sessions.jsonl", planted.sessions)
    code = main(["train", "--method", "ppmi_svd", "--input", str(root / "sessions.jsonl"), "--store",
                 str(root / "store"), "--version", "v1", "--set", "dim=8", "--quiet"])
    assert code == 0
    return root / "store"


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
    """The single ``error: …`` line of a failed command (asserting there is exactly one and no traceback)."""
    assert code == 1 and out == ""
    lines = [line for line in err.strip().splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def index_report(capsys: pytest.CaptureFixture[str], store: Path, name: str) -> tuple[int, dict]:
    code, out, _ = run(capsys, "verify", "--store", store)
    report = json.loads(out)
    return code, next(r for r in report["indexes"] if r["index"] == name)


def test_export_faiss_writes_registers_and_verify_follows_the_published_version(store: Path, tmp_path: Path,
                                                                              capsys) -> None:
    out_dir = tmp_path / "exp"
    code, out, err = run(capsys, "export", "--store", store, "--version", "v1", "--format", "faiss", "--out", out_dir,
                         "--ann-m", 8, "--ann-ef-construction", 64, "--ann-ef-search", 32, "--by", "TICKET-1")
    assert code == 0, err
    result = json.loads(out)
    files = {p.name for p in out_dir.iterdir()}
    assert files == {"index.faiss", "ids.json", "export.json"}
    assert sorted(Path(p).name for p in result["written"]) == sorted(files)
    data = (out_dir / "index.faiss").read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    receipt = json.loads((out_dir / "export.json").read_text())
    ids = json.loads((out_dir / "ids.json").read_text())
    assert receipt["index_sha256"] == sha == result["index_sha256"]
    assert receipt["n"] == len(ids) and receipt["params"]["m"] == 8 and receipt["params"]["ef_search"] == 32
    # the exported file is a faiss index of every row, readable with the recorded parameters
    index = load_index(data, AnnParams.model_validate(receipt["params"]), n=len(ids), dim=receipt["dim"], where="x")
    assert index.n == len(ids)
    # the summary is the receipt's measurement, and progress went to stderr
    m = result["measurement"]
    assert m["recall"] == receipt["measurement"]["recall"] and 0.0 <= m["recall"] <= 1.0
    assert m["ef_search"] == 32 and set(m["bands"]) == {"head", "torso", "tail"}
    assert "index:" in err and f"recall@{m['k']}" in err
    # registered in the same step, with the exported file as the one that serves
    reg = result["registered"]
    assert reg["index"] == "main" and reg["version"] == "v1" and reg["index_sha256"] == sha
    on_disk = json.loads((store / "indexes" / "main.json").read_text())
    assert Path(on_disk["index_file"]) == (out_dir / "index.faiss").resolve() and on_disk["index_sha256"] == sha
    assert on_disk["measurement"]["recall"] == m["recall"]

    code, rep = index_report(capsys, store, "main")  # v1 is not published: the index serves nothing published
    assert code == 1 and rep["ok"] is False and "index skew" in rep["problem"]
    record_approval(Store(store), "v1", by="Carol", checks=[])
    assert run(capsys, "publish", "--store", store, "--version", "v1", "--by", "Carol")[0] == 0
    code, rep = index_report(capsys, store, "main")
    assert rep["ok"] is True and rep["problem"] is None and rep["published"] is True
    assert code == 0

    (out_dir / "index.faiss").write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # the served file is replaced
    code, rep = index_report(capsys, store, "main")
    assert code == 1 and rep["ok"] is False and sha[:12] in rep["problem"]


@pytest.mark.parametrize("argv, flags", [
    (["--ann-m", "1"], ["--ann-m"]),
    (["--ann-ef-search", "0"], ["--ann-ef-search"]),
    (["--ann-m", "32", "--ann-ef-construction", "16"], ["--ann-m", "--ann-ef-construction"]),
])
def test_a_bad_ann_parameter_is_one_error_naming_the_flag(store: Path, tmp_path: Path, capsys, argv: list[str],
                                                          flags: list[str]) -> None:
    code, out, err = run(capsys, "export", "--store", store, "--version", "v1", "--format", "faiss",
                         "--out", tmp_path / "exp", *argv)
    line = one_error(code, out, err)
    assert all(flag in line for flag in flags), line
    assert not (tmp_path / "exp").exists() and not (store / "ann").exists() and not (store / "indexes").exists()


def test_ann_options_are_refused_for_other_formats(store: Path, tmp_path: Path, capsys) -> None:
    code, out, err = run(capsys, "export", "--store", store, "--version", "v1", "--format", "npy",
                         "--out", tmp_path / "exp", "--ann-m", "8")
    assert "--ann-m" in one_error(code, out, err) and not (tmp_path / "exp").exists()


def test_no_register_leaves_indexes_empty_and_register_index_takes_the_faiss_export(store: Path, tmp_path: Path,
                                                                                     capsys) -> None:
    out_dir = tmp_path / "exp"
    code, out, err = run(capsys, "export", "--store", store, "--version", "v1", "--format", "faiss",
                         "--out", out_dir, "--no-register", "--quiet")
    assert code == 0, err
    result = json.loads(out)
    assert result["registered"] is None and err == ""
    assert not (store / "indexes").exists() or not list((store / "indexes").glob("*.json"))
    assert list((store / "ann" / "v1").glob("*/index.faiss"))  # still kept with the version
    code, out, _ = run(capsys, "verify", "--store", store)
    assert json.loads(out)["indexes"] == []

    # registering the export afterwards records its index file and sha256, which verify then checks
    code, out, err = run(capsys, "register-index", "--store", store, "--index", "later", "--export",
                         out_dir / "export.json")
    assert code == 0, err
    reg = json.loads(out)
    sha = hashlib.sha256((out_dir / "index.faiss").read_bytes()).hexdigest()
    assert reg["index_sha256"] == sha and Path(reg["index_file"]) == (out_dir / "index.faiss").resolve()
    assert reg["measurement"]["recall"] == result["measurement"]["recall"]
    record_approval(Store(store), "v1", by="Carol", checks=[])
    assert run(capsys, "publish", "--store", store, "--version", "v1", "--by", "Carol")[0] == 0
    assert index_report(capsys, store, "later")[1]["ok"] is True
    (out_dir / "index.faiss").write_bytes(b"not the index")
    _code, rep = index_report(capsys, store, "later")
    assert rep["ok"] is False and "later" in rep["problem"] and sha[:12] in rep["problem"]
