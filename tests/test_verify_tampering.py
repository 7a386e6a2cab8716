"""``verify`` trusts nothing: every kind of tampering the issue lists is detected and named (file and what
disagrees), on a store with a history — approvals, publishes, a rollback, golden marks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from behemb_core.embeddings import make_embeddings
from behemb_core.store import CheckResult, Store, mark_pair, publish, rollback
from behemb_core.store.lifecycle import record_approval as approve  # the recording layer, checks given
from behemb_core.store.verify import verify_store
from behemb_core.vocab import Vocabulary

CHECKS = [CheckResult(name="files intact", passed=True, value=0, threshold="0 problems", detail="")]


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tamper") / "store"
    st = Store(root)
    rng = np.random.default_rng(1)
    for v in ("a", "b", "c", "d"):
        st.save_version(make_embeddings(Vocabulary([f"i{k}" for k in range(9)]), rng.normal(size=(9, 3))),
                        manifest={"method": "hand", "seed": 0}, name=v)
    for v in ("a", "b", "c"):
        approve(st, v, by="Ada", checks=CHECKS)
    publish(st, "a", by="Ada")
    publish(st, "b", by="Bob")
    rollback(st, by="Bob")  # a is published again; b was published once
    mark_pair(st, "i1", "i2", label="good", by="Ada")
    mark_pair(st, "i3", "i4", label="bad", by="Ada")
    assert verify_store(st)["ok"], verify_store(st)["problems"]
    return root


@pytest.fixture
def store(history: Path, tmp_path: Path) -> Path:
    shutil.copytree(history, tmp_path / "s")
    return tmp_path / "s"


def problems(root: Path) -> list[str]:
    report = verify_store(Store(root))
    assert not report["ok"], "tampering went unnoticed"
    return report["problems"]


def edit_json(path: Path, **changes) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}, indent=2))


def lines(root: Path, name: str = "audit.log") -> list[str]:
    return (root / name).read_text().splitlines(keepends=True)


def test_manifest_of_a_draft_edited(store: Path) -> None:
    edit_json(store / "versions" / "d" / "manifest.json", method="item2vec")
    found = problems(store)
    assert any("'d'" in p and "manifest.json was changed after the version was written" in p for p in found), found


def test_manifest_of_an_approved_version_edited(store: Path) -> None:
    edit_json(store / "versions" / "c" / "manifest.json", seed=7)
    found = problems(store)
    assert any("'c'" in p and "manifest.json changed since it was approved" in p for p in found), found
    assert any("'c'" in p and "seal" in p for p in found), found


def test_last_audit_line_deleted(store: Path) -> None:
    kept = lines(store)[:-1]
    (store / "audit.log").write_text("".join(kept))
    found = problems(store)
    assert any("audit.log ends at line" in p and "lines were removed from the end" in p for p in found), found


def test_a_field_of_an_old_audit_line_edited(store: Path) -> None:
    all_lines = lines(store)
    entry = json.loads(all_lines[1])
    entry["by"] = "Mallory"  # who approved b
    all_lines[1] = json.dumps(entry, sort_keys=True) + "\n"
    (store / "audit.log").write_text("".join(all_lines))
    found = problems(store)
    assert any("audit.log line 3: prev_sha256 does not match line 2" in p for p in found), found


def test_a_middle_line_removed_or_lines_reordered(store: Path, tmp_path: Path) -> None:
    all_lines = lines(store)
    (store / "audit.log").write_text("".join(all_lines[:2] + all_lines[3:]))
    found = problems(store)
    assert any("line 3: prev_sha256 does not match line 2" in p for p in found), found
    assert any("seq 4, expected 3" in p for p in found), found
    other = tmp_path / "reordered"
    shutil.copytree(store, other)
    (other / "audit.log").write_text("".join([all_lines[1], all_lines[0], *all_lines[2:]]))
    assert any("line 1: prev_sha256 does not match" in p for p in problems(other))


def test_approved_or_once_published_version_deleted(store: Path) -> None:
    shutil.rmtree(store / "versions" / "c")  # approved, never published
    shutil.rmtree(store / "versions" / "b")  # published once, then rolled back from
    found = problems(store)
    assert any("version 'c' was approved (audit seq 3) but is no longer in the store" in p for p in found), found
    assert any("version 'b' was approved" in p and "no longer in the store" in p for p in found), found


def test_table_and_manifest_swapped_for_another_versions(store: Path) -> None:
    for fn in ("embeddings.parquet", "manifest.json"):
        shutil.copy(store / "versions" / "b" / fn, store / "versions" / "c" / fn)
    found = problems(store)
    assert any("'c'" in p and "names version 'b', not 'c'" in p for p in found), found
    assert any("'c'" in p and "embeddings.parquet changed since it was approved" in p for p in found), found


def test_approval_record_edited_or_added_by_hand(store: Path) -> None:
    record = next((store / "lifecycle" / "c").glob("*-approved.json"))
    edit_json(record, by="Mallory")
    found = problems(store)
    assert any(record.name in p and "differs from what audit entry seq 3 committed" in p for p in found), found
    forged = store / "lifecycle" / "d" / "000042-approved.json"
    forged.parent.mkdir()
    forged.write_text(json.dumps({"status": "approved", "version": "d", "by": "Mallory"}))
    assert any("000042-approved.json has no audit entry" in p for p in problems(store))


def test_pointer_edited(store: Path) -> None:
    edit_json(store / "published.json", version="c")
    found = problems(store)
    assert any("published.json names 'c'" in p and "not what the audit log's last rollback" in p for p in found)


def test_golden_pairs_edited_or_head_removed(store: Path, tmp_path: Path) -> None:
    path = store / "golden" / "pairs.jsonl"
    first, second = path.read_text().splitlines(keepends=True)
    entry = json.loads(first)
    entry["label"] = "bad"
    path.write_text(json.dumps(entry, sort_keys=True) + "\n" + second)
    assert any("golden pairs" in p and "line 2: prev_sha256 does not match line 1" in p for p in problems(store))
    other = tmp_path / "headless"
    shutil.copytree(store, other)
    (other / "audit.log.head").unlink()
    assert any("audit.log.head is missing" in p for p in problems(other))


def test_lines_without_a_chain_link_are_findings_not_an_older_format(tmp_path: Path) -> None:
    """Lines without prev_sha256 (as a hand-written log has) are no longer read as "written before the chain
    existed": verify names each of them, and with the key each is also unauthenticated."""
    st = Store(tmp_path / "old")
    rng = np.random.default_rng(2)
    for v in ("a", "b"):
        st.save_version(make_embeddings(Vocabulary(["x", "y", "z"]), rng.normal(size=(3, 2))),
                        manifest={"method": "hand"}, name=v)
    sha = {v: json.loads((tmp_path / "old/versions" / v / "manifest.json").read_text())["files"][
        "embeddings.parquet"]["sha256"] for v in ("a", "b")}
    rec = tmp_path / "old/lifecycle/a/000001-approved.json"
    rec.parent.mkdir(parents=True)
    rec.write_text(json.dumps({"status": "approved", "version": "a", "by": "Ada", "embeddings_sha256": sha["a"]}))
    old = [{"seq": 1, "at": "2026-01-01T00:00:00+00:00", "action": "approve", "version": "a", "previous": None,
            "by": "Ada", "embeddings_sha256": sha["a"], "record": "000001-approved.json"},
           {"seq": 2, "at": "2026-01-01T00:00:01+00:00", "action": "publish", "version": "a", "previous": None,
            "by": "Ada", "embeddings_sha256": sha["a"]}]
    (tmp_path / "old/audit.log").write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in old))
    (tmp_path / "old/published.json").write_text(json.dumps(old[1]))
    report = verify_store(st)
    assert not report["ok"] and report["verdict"] == "problems"
    for line in (1, 2):
        assert any(f"audit.log line {line} has no prev_sha256" in p for p in report["problems"]), report["problems"]
        assert any(f"audit.log line {line} (seq {line}," in p and "has no MAC" in p for p in report["problems"])
