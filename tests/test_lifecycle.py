"""Tests of the sign-off and publish lifecycle: approvals, the pointer, the audit log, rollback, skew."""

from __future__ import annotations

import hashlib
import itertools
import json
import multiprocessing as mp
import uuid
from pathlib import Path

import numpy as np
import pytest

from behemb_core.checks.wording import describe_blocking, format_value
from behemb_core.embeddings import make_embeddings
from behemb_core.errors import BehembError, IntegrityError, StoreError
from behemb_core.store import (
    ApprovalRefused,
    CheckResult,
    Store,
    approvals,
    export_version,
    publish,
    published_version,
    read_audit_log,
    register_index,
    register_index_from_export,
    rollback,
    rollback_target,
    rollback_targets,
    verify_store,
)
from behemb_core.store.lifecycle import record_approval as approve  # the recording layer, checks given
from behemb_core.vocab import Vocabulary

# ----------------------------------------------------------------------------- helpers

PASS = CheckResult(name="recall@10", passed=True, value=0.31, threshold=">= 0.2", detail="holdout sessions")
FAIL_HARD = CheckResult(name="coverage", passed=False, value=0.42, threshold=">= 0.9", detail="share of items")
FAIL_SOFT = CheckResult(name="beats_item_knn", passed=False, value=-0.004, threshold=">= -0.01 within tolerance",
                        detail="recall delta vs item-kNN", acknowledgeable=True)


def save(store: Store, name: str, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    emb = make_embeddings(Vocabulary(np.arange(40) + 100), rng.normal(size=(40, 8)))
    store.save_version(emb, manifest={"method": "ppmi_svd"}, name=name)


def emb_sha(store: Store, name: str) -> str:
    return store.manifest(name)["files"]["embeddings.parquet"]["sha256"]


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    st = Store(tmp_path / "store")
    for i, name in enumerate(["beh_v1", "beh_v2", "beh_v3"]):
        save(st, name, seed=i)
    return st


def root(st: Store) -> Path:
    return Path(st.root)


def approved(st: Store, *names: str) -> None:
    for name in names:
        approve(st, name, by="alice", checks=[PASS])


# ----------------------------------------------------------------------------- checks and approval


def test_check_result_round_trip_and_nan() -> None:
    assert CheckResult.from_dict(FAIL_SOFT.to_dict()) == FAIL_SOFT
    assert json.loads(json.dumps(FAIL_SOFT.to_dict())) == FAIL_SOFT.to_dict()
    nan = CheckResult(name="ndcg", passed=False, value=float("nan"), threshold="> 0", detail="")
    assert nan.to_dict()["value"] == "nan"
    assert CheckResult(name="x", passed=np.bool_(True), value=np.float32(0.5), threshold="", detail="").passed is True
    with pytest.raises(StoreError, match="lacks"):
        CheckResult.from_dict({"name": "x"})
    with pytest.raises(StoreError, match="non-empty name"):
        CheckResult(name="", passed=True, value=1, threshold="", detail="")


def test_check_that_could_not_judge_is_a_warning_never_a_pass() -> None:
    with pytest.raises(StoreError, match="could not judge.*cannot pass"):
        CheckResult(name="golden pairs", passed=True, value=None, threshold="", detail="",
                    could_not_judge="no pair in this version")
    warn = CheckResult(name="golden pairs", passed=False, value=None, threshold="t", detail="d",
                       acknowledgeable=True, could_not_judge="no pair in this version")
    assert (PASS.state, warn.state, FAIL_HARD.state) == ("pass", "warning", "fail")
    assert warn.to_dict()["state"] == "warning" and CheckResult.from_dict(warn.to_dict()) == warn
    partial = {k: v for k, v in FAIL_SOFT.to_dict().items() if k not in ("state", "could_not_judge")}
    with pytest.raises(StoreError, match=r"lacks \['could_not_judge'\]"):  # a record of another shape is refused
        CheckResult.from_dict(partial)
    assert [format_value(v) for v in (1 / 3, None, 0.004321, 2, "ok", -0.0040)] == \
        ["0.333", "—", "0.00432", "2", "ok", "-0.004"]


def test_refusal_speaks_the_pages_words(store: Store) -> None:
    warn = CheckResult(name="stability vs published", passed=False, value=1 / 3, threshold="within noise",
                       detail="", acknowledgeable=True, could_not_judge="the versions share no items")
    with pytest.raises(ApprovalRefused) as err:
        approve(store, "beh_v1", by="alice", checks=[warn, FAIL_HARD])
    plain = str(err.value)  # the store names each blocking check, its state and what lifts it
    assert "“stability vs published” is a warning (could not judge: the versions share no items)" in plain
    assert "“coverage” is a fail (value 0.42, needs >= 0.9); it cannot be acknowledged" in plain
    assert [f["name"] for f in err.value.failed] == ["stability vs published", "coverage"]
    msg = describe_blocking([warn, FAIL_HARD])  # the sign-off side's words (signoff.approve raises with them)
    assert "“stability vs published” is a warning (could not judge: the versions share no items)" in msg
    assert "acknowledge it by name" in msg and "“coverage” is a fail (value 0.42" in msg
    assert "acknowledge=[" not in msg and "override=True" not in msg and "0.3333" not in msg


def test_rollback_targets_are_versions_published_before(store: Store) -> None:
    approved(store, "beh_v1", "beh_v2", "beh_v3")
    assert rollback_targets(store) == []
    publish(store, "beh_v1", by="alice")
    assert rollback_targets(store) == []  # beh_v2, beh_v3: approved but never published
    publish(store, "beh_v2", by="alice")
    assert rollback_targets(store) == ["beh_v1"]
    rollback(store, by="ops")
    assert rollback_targets(store) == ["beh_v2"]


def test_rollback_target_is_the_version_published_just_before_the_current_one(store: Store) -> None:
    """cs_v1 → demo_ppmi → rollback to cs_v1 → dig_cs: the default is cs_v1 (live just before), never demo_ppmi."""
    for seed, name in enumerate(("cs_v1", "demo_ppmi", "dig_cs")):
        save(store, name, seed)
    approved(store, "cs_v1", "demo_ppmi", "dig_cs")
    assert rollback_target(store) is None
    publish(store, "cs_v1", by="alice")
    assert rollback_target(store) is None  # the first published version
    publish(store, "demo_ppmi", by="alice")
    assert rollback_target(store) == "cs_v1"
    rollback(store, by="ops", to="cs_v1")
    assert rollback_target(store) == "demo_ppmi"
    publish(store, "dig_cs", by="alice")
    assert rollback_target(store) == "cs_v1"
    assert rollback_targets(store) == ["cs_v1", "demo_ppmi"]
    assert rollback(store, by="ops")["version"] == "cs_v1"  # the CLI's default: the same function
    assert rollback_target(store) == "dig_cs"


def test_approve_all_passing(store: Store) -> None:
    record = approve(store, "beh_v1", by="alice", checks=[PASS], note="looks good")
    assert record["status"] == "approved" and record["version"] == "beh_v1" and record["by"] == "alice"
    assert record["note"] == "looks good" and record["override"] is False
    assert record["failed"] == [] and record["acknowledged"] == []
    assert record["checks"] == [PASS.to_dict()]
    assert record["embeddings_sha256"] == emb_sha(store, "beh_v1")
    assert record["at"].endswith("+00:00")
    path = root(store) / "lifecycle" / "beh_v1" / "000001-approved.json"
    assert json.loads(path.read_text()) == record
    assert store.status("beh_v1") == "approved" and store.status("beh_v2") == "draft"
    assert approvals(store, "beh_v1") == [record] and approvals(store, "beh_v2") == []
    (entry,) = read_audit_log(store)
    assert entry["action"] == "approve" and entry["seq"] == 1 and entry["version"] == "beh_v1"
    assert entry["record"] == "000001-approved.json" and entry["previous"] is None
    again = approve(store, "beh_v1", by="bob", checks=[PASS])  # re-approval: another record, nothing rewritten
    assert approvals(store, "beh_v1") == [record, again]
    assert (root(store) / "lifecycle" / "beh_v1" / "000002-approved.json").is_file()
    with pytest.raises(StoreError, match="not found"):
        approvals(store, "beh_v9")


def test_refused_when_check_fails(store: Store) -> None:
    with pytest.raises(ApprovalRefused) as err:
        approve(store, "beh_v1", by="alice", checks=[PASS, FAIL_HARD])
    msg = str(err.value)
    assert "beh_v1" in msg and "coverage" in msg and "0.42" in msg and ">= 0.9" in msg and "recall@10" not in msg
    assert [f["name"] for f in err.value.failed] == ["coverage"]
    assert isinstance(err.value, StoreError) and isinstance(err.value, BehembError)
    assert store.status("beh_v1") == "draft" and read_audit_log(store) == []
    with pytest.raises(ApprovalRefused, match="beats_item_knn.*acknowledge"):  # not acknowledged
        approve(store, "beh_v1", by="alice", checks=[FAIL_SOFT])


def test_acknowledged_check_passes(store: Store) -> None:
    record = approve(store, "beh_v1", by="alice", checks=[PASS, FAIL_SOFT], acknowledge=["beats_item_knn"])
    assert record["acknowledged"] == ["beats_item_knn"] and record["failed"] == ["beats_item_knn"]
    assert record["override"] is False and store.status("beh_v1") == "approved"


def test_non_acknowledgeable_cannot_be_acknowledged(store: Store) -> None:
    with pytest.raises(ApprovalRefused, match="coverage.*cannot be acknowledged"):
        approve(store, "beh_v1", by="alice", checks=[FAIL_HARD, FAIL_SOFT],
                acknowledge=["coverage", "beats_item_knn"])
    with pytest.raises(StoreError, match="no check of that name"):
        approve(store, "beh_v1", by="alice", checks=[PASS], acknowledge=["typo"])
    with pytest.raises(StoreError, match="unique"):
        approve(store, "beh_v1", by="alice", checks=[PASS, PASS])
    assert store.status("beh_v1") == "draft"


def test_override_recorded(store: Store) -> None:
    record = approve(store, "beh_v1", by="carol", checks=[FAIL_HARD, FAIL_SOFT], override=True, note="hotfix")
    assert record["override"] is True and record["failed"] == ["coverage", "beats_item_knn"]
    assert record["acknowledged"] == []
    assert approvals(store, "beh_v1")[0]["override"] is True


def test_approving_tampered_version_refused(store: Store) -> None:
    flip_byte(root(store) / "versions" / "beh_v1" / "embeddings.parquet")
    with pytest.raises(IntegrityError, match="beh_v1.*embeddings.parquet"):
        approve(store, "beh_v1", by="alice", checks=[PASS])
    assert store.status("beh_v1") == "draft"
    with pytest.raises(StoreError, match="not found"):
        approve(store, "beh_v9", by="alice", checks=[PASS])


@pytest.mark.parametrize("by", ["", "   ", "a" * 101, "bob\nmallory", "x\x00y", "tab\there", "a\u2028b", 5, None])
def test_by_validated(store: Store, by: object) -> None:
    with pytest.raises(StoreError, match="'by'"):
        approve(store, "beh_v1", by=by, checks=[PASS])  # type: ignore[arg-type]
    approved(store, "beh_v1")
    with pytest.raises(StoreError, match="'by'"):
        publish(store, "beh_v1", by=by)  # type: ignore[arg-type]
    assert published_version(store) is None
    assert approve(store, "beh_v1", by="Zoë Ω " + "a" * 94, checks=[])["by"].startswith("Zoë")


# ----------------------------------------------------------------------------- publish and rollback


def test_publish_only_approved(store: Store) -> None:
    with pytest.raises(StoreError, match="beh_v1.*'draft'"):
        publish(store, "beh_v1", by="alice")
    assert published_version(store) is None and not (root(store) / "published.json").exists()
    with pytest.raises(StoreError, match="not found"):
        publish(store, "beh_v9", by="alice")


def test_publish_moves_pointer(store: Store) -> None:
    approved(store, "beh_v1", "beh_v2")
    first = publish(store, "beh_v1", by="alice")
    assert first["previous"] is None and first["action"] == "publish"
    assert store.status("beh_v1") == "published" and store.status("beh_v2") == "approved"
    second = publish(store, "beh_v2", by="bob")
    pointer = json.loads((root(store) / "published.json").read_text())
    assert pointer == second
    assert pointer["version"] == "beh_v2" and pointer["previous"] == "beh_v1" and pointer["by"] == "bob"
    assert pointer["embeddings_sha256"] == emb_sha(store, "beh_v2")
    assert published_version(store) == "beh_v2"
    assert store.status("beh_v2") == "published" and store.status("beh_v1") == "approved"
    assert {v.name: v.status for v in store.list_versions()} == {"beh_v1": "approved", "beh_v2": "published",
                                                                 "beh_v3": "draft"}
    with pytest.raises(StoreError, match="already the published version"):
        publish(store, "beh_v2", by="bob")
    assert [e["action"] for e in read_audit_log(store)] == ["approve", "approve", "publish", "publish"]
    assert not [p for p in root(store).iterdir() if ".tmp-" in p.name]


def test_publish_refuses_tampered_version(store: Store) -> None:
    approved(store, "beh_v1")
    flip_byte(root(store) / "versions" / "beh_v1" / "embeddings.parquet")
    with pytest.raises(IntegrityError, match="beh_v1"):
        publish(store, "beh_v1", by="alice")
    assert published_version(store) is None


def test_rollback(store: Store) -> None:
    with pytest.raises(StoreError, match="nothing is published"):
        rollback(store, by="alice")
    approved(store, "beh_v1", "beh_v2", "beh_v3")
    publish(store, "beh_v1", by="alice")
    with pytest.raises(StoreError, match="no earlier published version.*beh_v1"):
        rollback(store, by="alice")
    publish(store, "beh_v2", by="alice")
    entry = rollback(store, by="ops")
    assert entry["action"] == "rollback" and entry["version"] == "beh_v1" and entry["previous"] == "beh_v2"
    assert published_version(store) == "beh_v1" and store.status("beh_v2") == "approved"
    assert rollback(store, by="ops")["version"] == "beh_v2"  # rolling back twice returns
    named = rollback(store, by="ops", to="beh_v3")  # approved, never published: allowed
    assert named["version"] == "beh_v3" and named["previous"] == "beh_v2"
    with pytest.raises(StoreError, match="already the published version"):
        rollback(store, by="ops", to="beh_v3")
    save(store, "beh_v4", seed=9)
    with pytest.raises(StoreError, match="'draft'"):
        rollback(store, by="ops", to="beh_v4")
    assert [e["action"] for e in read_audit_log(store)][-4:] == ["publish", "rollback", "rollback", "rollback"]
    assert verify_store(store)["ok"]


def test_versions_immutable_and_audit_log_append_only(store: Store) -> None:
    before = tree_bytes(root(store) / "versions")
    log = root(store) / "audit.log"
    snapshots: list[bytes] = []
    actions = [lambda: approved(store, "beh_v1", "beh_v2"), lambda: publish(store, "beh_v1", by="a"),
               lambda: publish(store, "beh_v2", by="b"), lambda: rollback(store, by="c"),
               lambda: approve(store, "beh_v3", by="d", checks=[FAIL_HARD], override=True),
               lambda: rollback(store, by="e", to="beh_v3"),
               lambda: register_index(store, "main-ann", version="beh_v3", embeddings_sha256=emb_sha(store, "beh_v3"))]
    for action in actions:
        action()
        snapshots.append(log.read_bytes())
    for earlier, later in itertools.pairwise(snapshots):
        assert later.startswith(earlier)
    assert tree_bytes(root(store) / "versions") == before
    entries = read_audit_log(store)
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    assert all(line.endswith(b"}") for line in log.read_bytes().split(b"\n")[:-1])


# ----------------------------------------------------------------------------- concurrency


def _publish_worker(root_dir: str, versions: tuple[str, str], n: int, barrier, queue) -> None:
    try:
        barrier.wait(timeout=120)
        done = attempts = 0
        while done < n:
            attempts += 1
            if attempts > 100 * n:
                raise RuntimeError("too many attempts")
            try:
                publish(root_dir, versions[attempts % 2], by=f"worker-{uuid.uuid4().hex[:6]}")
                done += 1
            except StoreError as exc:
                if "already the published version" not in str(exc):
                    raise
        queue.put(("ok", done))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        queue.put(("error", repr(exc)))


def test_concurrent_publishes_keep_pointer_and_log_consistent(store: Store) -> None:
    approved(store, "beh_v1", "beh_v2")
    n_procs, n_each = 8, 10
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(n_procs)
    queue = ctx.Queue()
    procs = [ctx.Process(target=_publish_worker, args=(store.root, ("beh_v1", "beh_v2"), n_each, barrier, queue))
             for _ in range(n_procs)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert results == [("ok", n_each)] * n_procs, results
    assert published_version(store) in ("beh_v1", "beh_v2")
    entries = read_audit_log(store)
    moves = [e for e in entries if e["action"] == "publish"]
    assert len(moves) == n_procs * n_each and len(entries) == n_procs * n_each + 2
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    previous = None
    for e in moves:
        assert e["previous"] == previous and e["version"] != previous
        previous = e["version"]
    assert json.loads((root(store) / "published.json").read_text()) == moves[-1]
    report = verify_store(store)
    assert report["ok"], report["problems"]
    assert not [p for p in root(store).iterdir() if ".tmp-" in p.name]


# ----------------------------------------------------------------------------- verify_store and index skew


def test_verify_clean_store(store: Store, tmp_path: Path) -> None:
    empty = verify_store(Store(tmp_path / "empty"))
    assert empty["ok"] and empty["versions_checked"] == 0 and empty["published"] is None
    approved(store, "beh_v1", "beh_v2")
    publish(store, "beh_v1", by="a")
    publish(store, "beh_v2", by="a")
    export_version(store, "beh_v2", fmt="npy", out=tmp_path / "export")
    record = register_index_from_export(store, "main-ann", tmp_path / "export" / "export.json", by="builder")
    assert record["version"] == "beh_v2" and record["embeddings_sha256"] == emb_sha(store, "beh_v2")
    report = verify_store(store)
    assert report["ok"], report["problems"]
    assert report["versions_checked"] == 3 and report["published"] == "beh_v2" and report["problems"] == []
    assert report["indexes"] == [{"index": "main-ann", "version": "beh_v2", "embeddings_sha256": emb_sha(
        store, "beh_v2"), "mode": "also", "published": True, "ok": True, "problem": None,
        "index_file": None, "file_unchecked": None}]  # an npy export registers no index file: nothing to hash


def test_verify_detects_tampered_published_version(store: Store) -> None:
    approved(store, "beh_v1")
    publish(store, "beh_v1", by="a")
    flip_byte(root(store) / "versions" / "beh_v1" / "embeddings.parquet")
    report = verify_store(store)
    assert not report["ok"]
    assert any("published version 'beh_v1' failed verification" in p for p in report["problems"])
    assert any("embeddings.parquet" in p for p in report["problems"])


def test_verify_detects_pointer_to_missing_version(store: Store) -> None:
    approved(store, "beh_v1")
    entry = publish(store, "beh_v1", by="a")
    (root(store) / "published.json").write_text(json.dumps({**entry, "version": "beh_v7"}))
    report = verify_store(store)
    assert not report["ok"] and report["published"] == "beh_v7"
    assert any("beh_v7" in p and "not in the store" in p for p in report["problems"])
    assert any("not what the audit log's last publish" in p for p in report["problems"])
    (root(store) / "published.json").write_text("{not json")
    with pytest.raises(IntegrityError, match="published.json"):
        published_version(store)
    with pytest.raises(IntegrityError, match="published.json"):
        store.status("beh_v1")
    assert any("published.json" in p for p in verify_store(store)["problems"])


def test_verify_detects_corrupt_audit_line(store: Store) -> None:
    approved(store, "beh_v1", "beh_v2")
    publish(store, "beh_v1", by="a")
    log = root(store) / "audit.log"
    lines = log.read_bytes().split(b"\n")
    lines[1] = lines[1][:-5]  # truncate line 2
    log.write_bytes(b"\n".join(lines))
    with pytest.raises(IntegrityError, match="line 2"):
        read_audit_log(store)
    report = verify_store(store)
    assert not report["ok"] and any("line 2" in p for p in report["problems"])
    with pytest.raises(IntegrityError, match="line 2"):  # no appends to a log that no longer parses
        publish(store, "beh_v2", by="a")
    assert published_version(store) == "beh_v1"


def test_verify_detects_broken_chain(store: Store) -> None:
    approved(store, "beh_v1", "beh_v2")
    publish(store, "beh_v1", by="a")
    publish(store, "beh_v2", by="a")
    log = root(store) / "audit.log"
    entries = read_audit_log(store)
    entries[3]["previous"] = "beh_v3"
    log.write_text("".join(json.dumps(e) + "\n" for e in entries[:2] + entries[3:]))  # also drop a line
    problems = verify_store(store)["problems"]
    assert any("seq" in p and "expected 3" in p for p in problems)
    assert any("previous version was 'beh_v3'" in p for p in problems)


def test_index_skew_from_old_version_and_wrong_sha(store: Store) -> None:
    approved(store, "beh_v1", "beh_v2")
    publish(store, "beh_v1", by="a")
    register_index(store, "main-ann", version="beh_v1", embeddings_sha256=emb_sha(store, "beh_v1"))
    assert verify_store(store)["ok"]
    publish(store, "beh_v2", by="a")  # the index was not rebuilt
    report = verify_store(store)
    assert not report["ok"]
    (problem,) = report["problems"]
    sha = emb_sha(store, "beh_v1")
    assert problem == (f"index skew: index 'main-ann' was built from beh_v1 (sha256 {sha[:12]}…) but the "
                       "published version is beh_v2: rebuild the index from the published version, or publish beh_v1")
    assert report["indexes"][0]["published"] is False and report["indexes"][0]["ok"] is False
    wrong = hashlib.sha256(b"something else").hexdigest()
    register_index(store, "main-ann", version="beh_v2", embeddings_sha256=wrong.upper())
    (problem,) = verify_store(store)["problems"]
    assert "main-ann" in problem and wrong[:12] in problem and "beh_v2" in problem and "rebuild" in problem
    register_index(store, "old-ann", version="beh_v8", embeddings_sha256=wrong)
    assert any("old-ann" in p and "not in the store" in p for p in verify_store(store)["problems"])


def test_index_record_with_a_malformed_version_is_skew(store: Store) -> None:
    """A hand-edited index record whose version is not a name (here a list) is reported, not a crash."""
    approved(store, "beh_v1")
    publish(store, "beh_v1", by="a")
    register_index(store, "main-ann", version="beh_v1", embeddings_sha256=emb_sha(store, "beh_v1"))
    path = root(store) / "indexes" / "main-ann.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "version": ["beh_v1"]}))
    report = verify_store(store)
    assert not report["ok"]
    assert any("main-ann" in p and "not in the store" in p for p in report["problems"])


def test_register_index_validation(store: Store, tmp_path: Path) -> None:
    sha = emb_sha(store, "beh_v1")
    for bad in ("../x", "", ".hidden", "a/b"):
        with pytest.raises(StoreError, match="invalid index name"):
            register_index(store, bad, version="beh_v1", embeddings_sha256=sha)
    with pytest.raises(StoreError, match="64 hex"):
        register_index(store, "ann", version="beh_v1", embeddings_sha256="abc")
    with pytest.raises(StoreError, match="not found"):
        register_index_from_export(store, "ann", tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text(json.dumps({"version": "beh_v1"}))
    with pytest.raises(StoreError, match="embeddings_parquet_sha256"):
        register_index_from_export(store, "ann", tmp_path / "bad.json")
    assert not (root(store) / "indexes").exists()


# ----------------------------------------------------------------------------- other filesystems


def test_memory_store_lifecycle() -> None:
    st = Store(f"memory://lifecycle-{uuid.uuid4().hex}")
    save(st, "m_v1", seed=1)
    save(st, "m_v2", seed=2)
    approve(st, "m_v1", by="a", checks=[PASS])
    approve(st, "m_v2", by="a", checks=[PASS])
    publish(st, "m_v1", by="a")
    publish(st, "m_v2", by="a")
    assert rollback(st, by="a")["version"] == "m_v1"
    assert st.status("m_v1") == "published" and st.status("m_v2") == "approved"
    assert [e["seq"] for e in read_audit_log(st)] == [1, 2, 3, 4, 5]
    register_index(st, "ann", version="m_v1", embeddings_sha256=emb_sha(st, "m_v1"))
    report = verify_store(st)
    assert report["ok"], report["problems"]
    assert report["versions_checked"] == 2 and report["published"] == "m_v1"


def test_store_without_locks_says_single_writer_and_refuses_a_second_writer_it_can_see() -> None:
    import json
    import time

    st = Store(f"memory://lease-{uuid.uuid4().hex}")
    assert st.single_writer and "one person or job at a time" in st.writer_note()
    assert Store(".").writer_note() is None
    save(st, "m_v1", seed=1)
    lease = st.join(".lifecycle.lease")
    st.fs.pipe_file(lease, json.dumps({"owner": "other", "host": "elsewhere", "pid": 7, "at": time.time()}).encode())
    with pytest.raises(StoreError, match="another process \\(elsewhere, pid 7\\).*one writer at a time"):
        approve(st, "m_v1", by="a", checks=[PASS])
    assert read_audit_log(st) == []  # nothing was done
    st.fs.pipe_file(lease, json.dumps({"owner": "other", "at": time.time() - 3600}).encode())  # a crashed writer's
    approve(st, "m_v1", by="a", checks=[PASS])
    assert not st.fs.exists(lease) and len(read_audit_log(st)) == 1
