"""The command line's defaults (issue 22 §5): ``train``/``tune`` default to the registry's method, every command's
``--store`` is the app's store, ``evaluate`` re-reads a version's recorded training data, ``neighbors`` defaults to
the published version, ``approve`` lists acknowledged warnings apart from failures, ``audit`` prints no ``None`` and
re-publishing the published version is a successful no-op."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_cli_access import WARN, cli  # the same approve flags and CLI runner

from behemb_core.cli import build_parser, main
from behemb_core.methods.registry import DEFAULT_METHOD
from behemb_core.store import Store, read_audit_log
from behemb_core.store.location import DEFAULT_STORE, STORE_ENV, default_store
from behemb_core.synthetic import planted_sessions


@pytest.fixture(scope="module")
def planted():
    return planted_sessions(n_items=120, n_clusters=8, n_sessions=1200, seed=5)


def write_jsonl(path: Path, planted) -> Path:
    with open(path, "w") as fh:
        for sid, items in zip(planted.sessions.session_ids, planted.sessions.to_lists(), strict=True):
            fh.write(json.dumps({"session_id": sid, "items": items}) + "\n")
    return path


def write_events(path: Path, planted) -> Path:
    """An event log whose columns auto-detection cannot name: training needs the whole mapping."""
    with open(path, "w") as fh:
        fh.write("who;what;when;junk\n")
        t = 1_600_000_000
        for n, items in enumerate(planted.sessions.to_lists()):
            for item in items:
                t += 1
                fh.write(f"u{n};{item};{t};x\n")
            t += 10_000  # a new session by the gap
    return path


# ------------------------------------------------------------------------------------------------ parser defaults


@pytest.mark.parametrize("command", ["train", "tune"])
def test_method_defaults_to_the_registry_default(command: str) -> None:
    args = build_parser().parse_args([command, "--input", "x.jsonl"])
    assert args.method == DEFAULT_METHOD == "cooc_softmax"


@pytest.mark.parametrize("command", [["versions"], ["neighbors", "--item", "1"], ["approve", "--version", "v"],
                                     ["demo"], ["evaluate", "--version", "v"], ["train", "--input", "x"]])
def test_store_defaults_to_the_apps_store(command: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from app_support import keys

    monkeypatch.delenv(STORE_ENV, raising=False)
    assert build_parser().parse_args(command).store == DEFAULT_STORE == "data/store" == keys.default_store()
    monkeypatch.setenv(STORE_ENV, "/shared/behemb-store")
    assert build_parser().parse_args(command).store == "/shared/behemb-store" == keys.default_store()
    assert keys.default_store is default_store and keys.DEFAULT_STORE == DEFAULT_STORE  # one definition


def test_help_names_the_defaults(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert DEFAULT_METHOD in out and "data/store" in out and "./store" not in out


# ------------------------------------------------------------------------------------------------ end to end


def test_train_without_method_trains_the_default(capsys, tmp_path: Path, planted) -> None:
    data = write_jsonl(tmp_path / "sessions.jsonl", planted)
    code, out, err = cli(capsys, "train", "--input", data, "--store", tmp_path / "s", "--version", "v1",
                         "--set", "dim=8", "--set", "epochs=2", "--set", "min_epochs=1", "--quiet")
    assert code == 0, err
    assert json.loads(out)["method"] == DEFAULT_METHOD


def test_evaluate_rereads_the_recorded_training_data(capsys, tmp_path: Path, planted) -> None:
    data = write_events(tmp_path / "events.csv", planted)
    store = tmp_path / "s"
    code, _, err = cli(capsys, "train", "--method", "ppmi_svd", "--input", data, "--delimiter", ";",
                       "--user-col", "who", "--item-col", "what", "--time-col", "when", "--gap-minutes", "60",
                       "--min-count", "2", "--store", store, "--version", "v1", "--set", "dim=8", "--quiet")
    assert code == 0, err
    code, out, err = cli(capsys, "evaluate", "--store", store, "--version", "v1", "--bootstrap", "0", "--quiet")
    assert code == 0, err
    report = json.loads(out)
    assert any("trained on these very sessions" in n for n in report.get("notes", []))  # the same data, re-read
    assert "events.csv" in err and "warning" not in err

    # reading options without --input are refused (they would be ignored)
    code, _, err = cli(capsys, "evaluate", "--store", store, "--version", "v1", "--min-count", "3", "--quiet")
    assert code == 1 and "--min-count" in err and "--input" in err

    # the files moved: one line naming them and saying to pass --input
    shutil.move(data, tmp_path / "elsewhere.csv")
    code, out, err = cli(capsys, "evaluate", "--store", store, "--version", "v1", "--quiet")
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert str(data) in lines[0] and "gone or moved" in lines[0] and "pass --input" in lines[0]

    # with --input it still works as before
    code, out, err = cli(capsys, "evaluate", "--store", store, "--version", "v1", "--input", tmp_path / "elsewhere.csv",
                         "--delimiter", ";", "--user-col", "who", "--item-col", "what", "--time-col", "when",
                         "--bootstrap", "0", "--quiet")
    assert code == 0, err


def test_evaluate_method_still_needs_input(capsys) -> None:
    code, _, err = cli(capsys, "evaluate", "--method", "ppmi_svd", "--quiet")
    assert code == 1 and "--input" in err


def trained_store(capsys, tmp_path: Path, planted, *, publish: bool = False) -> Path:
    """A store with version v1 (ppmi_svd), approved with its warnings acknowledged and published if asked."""
    data = write_jsonl(tmp_path / "sessions.jsonl", planted)
    store = tmp_path / "s"
    code, _, err = cli(capsys, "train", "--method", "ppmi_svd", "--input", data, "--store", store, "--version", "v1",
                       "--set", "dim=8", "--quiet")
    assert code == 0, err
    if publish:
        assert cli(capsys, "approve", "--store", store, "--version", "v1", "--quiet", *WARN)[0] == 0
        code, _, err = cli(capsys, "publish", "--store", store, "--version", "v1")
        assert code == 0, err
    return store


def test_neighbors_without_version_and_nothing_published_is_one_clear_line(capsys, tmp_path: Path, planted) -> None:
    store = trained_store(capsys, tmp_path, planted)
    code, out, err = cli(capsys, "neighbors", "--store", store, "--item", "7")
    assert code == 1 and out == ""
    assert err.startswith("error: nothing is published") and "--version" in err and len(err.splitlines()) == 1


def test_neighbors_default_to_the_published_version(capsys, tmp_path: Path, planted) -> None:
    store = trained_store(capsys, tmp_path, planted, publish=True)
    code, out, err = cli(capsys, "neighbors", "--store", store, "--item", "7", "-k", "3", "--json")
    assert code == 0, err
    assert json.loads(out)["version"] == "v1" and len(json.loads(out)["neighbors"]) == 3
    assert "published" in err


def test_approve_lists_acknowledged_warnings_apart_from_failures(capsys, tmp_path: Path, planted) -> None:
    store = trained_store(capsys, tmp_path, planted)
    code, out, err = cli(capsys, "approve", "--store", store, "--version", "v1", "--quiet", *WARN)
    assert code == 0, err
    approved = json.loads(out)
    assert approved["acknowledged"], approved  # a fresh draft has warnings to acknowledge
    assert approved["failed"] == [], approved
    assert "[acknowledged]" in err


def test_approve_says_a_could_not_judge_reason_once(capsys, tmp_path: Path, planted) -> None:
    """A check that could not judge whose detail already gives the reason prints it once, approved or refused."""
    store = trained_store(capsys, tmp_path, planted)  # trained without --evaluate: quality could not judge
    for extra in ([], WARN):
        _, _, err = cli(capsys, "approve", "--store", store, "--version", "v1", "--quiet", *extra)
        line = next(x for x in err.splitlines() if "quality vs item-kNN:" in x)
        assert line.count("no evaluation is stored with this version") == 1, line


def test_republishing_the_published_version_is_a_successful_no_op(capsys, tmp_path: Path, planted) -> None:
    store = trained_store(capsys, tmp_path, planted, publish=True)
    entries = read_audit_log(Store(store))
    code, out, err = cli(capsys, "publish", "--store", store, "--version", "v1")
    assert code == 0, err
    result = json.loads(out)
    assert result["changed"] is False and result["note"] == "already published, nothing to do"
    assert "already published, nothing to do" in err
    assert read_audit_log(Store(store)) == entries  # no audit entry


def test_audit_table_prints_no_none(capsys, tmp_path: Path, planted) -> None:
    store = trained_store(capsys, tmp_path, planted, publish=True)  # the first publish has no previous version
    code, out, err = cli(capsys, "audit", "--store", store)
    assert code == 0, err
    assert "publish" in out and "None" not in out
