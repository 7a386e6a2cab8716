"""The package installs with pip and runs from any folder; the library never imports Streamlit, and nothing but
the Spark engine's own modules imports pyspark."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_the_library_and_the_app_do_not_import_pyspark() -> None:
    """pyspark is an optional extra: the library (its Spark package and the prepared-data reader included), the
    CLI and the app's support modules load without it; only ``behemb_core.spark.job`` and what it uses import it."""
    code = ("import sys, behemb_core, behemb_core.cli, behemb_core.cli.training, behemb_core.train, "
            "behemb_core.prepared, behemb_core.spark, behemb_core.cli.spark_submit, behemb_core.store; "
            "import app_support.data_io, app_support.jobs, app_support.loaders, app_support.shell; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'py4j')); "
            "print(bad[:5]); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_importing_the_library_does_not_import_streamlit() -> None:
    """In a fresh interpreter: the library, its CLI, training and the store load without Streamlit (the app is
    the only part that needs it)."""
    code = ("import sys, behemb_core, behemb_core.cli, behemb_core.train, behemb_core.store, behemb_core.ingest; "
            "import behemb_core.signoff, behemb_core.compare, behemb_core.projection; "
            "bad = sorted(m for m in sys.modules if m == 'streamlit' or m.startswith('streamlit.')); "
            "print(bad[:5]); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_pip_install_gives_a_working_behemb_command_from_any_folder(tmp_path: Path) -> None:
    """``pip install .`` into a fresh virtual environment (sharing this environment's pinned dependencies; pip
    fetches only the pinned build backend from the package index): the ``behemb`` console script runs from
    another folder and is the same CLI as ``python -m behemb_core``."""
    import shutil

    src = tmp_path / "src"  # build from a copy: setuptools writes build/ and *.egg-info beside the sources
    src.mkdir()
    for name in ("pyproject.toml", "requirements.txt", "requirements-spark.txt", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "behemb_core", src / "behemb_core", ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps",
                          "-q", str(src)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert pip.returncode == 0, pip.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    helped = subprocess.run([str(venv / "bin" / "behemb"), "--help"], capture_output=True, text=True, cwd=elsewhere,
                            timeout=120)
    assert helped.returncode == 0, helped.stderr
    for command in ("train", "tune", "neighbors", "approve", "publish", "verify", "repair"):
        assert command in helped.stdout
    listed = subprocess.run([str(venv / "bin" / "behemb"), "versions", "--store", str(tmp_path / "store")],
                            capture_output=True, text=True, cwd=elsewhere, timeout=120)
    assert listed.returncode == 0 and listed.stdout.strip() == "(none)", listed.stderr
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import behemb_core; print(behemb_core.__file__)"],
                           capture_output=True, text=True, cwd=elsewhere, timeout=120)
    assert str(venv) in where.stdout, where.stdout  # the installed copy, not the repository's
