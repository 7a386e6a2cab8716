"""The error boundary's line between a user's missing install and our own bug: only a ``ModuleNotFoundError`` for
a third-party package behemb depends on says "pip install …"; an import of our own that fails (a typo, a moved
module, a name missing from a module) is unexpected, and the front ends keep its traceback."""

from __future__ import annotations

import importlib
import logging
import re
from pathlib import Path

import pytest

from behemb_core.boundary import DISTRIBUTIONS, OWN_PACKAGES, describe, missing_distribution
from behemb_core.cli._run import run_cli

REPO = Path(__file__).resolve().parents[1]


def _raised(code: str) -> BaseException:
    try:
        exec(code, {})
    except BaseException as exc:  # noqa: BLE001 - the exception is what the test looks at
        return exc
    raise AssertionError(f"{code!r} raised nothing")


def test_a_missing_dependency_is_the_users_to_install() -> None:
    exc = ModuleNotFoundError("No module named 'umap'", name="umap")
    assert describe(exc) == "a required package is missing (No module named 'umap'); pip install umap-learn"
    sub = ModuleNotFoundError("No module named 'sklearn.utils'", name="sklearn.utils")
    assert missing_distribution(sub) == "scikit-learn"
    assert "pip install pyspark" in (describe(ModuleNotFoundError("x", name="pyspark")) or "")


@pytest.mark.parametrize("code", [
    "import behemb_core.no_such_module",  # a typo in one of our own imports
    "from behemb_core.store import no_such_module_either",  # ImportError: a name missing from our module
    "import app_support.no_such_helper",
    "import benchmarks.no_such_bench",
    "from json import no_such_name",  # ImportError from the standard library
    "import a_package_behemb_does_not_depend_on",  # not a distribution we depend on
])
def test_any_other_import_error_is_unexpected(code: str) -> None:
    exc = _raised(code)
    assert isinstance(exc, ImportError)
    assert describe(exc) is None, describe(exc)


def test_a_bad_import_of_ours_reaches_the_unexpected_path_with_its_traceback(capsys, caplog) -> None:
    def command() -> int:
        importlib.import_module("behemb_core.no_such_module")
        return 0

    assert run_cli(command) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: unexpected ModuleNotFoundError: No module named 'behemb_core.no_such_module'")
    assert "pip install" not in err and "--debug" in err
    assert run_cli(command, debug=True) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "import_module" in err and "pip install" not in err

    from app_support.jobs import start_job, wait

    with caplog.at_level(logging.ERROR):
        job = wait(start_job("k", "label", lambda progress: command()))  # type: ignore[arg-type,return-value]
    assert job.status == "failed" and job.error.startswith("unexpected ModuleNotFoundError"), job.error
    assert any(r.exc_info and "no_such_module" in str(r.exc_info[1]) for r in caplog.records)  # the traceback kept


def test_a_missing_dependency_through_the_cli_is_one_line(capsys) -> None:
    def command() -> int:
        raise ModuleNotFoundError("No module named 's3fs'", name="s3fs")

    assert run_cli(command) == 1
    err = capsys.readouterr().err
    assert err == "error: a required package is missing (No module named 's3fs'); pip install s3fs\n"


def test_the_distributions_are_what_behemb_requires() -> None:
    """Every runtime and Spark requirement is known by its import name (and nothing else is, but s3fs)."""
    names = set()
    for req in ("requirements.txt", "requirements-spark.txt"):
        for line in (REPO / req).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-"):
                names.add(re.split(r"[=<>!~\[ ]", line)[0].lower())
    assert {d.lower() for d in DISTRIBUTIONS.values()} == names | {"s3fs"}
    assert not OWN_PACKAGES & set(DISTRIBUTIONS)
