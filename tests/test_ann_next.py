"""The ANN index of the "next item" ranking (issue 24, after issue 23's served index): an index over the candidate
vectors K queried with the query vectors Q, built for the mode a version serves, measured against exact ``Q·K``,
judged by the sign-off check "served neighbors match", exported with what to query it with, shown by the CLI's
``neighbors --served --mode next`` and checked by ``verify`` — while every index record written before modes
(no ``mode``) keeps meaning "also viewed"."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_directional_fit import CHAINS, planted_sequences  # b always follows a, a never follows b

from behemb_core.ann.export import export_faiss
from behemb_core.ann.index import AnnParams, build_index
from behemb_core.ann.modes import record_mode, served_mode
from behemb_core.ann.recall import measure_recall
from behemb_core.ann.served import (
    build_version_index,
    index_for_version,
    registry_details,
    served_neighbors,
)
from behemb_core.checks.cache import clear_caches
from behemb_core.checks.context import CheckContext, SignoffPolicy
from behemb_core.checks.served import check_served_neighbors
from behemb_core.cli import main
from behemb_core.embeddings import DirectionalPair, l2_normalize, make_embeddings
from behemb_core.errors import ConfigError
from behemb_core.ingest.dataset import Dataset
from behemb_core.methods.registry import DEFAULT_METHOD
from behemb_core.neighbors import next_item_neighbors, top_k_next
from behemb_core.sessions import SessionOptions
from behemb_core.signoff import approve
from behemb_core.store import CheckResult, Store, publish
from behemb_core.store.indexes import register_index_from_export
from behemb_core.store.verify import verify_store
from behemb_core.synthetic import sessions_from_lists
from behemb_core.train import train_version
from behemb_core.vocab import Vocabulary

WEAK = AnnParams(m=4, ef_construction=8, ef_search=1)
NEXT_BUILD = f"next-{AnnParams().build_id}"


# ------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default method trained on the planted sequences: ``nx`` serves the "next item" ranking, ``plain`` has
    no directional tables. No index anywhere."""
    path = tmp_path_factory.mktemp("ann-next") / "store"
    data = Dataset(sessions=sessions_from_lists(planted_sequences()), drops={}, notes={}, source={"kind": "test"},
                   options=SessionOptions())
    config = {"dim": 16, "window": 3, "epochs": 30, "negatives": 32, "batch_size": 64, "alpha": 1.0, "stop_tol": 0}
    train_version(Store(str(path)), DEFAULT_METHOD, {**config, "directional": True, "serves": "next"}, dataset=data,
                  seed=0, name="nx")
    train_version(Store(str(path)), DEFAULT_METHOD, config, dataset=data, seed=0, name="plain")
    return path


@pytest.fixture
def store(trained: Path, tmp_path: Path) -> Store:
    clear_caches()
    copy = tmp_path / "store"
    shutil.copytree(trained, copy)
    return Store(str(copy))


def clustered_pair(n: int = 3000, clusters: int = 60, dim: int = 32,
                   seed: int = 7) -> tuple[np.ndarray, DirectionalPair]:
    """Symmetric vectors E and a directional pair over ``n`` items in ``clusters`` clusters: K of an item lies near
    its cluster's centre, Q near the *next* cluster's, so what follows an item is the next cluster (a direction E
    does not have)."""
    rng = np.random.default_rng(seed)
    centres = l2_normalize(rng.standard_normal((clusters, dim)).astype(np.float32))
    cluster = rng.integers(0, clusters, size=n)

    def near(c: np.ndarray) -> np.ndarray:
        return l2_normalize((centres[c] + 0.3 * rng.standard_normal((n, dim)) / np.sqrt(dim)).astype(np.float32))

    return near(cluster), DirectionalPair(query=near((cluster + 1) % clusters), candidate=near(cluster), alpha=1.0)


@pytest.fixture(scope="module")
def clustered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A hand-made version ``big`` of 3,000 items serving the "next item" ranking, with popularity (bands)."""
    path = tmp_path_factory.mktemp("ann-next-big") / "store"
    e, pair = clustered_pair()
    ids = np.arange(10_000, 10_000 + len(e))
    events = np.random.default_rng(1).zipf(1.5, size=len(e)).clip(1, 10_000)
    Store(str(path)).save_version(
        make_embeddings(Vocabulary(ids), e), manifest={"method": "hand", "config": {"serves": "next"}}, name="big",
        item_stats=pd.DataFrame({"item_id": ids, "events": events, "sessions": events}), directional=pair)
    return path


@pytest.fixture
def big(clustered: Path, tmp_path: Path) -> Store:
    clear_caches()
    shutil.copytree(clustered, tmp_path / "big")
    return Store(str(tmp_path / "big"))


def check(st: Store, version: str, policy: SignoffPolicy | None = None) -> tuple[CheckResult, dict]:
    clear_caches()
    ctx = CheckContext(st, version, policy or SignoffPolicy())  # type: ignore[arg-type]
    return check_served_neighbors(ctx), ctx.details


# ------------------------------------------------------------------------------------------------ 1. the mode


def test_a_next_index_serves_b_first_after_a_and_the_symmetric_one_does_not_tell_the_order(store: Store) -> None:
    record = build_version_index(store, "nx")  # default: the mode the version serves
    assert record["mode"] == "next" and record["build"] == NEXT_BUILD
    assert record["indexed"] == "K (candidate vectors)" and record["query_with"] == "Q (query vectors)"
    assert record["index_file"] == f"ann/nx/{NEXT_BUILD}/index.faiss" and "query vector Q" in record["how_to_query"]
    assert record["measurement"]["recall"] >= 0.95
    kept = json.loads((Path(str(store.root)) / record["index_file"]).with_name("index.json").read_text())
    assert kept["mode"] == "next" and kept["query_with"] == "Q (query vectors)"

    stored = store.load_version("nx")
    for c in range(CHAINS):
        after_a = served_neighbors(store, stored, 2 * c, k=3, build_if_missing=False)
        after_b = served_neighbors(store, stored, 2 * c + 1, k=3, build_if_missing=False)
        assert after_a is not None and after_b is not None
        assert after_a["source"]["mode"] == "next" and after_a["source"]["build"] == NEXT_BUILD
        assert after_a["served"][0]["item_id"] == 2 * c + 1  # b is served first after a…
        assert after_b["served"][0]["item_id"] != 2 * c  # …and a is not served first after b
        # the exact list beside it is the "next item" ranking, Q_a·K_b
        assert after_a["exact"] == next_item_neighbors(stored.embeddings, stored.directional, 2 * c, 3)
    # the symmetric index (asked for by name) serves the pair both ways: it cannot tell the order
    build_version_index(store, "nx", mode="also")
    firsts = [served_neighbors(store, stored, 2 * c + 1, k=1, mode="also", build_if_missing=False)
              for c in range(CHAINS)]
    assert all(f is not None and f["source"]["mode"] == "also" for f in firsts)
    assert sum(f["served"][0]["item_id"] == 2 * c for c, f in enumerate(firsts) if f) >= CHAINS * 0.9
    # each mode finds its own index; the default is the mode the version serves
    assert index_for_version(store, "nx")["mode"] == "next"  # type: ignore[index]
    assert index_for_version(store, "nx", "also")["build"] == AnnParams().build_id  # type: ignore[index]


def test_next_for_a_version_without_the_pair_is_an_error_naming_it(store: Store, tmp_path: Path) -> None:
    assert served_mode(store.manifest("plain")) == "also" and served_mode(store.manifest("nx")) == "next"
    stored = store.load_version("plain")
    for call in (lambda: build_version_index(store, "plain", mode="next"),
                 lambda: served_neighbors(store, stored, 0, mode="next"),
                 lambda: export_faiss(store, "plain", out=tmp_path / "x", mode="next")):
        with pytest.raises(ConfigError, match="version 'plain' has no \"next item\" tables.*directional=true"):
            call()
    with pytest.raises(ConfigError, match="mode must be 'also' or 'next', got 'sideways'"):
        build_version_index(store, "nx", mode="sideways")
    assert not (tmp_path / "x").exists() and not (Path(str(store.root)) / "ann").exists()
    plain = build_version_index(store, "plain")  # no pair: "also", as before
    assert plain["mode"] == "also" and plain["build"] == AnnParams().build_id


# ------------------------------------------------------------------------------------------------ 2. recall


def test_recall_of_a_next_index_is_measured_against_exact_q_dot_k(clustered: Path) -> None:
    stored = Store(str(clustered)).load_version("big")
    pair = stored.directional
    assert pair is not None
    index = build_index(pair.candidate)
    events = np.zeros(len(pair.query))
    events[stored.embeddings.vocab.codes(stored.item_stats["item_id"].to_numpy())] = stored.item_stats["events"]
    golden = np.arange(0, 3000, 97)
    m = measure_recall(index, pair.candidate, query_vectors=pair.query, k=10, queries=500, seed=3, events=events,
                       golden=golden)
    assert m["recall"] >= 0.95 and m["golden"] is not None and m["golden"]["n"] == len(golden)
    assert set(m["bands"] or {}) == {"head", "torso", "tail"}
    # the same number by brute force: the index's lists against the exact Q·K top-10 (self excluded)
    sample = np.sort(np.random.default_rng(3).choice(len(pair.query), size=500, replace=False))
    exact = top_k_next(stored.embeddings, pair, 10, queries=sample)
    found, _ = index.search(pair.query[sample], 10, skip=sample)
    kth = exact.scores[:, -1]
    sims = np.einsum("qd,qkd->qk", pair.query[sample], pair.candidate[found])
    assert m["recall"] == pytest.approx(float((sims >= kth[:, None] - 1e-5).mean()), abs=1e-6)
    # an index over the symmetric vectors does not serve the Q·K ranking: the measurement says so
    wrong = measure_recall(build_index(stored.embeddings.vectors), pair.candidate, query_vectors=pair.query, k=10,
                           queries=500, seed=3, ef_grid=None)
    assert wrong["recall"] < 0.5  # E lies near K here (same clusters), so some of its lists overlap
    with pytest.raises(ValueError, match="query vectors must have the indexed vectors' shape"):
        measure_recall(index, pair.candidate, query_vectors=pair.query[:10])


# ------------------------------------------------------------------------------------------------ 3. check 9


def test_check_9_judges_the_next_index_passes_a_good_one_and_warns_on_a_weak_one(big: Store, tmp_path: Path,
                                                                                 clustered: Path) -> None:
    build_version_index(big, "big")
    good, details = check(big, "big")
    assert good.passed and good.state == "pass" and good.value is not None and good.value >= 0.95
    assert details["served"]["mode"] == "next" and details["served"]["index"]["build"] == NEXT_BUILD
    assert "of the 'next item' ranking (Q·K)" in good.detail and "head" in good.detail

    shutil.copytree(clustered, tmp_path / "weak")
    weak_store = Store(str(tmp_path / "weak"))
    weak = build_version_index(weak_store, "big", params=WEAK)
    assert weak["measurement"]["recall"] < 0.95
    warned, details = check(weak_store, "big")
    assert warned.state == "warning" and not warned.passed and warned.could_not_judge is None
    assert warned.value is not None and warned.value < 0.95
    assert warned.value == pytest.approx(details["served"]["measurement"]["recall"], abs=1e-4)
    assert "the served index misses exact neighbors" in warned.detail and "rebuild it" in warned.detail


def test_check_9_could_not_judge_an_index_of_the_other_mode(store: Store) -> None:
    none, _ = check(store, "nx")
    assert none.could_not_judge and "no ANN index was built for nx" in none.could_not_judge
    assert "--mode next" in none.could_not_judge
    build_version_index(store, "nx", mode="also", register_as="main")
    wrong, _ = check(store, "nx")
    assert wrong.state == "warning" and not wrong.passed and wrong.acknowledgeable
    why = wrong.could_not_judge or ""
    assert "nx serves the 'next item' ranking (Q·K)" in why and "index 'main'" in why
    assert "'also' mode" in why and "build a 'next' index" in why and "export --format faiss --mode next" in why
    build_version_index(store, "nx", register_as="main-next")  # the right mode: judged
    right, details = check(store, "nx")
    assert right.could_not_judge is None and right.passed
    assert details["served"]["index"]["registered_as"] == "main-next"
    # a version that serves "also" is judged by its "also" index and ignores a "next" one
    build_version_index(store, "plain")
    plain, details = check(store, "plain")
    assert plain.passed and details["served"]["mode"] == "also"


# ------------------------------------------------------------------------------------------------ 4. export, verify


def test_export_round_trip_of_a_next_index_and_verify(store: Store, tmp_path: Path) -> None:
    import faiss

    out = tmp_path / "export"
    written = export_faiss(store, "nx", out=out, register_as="main")
    assert sorted(Path(p).name for p in written["paths"]) == ["export.json", "ids.json", "index.faiss", "query.npy"]
    receipt = json.loads((out / "export.json").read_text())
    assert receipt["mode"] == "next" and receipt["indexed"] == "K (candidate vectors)"
    assert receipt["query_with"] == "Q (query vectors)" and receipt["query_file"] == "query.npy"
    manifest = store.manifest("nx")
    assert receipt["directional_parquet_sha256"] == manifest["files"]["directional.parquet"]["sha256"]
    data = (out / "index.faiss").read_bytes()
    assert receipt["index_sha256"] == hashlib.sha256(data).hexdigest()

    # loaded the way the receipt says — index over K, queried with query.npy — it serves what served_neighbors shows
    ids = json.loads((out / "ids.json").read_text())
    q = np.load(out / "query.npy", allow_pickle=False)
    stored = store.load_version("nx")
    assert stored.directional is not None and np.array_equal(q, stored.directional.query)
    raw = faiss.read_index(str(out / "index.faiss"))
    sp = faiss.SearchParametersHNSW()
    sp.efSearch = receipt["params"]["ef_search"]
    for item in (0, 2, 8, ids[-1]):
        code = ids.index(item)
        _, labels = raw.search(q[[code]], 11, params=sp)
        from_file = [ids[c] for c in labels[0].tolist() if c != code][:10]
        shown = served_neighbors(store, stored, item, k=10, build_if_missing=False)
        assert shown is not None and shown["source"]["kind"] == "registered" and shown["source"]["mode"] == "next"
        assert [r["item_id"] for r in shown["served"]] == from_file
    assert [ids[c] for c in raw.search(q[[0]], 2, params=sp)[1][0].tolist() if c != 0][0] == 1  # b after a

    registered = json.loads((Path(str(store.root)) / "indexes" / "main.json").read_text())
    assert registered["mode"] == "next" and registered["index_file"] == os.path.abspath(out / "index.faiss")
    # the registration says how to query it, as the receipt does
    for key in ("indexed", "query_with", "how_to_query", "directional_parquet_sha256"):
        assert registered[key] == receipt[key], key
    again = register_index_from_export(store, "from-receipt", out / "export.json")
    assert again["mode"] == "next" and again["index_sha256"] == receipt["index_sha256"]
    assert again["query_file"] == os.path.abspath(out / "query.npy")  # resolved beside the receipt, like the index

    # verify: the registered next index was built from nx's exact bytes; skew until nx is published, then fine
    def report(name: str) -> dict:
        return next(r for r in verify_store(store)["indexes"] if r["index"] == name)

    assert "index skew" in (report("main")["problem"] or "")
    approve(store, "nx", by="alice", override=True, note="test store")
    publish(store, "nx", by="alice")
    assert report("main")["problem"] is None and report("from-receipt")["problem"] is None
    (out / "index.faiss").write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # the served file is replaced
    assert receipt["index_sha256"][:12] in (report("main")["problem"] or "")


# ------------------------------------------------------------------------------------------------ 5. old records


def test_records_without_a_mode_are_also_indexes_and_load_as_before(store: Store) -> None:
    """A kept record and a registration written before modes (no mode, indexed or query_with) serve "also"."""
    built = build_version_index(store, "plain", register_as="old")
    root = Path(str(store.root))
    for path in (root / "ann" / "plain" / built["build"] / "index.json", root / "indexes" / "old.json"):
        rec = json.loads(path.read_text())
        assert rec["mode"] == "also"
        path.write_text(json.dumps({k: v for k, v in rec.items() if k not in ("mode", "indexed", "query_with")}))
    clear_caches()
    found = index_for_version(store, "plain")
    assert found is not None and "mode" not in found and found["registered_as"] == "old"
    assert record_mode(found) == "also" and registry_details(found, found["index_file"])["mode"] == "also"
    assert index_for_version(store, "plain", "next") is None
    shown = served_neighbors(store, store.load_version("plain"), 0, k=5, build_if_missing=False)
    assert shown is not None and shown["source"]["kind"] == "registered" and shown["source"]["mode"] == "also"
    assert shown["same"]
    again = build_version_index(store, "plain")  # the kept old record is reused, not refused
    assert again["index_sha256"] == built["index_sha256"] and "mode" not in again
    result, _ = check(store, "plain")
    assert result.passed
    assert next(r for r in verify_store(store)["indexes"] if r["index"] == "old")["file_unchecked"] is None
    # an old "also" record on a version serving "next" is an index of the other mode: not judged
    nx = build_version_index(store, "nx", mode="also")
    path = root / "ann" / "nx" / nx["build"] / "index.json"
    path.write_text(json.dumps({k: v for k, v in json.loads(path.read_text()).items() if k != "mode"}))
    wrong, _ = check(store, "nx")
    assert wrong.could_not_judge and "'also' mode" in wrong.could_not_judge


# ------------------------------------------------------------------------------------------------ 6. the CLI


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_export_mode_next_and_neighbors_served_mode_next(store: Store, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    root = str(store.root)
    code, out, err = run(capsys, "export", "--store", root, "--version", "nx", "--format", "faiss", "--out",
                         tmp_path / "e", "--mode", "next", "--quiet")
    assert code == 0, err
    result = json.loads(out)
    assert result["mode"] == "next" and result["registered"]["index"] == "main-next"  # the next mode's default name
    assert {p.name for p in (tmp_path / "e").iterdir()} == {"index.faiss", "ids.json", "query.npy", "export.json"}
    assert json.loads((Path(root) / "indexes" / "main-next.json").read_text())["mode"] == "next"

    code, out, err = run(capsys, "neighbors", "--store", root, "--version", "nx", "--item", 4, "-k", 3, "--mode",
                         "next", "--served", "--json")
    assert code == 0, err
    report = json.loads(out)
    served = report["served"]
    assert served["source"]["mode"] == "next" and served["source"]["name"] == "main-next"
    assert served["served"][0]["item_id"] == 5 and [r["item_id"] for r in report["neighbors"]] == [
        r["item_id"] for r in served["exact"]]
    code, out, _ = run(capsys, "neighbors", "--store", root, "--version", "nx", "--item", 4, "-k", 3, "--mode",
                       "next", "--served")
    assert code == 0 and "# Served by the ANN index:" in out and "over K queried with Q" in out
    # --mode also --served on the same version: its "also" index (none yet: one built in memory)
    code, out, _ = run(capsys, "neighbors", "--store", root, "--version", "nx", "--item", 4, "-k", 3, "--served",
                       "--json")
    also = json.loads(out)["served"]
    assert code == 0 and also["source"]["kind"] == "memory" and also["source"]["mode"] == "also"

    # the export's default is the version's serves; --mode next on a version without the pair is one error
    code, out, err = run(capsys, "export", "--store", root, "--version", "plain", "--format", "faiss", "--out",
                         tmp_path / "p", "--mode", "next", "--quiet")
    lines = err.strip().splitlines()
    assert code == 1 and out == "" and len(lines) == 1 and "version 'plain' has no \"next item\" tables" in lines[0]
    code, out, err = run(capsys, "export", "--store", root, "--version", "plain", "--format", "faiss", "--out",
                         tmp_path / "p", "--no-register", "--quiet")
    assert code == 0 and json.loads(out)["mode"] == "also"
    code, _, err = run(capsys, "export", "--store", root, "--version", "nx", "--format", "npy", "--out",
                       tmp_path / "n", "--mode", "next")
    assert code == 1 and "--mode only apply to --format faiss" in err


def test_neighbors_served_without_an_index_too_large_to_build_says_so(store: Store, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import behemb_core.ann.served as served_mod

    monkeypatch.setattr(served_mod, "MEMORY_BUILD_MAX_ITEMS", 1)  # as a catalogue too large to build in memory
    code, out, err = run(capsys, "neighbors", "--store", str(store.root), "--version", "nx", "--item", 4, "-k", 3,
                         "--mode", "next", "--served", "--json")
    assert code == 0 and json.loads(out)["served"] is None
    assert "no 'next' ANN index was built for nx" in err and "export --format faiss --mode next" in err


# ------------------------------------------------------------------------------------------------ 7. one name, one mode


def test_a_name_serves_one_mode_for_good(store: Store, tmp_path: Path) -> None:
    """Whatever reads a registered name queries it one way: an index of the other mode is refused under it —
    before anything is built or written — and the two modes' default names differ."""
    from behemb_core.errors import StoreError
    from behemb_core.store import register_index

    build_version_index(store, "nx", mode="also", register_as="main")
    root = Path(str(store.root))
    with pytest.raises(StoreError, match="index 'main' serves the 'also viewed'.*default for a 'next' index is "
                                         "'main-next'"):
        export_faiss(store, "nx", out=tmp_path / "e", register_as="main")
    assert not (tmp_path / "e").exists() and not (root / "ann" / "nx" / NEXT_BUILD).exists()
    with pytest.raises(StoreError, match="serves the 'also viewed'"):
        build_version_index(store, "nx", register_as="main")
    assert not (root / "ann" / "nx" / NEXT_BUILD).exists()
    assert json.loads((root / "indexes" / "main.json").read_text())["mode"] == "also"  # left as it was
    build_version_index(store, "nx", register_as="main-next")
    assert (index_for_version(store, "nx", "next") or {}).get("registered_as") == "main-next"
    with pytest.raises(StoreError, match="index 'main-next' serves the 'next item'"):
        build_version_index(store, "nx", mode="also", register_as="main-next")
    # a registration's mode is one of the two, and "next" needs a version with the directional tables
    sha = store.manifest("plain")["files"]["embeddings.parquet"]["sha256"]
    with pytest.raises(StoreError, match="mode must be 'also' or 'next', got 'sideways'"):
        register_index(store, "odd", version="plain", embeddings_sha256=sha, details={"mode": "sideways"})
    with pytest.raises(StoreError, match="version 'plain' stores none"):
        register_index(store, "odd", version="plain", embeddings_sha256=sha, details={"mode": "next"})
    assert not (root / "indexes" / "odd.json").exists()


def test_a_registration_claiming_the_other_mode_of_a_kept_build_is_never_read(store: Store) -> None:
    """A registration that says "also" for the bytes of a kept "next" build (a receipt edited, say) would have
    its readers query K with E: it is a foreign index — never deserialized — not a served list."""
    from behemb_core.ann.served import ForeignIndex, open_index
    from behemb_core.store import register_index

    nxt = build_version_index(store, "nx")
    details = {**registry_details(nxt, nxt["index_file"]), "mode": "also"}
    register_index(store, "liar", version="nx", embeddings_sha256=nxt["embeddings_sha256"], details=details)
    record = index_for_version(store, "nx", "also")
    assert record is not None and record["registered_as"] == "liar"
    with pytest.raises(ForeignIndex):
        open_index(store, record)


def test_an_index_read_under_its_true_record_is_not_reused_for_one_claiming_the_other_mode(store: Store) -> None:
    """The cache of indexes read and checked is keyed by the record's mode and version too: once the Neighbors
    page (say) has read the "next" index under its own record, a registration claiming "also" for the same bytes
    still faces the check that refuses it, instead of getting the cached index (and querying K with E)."""
    from behemb_core.ann.served import ForeignIndex, open_index
    from behemb_core.store import register_index

    nxt = build_version_index(store, "nx", register_as="main-next")
    details = {**registry_details(nxt, nxt["index_file"]), "mode": "also"}
    register_index(store, "liar", version="nx", embeddings_sha256=nxt["embeddings_sha256"], details=details)
    true_record = index_for_version(store, "nx", "next")
    assert true_record is not None and true_record["registered_as"] == "main-next"
    assert open_index(store, true_record).n == nxt["n"]  # read, checked and cached
    liar = index_for_version(store, "nx", "also")
    assert liar is not None and liar["registered_as"] == "liar" and liar["index_file"] == true_record["index_file"]
    with pytest.raises(ForeignIndex):
        open_index(store, liar)


def test_a_next_index_of_other_directional_tables_is_not_the_versions(store: Store) -> None:
    """A kept "next item" index names the sha256 of the directional tables it was built from; one that names other
    tables is not served for the version, and building again refuses to reuse it."""
    from behemb_core.errors import IntegrityError

    nxt = build_version_index(store, "nx")
    assert nxt["directional_parquet_sha256"] == store.manifest("nx")["files"]["directional.parquet"]["sha256"]
    assert (nxt["n"], nxt["dim"]) == store.load_version("nx").directional.candidate.shape
    path = Path(str(store.root)) / nxt["index_file"]
    record = json.loads(path.with_name("index.json").read_text())
    path.with_name("index.json").write_text(json.dumps({**record, "directional_parquet_sha256": "0" * 64}))
    clear_caches()
    assert index_for_version(store, "nx", "next") is None
    with pytest.raises(IntegrityError, match="records other directional tables than the version's"):
        build_version_index(store, "nx")


def test_an_also_export_over_a_next_one_leaves_no_query_file(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "e"
    export_faiss(store, "nx", out=out, register_as=None)
    assert (out / "query.npy").exists()
    export_faiss(store, "nx", out=out, register_as=None, mode="also", overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["export.json", "ids.json", "index.faiss"]
    assert json.loads((out / "export.json").read_text())["mode"] == "also"


def test_verify_names_each_registrations_mode_and_a_next_index_of_other_tables(store: Store) -> None:
    build_version_index(store, "nx", register_as="main-next")
    build_version_index(store, "plain", register_as="main")
    approve(store, "nx", by="alice", override=True, note="test store")
    publish(store, "nx", by="alice")

    def rows() -> dict[str, dict]:
        return {r["index"]: r for r in verify_store(store)["indexes"]}

    now = rows()
    assert now["main-next"]["mode"] == "next" and now["main-next"]["problem"] is None
    assert now["main"]["mode"] == "also" and "index skew" in now["main"]["problem"]  # plain is not published
    path = Path(str(store.root)) / "indexes" / "main-next.json"
    rec = json.loads(path.read_text())
    path.write_text(json.dumps({**rec, "directional_parquet_sha256": "f" * 64}))
    assert "a 'next item' index recording directional tables sha256 ffffffffffff… for nx" in rows()["main-next"][
        "problem"]
    path.write_text(json.dumps({**rec, "mode": "sideways"}))
    assert "says mode 'sideways', which is not 'also' or 'next'" in rows()["main-next"]["problem"]
