"""Hostile inputs and failing environments through the CLI (and the app): one line, exit 1, nothing written.

Every case of :data:`CASES` runs one command and asserts the contract of the error boundary
(``behemb_core.boundary``): exit code 1; stderr is exactly one line, ``error: …``, naming the file, path, URL or
option and the reason; no traceback; and nothing written anywhere in the workspace (the store gains no version and
no file, an export target stays absent). Cases that need the environment changed run in a subprocess: a read-only
bind mount or a tiny full tmpfs in a private mount namespace (``unshare -m``, root only: skipped otherwise) and a
file-size limit (``RLIMIT_FSIZE``; Python ignores SIGXFSZ, so writes fail with EFBIG). The rest call
``behemb_core.cli.main`` in-process (faster).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, write_sessions_jsonl

from behemb_core.cli import main
from behemb_core.synthetic import planted_sessions

TRAIN = ["train", "--method", "ppmi_svd", "--set", "dim=16", "--quiet"]


# ------------------------------------------------------------------------------------------------- workspace
def _cli(*argv: object) -> int:
    return main([str(a) for a in argv])


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Good data, a store with a history (v1 published then superseded by v2, v3 approved, v4 a draft) and one
    hostile file of every kind."""
    root = tmp_path_factory.mktemp("hostile")
    data = planted_sessions(n_items=200, n_clusters=10, n_sessions=1500, seed=1)
    sessions = write_sessions_jsonl(root / "sessions.jsonl", data.sessions)
    store = root / "store"
    for i, v in enumerate(("v1", "v2", "v3", "v4")):
        assert _cli(*TRAIN, "--input", sessions, "--store", store, "--version", v, "--seed", i) == 0
    for v in ("v1", "v2", "v3"):
        assert _cli("approve", "--store", store, "--version", v, "--by", "t", "--override", "--quiet") == 0
    for v in ("v1", "v2"):
        assert _cli("publish", "--store", store, "--version", v, "--by", "t") == 0

    (root / "afile").write_text("a regular file\n")
    bad = root / "bad"
    bad.mkdir()
    lines = sessions.read_bytes().splitlines(keepends=True)
    gz = gzip.compress(b"".join(lines))
    (bad / "truncated.jsonl.gz").write_bytes(gz[: len(gz) // 2])
    (bad / "latin1.jsonl").write_bytes(b"".join(lines[:2]) + '{"session_id": "caf\xe9", "items": [1, 2]}\n'
                                       .encode("latin-1") + b"".join(lines[2:5]))
    (bad / "binary.jsonl").write_bytes(np.random.default_rng(0).bytes(4096))
    deep = '{"session_id": "deep", "items": ' + "[" * 100_000 + "]" * 100_000 + "}\n"
    (bad / "deep.jsonl").write_bytes(lines[0] + deep.encode())
    (bad / "empty.jsonl").write_bytes(b"")
    (bad / "no_item.csv").write_text("user_id,timestamp\n1,2020-01-01\n1,2020-01-02\n")
    (bad / "latin1.csv").write_bytes(b"user_id,item_id,timestamp\n1,caf\xe9,2020-01-01\n1,b,2020-01-02\n")
    csv_gz = gzip.compress(b"user_id,item_id,timestamp\n" + b"".join(
        f"{i % 50},{i % 7},2020-01-01 00:{i % 60:02d}:00\n".encode() for i in range(20_000)))
    (bad / "truncated.csv.gz").write_bytes(csv_gz[: len(csv_gz) // 2])
    (bad / "garbage.parquet").write_bytes(np.random.default_rng(1).bytes(2048))
    (bad / "empty.parquet").write_bytes(b"")
    (bad / "folder.jsonl").mkdir()  # a directory named like a session file
    os.mkfifo(bad / "pipe.jsonl")
    (bad / "baskets.txt").write_bytes(b"a,b,c\nd,e\n\xff\xfe,x\n")

    content = root / "content"
    content.mkdir()
    ids = json.dumps(list(range(1, 11)))
    (content / "empty.parquet").write_bytes(b"")
    (content / "garbage.parquet").write_bytes(np.random.default_rng(2).bytes(4096))
    for name, blob in [("empty.npy", b""), ("garbage.npy", b"\x93NUMPY" + np.random.default_rng(3).bytes(500))]:
        (content / name).write_bytes(blob)
        (content / name.replace(".npy", ".ids.json")).write_text(ids)
    np.save(content / "pickled.npy", np.array([{"x": 1}] * 10, dtype=object), allow_pickle=True)
    (content / "pickled.ids.json").write_text(ids)
    return root


def _snapshot(root: Path) -> dict[str, str]:
    """Every entry under ``root``: files by sha256, folders and other entries by kind."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), root)] = "dir"
        for f in filenames:
            p = os.path.join(dirpath, f)
            if os.path.isfile(p) and not os.path.islink(p):
                out[os.path.relpath(p, root)] = hashlib.sha256(Path(p).read_bytes()).hexdigest()
            else:
                out[os.path.relpath(p, root)] = "other"
    return out


# ----------------------------------------------------------------------------------------------------- cases
@dataclass(frozen=True)
class Case:
    id: str
    argv: list[str]
    needles: list[str]  # each must appear in the error line: the path/URL/option and the reason
    env: str = "inproc"  # inproc | ro (read-only bind mount) | full (full tmpfs) | fsize (RLIMIT_FSIZE)
    absent: list[str] = field(default_factory=list)  # paths that must not exist afterwards (export targets)


LONG = "x" * 300
CASES = [
    # --- the store location
    Case("store-is-a-file", [*TRAIN, "--input", "{ws}/sessions.jsonl", "--store", "{ws}/afile"],
         ["{ws}/afile", "is a file, not a folder"]),
    Case("store-under-a-file", ["versions", "--store", "{ws}/afile/store"],
         ["{ws}/afile/store", "under the file {ws}/afile"]),
    Case("store-name-too-long", [*TRAIN, "--input", "{ws}/sessions.jsonl", "--store", "{ws}/" + LONG],
         [LONG, "name is too long"]),
    Case("store-path-over-path-max", ["versions", "--store", "{ws}/" + "/".join(["abcdefghijklmnop"] * 300)],
         ["abcdefghijklmnop/abcdefghijklmnop", "too long"]),
    Case("store-nul-byte", ["versions", "--store", "{ws}/st\0re"], [r"st\x00re", "NUL byte"]),
    Case("store-unknown-protocol", [*TRAIN, "--input", "{ws}/sessions.jsonl", "--store", "nosuch://x"],
         ["unknown storage protocol 'nosuch'", "nosuch://x"]),
    Case("store-s3-without-s3fs", ["versions", "--store", "s3://bucket/x"],
         ["s3://bucket/x", "pip install s3fs"]),
    # --- read-only store (bind mount, private mount namespace)
    Case("readonly-train", [*TRAIN, "--input", "{ws}/sessions.jsonl", "--store", "{store}", "--version", "v5"],
         ["could not write ({store}/versions", "read-only file system"], env="ro"),
    Case("readonly-approve", ["approve", "--store", "{store}", "--version", "v4", "--by", "t", "--override",
                              "--quiet"], ["could not write ({store}/", "read-only file system"], env="ro"),
    Case("readonly-publish", ["publish", "--store", "{store}", "--version", "v3", "--by", "t"],
         ["could not write ({store}/", "read-only file system"], env="ro"),
    Case("readonly-rollback", ["rollback", "--store", "{store}", "--by", "t"],
         ["could not write ({store}/", "read-only file system"], env="ro"),
    # --- full disk (tmpfs filled up)
    Case("full-disk-train", [*TRAIN, "--input", "{ws}/sessions.jsonl", "--store", "{store}", "--version", "v5"],
         ["could not write ({store}", "disk is full"], env="full"),
    Case("full-disk-publish", ["publish", "--store", "{store}", "--version", "v3", "--by", "t"],
         ["could not write ({store}", "disk is full"], env="full"),
    Case("full-disk-approve", ["approve", "--store", "{store}", "--version", "v4", "--by", "t", "--override",
                               "--quiet"], ["could not write ({store}", "disk is full"], env="full"),
    # --- file-size limit
    Case("fsize-train", [*TRAIN, "--input", "{ws}/sessions.jsonl", "--store", "{store}", "--version", "v5"],
         ["could not write ({store}", "file-size limit"], env="fsize"),
    Case("fsize-export", ["export", "--store", "{store}", "--version", "v2", "--format", "npy", "--out",
                          "{ws}/export-npy"],
         ["could not write the export ({ws}/export-npy", "file-size limit"], env="fsize",
         absent=["{ws}/export-npy"]),
    # --- fusion content vectors
    *[Case(f"content-{name}", ["train", "--method", "fusion", "--base-version", "v1", "--content-vectors",
                               "{ws}/content/" + name, "--store", "{store}", "--version", "f1", "--quiet"],
           ["{ws}/content/" + name, reason])
      for name, reason in [("empty.parquet", "0 bytes"), ("garbage.parquet", "not a readable Parquet file"),
                           ("empty.npy", "empty"), ("garbage.npy", "not a plain numeric .npy array"),
                           ("pickled.npy", "pickled Python objects, which are never loaded")]],
    Case("content-folder", ["train", "--method", "fusion", "--base-version", "v1", "--content-vectors",
                            "{ws}/content", "--store", "{store}", "--version", "f1", "--quiet"],
         ["{ws}/content", "not a file"]),
    # --- session files
    Case("sessions-truncated-gz", [*TRAIN, "--input", "{ws}/bad/truncated.jsonl.gz", "--store", "{store}"],
         ["{ws}/bad/truncated.jsonl.gz, line ", "truncated or corrupt"]),
    Case("sessions-invalid-utf8", [*TRAIN, "--input", "{ws}/bad/latin1.jsonl", "--store", "{store}"],
         ["{ws}/bad/latin1.jsonl, line 3", "not UTF-8"]),
    Case("sessions-binary-garbage", ["summarize", "--input", "{ws}/bad/binary.jsonl", "--quiet"],
         ["{ws}/bad/binary.jsonl, line 1", "not UTF-8"]),
    Case("sessions-100k-deep-json", [*TRAIN, "--input", "{ws}/bad/deep.jsonl", "--store", "{store}"],
         ["{ws}/bad/deep.jsonl, line 2", "nested too deeply"]),
    Case("sessions-empty-file", [*TRAIN, "--input", "{ws}/bad/empty.jsonl", "--store", "{store}"],
         ["{ws}/bad/empty.jsonl", "empty"]),
    Case("sessions-folder-as-file", ["summarize", "--input", "{ws}/bad/folder.jsonl", "--quiet"],
         ["{ws}/bad/folder.jsonl", "folder contains no JSON Lines files"]),
    Case("sessions-fifo", ["summarize", "--input", "{ws}/bad/pipe.jsonl", "--quiet"],
         ["{ws}/bad/pipe.jsonl", "not a regular file"]),
    Case("sessions-missing-file", [*TRAIN, "--input", "{ws}/nothere.jsonl", "--store", "{store}"],
         ["{ws}/nothere.jsonl", "no such file"]),
    Case("sessions-nul-in-path", ["summarize", "--input", "{ws}/a\0b.jsonl", "--quiet"],
         [r"a\x00b.jsonl", "NUL byte"]),
    Case("input-name-too-long", ["summarize", "--input", "{ws}/" + LONG + ".jsonl", "--quiet"],
         [LONG, "too long"]),
    # --- event logs and baskets
    Case("events-missing-column", [*TRAIN, "--input", "{ws}/bad/no_item.csv", "--store", "{store}"],
         ["{ws}/bad/no_item.csv", "item"]),
    Case("events-invalid-utf8", ["summarize", "--input", "{ws}/bad/latin1.csv", "--quiet"],
         ["{ws}/bad/latin1.csv, line 2", "not UTF-8"]),
    Case("events-truncated-gz", ["summarize", "--input", "{ws}/bad/truncated.csv.gz", "--quiet"],
         ["{ws}/bad/truncated.csv.gz", "truncated or corrupt"]),
    Case("events-garbage-parquet", [*TRAIN, "--input", "{ws}/bad/garbage.parquet", "--store", "{store}"],
         ["{ws}/bad/garbage.parquet", "not a readable Parquet file"]),
    Case("events-empty-parquet", ["summarize", "--input", "{ws}/bad/empty.parquet", "--quiet"],
         ["{ws}/bad/empty.parquet", "0 bytes"]),
    Case("baskets-invalid-utf8", ["summarize", "--format", "baskets", "--input", "{ws}/bad/baskets.txt", "--quiet"],
         ["{ws}/bad/baskets.txt, line 3", "not UTF-8"]),
    Case("item-meta-garbage", [*TRAIN, "--input", "{ws}/sessions.jsonl", "--item-meta", "{ws}/bad/garbage.parquet",
                               "--store", "{store}"], ["{ws}/bad/garbage.parquet", "not a readable Parquet file"]),
    # --- version names: checked before any data is read
    Case("bad-name-before-missing-input", [*TRAIN, "--input", "{ws}/nothere.jsonl", "--store", "{store}",
                                           "--version", "../escape"], ["'../escape'", "invalid version name"]),
    Case("tune-bad-name-before-missing-input", ["tune", "--method", "ppmi_svd", "--input", "{ws}/nothere.jsonl",
                                                "--store", "{store}", "--version", "a b", "--quiet"],
         ["'a b'", "invalid version name"]),
    Case("existing-name-before-reading", [*TRAIN, "--input", "{ws}/bad/latin1.jsonl", "--store", "{store}",
                                          "--version", "v1"], ["'v1'", "already exists"]),
    # --- exports
    Case("export-into-version-folder", ["export", "--store", "{store}", "--version", "v2", "--format", "parquet",
                                        "--out", "{store}/versions/v2/copy.parquet"],
         ["{store}/versions/v2/copy.parquet", "inside the store"], absent=["{store}/versions/v2/copy.parquet"]),
    Case("export-into-store-root", ["export", "--store", "{store}", "--version", "v2", "--format", "npy",
                                    "--out", "{store}/exports"], ["{store}/exports", "inside the store"],
         absent=["{store}/exports"]),
    Case("export-under-a-file", ["export", "--store", "{store}", "--version", "v2", "--format", "jsonl",
                                 "--out", "{ws}/afile/e.jsonl"],
         ["could not write the export ({ws}/afile", "is a file, not a folder"]),
    Case("export-nul-in-out", ["export", "--store", "{store}", "--version", "v2", "--format", "jsonl",
                               "--out", "{ws}/e\0.jsonl"], [r"e\x00.jsonl", "NUL byte"]),
]


def _fill(case: Case, ws: Path) -> Case:
    def f(text: str) -> str:
        return text.replace("{store}", str(ws / "store")).replace("{ws}", str(ws))

    return Case(case.id, [f(a) for a in case.argv], [f(n) for n in case.needles], case.env,
                [f(a) for a in case.absent])


# -------------------------------------------------------------------------------------------------- running
NS_HELPER = textwrap.dedent('''
    """Run one CLI command in a private mount namespace with the store read-only or on a full tmpfs."""
    import json, os, shutil, subprocess, sys, tempfile

    mode, store, argv = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    def sh(*cmd):
        subprocess.run(cmd, check=True, capture_output=True)
    if mode == "ro":
        sh("mount", "--bind", store, store)
        sh("mount", "-o", "remount,bind,ro", store)
    else:  # full: the store copied onto a small tmpfs mounted over it, the free space filled up
        aside = tempfile.mkdtemp()
        shutil.copytree(store, aside, dirs_exist_ok=True, symlinks=True)
        sh("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", store)
        shutil.copytree(aside, store, dirs_exist_ok=True, symlinks=True)
        shutil.rmtree(aside)
        fd = os.open(os.path.join(store, "filler"), os.O_WRONLY | os.O_CREAT)
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\\0" * size)
            except OSError:
                pass
        os.close(fd)
    def snap():
        out = {}
        for d, _, files in os.walk(store):
            for f in files:
                p = os.path.join(d, f)
                out[os.path.relpath(p, store)] = os.path.getsize(p) if f != "filler" else 0
        return out
    before = snap()
    proc = subprocess.run([sys.executable, "-m", "behemb_core", *argv], capture_output=True, text=True)
    print(json.dumps({"rc": proc.returncode, "stderr": proc.stderr, "before": before, "after": snap()}))
''')


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _in_namespace(mode: str, store: Path, argv: list[str], tmp: Path) -> tuple[int, str]:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) for a private mount namespace")
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"unshare -m / mount not permitted here: {probe.stderr.strip()}")
    helper = tmp / "ns_helper.py"
    helper.write_text(NS_HELPER)
    proc = subprocess.run(["unshare", "-m", sys.executable, str(helper), mode, str(store), json.dumps(argv)],
                          capture_output=True, text=True, cwd=REPO, env=_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    if mode == "full":  # the tmpfs vanished with the namespace: compare inside it
        assert result["after"] == result["before"], "the command left files behind on the full disk"
    return result["rc"], result["stderr"]


def _with_fsize_limit(argv: list[str], limit: int = 8192) -> tuple[int, str]:
    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run([sys.executable, "-m", "behemb_core", *argv], capture_output=True, text=True, cwd=REPO,
                          env=_env(), preexec_fn=limit_file_size, timeout=120)
    return proc.returncode, proc.stderr


def _without_s3fs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``s3fs`` look not installed for this test (it is installed for the object-store tests): importing it
    fails, and fsspec forgets the class it may have loaded already."""
    import fsspec.registry  # noqa: F401  (the module; ``fsspec.registry`` the attribute is a read-only view)

    loaded = sys.modules["fsspec.registry"]._registry
    monkeypatch.setitem(sys.modules, "s3fs", None)
    for protocol in ("s3", "s3a"):
        monkeypatch.delitem(loaded, protocol, raising=False)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_hostile_input_is_one_line_exit_1_and_nothing_written(case: Case, ws: Path, capsys, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    case = _fill(case, ws)
    if case.id == "store-s3-without-s3fs":
        _without_s3fs(monkeypatch)
    before = _snapshot(ws)
    if case.env == "inproc":
        code = main(case.argv)
        _, err = capsys.readouterr()
    elif case.env == "fsize":
        code, err = _with_fsize_limit(case.argv)
    else:
        code, err = _in_namespace(case.env, ws / "store", case.argv, tmp_path)
    lines = err.splitlines()
    if case.argv[0] == "approve":  # approve lists the sign-off checks on stderr before it writes
        lines = [ln for ln in lines if not ln.startswith("[")]
    assert code == 1, err
    assert "Traceback" not in err, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in case.needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    assert "\0" not in err
    assert _snapshot(ws) == before, "the command wrote something"
    for path in case.absent:
        assert not os.path.lexists(path), path


def test_the_table_has_at_least_30_cases() -> None:
    assert len(CASES) >= 30


def test_debug_shows_the_traceback_and_still_one_error_line(ws: Path, capsys) -> None:
    argv = ["--debug", "summarize", "--input", str(ws / "bad" / "latin1.jsonl"), "--quiet"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.splitlines()[-1].startswith("error: ")


def test_unexpected_error_is_one_line_naming_its_type(ws: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    from behemb_core.cli import storage

    def broken(args):
        raise KeyError("surprise")

    monkeypatch.setattr(storage, "cmd_versions", broken)
    code = main(["versions", "--store", str(ws / "store")])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: unexpected KeyError: 'surprise' — run with --debug for the traceback")
    assert main(["versions", "--store", str(ws / "store"), "--debug"]) == 1  # --debug after the command too
    assert "Traceback" in capsys.readouterr().err


def test_usage_errors_still_exit_2(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["train", "--method", "no-such-method"])
    assert exc.value.code == 2


# ------------------------------------------------------------------------------------------------------ app
# The same boundary in the app (AppTest): the Data page's uploads, the Train page and the sidebar's store field
# show one clear message naming the file or path; no exception reaches Streamlit.
PAGES = ["pages/1_Data.py", "pages/2_Train.py", "pages/3_Neighbors.py", "pages/4_Projection.py",
         "pages/5_Compare.py", "pages/6_Publish.py"]


def _errors(at) -> list[str]:
    return [e.value for e in at.error]


@pytest.fixture
def data_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    pytest.importorskip("streamlit")
    from conftest import open_app

    return open_app(tmp_path / "store", "pages/1_Data.py", monkeypatch)


def _truncated_gz_sessions() -> bytes:
    blob = gzip.compress(b"".join(b'{"session_id": "s%d", "items": [%d, %d, %d]}\n' % (i, i % 97, i % 89, i % 83)
                                  for i in range(20_000)))
    return blob[: len(blob) // 2]


@pytest.mark.parametrize("name, data, needles", [
    ("garbage.parquet", np.random.default_rng(5).bytes(2048), ["garbage.parquet", "not a readable Parquet file"]),
    ("latin1.jsonl", b'{"session_id": "a", "items": [1, 2]}\n{"session_id": "caf\xe9", "items": [1, 2]}\n',
     ["latin1.jsonl, line 2", "not UTF-8"]),
    ("cut.jsonl.gz", _truncated_gz_sessions(), ["cut.jsonl.gz, line ", "truncated or corrupt"]),
    ("binary.jsonl", np.random.default_rng(6).bytes(4096), ["binary.jsonl, line 1", "not UTF-8"]),
    ("empty.parquet", b"", ["empty.parquet", "0 bytes"]),
], ids=["garbage-parquet", "invalid-utf8-jsonl", "truncated-gz", "binary-garbage-jsonl", "empty-parquet"])
def test_app_data_page_upload_of_a_broken_file_names_it(data_page, name: str, data: bytes, needles) -> None:
    at = data_page
    at.radio(key="data_source").set_value("upload").run()
    at.file_uploader(key="data_upload").set_value((name, data, "application/octet-stream")).run()
    if not _errors(at):  # session files are only read when asked to
        at.button(key="data_read").click().run()
    assert not at.exception, [e.value for e in at.exception]
    errors = _errors(at)
    assert len(errors) == 1 and all(n in errors[0] for n in needles), errors
    assert "behemb-uploads" not in errors[0] and "Traceback" not in errors[0]
    assert name not in at.session_state["dataset_spec"]  # the demo stays the dataset in use


@pytest.mark.parametrize("bad, needle", [
    ("{tmp}/st\0re", "NUL byte"),
    ("{tmp}/afile", "is a file, not a folder"),
    ("{tmp}/afile/store", "under the file"),
    ("nosuch://x", "unknown storage protocol 'nosuch'"),
    ("s3://bucket/x", "pip install s3fs"),
])
def test_app_store_field_with_a_bad_location_shows_a_message_on_every_page(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str, needle: str) -> None:
    pytest.importorskip("streamlit")
    from conftest import open_app

    if bad.startswith("s3://"):
        _without_s3fs(monkeypatch)
    (tmp_path / "afile").write_text("a regular file\n")
    bad = bad.replace("{tmp}", str(tmp_path))
    at = open_app(tmp_path / "store", monkeypatch=monkeypatch)
    at.sidebar.text_input(key="store_path_input").set_value(bad).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(needle in e.value for e in at.sidebar.error), [e.value for e in at.sidebar.error]
    assert any(needle in e for e in _errors(at) if "store could not be read" in e), _errors(at)  # home page
    for page in PAGES:  # AppTest runs a switched-to page on its own (no sidebar): the page says it itself
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        shown = _errors(at)
        if page == "pages/1_Data.py":  # reading data needs no store
            assert not shown, shown
        else:
            assert any(needle in e for e in shown), (page, shown)
            assert not any("Something went wrong" in e for e in shown), (page, shown)
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").iterdir())


@pytest.fixture
def train_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    pytest.importorskip("streamlit")
    from conftest import open_app

    at = open_app(tmp_path / "store", "pages/2_Train.py", monkeypatch)
    at.selectbox(key="train_method").set_value("ppmi_svd").run()
    at.number_input(key="cfg_ppmi_svd_dim").set_value(8)
    at.checkbox(key="train_evaluate").uncheck()
    return at


def _no_job(at) -> bool:
    return "train_job" not in at.session_state


@pytest.mark.parametrize("name", ["a b", "../escape", ".hidden", "x" * 65])
def test_app_train_bad_version_name_is_refused_before_anything(train_page, tmp_path: Path, name: str) -> None:
    at = train_page
    at.text_input(key="train_name").set_value(name)
    at.button(key="train_submit").click().run()
    assert not at.exception, [e.value for e in at.exception]
    [error] = _errors(at)
    assert error.startswith("Training could not start: invalid version name") and _no_job(at), error
    assert not (tmp_path / "store" / "versions").exists()


def test_app_train_with_a_file_as_store_says_so(train_page, tmp_path: Path) -> None:
    at = train_page
    (tmp_path / "afile").write_text("x")
    at.session_state["store_path"] = str(tmp_path / "afile")
    at.run()
    at.button(key="train_submit").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(e.startswith("The store could not be opened: the store location") and "is a file, not a folder" in e
               for e in _errors(at)), _errors(at)
    assert _no_job(at) and (tmp_path / "afile").read_text() == "x"


def test_app_training_job_on_a_read_only_store_fails_with_the_reason(train_page, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The job thread's boundary: the store's own write fails as on a read-only mount (EROFS at the mkdir of its
    work folder); the page shows the path and the reason, nothing is written."""
    import errno
    import types

    import behemb_core.store._version_write as version_write

    def read_only_mkdir(path, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)

    monkeypatch.setattr(version_write, "os", types.SimpleNamespace(**{**vars(os), "mkdir": read_only_mkdir}))
    at = train_page
    at.text_input(key="train_name").set_value("ro-1")
    at.button(key="train_submit").click().run()
    from app_support import jobs

    job = jobs.wait(jobs.get_job(at.session_state["train_job"]), 120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    store = tmp_path / "store"
    assert job.status == "failed" and job.error == f"could not write ({store}/versions): read-only file system"
    shown = [e.replace("\\", "") for e in _errors(at)]  # as read on screen (markdown escapes removed)
    assert f"Training failed: {job.error}" in shown, shown
    assert [p.name for p in (store / "versions").iterdir()] == []  # the work folder was never made
