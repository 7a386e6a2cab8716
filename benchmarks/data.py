"""Benchmark scales and their seeded synthetic data, written once per (scale, seed) and reused.

Files in ``<workdir>/<scale>-seed<seed>/``:

- ``sessions.jsonl`` — one ``{"session_id": ..., "items": [...]}`` per session (the input of every pipeline);
- ``events.parquet`` — the same interactions as an event log (``user_id``, ``item_id``, ``timestamp``): each
  user has four sessions two hours apart, events one minute apart, so gap sessionization recovers them;
- ``clusters.npy`` — the planted cluster of every item id (the known right answer for neighbor quality);
- ``data.json`` — generator parameters and counts; the files are regenerated when these differ.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from behemb_core.synthetic import planted_arrays

CLUSTER_SIZE = 50
SESSIONS_PER_USER = 4


@dataclass(frozen=True)
class Scale:
    name: str
    n_items: int
    n_sessions: int
    mean_length: float = 8.0
    zipf_exponent: float = 1.1

    @property
    def n_clusters(self) -> int:
        return max(2, self.n_items // CLUSTER_SIZE)


SCALES: dict[str, Scale] = {
    "XS": Scale("XS", 2_000, 10_000),  # smoke test (CI, tests): seconds
    "S": Scale("S", 10_000, 50_000),
    "M": Scale("M", 100_000, 500_000),
    "L": Scale("L", 1_000_000, 2_000_000),
}


@dataclass(frozen=True)
class BenchData:
    scale: Scale
    folder: Path
    sessions_jsonl: Path
    events_parquet: Path
    cluster_of_id: np.ndarray  # planted cluster per item id
    info: dict

    @property
    def n_events(self) -> int:
        return int(self.info["events"])


def _write_jsonl(path: Path, indptr: np.ndarray, items: np.ndarray) -> None:
    tokens = items.astype(str)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="ascii") as fh:
        step = 100_000
        for lo in range(0, len(indptr) - 1, step):
            hi = min(lo + step, len(indptr) - 1)
            fh.write("".join(
                f'{{"session_id": "s{s}", "items": [{",".join(tokens[indptr[s]:indptr[s + 1]])}]}}\n'
                for s in range(lo, hi)
            ))
    os.replace(tmp, path)


def _write_events(path: Path, indptr: np.ndarray, items: np.ndarray) -> None:
    lengths = np.diff(indptr)
    session = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    position = np.arange(len(items), dtype=np.int64) - np.repeat(indptr[:-1], lengths)
    user = session // SESSIONS_PER_USER
    t0 = np.datetime64("2026-01-01T00:00:00", "s").astype(np.int64)
    seconds = t0 + (session % SESSIONS_PER_USER) * 7200 + user * 60 + position * 60
    table = pa.table({
        "user_id": pa.array(user),
        "item_id": pa.array(items),
        "timestamp": pa.array(seconds.astype("datetime64[s]")),
    })
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp, row_group_size=1 << 20)
    os.replace(tmp, path)


def prepare(scale: Scale, *, seed: int, workdir: Path) -> BenchData:
    """Generate (or reuse) the data of ``scale`` for ``seed`` under ``workdir``."""
    folder = Path(workdir) / f"{scale.name}-seed{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    params = {**asdict(scale), "n_clusters": scale.n_clusters, "seed": seed, "noise": 0.05,
              "max_clusters_per_session": 3, "sessions_per_user": SESSIONS_PER_USER, "format": 2}
    meta_path = folder / "data.json"
    files = {"sessions": folder / "sessions.jsonl", "events": folder / "events.parquet",
             "clusters": folder / "clusters.npy"}
    if meta_path.exists() and all(f.exists() for f in files.values()):
        info = json.loads(meta_path.read_text())
        if info.get("params") == params:
            return BenchData(scale, folder, files["sessions"], files["events"], np.load(files["clusters"]), info)
    arr = planted_arrays(
        n_items=scale.n_items, n_clusters=scale.n_clusters, n_sessions=scale.n_sessions,
        mean_length=scale.mean_length, zipf_exponent=scale.zipf_exponent, seed=seed,
    )
    _write_jsonl(files["sessions"], arr.indptr, arr.items)
    _write_events(files["events"], arr.indptr, arr.items)
    np.save(files["clusters"], arr.cluster_of_item)
    info = {
        "params": params,
        "sessions": int(len(arr.indptr) - 1),
        "events": len(arr.items),
        "distinct_items": len(np.unique(arr.items)),
        "jsonl_bytes": files["sessions"].stat().st_size,
        "parquet_bytes": files["events"].stat().st_size,
    }
    meta_path.write_text(json.dumps(info, indent=2))
    return BenchData(scale, folder, files["sessions"], files["events"], arr.cluster_of_item, info)
