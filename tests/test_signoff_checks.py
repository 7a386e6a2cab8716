"""The sign-off checklist is a tuple of check functions, and a run of it is cached on what the checks read.

- a check is ``check_x(context) -> CheckResult`` and :data:`behemb_core.signoff.SIGNOFF_CHECKS` lists them: adding
  one (one function, one tuple entry) shows it in ``approve`` on the command line and on the Publish page, and
  an approval that records it still satisfies ``verify``'s checklist rule;
- the store keeps the check *record*; its wording and the golden-pair judgement live on the sign-off side;
- a rerun is served from the cache, and any change to what the checks read (a golden mark, a publish, a changed
  file, other thresholds) runs them again — a stale result is never returned;
- the exact top-k of a catalogue is computed once per version, not once per check.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import store_copy

import behemb_core.checks.cache as check_cache
import behemb_core.signoff as signoff
from behemb_core.checks.cache import CHECKLIST_CACHE, clear_caches, overlap_from_tables
from behemb_core.checks.context import CheckContext, SignoffPolicy
from behemb_core.cli import main
from behemb_core.compare.stability import neighbor_overlap
from behemb_core.demo import load_demo_dataset
from behemb_core.embeddings import make_embeddings
from behemb_core.neighbors import top_k_neighbors
from behemb_core.signoff import SIGNOFF_CHECKS, approve, signoff_checks
from behemb_core.store import CheckResult, Store, mark_pair, publish
from behemb_core.store.checklist import SIGNOFF_CHECK_NAMES
from behemb_core.store.policy_audit import _checklist_problems
from behemb_core.train import train_version
from behemb_core.vocab import Vocabulary

NEW = "owner named"
SERVED = "served neighbors match"
# Nothing published, no golden pair marked, no ANN index built: the warnings a first version has acknowledged.
FIRST = ("same catalogue as published", "stability vs published", "golden pairs", SERVED)
# The built-in checklist a run shows: SIGNOFF_CHECK_NAMES (what verify requires every approval to record) and,
# after it, "served neighbors match" — a check added to signoff.SIGNOFF_CHECKS later, which by that constant's
# docstring needs no entry there (approvals recorded before it existed still satisfy verify).
BUILT_IN = (*SIGNOFF_CHECK_NAMES, SERVED)
calls: list[str] = []


def check_owner_named(ctx: CheckContext) -> CheckResult:
    """A check a team might add: the manifest names an owner (none does here, so it could not judge)."""
    calls.append(ctx.version)
    owner = ctx.manifest.get("owner")
    if owner is None:
        why = "the version's manifest names no owner"
        return CheckResult(NEW, False, None, "an owner in the manifest", why, acknowledgeable=True,
                           could_not_judge=why)
    return CheckResult(NEW, True, owner, "an owner in the manifest", f"owned by {owner}")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "store"
    store = Store(str(path))
    dataset = load_demo_dataset()
    train_version(store, "ppmi_svd", {"dim": 16}, dataset=dataset, seed=0, evaluate=True, name="ref")
    train_version(store, "ppmi_svd", {"dim": 16}, dataset=dataset, seed=1, name="cand")
    train_version(store, "ppmi_svd", {"dim": 16}, dataset=dataset, seed=2, name="third")
    return path


@pytest.fixture
def store(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    path = store_copy(template, tmp_path, monkeypatch)
    clear_caches()
    calls.clear()
    return Store(str(path))


@pytest.fixture
def with_new_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register the new check the documented way: one more entry in the tuple (read when the checks run)."""
    monkeypatch.setattr(signoff, "SIGNOFF_CHECKS", (*signoff.SIGNOFF_CHECKS, check_owner_named))


def cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------------------------------ the checklist


def test_the_checklist_is_a_tuple_of_check_functions(store: Store) -> None:
    assert isinstance(SIGNOFF_CHECKS, tuple) and all(callable(c) for c in SIGNOFF_CHECKS)
    checks, _ = signoff_checks(store, "ref")
    assert tuple(c.name for c in checks) == BUILT_IN
    ctx = CheckContext(store, "ref", SignoffPolicy())
    for check, expected in zip(SIGNOFF_CHECKS, checks, strict=True):
        result = check(ctx)  # each check on its own, on one shared context: the same result as the run
        assert isinstance(result, CheckResult) and result == expected
    assert ctx.details["popularity"]["verdict"] == checks[4].value


def test_a_new_check_shows_on_the_command_line_and_is_recorded(store: Store, with_new_check: None,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    checks, _ = signoff_checks(store, "ref")
    assert [c.name for c in checks] == [*BUILT_IN, NEW]
    new = checks[-1]
    assert new.state == "warning" and not new.passed and new.could_not_judge  # could not judge: never a pass
    acks = [arg for name in FIRST for arg in ("--acknowledge", name)]
    code, _, err = cli(capsys, "approve", "--store", store.url, "--version", "ref", "--by", "ana", "--quiet", *acks)
    assert code == 1
    assert f"[warning] {NEW}: — (an owner in the manifest)" in err  # the CLI lists it with the others
    assert f'--acknowledge "{NEW}"' in err and f"“{NEW}” is a warning (could not judge: " in err
    code, out, err = cli(capsys, "approve", "--store", store.url, "--version", "ref", "--by", "ana", "--quiet",
                         *acks, "--acknowledge", NEW)
    assert code == 0, err
    assert NEW in json.loads(out)["acknowledged"]
    record = json.loads(next((store_path(store) / "lifecycle" / "ref").glob("*-approved.json")).read_text())
    assert [c["name"] for c in record["checks"]] == [*BUILT_IN, NEW]
    # verify's rule (under a policy): the approval records the whole built-in checklist, and may record more
    assert _checklist_problems("seq 1", {"approval": record}) == []
    # ... and a check added after SIGNOFF_CHECK_NAMES (served neighbors) is not required of older approvals
    older = {"approval": {**record, "checks": [c for c in record["checks"] if c["name"] not in (SERVED, NEW)]}}
    assert _checklist_problems("seq 1", older) == []
    without = {"approval": {**record, "checks": [c for c in record["checks"] if c["name"] != "golden pairs"]}}
    assert _checklist_problems("seq 1", without)


def test_a_new_check_shows_on_the_publish_page(store: Store, with_new_check: None) -> None:
    pytest.importorskip("streamlit")
    from conftest import shown_tables
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=120)
    at.session_state["store_path"] = store.url
    at.run()
    at.switch_page("pages/6_Publish.py").run()
    at.selectbox(key="pub_version").set_value("cand").run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(t for t in shown_tables(at) if "check" in t.columns).set_index("check")
    assert list(table.index) == [*BUILT_IN, NEW]
    assert "warning" in table.loc[NEW, "state"] and "names no owner" in table.loc[NEW, "detail"]
    box = at.checkbox(key=f"pub_ack::cand::{NEW}")  # acknowledged by name, like every warning
    assert NEW in box.label
    runs = len(calls)
    box.check().run()  # a rerun: served from the cache, the checks do not run again
    assert not at.exception and len(calls) == runs


def test_approve_refuses_in_the_pages_words(store: Store) -> None:
    from behemb_core.store import ApprovalRefused

    with pytest.raises(ApprovalRefused) as err:
        approve(store, "cand", by="ana")
    msg = str(err.value)
    assert "“quality vs item-kNN” is a warning (could not judge: no evaluation is stored" in msg
    assert "acknowledge it by name to approve" in msg and [c.name for c in err.value.checks] == list(BUILT_IN)


def test_presentation_and_golden_judgement_are_on_the_signoff_side() -> None:
    import behemb_core.store as store_pkg
    import behemb_core.store.golden as golden_store
    import behemb_core.store.lifecycle as lifecycle
    from behemb_core.checks.golden import check_golden  # noqa: F401  (the judgement lives here)
    from behemb_core.checks.wording import describe_blocking, format_value  # noqa: F401

    assert not hasattr(lifecycle, "format_value") and not hasattr(lifecycle, "describe_blocking")
    assert not hasattr(CheckResult, "shown_value")
    assert not hasattr(store_pkg, "check_golden") and not hasattr(golden_store, "check_golden")
    assert callable(lifecycle.record_approval) and callable(lifecycle.check_four_eyes)


# ------------------------------------------------------------------------------------------ the cache


def test_a_rerun_is_served_from_the_cache(store: Store, with_new_check: None) -> None:
    first, details = signoff_checks(store, "ref")
    details["popularity"]["verdict"] = "changed by the caller"  # a caller's copy: the cache is not touched
    again, details_again = signoff_checks(store, "ref")
    assert calls == ["ref"] and again == first and details_again["popularity"]["verdict"] != "changed by the caller"
    signoff_checks(store, "ref", policy=SignoffPolicy(k=5))  # other thresholds: another run
    assert calls == ["ref", "ref"]


def test_the_cache_follows_what_the_checks_read(store: Store, with_new_check: None) -> None:
    golden = {c.name: c for c in signoff_checks(store, "cand")[0]}["golden pairs"]
    assert golden.could_not_judge and "no golden pairs are marked" in golden.could_not_judge
    emb = store.load_version("cand").embeddings
    a, b = emb.vocab.ids[0], emb.vocab.ids[int(top_k_neighbors(emb, 1).codes[0, 0])]
    mark_pair(store, a, b, label="good", by="ana")  # a new mark: the golden log changed
    golden = {c.name: c for c in signoff_checks(store, "cand")[0]}["golden pairs"]
    assert golden.passed and golden.could_not_judge is None
    assert calls.count("cand") == 2

    checks, _ = signoff_checks(store, "cand")
    assert calls.count("cand") == 2 and {c.name: c for c in checks}["same catalogue as published"].could_not_judge
    approve(store, "ref", by="ana", acknowledge=FIRST + (NEW,))
    publish(store, "ref", by="ana")  # now there is something to compare with
    checks, details = signoff_checks(store, "cand")
    assert calls.count("cand") == 3 and {c.name: c for c in checks}["same catalogue as published"].passed
    assert details["summary"]["published"] == "ref"

    path = store_path(store) / "versions" / "cand" / "embeddings.parquet"
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF  # the same size, other bytes: a changed file is never judged from the cache
    path.write_bytes(bytes(blob))
    checks, details = signoff_checks(store, "cand")
    assert [(c.name, c.state) for c in checks] == [("files intact", "fail"), ("vectors valid", "fail")]
    assert "embeddings.parquet" in checks[0].detail and details == {}  # nothing after unusable vectors


def test_exact_top_k_once_per_version(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    approve(store, "ref", by="ana", acknowledge=FIRST)
    publish(store, "ref", by="ana")
    clear_caches()
    computed: list[int] = []

    def counting(emb, k=10, **kwargs):  # type: ignore[no-untyped-def]
        computed.append(len(emb))
        return top_k_neighbors(emb, k, **kwargs)

    def forbidden(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("a check searched neighbors itself instead of using the version's table")

    monkeypatch.setattr(check_cache, "top_k_neighbors", counting)
    monkeypatch.setattr("behemb_core.compare.stability.top_k_neighbors", forbidden)
    monkeypatch.setattr("behemb_core.diagnostics.top_k_neighbors", forbidden)
    checks, details = signoff_checks(store, "cand")
    assert len(computed) == 2  # the candidate's table and the published version's, one each
    assert details["stability"]["counts"]["shared"] > 0 and details["popularity"]["verdict"]
    CHECKLIST_CACHE.clear()
    signoff_checks(store, "third")  # another candidate against the same published version: its table only
    assert len(computed) == 3


def test_overlap_from_tables_is_the_neighbor_overlap(store: Store) -> None:
    a, b = store.load_version("ref").embeddings, store.load_version("cand").embeddings
    keep = np.arange(0, len(b), 2)  # every other item: the catalogues differ, as after a retrain on new data
    b_part = make_embeddings(Vocabulary(b.vocab.ids[keep]), b.vectors[keep])
    want = neighbor_overlap(a, b_part, k=10)
    got = overlap_from_tables(a, b_part, top_k_neighbors(a, 10), top_k_neighbors(b_part, 10), k=10)
    np.testing.assert_array_equal(got.ids, want.ids)
    np.testing.assert_allclose(got.jaccard, want.jaccard)
    np.testing.assert_allclose(got.rbo, want.rbo)
    np.testing.assert_array_equal(got.added, want.added)
    np.testing.assert_array_equal(got.removed, want.removed)


def store_path(store: Store) -> Path:
    return Path(store.url)


@pytest.mark.slow
def test_the_signoff_benchmark_writes_before_and_after(tmp_path: Path) -> None:
    import io

    from benchmarks.signoff_speed import run

    out = tmp_path / "results"
    run("XS", workdir=tmp_path / "work", out=out, reruns=1, label="before", log=io.StringIO())
    result = run("XS", workdir=tmp_path / "work", out=out, reruns=1, label="after", log=io.StringIO())
    saved = json.loads((out / "signoff-XS.json").read_text())
    assert set(saved["runs"]) == {"before", "after"} == set(result["runs"])
    lib = saved["runs"]["after"]["library"]
    assert len(lib["rerun_seconds"]) == 1 and lib["same_results_every_call"]
    assert [c.split(":")[0] for c in lib["checks"]] == list(BUILT_IN)
    assert "| before |" in (out / "signoff-XS.md").read_text()



def test_a_malformed_stored_evaluation_could_not_judge_quality(tmp_path: Path) -> None:
    """The quality check reads the stored evaluation through its type: a report of another shape is a check that
    could not judge (with the field named), never a crash and never a pass."""
    store = Store(str(tmp_path / "store"))
    train_version(store, "ppmi_svd", {"dim": 8}, dataset=load_demo_dataset(), seed=0, name="odd",
                  extra_manifest={"evaluation": {"method": {"hr@10": 0.9}, "baselines": {}}})
    clear_caches()
    checks, _ = signoff_checks(store, "odd")
    quality = next(c for c in checks if c.name == "quality vs item-kNN")
    assert not quality.passed and quality.could_not_judge is not None
    assert "the stored evaluation cannot be read" in quality.could_not_judge and "split" in quality.could_not_judge


def test_the_publish_summary_never_subtracts_hr_measured_on_different_data(tmp_path: Path) -> None:
    """Each stored evaluation was measured on its own version's training data: when the two versions were trained
    on different data the summary says the HR@k change is not comparable instead of subtracting the two."""
    from behemb_core.checks.published import publish_summary
    from behemb_core.ingest import read_session_jsonl

    store = Store(str(tmp_path / "store"))
    demo = load_demo_dataset()
    train_version(store, "ppmi_svd", {"dim": 8}, dataset=demo, seed=0, evaluate=True, name="live")
    approve(store, "live", by="ana", acknowledge=(*FIRST, "quality vs item-kNN"))  # dim 8: below item-kNN
    publish(store, "live", by="ana")
    half = demo.sessions.select(np.arange(demo.sessions.n_sessions) % 2 == 0)
    with open(tmp_path / "half.jsonl", "w") as fh:  # the demo's ids are text and numbers: written as they are
        for sid, items in zip(half.session_ids, half.to_lists(), strict=True):
            fh.write(json.dumps({"session_id": str(sid), "items": [str(x) for x in items]}) + "\n")
    other = read_session_jsonl(tmp_path / "half.jsonl")
    train_version(store, "ppmi_svd", {"dim": 8}, dataset=other, seed=0, evaluate=True, name="other_data")
    train_version(store, "ppmi_svd", {"dim": 8}, dataset=demo, seed=1, evaluate=True, name="same_data")
    clear_caches()
    _, details = signoff_checks(store, "other_data")
    summary = details["summary"]
    assert summary["quality_delta"] is None and "not comparable" in summary["sentence"]
    _, details = signoff_checks(store, "same_data")
    assert details["summary"]["quality_delta"] is not None and "not comparable" not in details["summary"]["sentence"]
    cmp = {"counts": {"added": 0, "removed": 0, "shared": 1, "a_items": 1, "b_items": 1}, "k": 10,
           "overall": {"jaccard": {"median": 1.0}}}
    ev = {"method": {"hr@10": 0.3}}
    assert publish_summary("a", "b", cmp, ev, ev, same_data=True)["quality_delta"] == 0.0  # type: ignore[arg-type]
    assert publish_summary("a", "b", cmp, ev, ev, same_data=False)["quality_delta"] is None  # type: ignore[arg-type]
