"""The static checks run with the tests: ruff on the repository and mypy (``check_untyped_defs``) on
``behemb_core``, ``app_support``, the Streamlit pages and ``app.py``.

Both are pinned in requirements-test.txt and configured in pyproject.toml (``[tool.ruff]``, ``[tool.mypy]``), so
``.ci/run`` fails on a lint or type error like on any other test. Each test runs the tool from the repository root
and fails with its report.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=600)


def test_ruff_reports_nothing() -> None:
    result = _run("ruff", "check", ".", "--output-format", "concise")
    assert result.returncode == 0, f"ruff check . reported:\n{result.stdout}{result.stderr}"


def test_mypy_reports_nothing() -> None:
    result = _run("mypy")
    assert result.returncode == 0, f"mypy reported:\n{result.stdout}{result.stderr}"
