"""Ids matched as text across catalogues from different sources: every comparison (library report, CLI
``compare``, the publish summary) says the shared ids may not be the same products; retrains of the same export
(other files, same columns) and versions without a recorded source say nothing of the kind."""

from __future__ import annotations

import json

import numpy as np
import pytest

from behemb_core.cli import main
from behemb_core.compare import compare_stored, compare_versions, shared_ids_note, source_difference
from behemb_core.embeddings import make_embeddings
from behemb_core.signoff import signoff_checks
from behemb_core.store import Store, publish
from behemb_core.store.filestore import StoredVersion
from behemb_core.store.lifecycle import record_approval
from behemb_core.vocab import Vocabulary

NOTE = "may not be the same products"


def event_log(item: str, session: str, *files: str) -> dict:
    return {"dataset": {"fingerprint": f"fp-{item}-{'-'.join(files)}", "source": {
        "kind": "event_log", "paths": [f"/data/{f}" for f in files], "files": len(files),
        "columns": {"user": None, "item": item, "timestamp": "t", "session": session, "weight": None,
                    "event_type": None}}}}


RETAIL = event_log("StockCode", "InvoiceNo", "2011-01-04.csv")
RETAIL_LATER = event_log("StockCode", "InvoiceNo", "2011-02-01.csv", "2011-02-02.csv")
DIGINETICA = event_log("itemId", "sessionId", "train-item-views.csv")
BASKETS = {"dataset": {"fingerprint": "fp-b", "source": {"kind": "baskets", "paths": ["/d/b.txt"], "files": 1}}}


def _emb(ids: list[str], seed: int):
    return make_embeddings(Vocabulary(np.array(ids, dtype=object)),
                           np.random.default_rng(seed).normal(size=(len(ids), 8)))


def _stored(name: str, manifest: dict, ids: list[str], seed: int) -> StoredVersion:
    return StoredVersion(name=name, manifest=manifest, embeddings=_emb(ids, seed), item_meta=None, item_stats=None)


SHARED = [f"{i}" for i in range(86)]
A_IDS = SHARED + [f"{i}A" for i in range(200)]
B_IDS = SHARED + [f"{i}" for i in range(1000, 1300)]


def test_sources_differ_by_kind_or_id_columns_not_by_files() -> None:
    assert source_difference(RETAIL, RETAIL_LATER) is None  # newer files of the same export
    diff = source_difference(RETAIL, DIGINETICA)
    assert diff is not None and "'StockCode'" in diff[0] and "'itemId'" in diff[1]
    assert source_difference(RETAIL, BASKETS) == (diff[0], "basket lines")
    assert source_difference(RETAIL, {}) is None and source_difference(None, DIGINETICA) is None  # not recorded
    assert shared_ids_note("r", RETAIL, "d", DIGINETICA, 0) is None  # nothing shared, nothing to warn about


def test_report_of_colliding_catalogues_says_shared_ids_may_be_other_products() -> None:
    a, b = _stored("retail", RETAIL, A_IDS, 0), _stored("diginetica", DIGINETICA, B_IDS, 1)
    report = compare_versions(a, b)
    assert report["counts"]["shared"] == 86
    assert report["sentence"].count(NOTE) == 1
    assert "the 86 ids they share may not be the same products" in report["sentence"]
    assert "retail: an event log (item column 'StockCode', session column 'InvoiceNo')" in report["sentence"]
    stored = compare_stored(a, b)
    assert NOTE in stored["sentence"]


def test_same_source_or_unrecorded_source_adds_no_note() -> None:
    same = compare_versions(_stored("jan", RETAIL, A_IDS, 0), _stored("feb", RETAIL_LATER, B_IDS, 1))
    unknown = compare_versions(_stored("x", {}, A_IDS, 0), _stored("y", DIGINETICA, B_IDS, 1))
    assert NOTE not in same["sentence"] and NOTE not in unknown["sentence"]


def _save(store: Store, name: str, manifest: dict, ids: list[str], seed: int) -> None:
    store.save_version(_emb(ids, seed), manifest={"method": "ppmi_svd", **manifest}, name=name)


def test_cli_compare_says_it_on_stderr_and_in_the_json(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    store = Store(tmp_path / "store")
    _save(store, "retail", RETAIL, A_IDS, 0)
    _save(store, "digi", DIGINETICA, B_IDS, 1)
    _save(store, "retail2", RETAIL_LATER, A_IDS[:150], 2)
    assert main(["compare", "--store", str(tmp_path / "store"), "retail", "digi"]) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert NOTE in report["ids_note"] and report["ids_note"] in report["sentence"]
    assert f"note: {report['ids_note']}" in err
    assert main(["compare", "--store", str(tmp_path / "store"), "retail", "retail2"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["ids_note"] is None and NOTE not in err


def test_publish_summary_says_it_when_the_published_version_came_from_another_source(tmp_path) -> None:
    store = Store(tmp_path / "store")
    _save(store, "retail", RETAIL, A_IDS, 0)
    _save(store, "digi", DIGINETICA, B_IDS, 1)
    _save(store, "retail2", RETAIL_LATER, A_IDS[:150], 2)
    checks, _ = signoff_checks(store, "retail")
    record_approval(store, "retail", by="ana", checks=checks, override=True)
    publish(store, "retail", by="ana")
    _, details = signoff_checks(store, "digi")
    sentence = details["summary"]["sentence"]
    assert sentence.startswith("Publishing digi instead of retail:") and sentence.count(NOTE) == 1
    assert "the 86 ids they share" in sentence
    _, details = signoff_checks(store, "retail2")
    assert NOTE not in details["summary"]["sentence"]
