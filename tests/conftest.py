"""Shared fixtures: planted-cluster data with a known answer, and the real data beside the repo."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from behemb_core.synthetic import PlantedData, planted_sessions

REPO = Path(__file__).resolve().parents[1]
# The app compiles umap's kernels in a background thread at start-up; tests must not spend CPU on that.
os.environ.setdefault("BEHEMB_NO_WARMUP", "1")
# Every test signs the audit entries it writes with this key (as a team's server would), so verify can judge their
# authenticity; tests of the key itself (tests/test_audit_key.py) set or remove it.
TEST_AUDIT_KEY = "behemb-tests-audit-key-0123456789abcdef"
os.environ["BEHEMB_AUDIT_KEY"] = TEST_AUDIT_KEY
os.environ.pop("BEHEMB_AUDIT_KEY_FILE", None)
os.environ.pop("BEHEMB_ID_TOKEN", None)
os.environ.pop("BEHEMB_ID_TOKEN_FILE", None)
os.environ.pop("BEHEMB_REQUIRE_SIGN_IN", None)
SHARED_DATA = Path(os.environ.get("BEHEMB_SHARED_DATA", REPO.parent / "shared" / "data"))
ONLINE_RETAIL = SHARED_DATA / "online-retail" / "by-day"
MOVIELENS = SHARED_DATA / "movielens-small"
# CI sets BEHEMB_REQUIRE_SHARED_DATA=1: there a missing ../shared/data fails the real-data tests instead of
# skipping them, so a green run always includes the claims checked on real data.
REQUIRE_SHARED_DATA = os.environ.get("BEHEMB_REQUIRE_SHARED_DATA") == "1"
# CI sets BEHEMB_REQUIRE_SPARK=1: there a missing pyspark or Java fails the Spark tests instead of skipping them.
REQUIRE_SPARK = os.environ.get("BEHEMB_REQUIRE_SPARK") == "1"


def _real_data(path: Path) -> Path:
    if not path.is_dir():
        message = f"real data not found at {path} (set BEHEMB_SHARED_DATA to the shared data folder)"
        if REQUIRE_SHARED_DATA:
            pytest.fail(message + "; BEHEMB_REQUIRE_SHARED_DATA=1 forbids skipping")
        pytest.skip(message)
    return path


@pytest.fixture(autouse=True)
def _keep_main_module():
    """Streamlit's AppTest runs app scripts as ``__main__`` and leaves ``sys.modules["__main__"]`` pointing at the
    last one. A later test that starts processes with the "spawn" method would then make every child re-run that
    app script before it can work (tests/test_golden.py's pool hung, re-spawning workers): put pytest's back."""
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


@pytest.fixture(scope="session")
def planted() -> PlantedData:
    return planted_sessions(n_items=600, n_clusters=30, n_sessions=6000, seed=7)


@pytest.fixture(scope="session")
def online_retail_dir() -> Path:
    return _real_data(ONLINE_RETAIL)


@pytest.fixture(scope="session")
def movielens_dir() -> Path:
    return _real_data(MOVIELENS)


def open_app(store: Path | str, page: str | None = None, monkeypatch: pytest.MonkeyPatch | None = None, *,
             timeout: float = 120):
    """The app under Streamlit's AppTest with its store at ``store``, on ``page`` (e.g. ``"pages/1_Data.py"``)
    when given; asserts that nothing raised on the way."""
    from streamlit.testing.v1 import AppTest

    if monkeypatch is not None:
        monkeypatch.setenv("BEHEMB_STORE", str(store))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=timeout)
    at.session_state["store_path"] = str(store)
    at.run()
    if page is not None:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def store_copy(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A test's own copy of a module's template store (trained once per module), in use as ``BEHEMB_STORE``."""
    path = tmp_path / "store"
    shutil.copytree(template, path)
    monkeypatch.setenv("BEHEMB_STORE", str(path))
    return path


def write_sessions_jsonl(path: Path, sessions) -> Path:
    """``sessions`` as a session JSONL file (what the CLI and the app read); returns ``path``."""
    import json

    with open(path, "w") as fh:
        for sid, items in zip(sessions.session_ids, sessions.to_lists(), strict=True):
            fh.write(json.dumps({"session_id": str(sid), "items": [int(x) for x in items]}) + "\n")
    return path



def shown_tables(at) -> list:
    """The page's ``st.table`` tables (``app_support.widgets.static_table``) as read on screen: each cell's text
    without markdown escapes, a state badge as its word (``:green-badge[:material/check: pass]`` → ``pass``)."""
    import re

    badge = re.compile(r":[a-z]+-badge\[(?::material/[a-z_]+: )?(.*?)\]")
    unescape = re.compile(r"\\(.)")

    def clean(cell: object) -> object:
        return unescape.sub(r"\1", badge.sub(r"\1", cell)) if isinstance(cell, str) else cell

    return [t.value.map(clean) for t in at.table]


def open_neighbors(store: Path | str, version: str, item: str, monkeypatch: pytest.MonkeyPatch):
    """The Neighbors page on ``version`` with the item filter set to ``item`` (nothing asserted beyond
    :func:`open_app`'s own check)."""
    at = open_app(store, "pages/3_Neighbors.py", monkeypatch)
    at.selectbox(key="nb_version").set_value(version).run()
    at.text_input(key="nb_filter").set_value(item).run()
    return at


@pytest.fixture()
def downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """Every file handed to a download button, by file name (AppTest's media storage lives for one run only)."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    seen: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def record(self, path_or_data, mimetype, kind, filename=None):
        if filename is not None and isinstance(path_or_data, bytes):
            seen[filename] = path_or_data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    return seen


@pytest.fixture(scope="session")
def s3_bucket() -> str:
    """A bucket on an S3-compatible server on a loopback port (moto, serialised: tests/s3_server.py), reached the
    way users reach theirs: ``AWS_ENDPOINT_URL`` and credentials in the environment (set for this test session and
    inherited by the subprocesses tests start). Skipped when moto or s3fs is not installed."""
    pytest.importorskip("s3fs", reason="s3fs is not installed (pip install -r requirements-test.txt)")
    pytest.importorskip("moto.server", reason="moto[server] is not installed (pip install -r requirements-test.txt)")
    import s3_server

    server, url = s3_server.start()
    os.environ.update(AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_DEFAULT_REGION="us-east-1")
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()  # an instance made before the endpoint was set would keep the old one
    fs = s3fs.S3FileSystem()
    fs.mkdir("behemb-tests")
    yield "behemb-tests"
    server.stop()


@pytest.fixture(scope="session")
def spark_available() -> None:
    """pyspark and a Java runtime are installed (else skip — or fail under CI's ``BEHEMB_REQUIRE_SPARK=1``)."""
    import importlib.util
    import shutil

    missing = None
    if importlib.util.find_spec("pyspark") is None:
        missing = "pyspark is not installed (pip install -r requirements-spark.txt)"
    elif shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        missing = "no Java runtime (Debian: apt-get install openjdk-17-jre-headless)"
    if missing:
        if REQUIRE_SPARK:
            pytest.fail(missing + "; BEHEMB_REQUIRE_SPARK=1 forbids skipping")
        pytest.skip(missing)


@pytest.fixture(scope="session")
def spark(spark_available):
    """One ``local[2]`` SparkSession for the whole test session (Spark takes seconds to start), bound to the
    loopback interface, with the engine's settings (UTC, ANSI)."""
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    from behemb_core.spark.job import spark_session

    session = spark_session("local[2]", {"spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "4",
                                         "spark.driver.memory": "2g"})
    yield session
    session.stop()
