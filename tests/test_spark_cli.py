"""The Spark engine end to end, as users run it: ``train --engine spark --master local[2]`` on the Online Retail
by-day folder and on a sessions file writes versions to an ``s3://`` store on the loopback S3 server; they equal the
single-machine versions bit for bit, pass ``verify``, are listed, served by the CLI and by the Neighbors page;
8 concurrent publishers on that store leave a consistent pointer and audit log. The split path (``prepare`` then
``train --from-prepared``) gives the same vectors; a job killed midway leaves no loadable version; without pyspark
``--engine spark`` says how to install it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from concurrent_publishers import run_concurrent_publishers
from conftest import open_app
from test_spark_engine import sessions_jsonl

from behemb_core.demo import ONLINE_RETAIL_NON_PRODUCTS
from behemb_core.store import CheckResult, Store, publish
from behemb_core.store.lifecycle import record_approval as approve  # the recording layer, checks given

pytestmark = [pytest.mark.spark, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
RETAIL = ["--format", "events", "--exclude-session-prefix", "C",
          "--exclude-items", ",".join(ONLINE_RETAIL_NON_PRODUCTS), "--name-col", "Description"]
TRAIN = ["--method", "ppmi_svd", "--set", "dim=32", "--quiet"]
CHECKS = [CheckResult(name="files intact", passed=True, value=0, threshold="0 problems", detail="")]


@pytest.fixture(scope="module")
def spark_cli(spark_available: None) -> dict[str, str]:
    """The environment of CLI subprocesses: the repo on the path, Spark bound to loopback."""
    return {**os.environ, "PYTHONPATH": str(REPO), "SPARK_LOCAL_IP": "127.0.0.1"}


def cli(env: dict[str, str], *args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "behemb_core", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_spark_versions_on_s3_equal_the_single_machine_ones(spark_cli, s3_bucket: str, online_retail_dir: Path,
                                                            tmp_path: Path, monkeypatch) -> None:
    store = f"s3://{s3_bucket}/spark-{uuid.uuid4().hex[:8]}"
    jobs = {"retail": ["--input", str(online_retail_dir), *RETAIL],
            "sessions": ["--input", str(sessions_jsonl(tmp_path / "s")), "--format", "sessions"]}
    for name, data in jobs.items():
        ok(cli(spark_cli, "train", "--engine", "spark", "--master", "local[2]", *data, *TRAIN, "--store", store,
               "--version", f"{name}-spark"))
        ok(cli(spark_cli, "train", *data, *TRAIN, "--store", store, "--version", f"{name}-local"))
    st = Store(store)
    for name in jobs:
        spark, local = st.load_version(f"{name}-spark"), st.load_version(f"{name}-local")
        assert spark.embeddings.vocab == local.embeddings.vocab
        assert np.array_equal(spark.embeddings.vectors, local.embeddings.vectors)
        ms, ml = st.manifest(f"{name}-spark"), st.manifest(f"{name}-local")
        assert ms["dataset"]["fingerprint"] == ml["dataset"]["fingerprint"]
        assert ms["dataset"]["summary"] == ml["dataset"]["summary"]
        assert ms["dataset"]["source"]["engine"] == "spark"
        assert spark.item_stats.equals(local.item_stats)
    assert st.manifest("retail-spark")["dataset"]["summary"]["events"] > 350_000  # the whole by-day folder

    report = json.loads(ok(cli(spark_cli, "verify", "--store", store)))
    assert report["ok"] and report["versions_checked"] == 4
    listed = ok(cli(spark_cli, "versions", "--store", store))
    assert "retail-spark" in listed and "sessions-spark" in listed
    shown = ok(cli(spark_cli, "neighbors", "--store", store, "--version", "retail-spark", "--item", "85123A"))
    assert "WHITE HANGING HEART T-LIGHT HOLDER" in shown or "T-LIGHT" in shown

    at = open_app(store, "pages/3_Neighbors.py", monkeypatch)
    assert not at.error, [e.value for e in at.error]
    at.selectbox(key="nb_version").set_value("retail-spark").run()
    at.text_input(key="nb_filter").set_value("85123A").run()
    assert any("WHITE HANGING HEART T" in s.value for s in at.subheader)
    table = at.dataframe[0].value
    assert len(table) == 10 and (table["name"].str.len() > 0).all()

    names = [v.name for v in st.list_versions()]
    for name in names:
        approve(st, name, by="setup", checks=CHECKS)
    publish(st, "retail-spark", by="setup")
    run_concurrent_publishers(st, names, tmp_path)


def test_prepare_then_train_from_prepared_gives_the_same_vectors(spark_cli, tmp_path: Path) -> None:
    """The cluster path: a ``prepare`` job (what spark-submit runs) writes a work dir, a driver trains from it —
    the same version as the single-machine engine; the work dir is refused for a window it was not counted with."""
    data = ["--input", str(sessions_jsonl(tmp_path / "s")), "--format", "sessions"]
    work = tmp_path / "work"
    out = json.loads(ok(cli(spark_cli, "prepare", "--master", "local[2]", *data, "--work-dir", str(work),
                            "--window", "3", "--weighting", "harmonic", "--quiet")))
    assert out["pairs"] == {"window": 3, "weighting": "harmonic"} and (work / "prepared.json").exists()
    store = str(tmp_path / "store")
    cfg = ["--set", "window=3", "--set", "weighting=harmonic"]
    ok(cli(spark_cli, "train", "--from-prepared", str(work), *TRAIN, *cfg, "--store", store, "--version", "p"))
    ok(cli(spark_cli, "train", *data, *TRAIN, *cfg, "--store", store, "--version", "l"))
    st = Store(store)
    assert np.array_equal(st.load_version("p").embeddings.vectors, st.load_version("l").embeddings.vectors)
    wrong = cli(spark_cli, "train", "--from-prepared", str(work), *TRAIN, "--store", store)
    assert wrong.returncode == 1 and wrong.stderr.count("\n") == 1
    assert "window 3, harmonic weighting" in wrong.stderr and "prepare again" in wrong.stderr
    ignored = cli(spark_cli, "train", "--from-prepared", str(work), *TRAIN, *cfg, "--min-count", "3", "--store", store)
    assert ignored.returncode == 1 and "--min-count: the work dir was read and cleaned when it was prepared" in (
        ignored.stderr)  # never silently ignored


def test_prepare_directed_pairs_then_next_item_tables_from_the_work_dir(spark_cli, tmp_path: Path) -> None:
    """``prepare --directed-pairs`` counts the directed table and ``prepared.json`` says so; ``cooc_softmax`` with
    ``directional=true`` trained from that work dir has the same vectors, Q and K as trained from the sessions
    (issue 24); ``--help`` names the flag, and ``--no-pairs`` with it is refused before Spark starts."""
    from behemb_core.cooccurrence import count_pairs
    from behemb_core.ingest import DatasetSpec, load
    from behemb_core.prepared import PreparedDataset

    sessions = sessions_jsonl(tmp_path / "s")
    data = ["--input", str(sessions), "--format", "sessions"]
    work = tmp_path / "work"
    out = json.loads(ok(cli(spark_cli, "prepare", "--master", "local[2]", *data, "--work-dir", str(work),
                            "--window", "3", "--weighting", "harmonic", "--directed-pairs", "--quiet")))
    assert out["pairs"] == {"window": 3, "weighting": "harmonic", "directed": True}
    prepared = PreparedDataset.open(str(work))
    assert prepared.meta["pairs"] == out["pairs"]
    here = count_pairs(load(DatasetSpec(paths=[str(sessions)], format="sessions")).sessions, window=3,
                       weighting="harmonic", directed=True)
    there = prepared.pairs(3, "harmonic", directed=True)
    assert there.directed and np.array_equal(there.keys, here.keys) and np.array_equal(there.counts, here.counts)

    store = str(tmp_path / "store")
    cfg = ["--method", "cooc_softmax", "--set", "dim=8", "--set", "window=3", "--set", "weighting=harmonic",
           "--set", "epochs=3", "--set", "softmax=full", "--set", "directional=true", "--seed", "4", "--quiet"]
    ok(cli(spark_cli, "train", "--from-prepared", str(work), *cfg, "--store", store, "--version", "p"))
    ok(cli(spark_cli, "train", *data, *cfg, "--store", store, "--version", "l"))
    st = Store(store)
    p, loc = st.load_version("p"), st.load_version("l")
    assert p.embeddings.vocab == loc.embeddings.vocab
    assert np.array_equal(p.embeddings.vectors, loc.embeddings.vectors)
    assert p.directional is not None and loc.directional is not None and p.directional.query.shape[1] == 8
    assert np.array_equal(p.directional.query, loc.directional.query)
    assert np.array_equal(p.directional.candidate, loc.directional.candidate)

    shown = ok(cli(spark_cli, "prepare", "--help"))
    assert "--directed-pairs" in shown and "directed=True" in shown
    both = cli(spark_cli, "prepare", *data, "--work-dir", str(tmp_path / "never"), "--no-pairs", "--directed-pairs")
    assert both.returncode == 1 and "--directed-pairs" in both.stderr and "--no-pairs" in both.stderr
    assert not (tmp_path / "never").exists()


def test_spark_submit_runs_the_entry_script_from_a_zipped_package(spark_cli, tmp_path: Path) -> None:
    """The README's cluster command, on a local master: the package zipped for ``--py-files`` and the entry script
    ``behemb_core/cli/spark_submit.py`` prepare the same work dir as ``python -m behemb_core prepare``."""
    import shutil
    import zipfile

    spark_submit = shutil.which("spark-submit")
    if spark_submit is None:
        pytest.skip("no spark-submit on the PATH")
    package = tmp_path / "behemb_core.zip"
    with zipfile.ZipFile(package, "w") as zf:
        for path in sorted((REPO / "behemb_core").rglob("*.py")):
            zf.write(path, path.relative_to(REPO).as_posix())
    data = ["--input", str(sessions_jsonl(tmp_path / "s")), "--format", "sessions", "--window", "2", "--quiet"]
    env = {k: v for k, v in spark_cli.items() if k != "PYTHONPATH"}  # the zip alone brings the package
    done = subprocess.run([spark_submit, "--master", "local[1]", "--py-files", str(package),
                           str(REPO / "behemb_core" / "cli" / "spark_submit.py"), *data, "--work-dir",
                           str(tmp_path / "submitted")], env=env, capture_output=True, text=True, timeout=600,
                          cwd=tmp_path)
    submitted = json.loads(ok(done).strip().splitlines()[-1])  # spark-submit puts pyspark's warnings on stdout too
    direct = json.loads(ok(cli(spark_cli, "prepare", "--master", "local[1]", *data, "--work-dir",
                               str(tmp_path / "direct"))))
    assert submitted["fingerprint"] == direct["fingerprint"] and submitted["items"] == direct["items"]


def test_a_spark_job_killed_midway_leaves_no_loadable_version(spark_cli, s3_bucket: str, tmp_path: Path) -> None:
    store = f"s3://{s3_bucket}/killed-{uuid.uuid4().hex[:8]}"
    work = tmp_path / "work"
    proc = subprocess.Popen(
        [sys.executable, "-m", "behemb_core", "train", "--engine", "spark", "--master", "local[2]", "--input",
         str(sessions_jsonl(tmp_path / "s")), "--format", "sessions", "--method", "ppmi_svd", "--store", store,
         "--version", "killed", "--work-dir", str(work)],
        env=spark_cli, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    seen = ""
    deadline = time.monotonic() + 600
    assert proc.stderr is not None
    while time.monotonic() < deadline:  # kill it once Spark is writing the work dir, before the version
        line = proc.stderr.readline()
        seen += line
        if "counting items" in line or not line:
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert "counting items" in seen, seen[-2000:]
    st = Store(store)
    assert [v.name for v in st.list_versions()] == []
    assert not st.exists("killed")
    assert not (work / "prepared.json").exists()
    report = json.loads(ok(cli(spark_cli, "verify", "--store", store)))
    assert report["ok"]
    again = cli(spark_cli, "train", "--from-prepared", str(work), "--method", "ppmi_svd", "--store", store)
    assert again.returncode == 1 and "did not finish" in again.stderr


def test_when_the_spark_jvm_dies_the_error_says_so(spark_cli, tmp_path: Path) -> None:
    """Killing the driver's JVM (as the kernel's OOM killer would) ends the job with one line that names the JVM
    and the memory setting — not a "connection refused" that seems to be about the store — and writes nothing."""
    store = tmp_path / "store"
    proc = subprocess.Popen(
        [sys.executable, "-m", "behemb_core", "train", "--engine", "spark", "--master", "local[2]", "--input",
         str(sessions_jsonl(tmp_path / "s")), "--format", "sessions", "--method", "ppmi_svd", "--store", str(store)],
        env=spark_cli, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    seen = ""
    while "clean" not in seen:  # Spark is running the job
        line = proc.stderr.readline()
        assert line, seen
        seen += line
    jvms = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _parent(p) == proc.pid]
    assert jvms
    for pid in jvms:
        os.kill(pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1
    # pyspark's accumulator thread may print its own traceback at the same moment, and a line of it can end right
    # where ours begins (two threads writing one stderr): find our line wherever it starts
    last = [line[line.index("error:"):] for line in err.splitlines() if "error:" in line]
    assert last and "the Spark JVM stopped" in last[-1] and "spark.driver.memory" in last[-1], err[-2000:]
    assert not store.exists() or not any(store.rglob("manifest.json"))


def _parent(proc_dir: Path) -> int | None:
    try:
        return int((proc_dir / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def test_without_pyspark_the_spark_engine_says_how_to_install_it(tmp_path: Path) -> None:
    """No Spark needed: pyspark is made unimportable in the subprocess."""
    blocker = tmp_path / "site"
    blocker.mkdir()
    (blocker / "pyspark.py").write_text("raise ImportError('No module named pyspark')\n")
    env = {**os.environ, "PYTHONPATH": f"{blocker}{os.pathsep}{REPO}"}
    data = tmp_path / "s.jsonl"
    data.write_text('{"session_id": "a", "items": [1, 2]}\n')
    for args in (["train", "--engine", "spark", "--input", str(data), "--method", "ppmi_svd",
                  "--store", str(tmp_path / "st")],
                 ["prepare", "--input", str(data), "--work-dir", str(tmp_path / "w")]):
        result = cli(env, *args, timeout=120)
        assert result.returncode == 1, result.stderr
        assert result.stderr.startswith("error: the Spark engine needs pyspark") and result.stderr.count("\n") == 1
        assert "requirements-spark.txt" in result.stderr
    assert not (tmp_path / "st").exists() or not any((tmp_path / "st").rglob("manifest.json"))
