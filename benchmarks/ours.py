"""behemb's own stages, timed as the library runs them (one library call per group, split by progress stage)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from behemb_core.embeddings import ItemEmbeddings
from behemb_core.ingest import read_event_log, read_session_jsonl
from behemb_core.ingest.dataset import Dataset
from behemb_core.progress import ProgressEvent
from behemb_core.store import Store
from behemb_core.synthetic import cluster_precision_at_k
from behemb_core.train import train_version

from .measure import StageRecorder, StageResult

# Progress stage names → benchmark stage names.
ALIASES = {
    "read": "read (parse)",
    "clean": "vocabulary + cleaning",
    "sessionize": "vocabulary + sessionize",
    "cooccurrence": "pair counting",
    "ppmi": "PPMI",
    "svd": "SVD",
    "graph": "graph build (top-k, degree cap)",
    "walks": "walk generation",
    "prepare": "skip-gram corpus",
    "corpus": "skip-gram corpus",
    "skipgram": "skip-gram training",
    "epoch": "skip-gram training",
    "done": "fingerprint + summary",
    "save": "store write",
}


# cooc_softmax reports its epochs as "epoch" too; in its group they are the softmax fit, not skip-gram.
COOC_SOFTMAX_ALIASES = {**ALIASES, "fit": "softmax fit", "epoch": "softmax fit"}


def _recorded(group: str, first_stage: str, call, sink: list[StageResult], echo=None, aliases=None):
    """Run ``call(progress)`` under a :class:`StageRecorder`; its stages go to ``sink``."""
    rec = StageRecorder(group, aliases or ALIASES, forward=echo)
    rec.start(first_stage)
    out = call(rec)
    sink.extend(rec.finish())
    return out


def read_sessions(path: Path, sink: list[StageResult], echo=None) -> Dataset:
    return _recorded("read sessions JSONL", "read (parse)",
                     lambda rec: read_session_jsonl(path, progress=rec), sink, echo)


def read_events(path: Path, sink: list[StageResult], echo=None) -> Dataset:
    return _recorded("read event log Parquet", "read (parse)",
                     lambda rec: read_event_log(path, progress=rec), sink, echo)


def train(store: Store, dataset: Dataset, method: str, config: dict[str, Any], *, seed: int,
          sink: list[StageResult], name: str, echo=None, group: str | None = None) -> tuple[str, float]:
    """Train and save a version; returns ``(version, seconds from call to saved)``."""
    t0 = time.perf_counter()
    info = _recorded(group or method, "pair counting" if method != "item2vec" else "skip-gram corpus",
                     lambda rec: train_version(store, method, config, dataset=dataset, seed=seed, name=name,
                                               progress=rec), sink, echo,
                     aliases=COOC_SOFTMAX_ALIASES if method == "cooc_softmax" else None)
    return info["version"], time.perf_counter() - t0


def quality(emb: ItemEmbeddings, cluster_of_id: np.ndarray, query_ids: np.ndarray) -> float:
    """Precision@10 of planted cluster-mates for the query items (ids) that have a vector."""
    from behemb_core.neighbors import top_k_neighbors

    codes = emb.vocab.codes(query_ids)
    codes = codes[codes >= 0]
    table = top_k_neighbors(emb, 10, queries=codes)
    cluster_of_code = cluster_of_id[emb.vocab.ids.astype(np.int64)]
    return cluster_precision_at_k(table.codes, cluster_of_code, codes)


def echo_to(stream) -> Any:
    """A progress forwarder that prints each new stage's message once (for the runner's stderr)."""
    last: list[str | None] = [None]

    def forward(event: ProgressEvent) -> None:
        if event.stage != last[0]:
            last[0] = event.stage
            print(f"    · {event.stage}: {event.message}", file=stream, flush=True)

    return forward


