"""The ANN index that serves customers (issue 23), through the library: its recall against exact search on data
with a known answer, the sign-off check "served neighbors match", the index file checked against its recorded
sha256 (open, sign-off, verify), index skew named by ``verify``, cold-start rows of a fusion version, the faiss
export round trip, byte-identical rebuilds, the in-memory stand-in, and the publisher role."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import store_copy

from behemb_core.ann.export import export_faiss
from behemb_core.ann.index import AnnIndex, AnnParams, build_index
from behemb_core.ann.recall import TIE_TOLERANCE, measure_recall
from behemb_core.ann.served import (
    build_version_index,
    built_indexes,
    index_for_version,
    item_events,
    open_index,
    served_neighbors,
)
from behemb_core.checks.cache import clear_caches
from behemb_core.checks.context import SignoffPolicy
from behemb_core.checks.served import CHECK_NAME, check_served_neighbors
from behemb_core.compare.stability import popularity_bands
from behemb_core.content import content_from_text
from behemb_core.demo import load_demo_dataset
from behemb_core.errors import IntegrityError, PermissionDenied, StoreError
from behemb_core.identity import Actor
from behemb_core.methods.registry import DEFAULT_METHOD
from behemb_core.signoff import SIGNOFF_CHECKS, approve, signoff_checks
from behemb_core.store import CheckResult, Store, publish, set_policy
from behemb_core.store.indexes import register_index, register_index_from_export
from behemb_core.store.verify import verify_store
from behemb_core.train import train_version

WEAK = AnnParams(m=4, ef_construction=8, ef_search=1)
DEFAULT_BUILD = AnnParams().build_id


# ------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two versions of the demo data (the default method, dim 16), both approved (overridden: no evaluation, no
    index yet), v1 published; no ANN index anywhere."""
    path = tmp_path_factory.mktemp("ann") / "store"
    st = Store(str(path))
    dataset = load_demo_dataset()
    train_version(st, DEFAULT_METHOD, {"dim": 16}, dataset=dataset, seed=0, name="v1")
    train_version(st, DEFAULT_METHOD, {"dim": 16}, dataset=dataset, seed=1, name="v2")
    for v in ("v1", "v2"):
        approve(st, v, by="alice", override=True, note="test store")
    publish(st, "v1", by="alice")
    clear_caches()
    return path


@pytest.fixture(scope="module")
def indexed_template(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template with v1's default index built, kept and registered as ``main``."""
    path = tmp_path_factory.mktemp("ann-indexed") / "store"
    shutil.copytree(template, path)
    build_version_index(Store(str(path)), "v1", register_as="main")
    return path


@pytest.fixture
def store(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    clear_caches()
    return Store(str(store_copy(template, tmp_path, monkeypatch)))


@pytest.fixture
def indexed(indexed_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    clear_caches()
    return Store(str(store_copy(indexed_template, tmp_path, monkeypatch)))


def served_check(st: Store, version: str = "v1", policy: SignoffPolicy | None = None) -> tuple[CheckResult, dict]:
    results, details = signoff_checks(st, version, policy=policy)
    return next(r for r in results if r.name == CHECK_NAME), details


def root(st: Store) -> Path:
    return Path(str(st.root))


def other_index_bytes(st: Store, version: str) -> bytes:
    """A valid faiss HNSW index of the same shape as ``version``'s, built with other parameters (other bytes)."""
    return build_index(st.load_version(version).embeddings.vectors, AnnParams(m=8, ef_construction=40)).to_bytes()


def replace_file(path: Path, data: bytes) -> None:
    """Replace ``path`` the way a deploy would: a new file renamed over it."""
    tmp = path.with_name(path.name + ".new")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------------ 1. recall


def planted_vectors(n_clusters: int = 20, per: int = 200, dim: int = 32,
                    seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors in ``n_clusters`` tight clusters: every item's 10 nearest neighbors are in its own cluster."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((n_clusters, dim))
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    cluster = np.repeat(np.arange(n_clusters), per)
    x = centers[cluster] + 0.25 * rng.standard_normal((len(cluster), dim)) / np.sqrt(dim)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), cluster


def test_a_good_index_finds_the_planted_neighbors_and_its_recall_is_the_brute_force_one() -> None:
    x, cluster = planted_vectors()
    n, k = len(x), 10
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    exact = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    assert (cluster[exact] == cluster[:, None]).all()  # the known answer: every exact neighbor is a cluster mate

    index = build_index(x)
    m = measure_recall(index, x, k=k, queries=n, seed=0, ef_grid=None)
    assert m["queries"] == n and m["k"] == k
    assert m["recall"] >= 0.99

    found, _ = index.search(x, k, skip=np.arange(n))
    assert (found >= 0).all() and not (found == np.arange(n)[:, None]).any()  # k rows each, never the query
    assert (cluster[found] == cluster[:, None]).all()  # served neighbors are in the item's own planted cluster
    # recall computed here, by brute force: a hit is a served row whose similarity reaches the exact k-th one
    kth = np.take_along_axis(sims, exact[:, -1:], axis=1)[:, 0]
    hit = np.take_along_axis(sims, found, axis=1) >= kth[:, None] - TIE_TOLERANCE
    assert m["recall"] == pytest.approx(hit.mean(), abs=1e-6)
    strict = np.mean([len(set(f) & set(e)) / k for f, e in zip(found.tolist(), exact.tolist(), strict=True)])
    assert strict - 1e-6 <= m["recall"] <= strict + 0.002  # near-ties in float32 aside, the same as set overlap


class _ScriptedIndex(AnnIndex):
    """An "index" that returns the exact neighbors (brute force), except for query row ``row``, whose k-th
    neighbor is replaced by the exact list's entry at ``swap_with`` (0-based)."""

    def __init__(self, x: np.ndarray, row: int, swap_with: int) -> None:
        super().__init__(AnnParams(), len(x), x.shape[1], None)
        self.x, self.row, self.swap_with = x, row, swap_with

    def search(self, queries, k, *, ef=None, skip=None):  # type: ignore[no-untyped-def,override]
        sims = queries @ self.x.T
        sims[np.arange(len(queries)), skip] = -np.inf
        order = np.argsort(-sims, axis=1, kind="stable")
        codes = order[:, :k].copy()
        i = int(np.flatnonzero(skip == self.row)[0])
        codes[i, k - 1] = order[i, self.swap_with]
        return codes, np.take_along_axis(sims, codes, axis=1).astype(np.float32)


def test_a_neighbor_tied_with_the_kth_is_not_a_miss() -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((60, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    sims = x[0] @ x.T
    sims[0] = -np.inf
    order = np.argsort(-sims, kind="stable")
    # the farthest item (order[-1] is the query itself) becomes a copy of query 0's exact 10th neighbor: a tie
    x[order[-2]] = x[order[9]]
    sims = x[0] @ x.T
    sims[0] = -np.inf
    order = np.argsort(-sims, kind="stable")
    assert sims[order[9]] == sims[order[10]]  # the exact 10th and 11th are tied
    assert sims[order[11]] < sims[order[9]] - TIE_TOLERANCE  # and the 12th is not

    tied = measure_recall(_ScriptedIndex(x, row=0, swap_with=10), x, k=10, queries=len(x), ef_grid=None)
    assert tied["recall"] == 1.0
    missed = measure_recall(_ScriptedIndex(x, row=0, swap_with=11), x, k=10, queries=len(x), ef_grid=None)
    assert missed["recall"] == pytest.approx(1 - 0.1 / len(x), abs=1e-6)


# ------------------------------------------------------------------------------------------------ 2./3. sign-off


def test_the_signoff_check_warns_on_a_weak_index_and_passes_a_good_one(store: Store) -> None:
    first, _ = served_check(store)  # 3. no index: could not judge, never a pass
    assert first.state == "warning" and not first.passed and first.could_not_judge
    assert "no ANN index" in first.could_not_judge and first.acknowledgeable

    weak = build_version_index(store, "v1", params=WEAK, register_as="main")
    assert weak["measurement"]["recall"] < 0.95  # it really is weak on these vectors
    check, details = served_check(store)  # a new index: not the cached "could not judge"
    m = details["served"]["measurement"]
    assert check.state == "warning" and check.acknowledgeable and check.could_not_judge is None
    assert check.value == pytest.approx(m["recall"], abs=1e-4) and check.value < 0.95
    assert m["worst_band"] in ("head", "torso", "tail")
    assert f"lowest in the {m['worst_band']} band ({m['bands'][m['worst_band']]['recall']:.3f})" in check.detail
    assert "0.95" in check.threshold
    assert details["served"]["index"]["registered_as"] == "main"

    lenient, _ = served_check(store, policy=SignoffPolicy(served_recall=round(check.value - 0.05, 2)))
    assert lenient.state == "pass" and "lowest in the" not in lenient.detail  # the policy moves the verdict

    build_version_index(store, "v1", register_as="main")  # the default index replaces the weak one
    good, details = served_check(store)
    assert good.state == "pass" and good.value >= 0.95 and "0.95" in good.threshold
    assert details["served"]["index"]["build"] == DEFAULT_BUILD
    strict, _ = served_check(store, policy=SignoffPolicy(served_recall=1.0))
    assert strict.state == ("pass" if details["served"]["measurement"]["recall"] == 1.0 else "warning")


def test_another_versions_index_does_not_count(indexed: Store) -> None:
    assert check_served_neighbors in SIGNOFF_CHECKS
    results, _ = signoff_checks(indexed, "v2")
    assert [r.name for r in results].count(CHECK_NAME) == 1
    check = next(r for r in results if r.name == CHECK_NAME)
    assert index_for_version(indexed, "v1") is not None  # v1's index is registered, v2 has none
    assert check.could_not_judge and "v2" in check.could_not_judge and not check.passed
    assert check.state == "warning"


# ------------------------------------------------------------------------------------------------ 4. sha256


def test_a_replaced_kept_index_file_is_caught_by_open_signoff_and_verify(indexed: Store) -> None:
    assert not [p for p in verify_store(indexed)["problems"] if "index" in p]  # v1 is published: clean
    record = index_for_version(indexed, "v1")
    assert record is not None and record["registered_as"] == "main"
    kept = root(indexed) / record["index_file"]
    assert kept == root(indexed) / "ann" / "v1" / DEFAULT_BUILD / "index.faiss"
    replace_file(kept, other_index_bytes(indexed, "v1"))

    # a file of another size is refused before it is read; one of the same size by its sha256
    with pytest.raises(IntegrityError, match=f"index file {record['index_file']} has .*not the index that was built"):
        open_index(indexed, record)
    check, _ = served_check(indexed)
    assert check.state == "fail" and not check.acknowledgeable and record["index_file"] in check.detail
    problems = verify_store(indexed, key=None)["problems"]
    named = [p for p in problems if "index 'main'" in p]
    assert len(named) == 1 and "sha256" in named[0] and record["index_file"] in named[0]
    assert "not the registered" in named[0]
    with pytest.raises(IntegrityError, match="index file"):  # a rebuild with the same parameters refuses too
        build_version_index(indexed, "v1")


def test_a_replaced_or_missing_exported_index_is_caught_by_verify(indexed: Store, tmp_path: Path) -> None:
    out = tmp_path / "export"
    export_faiss(indexed, "v1", out=out, register_as="ext")
    report = verify_store(indexed)
    assert report["ok"], report["problems"] + report["unjudged"]  # the exported, registered file is the right one
    exported = out / "index.faiss"
    before, _ = served_check(indexed)
    assert before.state == "pass" and str(exported) in before.detail

    replace_file(exported, other_index_bytes(indexed, "v1"))
    problems = verify_store(indexed, key=None)["problems"]
    named = [p for p in problems if "index 'ext'" in p]
    assert len(named) == 1 and str(exported) in named[0] and "not the registered" in named[0]
    check, _ = served_check(indexed)  # "ext" serves (the newest registration of v1); not the cached pass
    assert check.state == "fail" and str(exported) in check.detail

    exported.unlink()
    report = verify_store(indexed)
    assert not [p for p in report["problems"] if "'ext'" in p]  # gone is not judged a mismatch...
    ext = next(r for r in report["indexes"] if r["index"] == "ext")
    assert ext["file_unchecked"] and "could not be read" in ext["file_unchecked"]
    assert ext["file_unchecked"] in report["unjudged"]
    assert not report["ok"] and report["verdict"] == "could not judge"  # ...and not ok either
    gone, _ = served_check(indexed)  # the same bytes are kept with the version: those are measured, and it says so
    assert gone.state == "pass" and f"its file {exported} cannot be read here" in gone.detail
    assert "the index kept with the version with the same bytes" in gone.detail
    stored = indexed.load_version("v1")  # the Neighbors page's served list reads the kept copy too, and says so
    item = stored.embeddings.vocab.ids[0]
    shown = served_neighbors(indexed, stored, item, k=10, build_if_missing=False)
    assert shown is not None and shown["source"]["name"] == "ext"
    assert shown["source"]["registered_file"] == str(exported)
    assert shown["source"]["index_file"] == built_indexes(indexed, "v1")[0]["index_file"]


def test_an_index_whose_bytes_are_nowhere_here_is_not_judged_from_a_rebuild(indexed: Store, tmp_path: Path) -> None:
    """A registered export whose file cannot be read here (on the serving host, or gone) and whose bytes are not
    kept with the version either: the check could not judge — it quotes the measurement the record holds — rather
    than passing on an index built now, which is not what customers are served."""
    export_faiss(indexed, "v1", out=tmp_path / "export", register_as="ext")
    (tmp_path / "export" / "index.faiss").unlink()
    kept = built_indexes(indexed, "v1")
    assert len(kept) == 1
    (root(indexed) / kept[0]["index_file"]).unlink()
    clear_caches()
    check, _ = served_check(indexed)
    assert check.state == "warning" and check.could_not_judge and check.acknowledgeable, check
    assert "cannot be read from here" in check.detail and "were not measured" in check.detail
    recorded = json.loads((root(indexed) / "indexes" / "ext.json").read_text())["measurement"]
    assert f"its record says recall@{recorded['k']} {recorded['recall']:.3f}" in check.detail


# ------------------------------------------------------------------------------------------------ 5. skew


def test_verify_names_an_index_built_from_another_version(indexed: Store) -> None:
    store = indexed  # v1 published, its index registered as "main"
    assert not [p for p in verify_store(store, key=None)["problems"] if "index skew" in p]  # v1 is published
    publish(store, "v2", by="alice")
    skew = [p for p in verify_store(store, key=None)["problems"] if "index skew" in p]
    assert len(skew) == 1 and "'main'" in skew[0] and "v1" in skew[0] and "published version is v2" in skew[0]
    build_version_index(store, "v2", register_as="main")
    report = verify_store(store)
    assert not [p for p in report["problems"] if "index" in p]
    assert [(r["index"], r["version"], r["ok"]) for r in report["indexes"]] == [("main", "v2", True)]


# ------------------------------------------------------------------------------------------------ 6. fusion


@pytest.fixture(scope="module")
def fused(template: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, list[str]]:
    """A fusion version of the demo data on v1 with item names as content, plus three cold-start items (a name,
    no behaviour); its default index is built and kept."""
    path = tmp_path_factory.mktemp("ann-fused") / "store"
    shutil.copytree(template, path)
    st = Store(str(path))
    dataset = load_demo_dataset()
    assert dataset.item_meta is not None
    names = dataset.item_meta.table.set_index("item_id")["name"].astype(str)
    cold = {"COLD-1": names.iloc[0], "COLD-2": names.iloc[1] + " SET", "COLD-3": "VINTAGE " + names.iloc[2]}
    text = pd.concat([names, pd.Series(cold)])
    train_version(st, "fusion", {"text_dim": 32}, dataset=dataset, base_version="v1",
                  content=content_from_text(text, dim=32), seed=0, name="fused")
    build_version_index(st, "fused")
    return st, list(cold)


def test_cold_start_rows_of_a_fusion_version_are_served_and_in_the_tail(fused: tuple[Store, list[str]]) -> None:
    st, cold = fused
    stored = st.load_version("fused")
    record = index_for_version(st, "fused")
    assert record is not None and record["registered_as"] is None
    assert record["n"] == len(stored.embeddings) == stored.manifest["n_items"]
    assert len(stored.embeddings) > len(st.load_version("v1").embeddings)  # the cold rows are in the version
    events = item_events(stored)
    assert events is not None
    bands = popularity_bands(events)
    for item in cold:
        code = stored.embeddings.vocab.code(item)
        assert events[code] == 0 and bands[code] == "tail"
        shown = served_neighbors(st, stored, item, k=10, build_if_missing=False)
        assert shown is not None and shown["source"]["kind"] == "kept"
        assert len(shown["served"]) == 10 and item not in [r["item_id"] for r in shown["served"]]
    assert record["measurement"]["bands"]["tail"]["n"] > 0


# ------------------------------------------------------------------------------------------------ 7. export


def test_faiss_export_round_trip_and_registration(store: Store, tmp_path: Path) -> None:
    import faiss

    out = tmp_path / "export"
    written = export_faiss(store, "v1", out=out, register_as="main")
    assert sorted(Path(p).name for p in written["paths"]) == ["export.json", "ids.json", "index.faiss"]
    receipt = json.loads((out / "export.json").read_text())
    manifest = store.manifest("v1")
    data = (out / "index.faiss").read_bytes()
    assert receipt["version"] == "v1" and receipt["format"] == "faiss"
    assert receipt["embeddings_parquet_sha256"] == manifest["files"]["embeddings.parquet"]["sha256"]
    assert receipt["index_sha256"] == hashlib.sha256(data).hexdigest()
    assert AnnParams.model_validate(receipt["params"]) == AnnParams()
    assert receipt["measurement"]["recall"] >= 0.95 and receipt["n"] == manifest["n_items"]
    ids = json.loads((out / "ids.json").read_text())
    stored = store.load_version("v1")
    assert ids == stored.embeddings.vocab.ids.tolist()

    registered = json.loads((root(store) / "indexes" / "main.json").read_text())
    assert written["registered"] == registered
    assert registered["index_file"] == os.path.abspath(out / "index.faiss")
    assert registered["index_sha256"] == receipt["index_sha256"] and registered["version"] == "v1"

    # the exported file, read by plain faiss the way HOW_TO_QUERY says, serves what served_neighbors shows
    raw = faiss.read_index(str(out / "index.faiss"))
    sp = faiss.SearchParametersHNSW()
    sp.efSearch = receipt["params"]["ef_search"]
    item = ids[123]
    code = ids.index(item)
    _, labels = raw.search(stored.embeddings.vectors[[code]], 11, params=sp)
    from_file = [ids[c] for c in labels[0].tolist() if c != code][:10]
    shown = served_neighbors(store, stored, item, k=10, build_if_missing=False)
    assert shown is not None and shown["source"]["kind"] == "registered"
    assert shown["source"]["index_file"] == registered["index_file"]
    assert [r["item_id"] for r in shown["served"]] == from_file

    again = register_index_from_export(store, "from-receipt", out / "export.json")
    assert again["index_file"] == registered["index_file"] and again["index_sha256"] == receipt["index_sha256"]
    assert again["version"] == "v1" and again["measurement"] == receipt["measurement"]

    with pytest.raises(StoreError, match="overwrite"):
        export_faiss(store, "v1", out=out)
    assert (out / "index.faiss").read_bytes() == data


# ------------------------------------------------------------------------------------------------ 8. determinism


def test_building_again_gives_the_same_index_file(indexed: Store) -> None:
    """faiss's HNSW draws each node's level from its own fixed-seed generator and rows are added in the
    version's order, so another build of the same vectors with the same parameters on 2 threads — here in memory,
    beside the file kept in the store — is byte-identical (nothing here takes a seed)."""
    record = index_for_version(indexed, "v1")
    assert record is not None and record["params"]["threads"] == 2
    kept = (root(indexed) / record["index_file"]).read_bytes()
    vectors = indexed.load_version("v1").embeddings.vectors
    assert build_index(vectors, AnnParams(threads=2)).to_bytes() == kept
    assert build_index(vectors, AnnParams(m=8, ef_construction=40)).to_bytes() != kept  # not trivially equal


# ------------------------------------------------------------------------------------------------ 9./10.


def test_served_neighbors_without_an_index(store: Store) -> None:
    stored = store.load_version("v2")
    item = stored.embeddings.vocab.ids[7]
    assert served_neighbors(store, stored, item, k=10, build_if_missing=False) is None
    shown = served_neighbors(store, stored, item, k=10)
    assert shown is not None and shown["source"]["kind"] == "memory" and shown["source"]["index_file"] is None
    assert len(shown["served"]) == len(shown["exact"]) == 10
    assert not (root(store) / "ann").exists() and not (root(store) / "indexes").exists()  # nothing written
    exact_ids = [r["item_id"] for r in shown["exact"]]
    assert all(r["exact_rank"] == (exact_ids.index(r["item_id"]) + 1 if r["item_id"] in exact_ids else None)
               for r in shown["served"])


def person(name: str) -> Actor:
    return Actor.from_claims({"iss": "https://idp.example.test", "sub": f"sub-{name}", "email": f"{name}@example.com",
                              "groups": []}, via="app sign-in")


def test_only_a_publisher_builds_or_exports_an_index(store: Store, tmp_path: Path) -> None:
    trainer, publisher = person("alice"), person("dave")
    set_policy(store, {"members": {"alice@example.com": ["trainer"], "dave@example.com": ["publisher", "admin"]},
                       "approvals_required": 1}, by="first admin")
    with pytest.raises(PermissionDenied):
        build_version_index(store, "v1", by=trainer, register_as="main")
    with pytest.raises(PermissionDenied):
        export_faiss(store, "v1", out=tmp_path / "out", by=trainer, register_as="main")
    assert not (root(store) / "ann").exists() and not (tmp_path / "out").exists()
    record = build_version_index(store, "v1", by=publisher, register_as="main")
    assert record["by"] == publisher.id
    assert index_for_version(store, "v1")["registered_as"] == "main"  # type: ignore[index]


@pytest.mark.parametrize("path", ["http://127.0.0.1:9/x.faiss", "s3://bucket/x.faiss", "/etc/passwd",
                                  "../../outside/index.faiss", "ann/../../x.faiss"])
def test_a_registration_cannot_make_the_server_read_another_file_or_fetch_a_url(
        indexed: Store, path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Registering such an index file is refused; a registry record edited to name one is never opened (no file
    read, no URL fetched): reading it, the sign-off check and verify all say it is refused."""
    import fsspec

    record = index_for_version(indexed, "v1")
    assert record is not None
    sha = record["embeddings_sha256"]
    with pytest.raises(StoreError, match="index file"):
        register_index(indexed, "evil", version="v1", embeddings_sha256=sha,
                       details={"index_file": path, "index_sha256": "0" * 64})
    registry = root(indexed) / "indexes" / "main.json"
    rec = json.loads(registry.read_text())
    rec["index_file"] = path
    registry.write_text(json.dumps(rec))
    clear_caches()

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"opened {args} {kwargs}")

    monkeypatch.setattr(fsspec, "open", never)
    monkeypatch.setattr(fsspec.core, "url_to_fs", never)
    with pytest.raises(IntegrityError, match="refusing to read"):
        open_index(indexed, {**rec, "registered_as": "main"})
    check, _ = served_check(indexed)
    assert check.state == "fail" and "refusing to read" in check.detail
    problems = [p for p in verify_store(indexed, key=None)["problems"] if "index 'main'" in p]
    assert problems and path in problems[0]


def test_other_search_settings_reuse_the_kept_index_and_measure_again(indexed: Store) -> None:
    """The check's advice "rebuild it with a larger ef_search" can be followed: the kept file is reused (never
    replaced), measured at the new ef_search, and the registration carries it."""
    first = index_for_version(indexed, "v1")
    assert first is not None and first["params"]["ef_search"] == AnnParams().ef_search
    kept_bytes = (root(indexed) / first["index_file"]).read_bytes()
    again = build_version_index(indexed, "v1", params=AnnParams(ef_search=11), register_as="main")
    assert again["params"]["ef_search"] == 11 and again["measurement"]["ef_search"] == 11
    assert again["index_sha256"] == first["index_sha256"]
    assert (root(indexed) / first["index_file"]).read_bytes() == kept_bytes
    now = index_for_version(indexed, "v1")
    assert now is not None and now["registered_as"] == "main" and now["params"]["ef_search"] == 11
    check, _ = served_check(indexed)
    assert "at ef 11" in check.detail


def test_an_index_file_built_elsewhere_is_never_read_and_cannot_be_judged(indexed: Store, tmp_path: Path) -> None:
    """A registered .faiss file whose bytes no kept build has (another store's, or crafted) is not deserialized:
    the check could not judge, it does not pass."""
    record = index_for_version(indexed, "v1")
    assert record is not None
    foreign = tmp_path / "elsewhere" / "index.faiss"
    foreign.parent.mkdir()
    data = other_index_bytes(indexed, "v1")
    foreign.write_bytes(data)
    register_index(indexed, "main", version="v1", embeddings_sha256=record["embeddings_sha256"],
                   details={"index_file": str(foreign), "index_sha256": hashlib.sha256(data).hexdigest(),
                            "index_bytes": len(data), "params": record["params"], "n": record["n"],
                            "dim": record["dim"]})
    clear_caches()
    check, _ = served_check(indexed)
    assert check.could_not_judge and "not built in this store" in check.could_not_judge and not check.passed


def test_a_version_meant_to_serve_next_items_is_not_judged_by_its_symmetric_index(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    st = Store(str(tmp_path / "s"))
    train_version(st, DEFAULT_METHOD, {"dim": 8, "epochs": 2, "directional": True, "serves": "next"},
                  dataset=load_demo_dataset(), seed=0, name="nx")
    build_version_index(st, "nx", mode="also")  # an index of the symmetric vectors: not the mode it serves
    check, _ = served_check(st, "nx")
    assert check.could_not_judge and "'next item'" in check.could_not_judge and not check.passed
