"""The Spark engine prepares exactly what the single-machine engine reads: the same sessions (fingerprint), the
same vocabulary, item statistics, drops, notes, summary and pair counts, and so the same ``ppmi_svd`` vectors for a
seed — on real data (Online Retail by day, invoice and gap mode), on session JSON Lines, and on a log built to
trip an engine up (timestamp ties inside invoices, invoices shared by two users, missing users, ids written as
``12.0`` or with spaces). Bad rows fail with the file and line. One shared ``local[2]`` session (conftest).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO

from behemb_core.cooccurrence import count_pairs
from behemb_core.demo import ONLINE_RETAIL_FILTERS
from behemb_core.errors import ConfigError, InputError
from behemb_core.ingest import DatasetSpec, load
from behemb_core.ingest.dataset import Dataset, summarize
from behemb_core.prepared import PreparedDataset
from behemb_core.train import fit_method

pytestmark = pytest.mark.spark


def prepare_both(spark, tmp_path: Path, spec: DatasetSpec, *, window: int = 5, weighting: str = "uniform"
                 ) -> tuple[Dataset, PreparedDataset]:
    from behemb_core.spark.job import prepare

    work = tmp_path / f"work-{len(list(tmp_path.iterdir()))}"
    return load(spec), prepare(spark, spec, str(work), pairs=(window, weighting))


def assert_same(ds: Dataset, prepared: PreparedDataset, *, window: int = 5, weighting: str = "uniform") -> None:
    s, p = ds.sessions, prepared.sessions
    assert prepared.vocab == s.vocab
    assert prepared.fingerprint() == ds.fingerprint()
    assert prepared.item_stats().equals(s.item_stats())
    assert prepared.drops == ds.drops and prepared.notes == ds.notes
    assert prepared.summary == summarize(ds)
    assert {k: v for k, v in prepared.source.items() if k != "engine"} == ds.source
    assert np.array_equal(p.indptr, s.indptr) and np.array_equal(p.codes, s.codes)
    assert p.session_ids.tolist() == s.session_ids.tolist()
    assert (p.users is None) == (s.users is None)
    if s.users is not None:
        assert p.users.tolist() == s.users.tolist()
    assert (p.start_times is None) == (s.start_times is None)
    if s.start_times is not None:
        assert np.array_equal(p.start_times, s.start_times)
    here, there = count_pairs(s, window=window, weighting=weighting), prepared.pairs(window, weighting)
    assert np.array_equal(here.keys, there.keys) and np.array_equal(here.counts, there.counts)
    if ds.item_meta is not None:
        assert prepared.item_meta is not None
        mine, theirs = (m.table.set_index("item_id").sort_index() for m in (prepared.item_meta, ds.item_meta))
        assert mine.equals(theirs)  # the same name for every item (rows may come in another order)


def assert_same_vectors(ds: Dataset, prepared: PreparedDataset, config: dict) -> None:
    _, local, _ = fit_method("ppmi_svd", config, sessions=ds.sessions, seed=3)
    cfg = {"window": 5, "weighting": "uniform", **config}
    _, spark, _ = fit_method("ppmi_svd", config, pairs=prepared.pairs(cfg["window"], cfg["weighting"]), seed=3)
    assert spark.embeddings.vocab == local.embeddings.vocab
    assert np.array_equal(spark.embeddings.vectors, local.embeddings.vectors)  # bit for bit
    assert spark.report == local.report


# --------------------------------------------------------------------------------------------- fixtures


def tricky_log(folder: Path, *, string_items: bool = False) -> Path:
    """Two files of an event log where only file order decides: every invoice's lines share one timestamp (the
    items are deliberately not in sorted order), some invoices belong to two customers, some lines have no
    customer, ids are written ``12.0`` or `` 12 ``, and there are returns, cancelled invoices and long sessions."""
    rng = random.Random(7)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    t0 = 1_600_000_000
    for inv in range(400):
        users = [f"{rng.randrange(40)}.0"] if rng.random() < 0.8 else [str(rng.randrange(40)), str(rng.randrange(40))]
        t = t0 + inv * rng.choice([60, 600, 3600 * 5])
        if rng.random() < 0.1:
            t = t0 + (inv - 1) * 60  # the same minute as another invoice: ties between sessions too
        n = rng.choice([1, 2, 3, 4, 6, 9, 14])
        items = [rng.randrange(60) for _ in range(n)]
        if rng.random() < 0.3 and n > 2:
            items[1] = items[0]  # a consecutive repeat
        invoice = ("C" if rng.random() < 0.05 else "") + str(500 + inv)
        for j, item in enumerate(items):
            user = users[j % len(users)] if rng.random() > 0.03 else ""
            qty = -1 if rng.random() < 0.03 else rng.randrange(1, 5)
            item_text = f"A{item}" if string_items else (f" {item} " if j % 3 == 0 else f"{item}.0" if j % 3 == 1
                                                         else str(item))
            rows.append(f"{invoice},{item_text},{qty},{t},{user}")
    header = "InvoiceNo,StockCode,Quantity,ts,CustomerID"
    half = len(rows) // 2
    (folder / "part-a.csv").write_text("\n".join([header, *rows[:half]]) + "\n")
    (folder / "part-b.csv").write_text("\n".join([header, *rows[half:]]) + "\n")
    return folder


def sessions_jsonl(folder: Path) -> Path:
    """Sessions as JSON Lines over two files: integer ids (some written 12.0), users and start times on some
    lines, repeats, very long sessions (split at max_length) and singletons."""
    rng = random.Random(11)
    folder.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(("a.jsonl", "b.jsonl")):
        lines = []
        for i in range(300):
            n = rng.choice([1, 2, 3, 5, 8, 40])
            items: list = [rng.randrange(200) for _ in range(n)]
            if n > 3:
                items[2] = items[1]
                items[3] = float(items[3])
            obj: dict = {"session_id": f"s{k}-{i}" if i % 2 else k * 1000 + i, "items": items}
            if i % 3 == 0:
                obj["user_id"] = rng.randrange(50)
            if i % 4 == 0:
                obj["start_time"] = 1_600_000_000 + i * 37
            lines.append(json.dumps(obj))
            if i % 50 == 0:
                lines.append("")  # blank lines are skipped
        (folder / name).write_text("\n".join(lines) + "\n")
    return folder


def by_day(online_retail_dir: Path) -> Path:
    return online_retail_dir if online_retail_dir.name == "by-day" else online_retail_dir / "by-day"


# ------------------------------------------------------------------------------------------------ tests


@pytest.mark.parametrize("use_session_column", [True, False], ids=["invoice", "gap"])
def test_online_retail_by_day_prepares_exactly(spark, tmp_path: Path, online_retail_dir: Path,
                                               use_session_column: bool) -> None:
    days = tmp_path / "days"
    days.mkdir()
    for f in sorted(by_day(online_retail_dir).glob("*.csv"))[:40]:
        (days / f.name).write_bytes(f.read_bytes())
    spec = DatasetSpec(paths=[str(days)], format="events", filters=ONLINE_RETAIL_FILTERS, name_column="Description",
                       options={"use_session_column": use_session_column, "min_count": 2})
    ds, prepared = prepare_both(spark, tmp_path, spec, window=3, weighting="harmonic")
    assert ds.sessions.n_events > 40_000
    assert_same(ds, prepared, window=3, weighting="harmonic")
    assert_same_vectors(ds, prepared, {"dim": 16, "window": 3, "weighting": "harmonic"})
    assert_same_vectors(ds, prepared, {"dim": 16, "window": 3, "weighting": "linear"})  # per-distance counts


@pytest.mark.parametrize("options", [
    {},
    {"use_session_column": False, "gap_minutes": 30},
    {"min_count": 3, "max_length": 3, "min_length": 1, "collapse_repeats": False},
], ids=["invoice", "gap", "cleaning"])
def test_ties_shared_invoices_and_messy_ids_prepare_exactly(spark, tmp_path: Path, options: dict) -> None:
    spec = DatasetSpec(paths=[str(tricky_log(tmp_path / "log"))], format="events",
                       filters={"exclude_session_prefix": "C"}, options=options)
    ds, prepared = prepare_both(spark, tmp_path, spec, window=0)
    if options.get("use_session_column", True):
        assert ds.notes.get("session ids shared by several users (split per user)", 0) > 10
    assert_same(ds, prepared, window=0)
    assert_same_vectors(ds, prepared, {"dim": 8, "window": 0})


def test_string_item_ids_prepare_exactly(spark, tmp_path: Path) -> None:
    spec = DatasetSpec(paths=[str(tricky_log(tmp_path / "log", string_items=True))], format="events")
    ds, prepared = prepare_both(spark, tmp_path, spec)
    assert ds.sessions.vocab.kind == "str"
    assert_same(ds, prepared)


def test_a_sessions_file_prepares_exactly(spark, tmp_path: Path) -> None:
    # A catalogue (--item-meta), read on the driver with the spec's reading options: `|`, no header, and cp1251
    # text, which detection alone would read as cp1252 (the names would then differ from the single machine's).
    names = tmp_path / "items.txt"
    names.write_bytes("".join(f"{i}|товар {i}\n" for i in range(0, 200, 3)).encode("cp1251"))
    spec = DatasetSpec(paths=[str(sessions_jsonl(tmp_path / "s"))], format="sessions",
                       options={"max_length": 10, "min_count": 2}, meta_path=str(names), meta_delimiter="|",
                       meta_header=False, meta_encoding="cp1251")
    ds, prepared = prepare_both(spark, tmp_path, spec, window=2, weighting="linear")
    assert ds.notes and ds.sessions.users is not None and ds.item_meta is not None
    assert ds.item_meta.names_for(np.array([3]))[0] == "товар 3"
    assert_same(ds, prepared, window=2, weighting="linear")
    assert_same_vectors(ds, prepared, {"dim": 8, "window": 2, "weighting": "linear"})


def test_ordering_timestamp_ties_any_other_way_is_caught(tmp_path: Path) -> None:
    """Why the exactness tests above mean something: on the tricky log, putting the lines of one timestamp in
    item order instead of file order (what sorting by (time, item) does) changes the sessions' fingerprint and
    the pair counts, so an engine that ordered ties that way would fail them."""
    folder = tricky_log(tmp_path / "log")
    spec = DatasetSpec(paths=[str(folder)], format="events", filters={"exclude_session_prefix": "C"})
    reference = load(spec)
    other = tmp_path / "reordered"
    other.mkdir()
    for f in sorted(folder.glob("*.csv")):
        header, *rows = f.read_text().splitlines()
        rows.sort(key=lambda r: (r.split(",")[3], float(r.split(",")[1].strip().lstrip("A"))))
        (other / f.name).write_text("\n".join([header, *rows]) + "\n")
    reordered = load(spec.model_copy(update={"paths": [str(other)]}))
    assert reordered.source["rows_kept"] == reference.source["rows_kept"]  # the same events ...
    assert reordered.fingerprint() != reference.fingerprint()  # ... in another order: caught
    a, b = count_pairs(reference.sessions, window=2), count_pairs(reordered.sessions, window=2)
    assert not (np.array_equal(a.keys, b.keys) and np.array_equal(a.counts, b.counts))


@pytest.mark.parametrize("bad_line, text, field, message", [
    (4, "9001,17,2,yesterday,5", "timestamp", "cannot parse timestamp 'yesterday'"),
    (6, "9001,17,two,1600000000,5", "weight", "expected a number, got 'two'"),
    (3, "9001,17,2", None, "expected 5 fields"),
    (5, '9001,"17,2,1600000000,5', None, "quoted value continues on the next line"),
], ids=["timestamp", "weight", "fields", "quote"])
def test_a_bad_row_fails_the_job_with_its_file_and_line(spark, tmp_path: Path, bad_line: int, text: str,
                                                       field: str | None, message: str) -> None:
    from behemb_core.spark.job import prepare

    folder = tmp_path / "log"
    folder.mkdir()
    header = "InvoiceNo,StockCode,Quantity,ts,CustomerID"
    good = [f"{900 + i},{i % 7},1,{1_600_000_000 + i},{i % 3}" for i in range(8)]
    (folder / "a.csv").write_text("\n".join([header, *good]) + "\n")
    lines = [header, *good]
    lines[bad_line - 1] = text
    (folder / "b.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        prepare(spark, DatasetSpec(paths=[str(folder)], format="events"), str(tmp_path / "work"), pairs=(5, "uniform"))
    assert err.value.path == str(folder / "b.csv") and err.value.line == bad_line, str(err.value)
    assert err.value.field == field and message in str(err.value)
    assert not (tmp_path / "work" / "prepared.json").exists()


def test_a_work_dir_is_finished_or_refused(spark, tmp_path: Path) -> None:
    """An unfinished work dir (no prepared.json) cannot be trained from, a finished one is not overwritten, and a
    job asking for another window than the one counted is refused with what to do."""
    from behemb_core.spark.job import prepare

    (tmp_path / "half" / "sessions").mkdir(parents=True)
    with pytest.raises(InputError, match="did not finish"):
        PreparedDataset.open(str(tmp_path / "half"))
    spec = DatasetSpec(paths=[str(sessions_jsonl(tmp_path / "s"))], format="sessions")
    prepared = prepare(spark, spec, str(tmp_path / "done"), pairs=(5, "uniform"))
    with pytest.raises(InputError, match="not overwritten"):
        prepare(spark, spec, str(tmp_path / "done"), pairs=(5, "uniform"))
    with pytest.raises(ConfigError, match="window 5, uniform weighting.*prepare again"):
        prepared.pairs(3, "uniform")
    assert PreparedDataset.open(str(tmp_path / "done")).fingerprint() == load(spec).fingerprint()


@pytest.mark.parametrize("method, config", [
    ("item2vec", {"dim": 8, "epochs": 2, "workers": 1}),
    ("graph", {"dim": 8, "walks_per_node": 2, "epochs": 1, "workers": 1}),
])
def test_methods_that_learn_from_sessions_train_on_the_exported_corpus(spark, tmp_path: Path, method: str,
                                                                       config: dict) -> None:
    """item2vec and graph train on gensim on the driver, fed by the sessions the prepare step exported: with one
    worker thread (deterministic), the version equals the single-machine one, and its manifest records the same
    dataset."""
    from behemb_core.store import Store
    from behemb_core.train import train_version

    spec = DatasetSpec(paths=[str(sessions_jsonl(tmp_path / "s"))], format="sessions")
    ds, prepared = prepare_both(spark, tmp_path, spec)
    st = Store(str(tmp_path / "store"))
    train_version(st, method, config, dataset=ds, seed=1, name="local")
    train_version(st, method, config, dataset=prepared, seed=1, name="spark")
    a, b = st.load_version("local"), st.load_version("spark")
    assert a.embeddings.vocab == b.embeddings.vocab
    assert np.array_equal(a.embeddings.vectors, b.embeddings.vectors)
    assert st.manifest("spark")["dataset"] == {**st.manifest("local")["dataset"], "source": prepared.source}


@pytest.mark.parametrize("time_type", ["timestamp", "seconds"])
def test_parquet_event_logs_prepare_exactly(spark, tmp_path: Path, time_type: str) -> None:
    """Parquet as pandas writes it: integer item ids, customers as float64 with gaps (17850.0, NaN), times as
    nanosecond timestamps or unix seconds; two files."""
    import pandas as pd

    folder = tricky_log(tmp_path / "log")
    out = tmp_path / "parquet"
    out.mkdir()
    for f in sorted(folder.glob("*.csv")):
        frame = pd.read_csv(f, dtype={"InvoiceNo": str})
        frame["StockCode"] = frame["StockCode"].astype(str).str.strip().astype(float).astype("int64")
        if time_type == "timestamp":
            frame["ts"] = pd.to_datetime(frame["ts"], unit="s")
        frame.to_parquet(out / f.name.replace(".csv", ".parquet"), index=False)
    spec = DatasetSpec(paths=[str(out)], format="events", filters={"exclude_session_prefix": "C"})
    ds, prepared = prepare_both(spark, tmp_path, spec)
    assert ds.sessions.users is not None and ds.sessions.vocab.kind == "int"
    assert_same(ds, prepared)
    assert_same_vectors(ds, prepared, {"dim": 8})


def test_a_bad_parquet_value_names_its_file_and_row(spark, tmp_path: Path) -> None:
    import pandas as pd

    from behemb_core.spark.job import prepare

    out = tmp_path / "parquet"
    out.mkdir()
    rows = {"user_id": [1, 1, 2, 2, 3], "item_id": [5, 6, 5, 7, 8], "ts": [1_600_000_000 + i for i in range(5)],
            "quantity": ["1", "2", "3", "two", "1"]}
    pd.DataFrame(rows).to_parquet(out / "a.parquet", index=False)
    with pytest.raises(InputError) as err:
        prepare(spark, DatasetSpec(paths=[str(out)], format="events"), str(tmp_path / "work"), pairs=(5, "uniform"))
    assert err.value.path == str(out / "a.parquet") and err.value.line == 4 and err.value.field == "weight"
    with pytest.raises(InputError) as local:
        load(DatasetSpec(paths=[str(out)], format="events"))
    assert (local.value.path, local.value.line) == (err.value.path, err.value.line)  # as the single machine says


def test_what_the_spark_engine_does_not_read_is_refused_with_what_to_do(spark, tmp_path: Path) -> None:
    """Inputs whose reading the Spark engine does not reproduce exactly are refused before any work, with a
    sentence that names the single-machine engine — never read differently."""
    from behemb_core.spark.job import prepare

    baskets = tmp_path / "b.txt"
    baskets.write_text("1 2 3\n4 5\n")
    log = tricky_log(tmp_path / "log")
    (tmp_path / "mixed").mkdir()
    (tmp_path / "mixed" / "a.csv").write_text((log / "part-a.csv").read_text())
    import pandas as pd

    pd.DataFrame({"user_id": [1], "item_id": [2], "ts": [3]}).to_parquet(tmp_path / "mixed" / "b.parquet")
    cases = [
        (DatasetSpec(paths=[str(baskets)], format="baskets"), ConfigError, "baskets"),
        (DatasetSpec(paths=[str(log)], format="events", columns={"timestamp_format": "%d/%m/%Y"}), ConfigError,
         "timestamp format"),
        (DatasetSpec(paths=[str(tmp_path / "mixed")], format="events"), InputError, "not both"),
        (DatasetSpec(paths=[str(REPO / "tests" / "data" / "layouts" / "otto.jsonl")], format="sessions"), ConfigError,
         "nested sessions"),
    ]
    for spec, error, words in cases:
        with pytest.raises(error, match=words):
            prepare(spark, spec, str(tmp_path / "work"), pairs=(5, "uniform"))
    assert not (tmp_path / "work").exists()


def test_a_work_dir_on_s3_is_read_by_the_driver(spark, tmp_path: Path, s3_bucket: str) -> None:
    """On a cluster the work dir lives on an object store: the driver reads it through fsspec (here the loopback S3
    server) and gets the same vocabulary, pair table, sessions and fingerprint as from the folder Spark wrote."""
    import uuid

    import s3fs

    from behemb_core.prepared import corpus_fingerprint
    from behemb_core.spark.job import prepare

    spec = DatasetSpec(paths=[str(sessions_jsonl(tmp_path / "s"))], format="sessions")
    here = prepare(spark, spec, str(tmp_path / "work"), pairs=(5, "uniform"))
    url = f"s3://{s3_bucket}/work-{uuid.uuid4().hex[:8]}"
    s3fs.S3FileSystem().put(str(tmp_path / "work") + "/", url, recursive=True)
    there = PreparedDataset.open(url)
    assert there.fingerprint() == here.fingerprint() == load(spec).fingerprint()
    assert corpus_fingerprint(url, there.vocab, "int")[0] == here.fingerprint()  # streamed from S3
    assert there.vocab == here.vocab and there.item_stats().equals(here.item_stats())
    a, b = here.pairs(5, "uniform"), there.pairs(5, "uniform")
    assert np.array_equal(a.keys, b.keys) and np.array_equal(a.counts, b.counts)
    assert np.array_equal(there.sessions.codes, here.sessions.codes)


def untimed(value):
    """``value`` without its timings (keys that mention seconds): everything else must match."""
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if "seconds" not in k}
    if isinstance(value, list):
        return [untimed(v) for v in value]
    return value


def test_evaluation_and_noise_floor_from_a_prepared_dataset_match_the_single_machine(spark, tmp_path: Path) -> None:
    """--evaluate and --noise-floor need the sessions: from a work dir they read the exported corpus and report
    what the single-machine job reports on the same data."""
    from behemb_core.store import Store
    from behemb_core.train import train_version

    spec = DatasetSpec(paths=[str(sessions_jsonl(tmp_path / "s"))], format="sessions")
    ds, prepared = prepare_both(spark, tmp_path, spec)
    st = Store(str(tmp_path / "store"))
    for name, data in (("local", ds), ("spark", prepared)):
        train_version(st, "ppmi_svd", {"dim": 8}, dataset=data, seed=2, name=name, evaluate=True, noise_floor=True)
    a, b = (untimed(st.manifest(name)) for name in ("local", "spark"))
    assert a["evaluation"] == b["evaluation"] and a["noise_floor"] == b["noise_floor"]
    assert np.array_equal(st.load_version("local").embeddings.vectors, st.load_version("spark").embeddings.vectors)


def test_starting_spark_silences_py4j_alone(spark) -> None:
    """The engine's helper silences py4j's logger and the records py4j's code logs on the root logger; the root
    logger keeps its level and passes everyone else's records."""
    import logging

    from behemb_core.spark.job import quiet_py4j, spark_session

    root = logging.getLogger()
    before = root.level
    try:
        root.setLevel(logging.INFO)
        assert spark_session("local[2]") is spark  # the helper on the running session
        quiet_py4j()
        assert root.level == logging.INFO
        assert logging.getLogger("py4j").getEffectiveLevel() == logging.CRITICAL
        assert logging.getLogger("py4j.java_gateway").getEffectiveLevel() == logging.CRITICAL
        import py4j.java_gateway

        def record(pathname: str) -> logging.LogRecord:
            return logging.LogRecord("root", logging.ERROR, pathname, 1, "Exception while sending command.", None,
                                     None)

        assert not root.filter(record(py4j.java_gateway.__file__))  # py4j's logging.exception(...) on root
        assert root.filter(record(__file__))  # anything else passes
    finally:
        root.setLevel(before)


@pytest.mark.slow
def test_starting_and_stopping_spark_leaves_the_root_logger_as_it_was(spark_available, tmp_path: Path) -> None:
    """In a fresh interpreter: the command line's Spark start and stop leave the root logger's level (and its
    records) alone."""
    import os
    import subprocess
    import sys

    code = (
        "import argparse, logging\n"
        "logging.basicConfig(level=logging.WARNING)\n"
        "from behemb_core.cli.training import _start_spark\n"
        "from behemb_core.spark.job import stop_session\n"
        "spark = _start_spark(argparse.Namespace(master='local[1]', spark_conf=[]))\n"
        "spark.range(3).count()\n"
        "stop_session(spark)\n"
        "print(logging.getLogger().level)\n"
        "logging.getLogger('behemb.test').warning('still heard')\n"
    )
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo), "SPARK_LOCAL_IP": "127.0.0.1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == str(30)  # logging.WARNING
    assert "WARNING:behemb.test:still heard" in done.stderr
