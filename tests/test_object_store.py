"""Versions and their lifecycle on an S3-compatible object store (``s3://`` through s3fs), with the endpoint from
``AWS_ENDPOINT_URL`` as users set it: the same store code as a local folder, and several writers serialised by
S3's conditional writes (a lease object created only if absent, the audit log replaced only if unchanged)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from concurrent_publishers import run_concurrent_publishers
from conftest import open_app

from behemb_core.embeddings import make_embeddings
from behemb_core.store import CheckResult, Store, mark_pair, publish, read_audit_log, rollback
from behemb_core.store.lifecycle import published_version
from behemb_core.store.lifecycle import record_approval as approve  # the recording layer, checks given
from behemb_core.store.verify import verify_store
from behemb_core.vocab import Vocabulary

REPO = Path(__file__).resolve().parents[1]
CHECKS = [CheckResult(name="files intact", passed=True, value=0, threshold="0 problems", detail="")]


def fresh_store(bucket: str) -> Store:
    return Store(f"s3://{bucket}/store-{uuid.uuid4().hex[:8]}")


def save(st: Store, name: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    st.save_version(make_embeddings(Vocabulary([f"i{k}" for k in range(12)]), rng.normal(size=(12, 4))),
                    manifest={"method": "hand", "seed": seed}, name=name)


def test_versions_and_lifecycle_on_s3(s3_bucket: str) -> None:
    st = fresh_store(s3_bucket)
    assert not st.single_writer and st.writer_note() is None  # conditional writes serialise writers
    for i, name in enumerate(("a", "b")):
        save(st, name, i)
        approve(st, name, by="Ada", checks=CHECKS)
    publish(st, "a", by="Ada")
    publish(st, "b", by="Ada")
    assert rollback(st, by="Bob")["version"] == "a"
    mark_pair(st, "i1", "i2", label="good", by="Ada")
    assert [v.name for v in st.list_versions()] == ["a", "b"]
    assert published_version(st) == "a" and st.status("b") == "approved"
    assert st.load_version("b").embeddings.vectors.shape == (12, 4)
    report = verify_store(st)
    assert report["ok"] and not report["pending"], (report["problems"], report["pending"])
    assert [e["action"] for e in read_audit_log(st)] == ["approve", "approve", "publish", "publish", "rollback"]
    assert not st.fs.exists(st.join(".lifecycle.lease"))  # released after every action


def test_a_crashed_writers_lease_is_taken_over(s3_bucket: str, monkeypatch) -> None:
    """A lease is stale when the server last wrote it more than LEASE_SECONDS ago by the server's clock (shortened
    here to 1 s; S3's timestamps have whole seconds, hence the wait of 2 s); the time written in it is ignored."""
    from behemb_core.store import _lease

    st = fresh_store(s3_bucket)
    save(st, "a", 0)
    monkeypatch.setattr(_lease, "LEASE_SECONDS", 1.0)
    crashed = {"owner": "gone", "host": "elsewhere", "pid": 1, "at": time.time() + 3600}  # its clock: no matter
    st.fs.pipe_file(st.join(".lifecycle.lease"), json.dumps(crashed).encode())
    time.sleep(2.05)
    started = time.monotonic()
    approve(st, "a", by="Ada", checks=CHECKS)  # waits for nothing: the server wrote the lease over a second ago
    assert st.status("a") == "approved" and time.monotonic() - started < 5
    assert not st.fs.exists(st.join(".lifecycle.lease"))


@pytest.mark.slow
def test_eight_concurrent_publishers_leave_a_consistent_pointer_and_log(s3_bucket: str, tmp_path: Path) -> None:
    """8 processes publish and roll back at the same time on one S3 store: every action that reported success is
    in the audit log once, seq runs 1, 2, 3…, each move's previous is the version the move before it published,
    and the pointer is the last move — what verify checks. One of the eight stalls inside the lock past its
    (shortened) lease: another takes the lease over, and the stalled action is refused with nothing written."""
    st = fresh_store(s3_bucket)
    for i, name in enumerate(("a", "b", "c")):
        save(st, name, i)
        approve(st, name, by="setup", checks=CHECKS)
    publish(st, "a", by="setup")
    run_concurrent_publishers(st, ["a", "b", "c"], tmp_path, outlive_lease=True)


def test_a_version_write_is_all_or_nothing_and_one_writer_gets_a_name(s3_bucket: str, monkeypatch) -> None:
    """On S3 a version has no rename to appear atomically: a claim (created only if absent) keeps a second writer
    of the same name out before it writes anything, and the manifest, written last and create-only, is what makes
    the folder a version. An interrupted write leaves nothing listed or loadable; verify lists it as incomplete;
    a claim older than an hour is removed by repair."""
    from behemb_core.errors import VersionExistsError
    from behemb_core.store import _version_write
    from behemb_core.store.repair import repair

    st = fresh_store(s3_bucket)
    save(st, "a", 0)
    with pytest.raises(VersionExistsError, match="already exists"):
        save(st, "a", 1)
    assert not st.fs.exists(st.join("versions", "a", ".claim")) and st.verify_version("a") == []

    # another writer holds the name: refused before anything is written
    st.fs.pipe_file(st.join("versions", "b", ".claim"), json.dumps({"at": time.time()}).encode())
    with pytest.raises(VersionExistsError, match="being written by another process"):
        save(st, "b", 2)
    assert st.fs.ls(st.join("versions", "b")) == [st.join("versions", "b", ".claim")]

    # interrupted before the manifest: nothing listed or loadable, and our own files are gone
    original = _version_write._write_file

    def crash(store, path, data, **kwargs):
        if path.endswith("manifest.json"):
            raise KeyboardInterrupt("simulated crash")
        original(store, path, data, **kwargs)

    monkeypatch.setattr(_version_write, "_write_file", crash)
    with pytest.raises(KeyboardInterrupt):
        save(st, "c", 3)
    monkeypatch.undo()
    assert [v.name for v in st.list_versions()] == ["a"] and not st.exists("c")

    # a claim left an hour ago by a crashed writer: incomplete for verify, removed by repair, then the name is free
    st.fs.pipe_file(st.join("versions", "b", ".claim"), json.dumps({"at": time.time() - 7200}).encode())
    assert "b" in verify_store(st)["incomplete"]
    assert repair(st, apply=True, by="ops")["done"]
    save(st, "b", 2)
    assert [v.name for v in st.list_versions()] == ["a", "b"] and verify_store(st)["ok"]


def test_exports_and_the_projection_cache_on_s3(s3_bucket: str, tmp_path: Path) -> None:
    """An export from an S3 store to a local folder and to another S3 prefix, and a projection cached in the S3
    store and read back, with the version folder untouched."""
    from behemb_core.projection import load_cached_projection, project_version
    from behemb_core.store import export_version

    st = fresh_store(s3_bucket)
    rng = np.random.default_rng(5)
    st.save_version(make_embeddings(Vocabulary([f"i{k}" for k in range(60)]), rng.normal(size=(60, 8))),
                    manifest={"method": "hand"}, name="a")
    before = sorted(st.fs.ls(st.join("versions", "a")))
    local = export_version(st, "a", fmt="npy", out=tmp_path / "npy")
    assert np.load(tmp_path / "npy" / "embeddings.npy").shape == (60, 8) and len(local) == 3
    remote_out = f"s3://{s3_bucket}/exports-{uuid.uuid4().hex[:8]}/a.jsonl"
    (written,) = export_version(st, "a", fmt="jsonl", out=remote_out)
    assert written == remote_out and len(st.fs.cat_file(remote_out).splitlines()) == 60
    with pytest.raises(Exception, match="inside the store"):
        export_version(st, "a", fmt="jsonl", out=f"{st.url}/versions/a/x.jsonl")
    params = {"n_neighbors": 5, "seed": 0}
    assert load_cached_projection(st, "a", params) is None
    first = project_version(st, "a", params)
    cached = load_cached_projection(st, "a", params)
    assert cached is not None and np.allclose(cached[["x", "y"]].to_numpy(), first[["x", "y"]].to_numpy())
    assert sorted(st.fs.ls(st.join("versions", "a"))) == before  # the cache lives beside the versions


def test_the_neighbors_page_serves_a_version_from_s3(s3_bucket: str, monkeypatch) -> None:
    """The app pointed at an S3 store (the sidebar's store field, endpoint from the environment) lists its
    versions and shows an item's neighbors by name — the same page code as for a folder."""
    from behemb_core.demo import load_demo_dataset
    from behemb_core.train import train_version

    st = fresh_store(s3_bucket)
    train_version(st, "ppmi_svd", {"dim": 16}, dataset=load_demo_dataset(), seed=0, name="retail-s3")
    at = open_app(st.url, "pages/3_Neighbors.py", monkeypatch)
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key="nb_version").value == "retail-s3"
    at.text_input(key="nb_filter").set_value("85123A").run()
    assert any("WHITE HANGING HEART T" in s.value for s in at.subheader)
    table = at.dataframe[0].value
    assert len(table) == 10 and (table["name"].str.len() > 0).all() and "85123A" not in table["item_id"].tolist()
