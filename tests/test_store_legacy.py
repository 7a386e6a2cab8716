"""The store has one format (``behemb-store.json`` = ``{"format": 1}``) and no branch for what older, unreleased
layouts wrote: a version without the manifest seal, an approval entry without its record and hashes, a store with
contents but no format file, a log with lines but no head are each refused or reported — never read as an older
format and accepted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from behemb_core.embeddings import make_embeddings
from behemb_core.errors import IntegrityError, StoreError
from behemb_core.store import CheckResult, Store, _journal, mark_pair, publish
from behemb_core.store import _lifecycle_io as lio
from behemb_core.store.lifecycle import record_approval as approve  # the recording layer, checks given
from behemb_core.store.verify import verify_store
from behemb_core.vocab import Vocabulary

CHECKS = [CheckResult(name="files intact", passed=True, value=0, threshold="0 problems", detail="")]


def _store(root: Path, *names: str) -> Store:
    st = Store(root)
    rng = np.random.default_rng(4)
    for v in names:
        st.save_version(make_embeddings(Vocabulary(["x", "y", "z", "w"]), rng.normal(size=(4, 3))),
                        manifest={"method": "hand"}, name=v)
    return st


def test_a_version_without_the_manifest_seal_fails_verification(tmp_path: Path) -> None:
    """embeddings.parquet without the seal, and a manifest whose hashes match it (as a version of an older layout
    would be): not an older format, a version whose manifest cannot be checked."""
    st = _store(tmp_path / "s", "v")
    vdir = tmp_path / "s" / "versions" / "v"
    table = pq.read_table(vdir / "embeddings.parquet")
    meta = {k: v for k, v in (table.schema.metadata or {}).items() if b"seal" not in k}
    sink = pa.BufferOutputStream()
    pq.write_table(table.replace_schema_metadata(meta), sink)
    blob = sink.getvalue().to_pybytes()
    (vdir / "embeddings.parquet").write_bytes(blob)
    manifest = json.loads((vdir / "manifest.json").read_text())
    manifest["files"]["embeddings.parquet"] = {"sha256": lio.sha256(blob), "bytes": len(blob)}
    (vdir / "manifest.json").write_text(json.dumps(manifest))
    found = st.verify_version("v")
    assert found and "carries no manifest seal" in found[0], found
    with pytest.raises(IntegrityError, match="no manifest seal"):
        st.load_version("v")
    assert any("carries no manifest seal" in p for p in verify_store(st, key=None)["problems"])


def _rewrite_log(root: Path, edit) -> None:
    """Apply ``edit`` to every audit entry, then recompute the chain and the head (a careful hand edit)."""
    entries = [json.loads(line) for line in (root / "audit.log").read_text().splitlines()]
    prev = _journal.GENESIS
    for e in entries:
        edit(e)
        e["prev_sha256"] = prev
        prev = _journal.line_sha(_journal.json_line(e))
    (root / "audit.log").write_bytes(b"".join(_journal.json_line(e) for e in entries))
    (root / "audit.log.head").write_text(json.dumps({"lines": len(entries), "sha256": prev}))


def test_an_approval_entry_without_its_record_and_hashes_is_a_problem(tmp_path: Path) -> None:
    """An approve line as older layouts wrote it (no record hash, no copy of the record, no manifest hash) is
    reported by name; it is not compared "by what both record"."""
    root = tmp_path / "s"
    st = _store(root, "v")
    approve(st, "v", by="Ada", checks=CHECKS)
    assert verify_store(st, key=None)["problems"] == []

    def strip(e: dict) -> None:
        if e["action"] == "approve":
            for k in ("record_sha256", "approval", "manifest_sha256"):
                e.pop(k)

    _rewrite_log(root, strip)
    problems = verify_store(st, key=None)["problems"]
    assert any("audit.log seq 1: the approval of 'v' has no record_sha256, approval, manifest_sha256" in p
               for p in problems), problems


def test_a_store_with_contents_but_no_format_file_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "s"
    st = _store(root, "v")
    approve(st, "v", by="Ada", checks=CHECKS)
    (root / "behemb-store.json").unlink()
    with pytest.raises(StoreError, match="behemb-store.json is missing although the store holds versions and "
                                         "audit.log: this store's format cannot be known"):
        st.list_versions()
    with pytest.raises(StoreError, match="format cannot be known"):
        st.save_version(make_embeddings(Vocabulary(["a", "b"]), np.eye(2)), manifest={}, name="w")
    with pytest.raises(StoreError, match="format cannot be known"):
        publish(st, "v", by="Bob")
    assert not (root / "behemb-store.json").exists() and not (root / "versions" / "w").exists()
    assert any("format cannot be known" in p for p in verify_store(st, key=None)["problems"])


def test_a_store_with_only_a_lock_file_or_a_leftover_folder_gets_its_format_on_the_first_write(tmp_path: Path) -> None:
    root = tmp_path / "s"
    (root / "versions" / "half").mkdir(parents=True)  # no manifest: not a version
    (root / ".lifecycle.lock").write_text("")
    st = Store(root)
    assert st.list_versions() == []
    assert not verify_store(st, key=None)["problems"]
    _store(root, "v")
    assert json.loads((root / "behemb-store.json").read_text()) == {"format": 1}


def test_a_log_with_lines_but_no_head_is_not_appended_to(tmp_path: Path) -> None:
    """A log without its head (as unchained layouts had, or with the head deleted): the next append would hide a
    cut end, so it is refused and the log stays as it is; verify names the missing head."""
    root = tmp_path / "s"
    st = _store(root, "v")
    mark_pair(st, "x", "y", label="good", by="Ada")
    (root / "golden" / "pairs.jsonl.head").unlink()
    before = (root / "golden" / "pairs.jsonl").read_bytes()
    with pytest.raises(IntegrityError, match="pairs.jsonl.head is missing although .* has 1 lines"):
        mark_pair(st, "x", "z", label="bad", by="Ada")
    assert (root / "golden" / "pairs.jsonl").read_bytes() == before
    assert any("pairs.jsonl.head is missing" in p for p in verify_store(st, key=None)["problems"])
