"""Tests of the version store: round trips, immutability, concurrency, integrity, names, exports."""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from behemb_core.embeddings import ItemEmbeddings, make_embeddings
from behemb_core.errors import BehembError, IntegrityError, StoreError, VersionExistsError
from behemb_core.metadata import ItemMetadata
from behemb_core.store import Store, StoredVersion, VersionInfo, export_version, validate_version_name
from behemb_core.store.names import next_version_name

# ----------------------------------------------------------------------------- helpers


def int_embeddings(n: int = 50, dim: int = 8, seed: int = 0, behavior_version: str | None = None) -> ItemEmbeddings:
    from behemb_core.vocab import Vocabulary

    rng = np.random.default_rng(seed)
    ids = rng.choice(10_000, size=n, replace=False) * 7 - 3000  # negative ids too
    vocab = Vocabulary(ids)
    source = np.where(np.arange(n) % 3 == 0, "content_only", "behavior").astype(object)
    return make_embeddings(vocab, rng.normal(size=(n, dim)), source=source, behavior_version=behavior_version)


def str_embeddings(n: int = 30, dim: int = 6, seed: int = 1) -> ItemEmbeddings:
    from behemb_core.vocab import Vocabulary

    rng = np.random.default_rng(seed)
    ids = [f"{i:05d}A" if i % 2 else f"sku-{i}-é" for i in range(n)]  # mixed, non-canonical, unicode
    vocab = Vocabulary(ids)
    assert vocab.kind == "str"
    return make_embeddings(vocab, rng.normal(size=(n, dim)), source="fused", behavior_version="beh_v1")


def metadata_for(emb: ItemEmbeddings, extra_ids: list[object]) -> ItemMetadata:
    ids = list(emb.vocab.ids.tolist())[::-1] + extra_ids  # not in vocabulary order, plus foreign items
    return ItemMetadata(table=pd.DataFrame({
        "item_id": np.asarray(ids, dtype=np.int64 if emb.vocab.kind == "int" else object),
        "name": [f"name of {i}" for i in ids],
        "price": np.arange(len(ids), dtype=float),
    }))


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def assert_same_embeddings(a: ItemEmbeddings, b: ItemEmbeddings) -> None:
    assert a.vocab.kind == b.vocab.kind
    assert a.vocab.ids.dtype == b.vocab.ids.dtype
    assert a.vocab.ids.tolist() == b.vocab.ids.tolist()
    assert b.vectors.dtype == np.float32
    assert a.vectors.tobytes() == b.vectors.tobytes()  # bit-exact
    assert a.source.tolist() == b.source.tolist()
    assert a.behavior_version == b.behavior_version


MANIFEST = {"method": "item2vec", "config": {"dim": 8, "window": 5}, "seed": np.int64(7),
            "fit_report": {"losses": np.array([3.5, 2.25], dtype=np.float32)}, "training_seconds": 1.5}


# ----------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("make", [int_embeddings, str_embeddings])
def test_round_trip_local(tmp_path: Path, make) -> None:
    emb = make()
    meta = metadata_for(emb, [123456789] if emb.vocab.kind == "int" else ["not-in-version"])
    store = Store(tmp_path / "store")
    info = store.save_version(emb, manifest=MANIFEST, name="v1", item_meta=meta)
    assert isinstance(info, VersionInfo)
    assert (info.name, info.method, info.status, info.n_items, info.dim) == ("v1", "item2vec", "draft",
                                                                             len(emb), emb.dim)
    loaded = store.load_version("v1")
    assert isinstance(loaded, StoredVersion)
    assert_same_embeddings(emb, loaded.embeddings)
    # only the version's items, in vocabulary order, names intact, ids of the vocabulary kind
    table = loaded.item_meta.table
    assert table["item_id"].tolist() == emb.vocab.ids.tolist()
    assert table["name"].tolist() == [f"name of {i}" for i in emb.vocab.ids.tolist()]
    assert "price" in table.columns
    m = loaded.manifest
    assert m["seed"] == 7 and m["fit_report"]["losses"] == [3.5, 2.25] and m["config"] == MANIFEST["config"]
    assert m["format_version"] == 1 and m["version"] == "v1" and m["n_items"] == len(emb) and m["dim"] == emb.dim
    assert m["id_kind"] == emb.vocab.kind
    assert {"python", "numpy", "pandas", "pyarrow"} <= set(m["library_versions"])
    assert set(m["files"]) == {"embeddings.parquet", "items.parquet"}
    for fn, rec in m["files"].items():
        data = (tmp_path / "store" / "versions" / "v1" / fn).read_bytes()
        assert rec == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    raw = (tmp_path / "store" / "versions" / "v1" / "manifest.json").read_text()
    assert raw == json.dumps(json.loads(raw), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert "status" not in m
    assert store.verify_version("v1") == []


def test_parquet_readable_with_pyarrow_only(tmp_path: Path) -> None:
    emb = int_embeddings(n=40, dim=16, behavior_version=None)
    store = Store(str(tmp_path))
    store.save_version(emb, manifest={}, name="plain")
    table = pq.read_table(tmp_path / "versions" / "plain" / "embeddings.parquet")
    assert table.schema.field("item_id").type == pa.int64()
    assert table.schema.field("embedding").type == pa.list_(pa.float32(), 16)
    assert table.schema.field("source").type == pa.string()
    assert table.schema.field("behavior_emb_version").type == pa.string()
    vectors = table.column("embedding").combine_chunks().flatten().to_numpy().reshape(-1, 16)
    assert vectors.tobytes() == emb.vectors.tobytes()
    assert table.column("item_id").to_pylist() == emb.vocab.ids.tolist()
    assert table.column("behavior_emb_version").null_count == len(emb)

    store.save_version(str_embeddings(), manifest={}, name="strs")
    t2 = pq.read_table(tmp_path / "versions" / "strs" / "embeddings.parquet")
    assert t2.schema.field("item_id").type == pa.string()
    assert set(t2.column("behavior_emb_version").to_pylist()) == {"beh_v1"}


def test_memory_store_round_trip() -> None:
    url = f"memory://behemb-test-{uuid.uuid4().hex}/store"
    store = Store(url)
    emb = str_embeddings()
    meta = metadata_for(emb, [])
    info = store.save_version(emb, manifest={"method": "fusion"}, prefix="fus", item_meta=meta)
    assert info.name == "fus_v1" and info.path.startswith("memory://")
    loaded = store.load_version("fus_v1")
    assert_same_embeddings(emb, loaded.embeddings)
    assert loaded.item_meta.table["name"].tolist() == [f"name of {i}" for i in emb.vocab.ids.tolist()]
    assert [v.name for v in store.list_versions()] == ["fus_v1"]
    with pytest.raises(VersionExistsError):
        store.save_version(emb, manifest={}, name="fus_v1")
    assert store.save_version(int_embeddings(), manifest={}).name == "beh_v2"
    assert Store(url).verify_version("beh_v2") == []


# ----------------------------------------------------------------------------- immutability


def test_second_save_refused_and_original_untouched(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.save_version(int_embeddings(seed=1), manifest={"method": "a"}, name="beh_v1")
    before = tree_bytes(tmp_path)
    with pytest.raises(VersionExistsError, match="beh_v1"):
        store.save_version(int_embeddings(seed=2), manifest={"method": "b"}, name="beh_v1")
    assert tree_bytes(tmp_path) == before
    assert store.incomplete() == []


def test_rename_onto_existing_folder_refused(tmp_path: Path) -> None:
    """A non-empty folder of that name (even without manifest) is never replaced by the rename."""
    store = Store(tmp_path)
    (tmp_path / "versions" / "beh_v1").mkdir(parents=True)
    (tmp_path / "versions" / "beh_v1" / "note.txt").write_text("keep me")
    with pytest.raises(VersionExistsError):
        store.save_version(int_embeddings(), manifest={}, name="beh_v1")
    assert (tmp_path / "versions" / "beh_v1" / "note.txt").read_text() == "keep me"
    assert store.incomplete() == ["beh_v1"]
    assert store.list_versions() == []
    with pytest.raises(StoreError, match="incomplete"):
        store.load_version("beh_v1")


def _race_worker(root: str, names: list[str], seed: int, barrier, queue) -> None:
    store = Store(root)
    emb = int_embeddings(n=300, dim=32, seed=seed)
    for name in names:
        barrier.wait()
        try:
            store.save_version(emb, manifest={"writer": seed}, name=name)
            queue.put((name, seed, "ok"))
        except VersionExistsError:
            queue.put((name, seed, "exists"))
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            queue.put((name, seed, f"error: {exc!r}"))


def test_concurrent_same_name_exactly_one_wins(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    queue = ctx.Queue()
    names = [f"race_v{i}" for i in range(1, 6)]
    procs = [ctx.Process(target=_race_worker, args=(str(tmp_path), names, seed, barrier, queue)) for seed in (1, 2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in range(2 * len(names))]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    store = Store(tmp_path)
    for name in names:
        outcomes = sorted(r[2] for r in results if r[0] == name)
        assert outcomes == ["exists", "ok"], (name, outcomes)
        winner = next(r[1] for r in results if r[0] == name and r[2] == "ok")
        loaded = store.load_version(name)
        assert loaded.manifest["writer"] == winner
        assert_same_embeddings(int_embeddings(n=300, dim=32, seed=winner), loaded.embeddings)
        assert store.verify_version(name) == []
    assert store.incomplete() == []
    assert sorted(os.listdir(tmp_path / "versions")) == names


# ----------------------------------------------------------------------------- tampering


@pytest.fixture()
def saved(tmp_path: Path) -> tuple[Store, Path]:
    store = Store(tmp_path)
    emb = int_embeddings()
    store.save_version(emb, manifest={"method": "m"}, name="v1", item_meta=metadata_for(emb, []))
    return store, tmp_path / "versions" / "v1"


def test_flipped_byte_detected(saved, tmp_path_factory) -> None:
    store, vdir = saved
    path = vdir / "embeddings.parquet"
    data = bytearray(path.read_bytes())
    expected = hashlib.sha256(data).hexdigest()
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    actual = hashlib.sha256(data).hexdigest()
    with pytest.raises(IntegrityError) as err:
        store.load_version("v1")
    msg = str(err.value)
    assert "embeddings.parquet" in msg and expected in msg and actual in msg
    assert any("embeddings.parquet" in p for p in store.verify_version("v1"))
    with pytest.raises(IntegrityError):
        export_version(store, "v1", fmt="parquet", out=str(tmp_path_factory.mktemp("export") / "out.parquet"))


def test_extra_file_detected(saved) -> None:
    store, vdir = saved
    (vdir / "extra.bin").write_bytes(b"x")
    with pytest.raises(IntegrityError, match="extra.bin"):
        store.load_version("v1")


def test_missing_file_detected(saved) -> None:
    store, vdir = saved
    (vdir / "items.parquet").unlink()
    with pytest.raises(IntegrityError, match="items.parquet.*missing"):
        store.load_version("v1")
    assert store.verify_version("v1")


def test_edited_manifest_detected(saved) -> None:
    store, vdir = saved
    mpath = vdir / "manifest.json"
    original = mpath.read_text()
    m = json.loads(original)
    m["files"]["items.parquet"]["sha256"] = "0" * 64
    mpath.write_text(json.dumps(m))
    with pytest.raises(IntegrityError, match="items.parquet.*0{64}"):
        store.load_version("v1")

    m = json.loads(original)
    m["n_items"] += 1
    mpath.write_text(json.dumps(m))
    with pytest.raises(IntegrityError, match="changed after the version was written"):  # the seal
        store.load_version("v1")

    m = json.loads(original)
    m["files"]["../../escape"] = {"sha256": "0" * 64, "bytes": 1}
    mpath.write_text(json.dumps(m))
    with pytest.raises(IntegrityError, match="invalid file name"):
        store.load_version("v1")

    mpath.write_text("{not json")
    with pytest.raises(StoreError, match="unreadable manifest"):
        store.load_version("v1")
    assert store.list_versions() == [] and store.incomplete() == ["v1"]


def test_load_without_verify_skips_hashes(saved) -> None:
    store, vdir = saved
    (vdir / "extra.bin").write_bytes(b"x")
    assert len(store.load_version("v1", verify=False).embeddings) == 50


# ----------------------------------------------------------------------------- names

BAD_FRAGMENT = st.sampled_from(["/", "\\", ".."])
NAME_CHARS = st.sampled_from(list("abcXYZ019._-"))


@given(st.text(NAME_CHARS, max_size=10), BAD_FRAGMENT, st.text(NAME_CHARS, max_size=10))
def test_names_with_separators_or_dotdot_refused(head: str, bad: str, tail: str) -> None:
    with pytest.raises(StoreError, match="invalid version name"):
        validate_version_name(head + bad + tail)


@given(st.text(NAME_CHARS, max_size=20))
def test_leading_dot_or_dash_refused(rest: str) -> None:
    for lead in (".", "-"):
        with pytest.raises(StoreError):
            validate_version_name(lead + rest)


@given(st.text(min_size=65, max_size=100))
def test_too_long_refused(name: str) -> None:
    with pytest.raises(StoreError):
        validate_version_name(name)


@pytest.mark.parametrize("name", ["", ".", "..", "a b", "é", "a\x00", "x:y", None, 3])
def test_misc_bad_names(name: object) -> None:
    with pytest.raises(StoreError) as err:
        validate_version_name(name)
    assert repr(name) in str(err.value) and "1-64 characters" in str(err.value)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", fullmatch=True).filter(lambda s: ".." not in s))
def test_valid_names_accepted_and_stay_inside(tmp_path: Path, name: str) -> None:
    assert validate_version_name(name) == name
    store = Store(tmp_path)
    versions = os.path.realpath(tmp_path / "versions")
    path = os.path.realpath(store.version_path(name))
    assert os.path.dirname(path) == versions


def test_bad_names_refused_by_store(tmp_path: Path) -> None:
    store = Store(tmp_path)
    for bad in ("../x", "a/b", ".hidden", ""):
        with pytest.raises(StoreError):
            store.save_version(int_embeddings(), manifest={}, name=bad)
        with pytest.raises(StoreError):
            store.load_version(bad)
    assert not (tmp_path / "x").exists() and not (tmp_path / "versions").exists()


def test_next_version_name() -> None:
    assert next_version_name([], "beh") == "beh_v1"
    assert next_version_name(["fus_v8", "beh_v3", "hand-made", "x_v2b"], "beh") == "beh_v9"
    assert next_version_name(["my_model_v10", "beh_v9"], "fus") == "fus_v11"
    with pytest.raises(StoreError):
        next_version_name([], "../evil")


def test_list_versions_order_and_generated_names(tmp_path: Path) -> None:
    store = Store(tmp_path)
    assert store.list_versions() == []
    names = [store.save_version(int_embeddings(seed=i), manifest={"method": m}, prefix=p).name
             for i, (m, p) in enumerate([("w2v", "beh"), ("fusion", "fus"), ("w2v", "beh")])]
    assert names == ["beh_v1", "fus_v2", "beh_v3"]
    store.save_version(int_embeddings(), manifest={}, name="aaa")  # sorted by time, not by name
    listed = store.list_versions()
    assert [v.name for v in listed] == ["beh_v1", "fus_v2", "beh_v3", "aaa"]
    assert [v.method for v in listed] == ["w2v", "fusion", "w2v", None]
    assert all(v.status == "draft" and v.dim == 8 and v.n_items == 50 for v in listed)
    assert [v.created_at for v in listed] == sorted(v.created_at for v in listed)
    assert store.exists("fus_v2") and not store.exists("fus_v9")
    with pytest.raises(StoreError, match="beh_v1, fus_v2"):
        store.load_version("nope")
    with pytest.raises(StoreError, match="no versions yet"):
        Store(tmp_path / "empty").manifest("nope")


def test_status_reads_lifecycle_records(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.save_version(int_embeddings(), manifest={}, name="v1")
    assert store.status("v1") == "draft"
    rec = tmp_path / "lifecycle" / "v1"
    rec.mkdir(parents=True)
    (rec / "0001.json").write_text(json.dumps({"status": "approved"}))
    assert store.status("v1") == "approved" and store.list_versions()[0].status == "approved"
    assert "status" not in store.manifest("v1")
    with pytest.raises(StoreError):
        store.status("v2")


# ----------------------------------------------------------------------------- manifests and bad input


def test_nan_in_manifest_refused_before_writing(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with pytest.raises(StoreError, match=r"fit_report.*loss.*nan"):
        store.save_version(int_embeddings(), manifest={"fit_report": {"loss": [1.0, float("nan")]}}, name="v1")
    with pytest.raises(StoreError, match="inf"):
        store.save_version(int_embeddings(), manifest={"x": np.float32("inf")}, name="v1")
    with pytest.raises(StoreError, match="object"):
        store.save_version(int_embeddings(), manifest={"x": object()}, name="v1")
    with pytest.raises(StoreError, match="set by the store"):
        store.save_version(int_embeddings(), manifest={"dim": 3}, name="v1")
    assert not (tmp_path / "versions").exists() or not any((tmp_path / "versions").iterdir())


def test_invalid_embeddings_refused(tmp_path: Path) -> None:
    emb = int_embeddings()
    bad = ItemEmbeddings(vocab=emb.vocab, vectors=emb.vectors * 0, source=emb.source)
    with pytest.raises(StoreError, match="invalid embeddings"):
        Store(tmp_path).save_version(bad, manifest={}, name="v1")


def test_errors_are_behemb_errors() -> None:
    assert issubclass(IntegrityError, StoreError) and issubclass(StoreError, BehembError)


# ----------------------------------------------------------------------------- interrupted writes


@pytest.mark.parametrize("where", ["local", "memory"])
def test_interrupted_write_leaves_no_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    url = str(tmp_path) if where == "local" else f"memory://behemb-test-{uuid.uuid4().hex}/store"
    store = Store(url)
    written: list[str] = []
    from behemb_core.store import _version_write

    original = _version_write._write_file

    def crashing(st, path: str, data: bytes, **kwargs) -> None:
        if path.endswith("manifest.json"):
            raise KeyboardInterrupt("simulated crash before the manifest")
        original(st, path, data, **kwargs)
        written.append(path)

    monkeypatch.setattr(_version_write, "_write_file", crashing)
    with pytest.raises(KeyboardInterrupt):
        store.save_version(int_embeddings(), manifest={}, name="v1")
    assert any(p.endswith("embeddings.parquet") for p in written)  # the crash came after the data file
    assert not store.exists("v1") and store.list_versions() == [] and store.incomplete() == []
    assert not store.fs.glob(f"{store.root}/**/manifest.json")
    monkeypatch.undo()
    assert store.save_version(int_embeddings(), manifest={}, name="v1").name == "v1"
    assert store.verify_version("v1") == []


def test_incomplete_remote_leftover_is_ignored_and_replaced() -> None:
    store = Store(f"memory://behemb-test-{uuid.uuid4().hex}/store")
    store.fs.pipe_file(f"{store.root}/versions/beh_v4/embeddings.parquet", b"partial")
    store.fs.pipe_file(f"{store.root}/versions/beh_v4/stale.bin", b"junk")
    assert store.list_versions() == [] and store.incomplete() == ["beh_v4"] and not store.exists("beh_v4")
    assert store.save_version(int_embeddings(), manifest={}).name == "beh_v5"  # counter skips the leftover
    store.save_version(int_embeddings(), manifest={}, name="beh_v4")
    assert store.verify_version("beh_v4") == [] and store.incomplete() == []


# ----------------------------------------------------------------------------- exports


@pytest.mark.parametrize("make", [int_embeddings, str_embeddings])
def test_exports_read_back_equal(tmp_path: Path, make) -> None:
    emb = make()
    store = Store(tmp_path / "store")
    store.save_version(emb, manifest={}, name="v1")
    stored = (tmp_path / "store" / "versions" / "v1" / "embeddings.parquet").read_bytes()

    out = tmp_path / "out"
    out.mkdir()
    [pq_path] = export_version(store, "v1", fmt="parquet", out=str(out))
    assert Path(pq_path) == out / "embeddings.parquet" and Path(pq_path).read_bytes() == stored

    paths = export_version(store, "v1", fmt="npy", out=str(tmp_path / "npy"))
    assert sorted(Path(p).name for p in paths) == ["embeddings.npy", "export.json", "ids.json"]
    vectors = np.load(tmp_path / "npy" / "embeddings.npy", allow_pickle=False)
    assert vectors.dtype == np.float32 and vectors.tobytes() == emb.vectors.tobytes()
    assert json.loads((tmp_path / "npy" / "ids.json").read_text()) == emb.vocab.ids.tolist()
    receipt = json.loads((tmp_path / "npy" / "export.json").read_text())
    assert receipt["version"] == "v1" and receipt["embeddings_parquet_sha256"] == hashlib.sha256(stored).hexdigest()
    assert (receipt["dim"], receipt["n"]) == (emb.dim, len(emb))

    [jl] = export_version(store, "v1", fmt="jsonl", out=str(tmp_path / "e.jsonl"))
    rows = [json.loads(line) for line in Path(jl).read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == emb.vocab.ids.tolist()
    assert all(type(r["id"]) is (int if emb.vocab.kind == "int" else str) for r in rows)
    assert np.array([r["embedding"] for r in rows], dtype=np.float32).tobytes() == emb.vectors.tobytes()
    [jl_dir] = export_version(store, "v1", fmt="jsonl", out=str(out))
    assert Path(jl_dir) == out / "embeddings.jsonl"


def test_export_refuses_overwrite(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    store.save_version(int_embeddings(), manifest={}, name="v1")
    target = tmp_path / "e.jsonl"
    target.write_text("precious")
    with pytest.raises(StoreError, match="overwrite"):
        export_version(store, "v1", fmt="jsonl", out=str(target))
    assert target.read_text() == "precious"
    export_version(store, "v1", fmt="npy", out=str(tmp_path / "npy"))
    with pytest.raises(StoreError, match="overwrite"):
        export_version(store, "v1", fmt="npy", out=str(tmp_path / "npy"))
    export_version(str(tmp_path / "store"), "v1", fmt="jsonl", out=str(target), overwrite=True)
    assert target.read_text().startswith('{"id"')
    with pytest.raises(StoreError, match="unknown export format"):
        export_version(store, "v1", fmt="csv", out=str(tmp_path / "x"))  # type: ignore[arg-type]


@pytest.mark.parametrize("where", ["local", "memory"])
def test_export_into_the_store_is_refused_before_writing(tmp_path: Path, where: str) -> None:
    url = str(tmp_path / "store") if where == "local" else f"memory://behemb-test-{uuid.uuid4().hex}/store"
    store = Store(url)
    store.save_version(int_embeddings(), manifest={}, name="v1")
    before = sorted(store.fs.find(store.root))
    inside = [f"{url}/versions/v1/x.parquet", f"{url}/versions/v1/", url, f"{url}/exports/e.jsonl"]
    if where == "local":
        (tmp_path / "link").symlink_to(tmp_path / "store" / "versions" / "v1")  # real paths are compared
        inside += [str(tmp_path / "link" / "x.parquet"), str(tmp_path / "store" / "versions" / ".." / "y.npy")]
    for out in inside:
        for fmt in ("parquet", "jsonl", "npy"):
            with pytest.raises(StoreError, match="inside the store"):
                export_version(store, "v1", fmt=fmt, out=out, overwrite=True)
    assert sorted(store.fs.find(store.root)) == before and store.verify_version("v1") == []
    beside = f"{url}-exports/e.jsonl"  # a sibling whose name starts like the store's is not inside it
    assert export_version(store, "v1", fmt="jsonl", out=beside)


def test_failed_export_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    store = Store(tmp_path / "store")
    store.save_version(int_embeddings(), manifest={}, name="v1")
    import behemb_core.store.export as export_module

    real_write = export_module._write_npy

    def full_disk(fh, *args, **kwargs):
        real_write(fh, *args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(export_module, "_write_npy", full_disk)
    with pytest.raises(OSError):
        export_version(store, "v1", fmt="npy", out=str(tmp_path / "new" / "npy"))
    assert not (tmp_path / "new").exists()  # the folders it created are gone with the temporary file
    target = tmp_path / "old"
    target.mkdir()
    (target / "ids.json").write_text("old")
    with pytest.raises(OSError):
        export_version(store, "v1", fmt="npy", out=str(target), overwrite=True)
    assert [p.name for p in target.iterdir()] == ["ids.json"] and (target / "ids.json").read_text() == "old"


def test_tmp_leftover_reported_not_listed(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.save_version(int_embeddings(), manifest={}, name="beh_v1")
    leftover = tmp_path / "versions" / ".tmp-beh_v2-0123abcd"
    leftover.mkdir()
    (leftover / "embeddings.parquet").write_bytes(b"partial")
    assert store.incomplete() == [".tmp-beh_v2-0123abcd"]
    assert [v.name for v in store.list_versions()] == ["beh_v1"]
    assert store.save_version(int_embeddings(), manifest={}).name == "beh_v2"
    assert leftover.exists()  # never removed behind the user's back
