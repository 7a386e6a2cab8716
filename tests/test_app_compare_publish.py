"""AppTest tests of the Compare and Publish pages, on a store in a temporary folder.

Two ppmi_svd versions of the bundled demo are trained once per module (``ref``: evaluated, with a noise floor;
``cand``: another seed, noise floor but no evaluation, so its "quality vs item-kNN" check fails and must be
acknowledged) and copied into every test's own store.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from conftest import shown_tables, store_copy
from streamlit.testing.v1 import AppTest

from behemb_core.demo import load_demo_dataset
from behemb_core.store import Store, published_version, read_audit_log
from behemb_core.train import train_version

APP = str(Path(__file__).resolve().parents[1] / "app.py")
COMPARE = "pages/5_Compare.py"
PUBLISH = "pages/6_Publish.py"


@pytest.fixture(scope="module")
def template_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "store"
    store = Store(str(path))
    dataset = load_demo_dataset()
    train_version(store, "ppmi_svd", {"dim": 16}, dataset=dataset, seed=0, evaluate=True, noise_floor=True,
                  name="ref")
    train_version(store, "ppmi_svd", {"dim": 16}, dataset=dataset, seed=1, noise_floor=True, name="cand")
    return path


@pytest.fixture
def store_dir(template_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return store_copy(template_store, tmp_path, monkeypatch)


def open_page(store: Path, page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["store_path"] = str(store)
    at.run()
    at.switch_page(page).run()
    ok(at)
    return at


def ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def successes(at: AppTest) -> list[str]:
    """Success texts as read on screen (names in them are markdown-escaped: ``item\\-kNN``)."""
    return [s.value.replace("\\", "") for s in at.success]


# Read-only tables carry no key in AppTest: they are found by a column only they have (st.dataframe tables with
# their values, static tables — checklist, most-moved, diagnostics, bands — as the text on screen).
TABLE_COLUMN = {"cmp_bands": "band", "cmp_moved": "old neighbors (A)", "cmp_diagnostics": "metric",
                "cmp_quality": "evaluated", "pub_checks": "check", "pub_versions": "status", "pub_audit": "action",
                "pub_approvals": "acknowledged"}


def frame(at: AppTest, key: str):
    found = [t for t in (*shown_tables(at), *(d.value for d in at.dataframe)) if TABLE_COLUMN[key] in t.columns]
    assert len(found) == 1, f"{len(found)} tables look like {key!r}"
    return found[0]


def checks(at: AppTest):
    return frame(at, "pub_checks").set_index("check")


# With nothing published, no golden pair marked and no ANN index built, four checks have nothing to judge: they
# are warnings the approver acknowledges by name, never passes.
FIRST = ("same catalogue as published", "stability vs published", "golden pairs", "served neighbors match")


def approve(at: AppTest, version: str, by: str | None = "Ada", acknowledge: tuple[str, ...] = ()) -> AppTest:
    at.selectbox(key="pub_version").set_value(version).run()
    if by is not None:
        at.session_state["actor_name"] = by
    for name in acknowledge:
        at.checkbox(key=f"pub_ack::{version}::{name}").check()
    at.button(key="pub_approve").click().run()
    ok(at)
    return at


# ------------------------------------------------------------------------------------------------ compare


def test_compare_page_shows_verdict_counts_and_tables(store_dir: Path) -> None:
    at = open_page(store_dir, COMPARE)
    # Nothing published: A = the older version, B = the latest.
    assert at.selectbox(key="cmp_a").value == "ref"
    assert at.selectbox(key="cmp_b").value == "cand"
    assert not errors(at)
    shown = metrics(at)
    assert shown["Shared items"] == "3,124"
    assert shown["Added in B"] == "0" and shown["Removed in B"] == "0"
    assert 0 < float(shown["Median Jaccard@10"]) < 1
    assert 0 < float(shown["Noise-floor median"]) <= 1
    # The plain sentence from the report, with a verdict (cand stores a noise floor at K = 10).
    verdicts = [m.value for m in (*at.success, *at.warning)]
    assert any("retraining noise" in v and "median Jaccard@10" in v for v in verdicts), verdicts
    assert at.get("plotly_chart")
    bands = frame(at, "cmp_bands")
    assert bands["band"].tolist() == ["head", "torso", "tail"]
    moved = frame(at, "cmp_moved")
    assert len(moved) == 20 and moved["name"].str.len().gt(0).all()
    assert moved["old neighbors (A)"].str.contains(" · ").any()
    diag = frame(at, "cmp_diagnostics")
    assert list(diag.columns) == ["metric", "what it measures", "ref", "cand"]
    assert diag.set_index("metric").loc["verdict", ["ref", "cand"]].tolist() == ["ok", "ok"]
    assert "unevenness of neighbor slots" in set(diag["metric"])  # readable names, the code name in the help
    assert diag["what it measures"].str.contains("(k_occurrence_gini)", regex=False).any()
    quality = frame(at, "cmp_quality").set_index("version")
    assert bool(quality.loc["ref", "evaluated"]) and not bool(quality.loc["cand", "evaluated"])
    assert quality.loc["ref", "HR@10"] > quality.loc["ref", "most-popular HR@10"]


def test_compare_scores_both_versions_on_the_data_in_use(store_dir: Path) -> None:
    """Both versions on the same pairs of the dataset in use (the demo, which both were trained on: split by time
    and said to be optimistic), with the paired difference in words and a table of A, B and item-kNN."""
    at = open_page(store_dir, COMPARE)
    at.button(key="cmp_same_data").click().run()
    ok(at)
    said = [m.value for m in (*at.success, *at.warning)]
    assert any("On the same" in v and "next\\-item pairs" in v and "interval" in v for v in said), said
    table = next(t for t in shown_tables(at) if "ranking" in t.columns)
    assert table["role"].tolist() == ["A", "B", "baseline"] and table["ranking"].tolist()[:2] == ["ref", "cand"]
    assert any("trained on these sessions" in c.value for c in at.caption)
    at.number_input(key="cmp_k").set_value(5).run()  # another K: the old result is not shown as this one's
    assert not any("On the same" in m.value for m in (*at.success, *at.warning))


def test_compare_without_noise_floor_at_that_k_says_so(store_dir: Path) -> None:
    at = open_page(store_dir, COMPARE)
    at.number_input(key="cmp_k").set_value(5).run()
    ok(at)
    assert any("no noise floor" in i.value.lower() or "noise floor at K = 5" in i.value for i in at.info)
    assert metrics(at)["Noise-floor median"] == "—"
    assert metrics(at)["Median Jaccard@5"] != "—"


def test_compare_with_a_version_of_another_catalogue_explains_and_shows_the_rest(store_dir: Path) -> None:
    """The reported crash: A stores a noise floor, B was trained on another dataset (no shared item)."""
    from behemb_core.ingest.dataset import Dataset
    from behemb_core.sessions import SessionOptions
    from behemb_core.synthetic import planted_sessions

    planted = planted_sessions(n_items=60, n_clusters=6, n_sessions=400, seed=3)
    other = Dataset(sessions=planted.sessions, drops={}, notes={}, source={"kind": "test"}, options=SessionOptions())
    train_version(Store(str(store_dir)), "ppmi_svd", {"dim": 8}, dataset=other, seed=0, name="other")
    at = open_page(store_dir, COMPARE)
    at.selectbox(key="cmp_a").set_value("ref").run()
    at.selectbox(key="cmp_b").set_value("other").run()
    ok(at)
    assert not errors(at)
    infos = [i.value for i in at.info]
    assert any("no items in common" in i and "different data" in i for i in infos), infos
    assert not any("share no items" in i for i in infos), infos  # said once, not twice in other words
    assert not any("Neither version stores a noise floor" in i for i in infos), infos
    shown = metrics(at)
    assert shown["Shared items"] == "0" and shown["Median Jaccard@10"] == "—" and shown["Noise-floor median"] == "—"
    assert list(frame(at, "cmp_diagnostics").columns) == ["metric", "what it measures", "ref", "other"]
    assert "ref" in set(frame(at, "cmp_quality")["version"])


# ------------------------------------------------------------------------------------------------ publish


def test_publish_page_approve_publish_and_audit_log(store_dir: Path) -> None:
    at = open_page(store_dir, PUBLISH)
    assert metrics(at)["Published version"] == "none yet"
    at.selectbox(key="pub_version").set_value("ref").run()
    table = checks(at)
    assert list(table.index) == ["files intact", "vectors valid", "unique ids", "quality vs item-kNN",
                                 "no popularity collapse", "same catalogue as published", "stability vs published",
                                 "golden pairs", "served neighbors match"]
    judged = table.drop(index=list(FIRST))
    assert set(judged["state"]) == {"pass"}  # in words, readable without colour or emoji fonts
    assert set(table.loc[list(FIRST), "state"]) == {"warning"}  # nothing to compare with is not a pass
    assert "nothing is published yet" in table.loc["stability vs published", "detail"]
    assert any("What changes if you publish this" in m.value and "first published version" in m.value
               for m in at.markdown)
    assert at.button(key="pub_publish").disabled  # a draft cannot be published

    approve(at, "ref", by="Ada")  # the warnings are not acknowledged: refused, naming them
    assert any(e.startswith("Version 'ref' not approved: ") and "same catalogue as published" in e
               for e in errors(at)), errors(at)
    assert Store(store_dir).status("ref") == "draft"
    approve(at, "ref", by="Ada", acknowledge=FIRST)
    assert not errors(at), errors(at)
    assert any("Approved ref by Ada" in s for s in successes(at))
    assert Store(store_dir).status("ref") == "approved"
    assert frame(at, "pub_versions").set_index("version").loc["ref", "status"] == "approved"

    assert not at.button(key="pub_publish").disabled
    at.button(key="pub_publish").click().run()
    ok(at)
    assert not errors(at), errors(at)
    assert any("Published ref" in s for s in successes(at))
    assert published_version(Store(store_dir)) == "ref"
    assert metrics(at)["Published version"] == "ref"
    log = frame(at, "pub_audit")
    assert log["action"].tolist() == ["publish", "approve"]  # newest first
    assert set(log["by"]) == {"Ada"}
    # The published version offers no approve or publish control.
    assert not [b for b in at.button if b.key in ("pub_approve", "pub_publish")]

    # The home page shows it too.
    at.switch_page("app.py").run()
    ok(at)
    assert metrics(at)["Published"] == "ref"


def test_approve_without_a_name_is_refused(store_dir: Path) -> None:
    at = open_page(store_dir, PUBLISH)
    approve(at, "ref", by=None)
    assert any("Enter your name" in e for e in errors(at))
    assert Store(store_dir).status("ref") == "draft"
    assert read_audit_log(Store(store_dir)) == []


def test_failed_acknowledgeable_check_blocks_until_acknowledged(store_dir: Path) -> None:
    at = open_page(store_dir, PUBLISH)
    at.selectbox(key="pub_version").set_value("cand").run()
    table = checks(at)
    assert table.loc["quality vs item-kNN", "state"] == "warning"
    assert "no evaluation is stored" in table.loc["quality vs item-kNN", "detail"]
    assert at.checkbox(key="pub_override::cand").disabled  # only acknowledgeable checks failed

    approve(at, "cand", by="Ada")
    shown = errors(at)
    assert shown and shown[0].startswith("Version 'cand' not approved: “quality vs item-kNN” is a warning")
    assert shown[0].lower().count("not approved") == 1  # said once (it read "Not approved: version … not approved")
    assert "acknowledge it by name" in shown[0] and "acknowledge=[" not in shown[0]
    # The page says exactly what `approve` on the command line says for the same store (less its flag hint).
    import contextlib
    import io

    from behemb_core.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["approve", "--store", str(store_dir), "--version", "cand", "--by", "Ada", "--quiet"]) == 1
    line = err.getvalue().strip().splitlines()[-1]
    assert line.startswith("error: version 'cand' not approved: ") and line.count("not approved") == 1
    cli_message = line.removeprefix("error: ")[: line.rindex(" (to approve anyway") - len("error: ")]
    assert shown[0] == "V" + cli_message[1:]
    assert Store(store_dir).status("cand") == "draft"

    approve(at, "cand", by="Ada", acknowledge=("quality vs item-kNN", *FIRST))
    assert not errors(at), errors(at)
    assert any("acknowledged:" in s and "quality vs item-kNN" in s for s in successes(at))
    assert Store(store_dir).status("cand") == "approved"
    record = frame(at, "pub_approvals").iloc[0]
    assert (record["by"], record["override"]) == ("Ada", False)
    assert set(record["acknowledged"].split(", ")) == {"quality vs item-kNN", *FIRST}


def test_rollback_re_publishes_an_earlier_approved_version(store_dir: Path) -> None:
    at = open_page(store_dir, PUBLISH)
    approve(at, "ref", by="Ada", acknowledge=FIRST)
    at.button(key="pub_publish").click().run()
    ok(at)
    # cand is compared with the published ref now; acknowledge whatever judgement calls failed.
    at.selectbox(key="pub_version").set_value("cand").run()
    failed = [name for name, row in checks(at).iterrows() if row["state"] == "warning"]
    assert "quality vs item-kNN" in failed
    approve(at, "cand", by="Bob", acknowledge=tuple(failed))
    assert Store(store_dir).status("cand") == "approved", errors(at)
    at.button(key="pub_publish").click().run()
    ok(at)
    assert published_version(Store(store_dir)) == "cand"

    assert at.selectbox(key="pub_rollback_to").value == "ref"
    at.session_state["actor_name"] = "Cy"
    at.button(key="pub_rollback").click().run()
    ok(at)
    assert not errors(at), errors(at)
    assert any("Rolled back" in s for s in successes(at))
    assert published_version(Store(store_dir)) == "ref"
    assert metrics(at)["Published version"] == "ref"
    log = frame(at, "pub_audit")
    assert log["action"].tolist() == ["rollback", "publish", "approve", "publish", "approve"]
    assert log["by"].iloc[0] == "Cy"


def status_line(at: AppTest) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Status:"))


def test_publish_page_keeps_the_version_you_work_on(store_dir: Path) -> None:
    store = Store(store_dir)
    at = open_page(store_dir, PUBLISH)
    at.session_state["actor_name"] = "Ada"
    at.run()
    at.switch_page(COMPARE).run()  # leave the page and come back: the name is kept
    ok(at)
    at.switch_page(PUBLISH).run()
    ok(at)
    assert at.session_state["actor_name"] == "Ada"

    at.selectbox(key="pub_version").set_value("ref").run()
    at.text_area(key="pub_note::ref").set_value("first release")
    for name in FIRST:
        at.checkbox(key=f"pub_ack::ref::{name}").check()
    at.button(key="pub_approve").click().run()
    ok(at)
    assert not errors(at), errors(at)
    assert at.selectbox(key="pub_version").value == "ref"  # still the version just approved
    assert status_line(at) == "Status: **approved**"
    assert at.button(key="pub_publish").label == "Publish ref" and not at.button(key="pub_publish").disabled
    assert metrics(at)["Approved versions"] == "1"
    at.selectbox(key="pub_version").set_value("cand").run()
    assert at.text_area(key="pub_note::cand").value == ""  # ref's note is not carried over
    at.selectbox(key="pub_version").set_value("ref").run()

    at.button(key="pub_publish").click().run()
    ok(at)
    assert at.selectbox(key="pub_version").value == "ref"
    assert status_line(at).startswith("Status: **published**")
    assert metrics(at)["Approved versions"] == "0" and metrics(at)["Published version"] == "ref"

    # cand against the published ref: approved but never published, so not a rollback target.
    at.selectbox(key="pub_version").set_value("cand").run()
    warned = [name for name, row in checks(at).iterrows() if row["state"] == "warning"]
    approve(at, "cand", by="Ada", acknowledge=tuple(warned))
    assert at.selectbox(key="pub_version").value == "cand" and status_line(at).startswith("Status: **approved**")
    assert metrics(at)["Approved versions"] == "1"
    assert not [s for s in at.selectbox if s.key == "pub_rollback_to"]
    assert any("No earlier published version" in c.value for c in at.caption)

    at.button(key="pub_publish").click().run()
    ok(at)
    assert at.selectbox(key="pub_version").value == "cand"
    assert at.selectbox(key="pub_rollback_to").options == ["ref"]
    at.button(key="pub_rollback").click().run()
    ok(at)
    assert not errors(at), errors(at)
    assert published_version(store) == "ref"
    # The selector, its label, the status line and the buttons all say the same thing about cand.
    assert at.selectbox(key="pub_version").value == "cand"
    assert "cand (approved)" in at.selectbox(key="pub_version").options
    assert status_line(at) == "Status: **approved** · published now: ref"
    assert at.button(key="pub_publish").label == "Publish cand" and not at.button(key="pub_publish").disabled
    assert metrics(at)["Approved versions"] == "1" and metrics(at)["Published version"] == "ref"
    assert at.session_state["actor_name"] == "Ada"


def test_compare_of_catalogues_from_different_sources_warns_that_shared_ids_may_differ(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two catalogues whose ids collide by chance (86 shared, as Online Retail and Diginetica) were presented as
    sharing items: the page now says, once and as a warning, that the shared ids may not be the same products."""
    import numpy as np

    from behemb_core.embeddings import make_embeddings
    from behemb_core.vocab import Vocabulary

    def log(item: str, session: str) -> dict:
        return {"kind": "event_log", "paths": ["/d/x.csv"], "files": 1,
                "columns": {"user": None, "item": item, "timestamp": "t", "session": session, "weight": None,
                            "event_type": None}}

    path = tmp_path / "store"
    store = Store(str(path))
    shared = [str(i) for i in range(86)]
    for name, ids, source in (("retail", [*shared, *(f"{i}A" for i in range(200))], log("StockCode", "InvoiceNo")),
                              ("digi", [*shared, *(str(i) for i in range(1000, 1300))], log("itemId", "sessionId"))):
        emb = make_embeddings(Vocabulary(np.array(ids, dtype=object)),
                              np.random.default_rng(len(ids)).normal(size=(len(ids), 8)))
        store.save_version(emb, manifest={"method": "ppmi_svd", "dataset": {"fingerprint": name, "source": source}},
                           name=name)
    monkeypatch.setenv("BEHEMB_STORE", str(path))
    at = open_page(path, COMPARE)
    assert at.selectbox(key="cmp_a").value == "retail" and at.selectbox(key="cmp_b").value == "digi"
    warnings = [w.value for w in at.warning]
    assert len([w for w in warnings if "may not be the same products" in w]) == 1, warnings
    assert any("trained on data from different sources" in w and "the 86 ids they share" in w for w in warnings)
    others = [m.value for m in (*at.info, *at.success, *at.error)]
    assert not any("may not be the same products" in m for m in others), others  # said once

    # With retail published, the Publish page's "What changes if you publish this" for digi says it too.
    from behemb_core.signoff import signoff_checks
    from behemb_core.store import publish
    from behemb_core.store.lifecycle import record_approval

    record_approval(store, "retail", by="Carol", checks=signoff_checks(store, "retail")[0], override=True)
    publish(store, "retail", by="Carol")
    at.switch_page(PUBLISH).run()
    at.selectbox(key="pub_version").set_value("digi").run()
    ok(at)
    summary = [m.value.replace("\\", "") for m in at.markdown if "What changes if you publish this" in m.value]
    assert len(summary) == 1 and "Publishing digi instead of retail" in summary[0]
    assert "the 86 ids they share may not be the same products" in summary[0]
