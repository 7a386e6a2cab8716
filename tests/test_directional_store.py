"""Issue 24, downstream of a fit: a version stores its directional "next item" pair (query vectors Q, candidate
vectors K) as ``directional.parquet`` — checksummed, in the manifest, verified on load —, ``export`` writes it in
every format named for what it is, ``next_item_neighbors`` and ``neighbors --mode next`` rank by ``Q_a · K_b``,
and every version without the pair (all versions written before) loads and exports exactly as before."""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import write_sessions_jsonl

import behemb_core.train as train_mod
from behemb_core.cli import main
from behemb_core.embeddings import DirectionalPair, FitResult, ItemEmbeddings, l2_normalize, make_embeddings
from behemb_core.errors import ConfigError, IntegrityError, StoreError
from behemb_core.ingest import read_session_jsonl
from behemb_core.metadata import ItemMetadata
from behemb_core.neighbors import next_item_neighbors, top_k_next
from behemb_core.store import Store
from behemb_core.store.export import export_version
from behemb_core.store.verify import verify_store
from behemb_core.vocab import Vocabulary

PRE = Path(__file__).parent / "data" / "pre_directional"  # written by the code before this change: make_fixture.py
N, DIM = 30, 8
A, B = 4, 17  # the planted pair: K_B = Q_A, K_A = -Q_B


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    return l2_normalize(rng.normal(size=(n, dim)).astype(np.float32))


def _emb(kind: str = "int", seed: int = 0) -> ItemEmbeddings:
    ids = list(range(100, 100 + N)) if kind == "int" else [f"sku-{i:03d}" for i in range(N)]
    return make_embeddings(Vocabulary(ids), np.random.default_rng(seed).normal(size=(N, DIM)))


def _pair(seed: int = 1, alpha: float = 0.75) -> DirectionalPair:
    """Random unit Q and K with one planted direction: B is A's best next item (Q_A·K_B = 1), A is B's worst
    (Q_B·K_A = -1)."""
    rng = np.random.default_rng(seed)
    q, k = _unit(rng, N, DIM), _unit(rng, N, DIM)
    k[B] = q[A]
    k[A] = -q[B]
    return DirectionalPair(query=q, candidate=k, alpha=alpha)


def _names(emb: ItemEmbeddings) -> ItemMetadata:
    ids = emb.vocab.ids.tolist()
    return ItemMetadata(table=pd.DataFrame({"item_id": ids, "name": [f"product {i}" for i in ids]}))


def _save(root: Path, name: str, *, kind: str = "int", pair: DirectionalPair | None = None) -> Store:
    store = Store(root)
    emb = _emb(kind)
    store.save_version(emb, manifest={"method": "hand", "seed": 0}, name=name, item_meta=_names(emb),
                       directional=pair)
    return store


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------------------------------ the store


@pytest.mark.parametrize("kind", ["int", "str"])
def test_pair_round_trips_exactly_and_is_listed_with_its_checksum(tmp_path: Path, kind: str) -> None:
    pair = _pair()
    store = _save(tmp_path / "s", "v1", kind=kind, pair=pair)
    vdir = tmp_path / "s" / "versions" / "v1"
    blob = (vdir / "directional.parquet").read_bytes()
    manifest = store.manifest("v1")
    assert manifest["files"]["directional.parquet"] == {"sha256": hashlib.sha256(blob).hexdigest(),
                                                        "bytes": len(blob)}
    section = manifest["directional"]
    assert section["file"] == "directional.parquet" and section["alpha"] == 0.75 and section["dim"] == DIM
    assert "Q_a·K_b" in section["how_to_query"] and "over K" in section["how_to_query"]

    table = pq.read_table(vdir / "directional.parquet")  # the public layout, read with pyarrow alone
    assert table.column_names == ["item_id", "query", "candidate"]
    assert table.schema.field("query").type == pa.list_(pa.float32(), DIM)
    assert table.column("item_id").to_pylist() == pq.read_table(vdir / "embeddings.parquet").column(
        "item_id").to_pylist()
    assert float(table.schema.metadata[b"behemb.directional_alpha"]) == 0.75

    loaded = store.load_version("v1")
    assert loaded.directional is not None and loaded.directional.alpha == 0.75
    assert loaded.directional.query.tobytes() == pair.query.tobytes()
    assert loaded.directional.candidate.tobytes() == pair.candidate.tobytes()
    assert store.verify_version("v1") == []
    assert not verify_store(store, key=None)["problems"]


def test_pair_round_trips_through_an_object_store() -> None:
    """No atomic rename there: the files, then the manifest; the pair is one more listed file."""
    store = Store(f"memory://behemb-directional-{uuid.uuid4().hex}/store")
    pair = _pair(alpha=0.0)
    store.save_version(_emb("str"), manifest={}, name="v1", directional=pair)
    loaded = store.load_version("v1")
    assert loaded.directional is not None and loaded.directional.alpha == 0.0
    assert loaded.directional.candidate.tobytes() == pair.candidate.tobytes()
    assert store.verify_version("v1") == []


def test_the_manifest_seal_covers_the_directional_section(tmp_path: Path) -> None:
    """Editing alpha in the manifest (keeping the files' checksums) breaks the seal in embeddings.parquet."""
    store = _save(tmp_path / "s", "v1", pair=_pair())
    path = tmp_path / "s" / "versions" / "v1" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["directional"]["alpha"] = 0.25
    path.write_text(json.dumps(manifest))
    with pytest.raises(IntegrityError, match="no longer matches the seal"):
        store.load_version("v1")


def test_a_tampered_directional_file_is_caught_by_load_and_verify(tmp_path: Path) -> None:
    store = _save(tmp_path / "s", "v1", pair=_pair())
    path = tmp_path / "s" / "versions" / "v1" / "directional.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=r"directional\.parquet: sha256"):
        store.load_version("v1")
    problems = store.verify_version("v1")
    assert len(problems) == 1 and problems[0].startswith("directional.parquet: sha256")
    assert any("directional.parquet" in p for p in verify_store(store, key=None)["problems"])
    path.unlink()
    assert store.verify_version("v1") == ["directional.parquet: listed in manifest.json but missing"]


def test_directional_ids_that_differ_from_the_embeddings_are_an_integrity_error(tmp_path: Path) -> None:
    """A directional.parquet with its rows in another order, re-hashed into the manifest (the seal does not
    cover the files table): the checksums pass, the ids do not."""
    store = _save(tmp_path / "s", "v1", pair=_pair())
    vdir = tmp_path / "s" / "versions" / "v1"
    table = pq.read_table(vdir / "directional.parquet")
    swapped = table.take(pa.array([1, 0, *range(2, N)]))
    sink = pa.BufferOutputStream()
    pq.write_table(swapped, sink)
    blob = sink.getvalue().to_pybytes()
    (vdir / "directional.parquet").write_bytes(blob)
    manifest = json.loads((vdir / "manifest.json").read_text())
    manifest["files"]["directional.parquet"] = {"sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob)}
    (vdir / "manifest.json").write_text(json.dumps(manifest))
    assert store.verify_version("v1") == []  # the bytes are the listed ones …
    with pytest.raises(IntegrityError, match=r"directional\.parquet: item ids differ from embeddings\.parquet's "
                                             r"in 2 rows \(first: row 0 holds 101"):
        store.load_version("v1")  # … but not the embeddings' items in order


def test_refusals_when_saving(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    short = DirectionalPair(query=_pair().query[:-1], candidate=_pair().candidate[:-1], alpha=0.5)
    with pytest.raises(StoreError, match="29 rows beside 30 embeddings"):
        store.save_version(_emb(), manifest={}, name="v1", directional=short)
    with pytest.raises(StoreError, match=r"manifest keys \['directional'\] are set by the store"):
        store.save_version(_emb(), manifest={"directional": {"file": "directional.parquet"}}, name="v1")
    assert store.list_versions() == []


@pytest.mark.parametrize("name", ["v_int", "v_str"])
def test_a_version_written_before_loads_everywhere_without_a_pair(tmp_path: Path, name: str) -> None:
    """The versions in tests/data/pre_directional were written by the code before this change."""
    shutil.copytree(PRE / "store", tmp_path / "s")
    store = Store(tmp_path / "s")
    assert "directional" not in store.manifest(name)
    loaded = store.load_version(name)
    assert loaded.directional is None and len(loaded.embeddings) == 5 and loaded.item_meta is not None
    assert store.verify_version(name) == [] and not verify_store(store, key=None)["problems"]
    with pytest.raises(ConfigError, match=rf"version '{name}' has no \"next item\" tables .*cooc_softmax"):
        next_item_neighbors(loaded.embeddings, loaded.directional, loaded.embeddings.vocab.ids[0], version=name)


def test_a_version_saved_without_a_pair_has_no_trace_of_one(tmp_path: Path) -> None:
    store = _save(tmp_path / "s", "v1")
    assert sorted(p.name for p in (tmp_path / "s" / "versions" / "v1").iterdir()) == [
        "embeddings.parquet", "items.parquet", "manifest.json"]
    assert "directional" not in store.manifest("v1") and store.load_version("v1").directional is None


# ------------------------------------------------------------------------------------------------- exports


@pytest.mark.parametrize("name", ["v_int", "v_str"])
def test_exports_of_a_version_without_a_pair_are_byte_identical_to_before(tmp_path: Path, name: str) -> None:
    """Exported now from the pre-change store, every format equals, byte for byte and file for file, what the
    pre-change code exported from the same version (tests/data/pre_directional/exports, make_fixture.py)."""
    shutil.copytree(PRE / "store", tmp_path / "s")
    store = Store(tmp_path / "s")
    out = tmp_path / "out"
    export_version(store, name, fmt="parquet", out=str(out / "parquet") + "/")
    export_version(store, name, fmt="npy", out=str(out / "npy"))
    export_version(store, name, fmt="jsonl", out=str(out / "embeddings.jsonl"))
    before = _files(PRE / "exports" / name)
    assert set(before) == {"parquet/embeddings.parquet", "npy/embeddings.npy", "npy/ids.json", "npy/export.json",
                           "embeddings.jsonl"}
    assert _files(out) == before


@pytest.mark.parametrize("kind", ["int", "str"])
def test_exports_carry_query_and_candidate_in_every_format(tmp_path: Path, kind: str) -> None:
    pair = _pair()
    store = _save(tmp_path / "s", "v1", kind=kind, pair=pair)
    plain = _save(tmp_path / "p", "v1", kind=kind)  # the same embeddings without the pair
    emb = store.load_version("v1").embeddings
    vdir = tmp_path / "s" / "versions" / "v1"

    # parquet, into a folder and to a file path
    paths = export_version(store, "v1", fmt="parquet", out=str(tmp_path / "pq") + "/")
    assert [Path(p).name for p in paths] == ["embeddings.parquet", "directional.parquet"]
    assert (tmp_path / "pq" / "directional.parquet").read_bytes() == (vdir / "directional.parquet").read_bytes()
    paths = export_version(store, "v1", fmt="parquet", out=str(tmp_path / "f" / "emb.parquet"))
    assert [Path(p).name for p in paths] == ["emb.parquet", "emb.directional.parquet"]
    table = pq.read_table(tmp_path / "f" / "emb.directional.parquet")
    q = np.asarray(table.column("query").combine_chunks().flatten(), dtype=np.float32).reshape(N, DIM)
    k = np.asarray(table.column("candidate").combine_chunks().flatten(), dtype=np.float32).reshape(N, DIM)
    assert q.tobytes() == pair.query.tobytes() and k.tobytes() == pair.candidate.tobytes()

    # npy: query.npy and candidate.npy, named in export.json
    export_version(store, "v1", fmt="npy", out=str(tmp_path / "npy"))
    export_version(plain, "v1", fmt="npy", out=str(tmp_path / "npy-plain"))
    receipt = json.loads((tmp_path / "npy" / "export.json").read_text())
    d = receipt.pop("directional")
    assert d["query"] == "query.npy" and d["candidate"] == "candidate.npy" and d["alpha"] == 0.75
    assert "queried with Q" in d["how_to_query"] and d["dim"] == DIM
    assert d["directional_parquet_sha256"] == store.manifest("v1")["files"]["directional.parquet"]["sha256"]
    plain_receipt = json.loads((tmp_path / "npy-plain" / "export.json").read_text())
    # the embeddings.parquet of the two versions differ in their manifest seal only; the rest of the receipt is equal
    assert receipt.pop("embeddings_parquet_sha256") == store.manifest("v1")["files"]["embeddings.parquet"]["sha256"]
    plain_receipt.pop("embeddings_parquet_sha256")
    assert receipt == plain_receipt
    assert np.load(tmp_path / "npy" / d["query"], allow_pickle=False).tobytes() == pair.query.tobytes()
    assert np.load(tmp_path / "npy" / d["candidate"], allow_pickle=False).tobytes() == pair.candidate.tobytes()
    for fn in ("embeddings.npy", "ids.json"):  # the symmetric part is untouched by the pair
        assert (tmp_path / "npy" / fn).read_bytes() == (tmp_path / "npy-plain" / fn).read_bytes()

    # jsonl: every line gains "query" and "candidate"
    [jl] = export_version(store, "v1", fmt="jsonl", out=str(tmp_path / "e.jsonl"))
    rows = [json.loads(line) for line in Path(jl).read_text(encoding="utf-8").splitlines()]
    assert all(set(r) == {"id", "embedding", "query", "candidate"} for r in rows)
    assert [r["id"] for r in rows] == emb.vocab.ids.tolist()
    assert np.array([r["query"] for r in rows], dtype=np.float32).tobytes() == pair.query.tobytes()
    assert np.array([r["candidate"] for r in rows], dtype=np.float32).tobytes() == pair.candidate.tobytes()
    assert np.array([r["embedding"] for r in rows], dtype=np.float32).tobytes() == emb.vectors.tobytes()


def test_a_parquet_export_refuses_to_overwrite_the_directional_file(tmp_path: Path) -> None:
    store = _save(tmp_path / "s", "v1", pair=_pair())
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "directional.parquet").write_text("precious")
    with pytest.raises(StoreError, match=r"overwrite .*directional\.parquet"):
        export_version(store, "v1", fmt="parquet", out=str(tmp_path / "x"))
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == ["directional.parquet"]
    assert (tmp_path / "x" / "directional.parquet").read_text() == "precious"


# ------------------------------------------------------------------------------------------- next neighbors


def test_next_item_neighbors_rank_by_query_dot_candidate_and_are_directional(tmp_path: Path) -> None:
    emb, pair = _emb(), _pair()
    a, b = emb.vocab.ids[A].item(), emb.vocab.ids[B].item()
    rows = next_item_neighbors(emb, pair, a, k=N)
    assert rows[0]["item_id"] == b and rows[0]["score"] == pytest.approx(1.0, abs=1e-6)
    assert len(rows) == N - 1 and a not in [r["item_id"] for r in rows]
    scores = pair.query[A] @ pair.candidate.T  # brute force: every b ≠ a by Q_a·K_b
    order = [c for c in np.argsort(-scores, kind="stable") if c != A]
    assert [r["item_id"] for r in rows] == emb.vocab.ids[order].tolist()
    assert np.allclose([r["score"] for r in rows], scores[order], atol=1e-6)

    back = next_item_neighbors(emb, pair, str(b), k=N)  # a typed id as text, as from the CLI
    assert back[-1]["item_id"] == a and back[-1]["score"] == pytest.approx(-1.0, abs=1e-6)
    assert back[0]["item_id"] != a

    named = next_item_neighbors(emb, pair, a, k=3, names=np.array([f"n{i}" for i in range(N)], dtype=object))
    assert [r["rank"] for r in named] == [1, 2, 3] and named[0]["name"] == f"n{B}"
    table = top_k_next(emb, pair, 5)  # the bulk path agrees with the one-item path
    assert table.codes[A].tolist() == order[:5]
    with pytest.raises(KeyError):
        next_item_neighbors(emb, pair, 99999)


# ------------------------------------------------------------------------------------------------------ CLI


def _cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_neighbors_mode_next_and_its_refusal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pair = _pair()
    store = _save(tmp_path / "s", "v1", pair=pair)
    store.save_version(_emb(seed=5), manifest={"method": "hand"}, name="plain")
    emb = store.load_version("v1").embeddings
    a, b = int(emb.vocab.ids[A]), int(emb.vocab.ids[B])

    code, out, err = _cli(capsys, "neighbors", "--store", tmp_path / "s", "--version", "v1", "--item", a,
                          "--mode", "next", "-k", 5, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["mode"] == "next" and report["query"] == {"item_id": str(a), "name": f"product {a}"}
    assert report["neighbors"] == next_item_neighbors(emb, pair, a, k=5, names=np.array(
        [f"product {i}" for i in emb.vocab.ids], dtype=object))
    assert report["neighbors"][0]["item_id"] == b

    code, out, _ = _cli(capsys, "neighbors", "--store", tmp_path / "s", "--version", "v1", "--item", a, "-k", 5,
                        "--json")
    also = json.loads(out)
    assert code == 0 and also["mode"] == "also" and [r["item_id"] for r in also["neighbors"]] != [
        r["item_id"] for r in report["neighbors"]]

    code, out, err = _cli(capsys, "neighbors", "--store", tmp_path / "s", "--version", "v1", "--item", a,
                          "--mode", "next", "-k", 3)
    assert code == 0 and out.startswith(f"# After {a} (product {a}), people go on to") and str(b) in out

    for extra in ([], ["--all", "--output", tmp_path / "nb.csv"]):
        argv = ["neighbors", "--store", tmp_path / "s", "--version", "plain", "--mode", "next", "--quiet"]
        code, out, err = _cli(capsys, *argv, *(extra or ["--item", a]))
        assert code == 1 and out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: version 'plain' has no \"next item\" tables")
    assert not (tmp_path / "nb.csv").exists()

    # --served follows --mode: the index over K queried with Q (built in memory here) serves b first after a.
    code, out, err = _cli(capsys, "neighbors", "--store", tmp_path / "s", "--version", "v1", "--item", a, "--mode",
                          "next", "--served", "--json")
    served = json.loads(out)["served"]
    assert code == 0 and served["source"]["mode"] == "next" and served["served"][0]["item_id"] == b


def test_cli_bulk_export_mode_next_equals_the_exact_ranking(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    pair = _pair()
    store = _save(tmp_path / "s", "v1", pair=pair)
    emb = store.load_version("v1").embeddings
    out_path = tmp_path / "next.parquet"
    code, out, err = _cli(capsys, "neighbors", "--store", tmp_path / "s", "--version", "v1", "--all", "--mode",
                          "next", "-k", 4, "--output", out_path, "--quiet")
    assert code == 0, err
    assert json.loads(out)["mode"] == "next" and json.loads(out)["rows"] == N * 4
    frame = pd.read_parquet(out_path)
    sims = pair.query @ pair.candidate.T
    np.fill_diagonal(sims, -np.inf)
    for code_a in (A, B, 0):
        got = frame[frame["query_item_id"] == emb.vocab.ids[code_a]]
        expected = np.argsort(-sims[code_a], kind="stable")[:4]
        assert got["item_id"].tolist() == emb.vocab.ids[expected].tolist()
        assert np.allclose(got["score"].to_numpy(), sims[code_a, expected], atol=1e-6)
    assert frame[frame["query_item_id"] == emb.vocab.ids[A]]["item_id"].iloc[0] == emb.vocab.ids[B]


# ------------------------------------------------------------------------------------------------- training


def test_train_version_stores_the_fitted_pair(tmp_path: Path, planted, monkeypatch: pytest.MonkeyPatch) -> None:
    """train_version hands the FitResult's pair to the store (the fit is the real one, with a pair attached)."""
    real = train_mod.fit_method
    attached: list[DirectionalPair] = []

    def with_pair(*args, **kwargs):
        cfg, result, seconds = real(*args, **kwargs)
        rng = np.random.default_rng(9)
        n = len(result.embeddings)
        pair = DirectionalPair(query=_unit(rng, n, 4), candidate=_unit(rng, n, 4), alpha=0.5)
        attached.append(pair)
        return cfg, FitResult(embeddings=result.embeddings, report=result.report, directional=pair), seconds

    monkeypatch.setattr(train_mod, "fit_method", with_pair)
    sessions = planted.sessions.select(np.arange(planted.sessions.n_sessions) < 500)
    dataset = read_session_jsonl(write_sessions_jsonl(tmp_path / "sessions.jsonl", sessions))
    store = Store(tmp_path / "s")
    train_mod.train_version(store, "ppmi_svd", {"dim": 8}, dataset=dataset, seed=0, name="v1")
    loaded = store.load_version("v1")
    assert loaded.directional is not None and loaded.directional.alpha == 0.5
    assert loaded.directional.query.tobytes() == attached[0].query.tobytes()
    assert store.manifest("v1")["directional"]["dim"] == 4
