"""Which ANN library serves a version's neighbors: hnswlib, faiss-cpu or usearch, measured on our own vectors.

``python -m benchmarks.ann_choice [--items 100000] [--dim 128] [--datasets planted,online-retail,movielens-small]
[--repeats 2] [--out benchmarks/results/ann-choice.json]``

The first, measuring step of issue 23. The vectors are behemb's own: the default method trained on the
benchmark's planted data (``benchmarks/data.py``; ``--items 100000`` is scale M, ~94.5k items with a vector) and,
when the shared data folder is there (``../shared/data`` beside the repo, or ``BEHEMB_SHARED_DATA``), on Online
Retail and MovieLens-small. They are unit-norm (cosine = inner product) and cached with each item's event count
under ``<workdir>/ann-choice/`` (``benchmarks/work/`` is gitignored), so reruns train nothing.

Ground truth is exact top-10 by :func:`behemb_core.neighbors.exact_top_k` for a seeded sample of query items
(each query is an item of the catalogue; the item itself is excluded, as on the Neighbors page). A returned
neighbor counts as a hit when its exact similarity reaches the 10th exact one (within 1e-5, so exact ties do
not count as misses). Recall is also given by popularity band of the query (head 10 % / torso / tail 50 % by
event count, :func:`behemb_core.compare.stability.popularity_bands`).

Each library runs in its own child process (``--worker``), so the peak memory it adds (Linux ``VmHWM`` reset
after the vectors are loaded) is its own; runs are interleaved over ``--repeats`` rounds in rotating order and
the machine's load average is recorded around each, because the machine is shared: compare the ratios between
libraries as much as the absolute figures. Every library builds an HNSW graph with the same ``M`` (links per
node; 2·M on the bottom layer in all three) and ``ef_construction`` on 2 threads, float32 vectors, inner
product; queries are batched on 2 threads. The child also saves and reloads the index with ``pickle`` disabled
(a load that needed it would fail), and builds a subset twice single-threaded to see whether the saved file is
byte-identical. Results go to ``<out>.json`` and ``<out>.md``. The libraries are measurement-only dependencies
(``pip install hnswlib==0.8.0 faiss-cpu==1.15.1 usearch==2.26.6``), not in the requirements files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from .results_io import write_results

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("BEHEMB_SHARED_DATA", REPO.parent / "shared" / "data"))
DEFAULT_OUT = REPO / "benchmarks" / "results" / "ann-choice.json"
DEFAULT_WORKDIR = REPO / "benchmarks" / "work"
LIBRARIES = ("hnswlib", "faiss", "usearch")
PACKAGES = {"hnswlib": ("hnswlib",), "faiss": ("faiss-cpu",), "usearch": ("usearch", "numkong")}
PINNED = {"hnswlib": "0.8.0", "faiss": "1.15.1", "usearch": "2.26.6"}
EF_SEARCH = (16, 32, 64, 128, 256)
K = 10
THREADS = 2
M_LINKS = 16
EF_CONSTRUCTION = 200
QUERIES = 2000
TIMING_QUERIES = 10_000
TIMING_RUNS = 3
DETERMINISM_ITEMS = 20_000
TIE_TOLERANCE = 1e-5
#: Issue 23's target at M (100k items) on 2 cores.
TARGET = {"recall_at_10": 0.95, "queries_per_second": 5000.0, "build_seconds": 60.0}
BANDS = ("head", "torso", "tail")
#: Not measured by this script: from ``pip index versions <name>`` on 2026-12-03 and the projects' pages.
MAINTENANCE = {
    "hnswlib": "nmslib/hnswlib; 0.8.0 (Dec 2023) is still the newest of 11 releases on PyPI and ships as an sdist "
               "only, so every install compiles C++ (pybind11) — a compiler is needed wherever the app is installed",
    "faiss": "facebookresearch/faiss (Meta); the faiss-cpu wheels on PyPI are built by the community faiss-wheels "
             "project, abi3 manylinux wheels, 17 releases listed from 1.7.3 to 1.15.1",
    "usearch": "unum-cloud/usearch; released often (23 versions from 2.20.0 to 2.26.6 listed), manylinux wheels "
               "per CPython version, depends on numkong (its SIMD kernels)",
}


# ------------------------------------------------------------------------------------------------ the vectors
def _planted(items: int, dim: int, seed: int, workdir: Path, log: Any) -> tuple[Any, dict[str, Any]]:
    from behemb_core.ingest import read_session_jsonl

    from .data import SCALES, Scale, prepare

    scale = next((s for s in SCALES.values() if s.n_items == items), None) or Scale("ann", items, 5 * items)
    data = prepare(scale, seed=seed, workdir=workdir)
    print(f"reading {data.sessions_jsonl}", file=log, flush=True)
    return read_session_jsonl(data.sessions_jsonl), {"scale": scale.name, "items": items,
                                                      "sessions": scale.n_sessions, "events": data.n_events}


def _online_retail(shared: Path) -> Any:
    from behemb_core.demo import ONLINE_RETAIL_FILTERS
    from behemb_core.ingest import read_event_log

    return read_event_log(shared / "online-retail" / "by-day", filters=ONLINE_RETAIL_FILTERS,
                          name_column="Description")


def _movielens_small(shared: Path) -> Any:
    from behemb_core.ingest import read_event_log

    return read_event_log(shared / "movielens-small" / "ratings.csv")


REAL = {"online-retail": _online_retail, "movielens-small": _movielens_small}


def vectors_for(spec: str, *, items: int, dim: int, seed: int, workdir: Path, log: Any) -> Path:
    """The folder holding ``vectors.npy`` (unit-norm float32), ``events.npy`` (each row's event count) and
    ``info.json`` of dataset ``spec`` (``name`` or ``name:method``; the default method unless named, with the
    settings ``benchmarks/run.py`` uses for it), trained once and reused."""
    from behemb_core.methods.registry import DEFAULT_METHOD
    from behemb_core.store import Store
    from behemb_core.train import train_version

    from .run import PPMI_SVD

    name, _, method = spec.partition(":")
    method = method or DEFAULT_METHOD
    config = {**PPMI_SVD, "dim": dim} if method == "ppmi_svd" else {"dim": dim}
    tag = (f"planted-{items}" if name == "planted" else name) + ("" if method == DEFAULT_METHOD else f"-{method}")
    folder = workdir / "ann-choice" / f"{tag}-{method}-d{dim}-seed{seed}"
    if (folder / "info.json").exists() and (folder / "vectors.npy").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    if name == "planted":
        dataset, facts = _planted(items, dim, seed, workdir, log)
    else:
        dataset, facts = REAL[name](SHARED_DATA), {"source": str(SHARED_DATA / name)}
    store = Store(str(folder / "store"))
    print(f"training {method} (dim {dim}) on {tag} — once, cached in {folder}", file=log, flush=True)
    t0 = time.perf_counter()
    info = train_version(store, method, config, dataset=dataset, seed=seed, name=f"ann-{tag}")
    seconds = time.perf_counter() - t0
    emb = store.load_version(info["version"]).embeddings
    vectors = np.ascontiguousarray(emb.vectors, dtype=np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), np.float32(1e-12))
    s = dataset.sessions
    counts = np.bincount(s.codes, minlength=len(s.vocab.ids))
    rows = s.vocab.codes(emb.vocab.ids)
    events = np.where(rows >= 0, counts[np.maximum(rows, 0)], 0).astype(np.int64)
    np.save(folder / "vectors.npy", vectors)
    np.save(folder / "events.npy", events)
    (folder / "info.json").write_text(json.dumps({
        **facts, "dataset": tag, "method": method, "config": config, "seed": seed,
        "version": info["version"], "train_seconds": seconds, "n_vectors": len(vectors), "dim": int(vectors.shape[1]),
    }, indent=2))
    return folder


def vector_shape_facts(vectors: np.ndarray, events: np.ndarray, seed: int) -> dict[str, Any]:
    """How clustered / anisotropic / hub-prone the vectors are (why ANN recall differs between datasets)."""
    rng = np.random.default_rng(seed)
    sample = vectors[rng.choice(len(vectors), size=min(5000, len(vectors)), replace=False)]
    mean = vectors.mean(axis=0)
    sv = np.linalg.svd(sample - sample.mean(axis=0), compute_uv=False)
    var = sv**2 / np.sum(sv**2)
    return {
        "norm_of_mean_vector": float(np.linalg.norm(mean)),
        "variance_share_top_10_directions": float(var[:10].sum()),
        "effective_dimension": float(1.0 / np.sum(var**2)),
        "events_max_over_median": float(events.max() / max(1.0, float(np.median(events)))),
    }


def ground_truth(vectors: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Exact top-``K`` (codes, similarities) of ``queries`` without themselves, and exact-search queries/second."""
    from behemb_core.neighbors import exact_top_k

    exact_top_k(vectors[:8], vectors[:64], K, skip=np.arange(8))  # compile/warm the kernel, untimed
    t0 = time.perf_counter()
    codes, sims = exact_top_k(vectors[queries], vectors, K, skip=queries)
    return codes, sims, len(queries) / (time.perf_counter() - t0)


# ------------------------------------------------------------------------------------------- the libraries
class Adapter:
    """One library's HNSW index behind the same four calls."""

    name = ""
    index: Any = None  # the library's index object (their stubs disagree with their runtime)

    def build(self, x: np.ndarray, threads: int, seed: int) -> None:
        raise NotImplementedError

    def search(self, q: np.ndarray, k: int, ef: int, threads: int) -> np.ndarray:
        """Labels (row numbers), ``-1`` where the index returned fewer than ``k``."""
        raise NotImplementedError

    def save(self, path: Path) -> None:
        raise NotImplementedError

    def load(self, path: Path, n: int, dim: int) -> None:
        raise NotImplementedError

    def api(self) -> dict[str, Any]:
        raise NotImplementedError


class Hnswlib(Adapter):
    name = "hnswlib"

    def build(self, x: np.ndarray, threads: int, seed: int) -> None:
        import hnswlib

        self.index = hnswlib.Index(space="ip", dim=x.shape[1])
        self.index.init_index(max_elements=len(x), ef_construction=EF_CONSTRUCTION, M=M_LINKS, random_seed=seed)
        self.index.add_items(x, np.arange(len(x)), num_threads=threads)

    def search(self, q: np.ndarray, k: int, ef: int, threads: int) -> np.ndarray:
        self.index.set_ef(max(ef, k))
        labels, _ = self.index.knn_query(q, k=k, num_threads=threads)
        return labels.astype(np.int64)

    def save(self, path: Path) -> None:
        self.index.save_index(str(path))

    def load(self, path: Path, n: int, dim: int) -> None:
        import hnswlib

        self.index = hnswlib.Index(space="ip", dim=dim)
        self.index.load_index(str(path), max_elements=n)

    def api(self) -> dict[str, Any]:
        import hnswlib

        return {"delete": hasattr(hnswlib.Index, "mark_deleted"),
                "filter": "filter" in (hnswlib.Index.knn_query.__doc__ or ""),
                "notes": "mark_deleted/unmark_deleted and replace_deleted; knn_query(filter=callable) calls "
                         "back into Python per candidate; ef must be ≥ k; search returns at most k per query"}


class Faiss(Adapter):
    name = "faiss"

    def build(self, x: np.ndarray, threads: int, seed: int) -> None:
        import faiss

        faiss.omp_set_num_threads(threads)
        self.index = faiss.IndexHNSWFlat(x.shape[1], M_LINKS, faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efConstruction = EF_CONSTRUCTION
        self.index.add(x)

    def search(self, q: np.ndarray, k: int, ef: int, threads: int) -> np.ndarray:
        import faiss

        faiss.omp_set_num_threads(threads)
        self.index.hnsw.efSearch = ef
        _, labels = self.index.search(q, k)
        return labels.astype(np.int64)

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self.index, str(path))

    def load(self, path: Path, n: int, dim: int) -> None:
        import faiss

        self.index = faiss.read_index(str(path))

    def api(self) -> dict[str, Any]:
        import faiss

        small: Any = faiss.IndexHNSWFlat(4, 4, faiss.METRIC_INNER_PRODUCT)
        small.add(np.eye(4, dtype=np.float32))
        try:
            small.remove_ids(np.array([0], dtype=np.int64))
            delete = True
        except RuntimeError:
            delete = False
        selector = hasattr(faiss, "SearchParametersHNSW") and hasattr(faiss, "IDSelectorBatch")
        return {"delete": delete, "filter": selector,
                "notes": "IndexHNSWFlat cannot remove ids (remove_ids raises); filtering by an IDSelector in "
                         "SearchParametersHNSW runs in C++; ids are row numbers unless wrapped in IndexIDMap"}


class Usearch(Adapter):
    name = "usearch"

    def build(self, x: np.ndarray, threads: int, seed: int) -> None:
        from usearch.index import Index

        self.index = Index(ndim=x.shape[1], metric="ip", dtype="f32", connectivity=M_LINKS,
                           expansion_add=EF_CONSTRUCTION, expansion_search=64)
        self.index.add(np.arange(len(x), dtype=np.uint64), x, threads=threads)

    def search(self, q: np.ndarray, k: int, ef: int, threads: int) -> np.ndarray:
        self.index.expansion_search = ef
        matches = self.index.search(q, k, threads=threads)
        labels = np.asarray(matches.keys).astype(np.int64)
        counts = np.asarray(matches.counts)
        labels[np.arange(k)[None, :] >= counts[:, None]] = -1
        return labels

    def save(self, path: Path) -> None:
        self.index.save(str(path))

    def load(self, path: Path, n: int, dim: int) -> None:
        from usearch.index import Index

        self.index = Index.restore(str(path))

    def api(self) -> dict[str, Any]:
        from usearch.index import Index

        return {"delete": hasattr(Index, "remove"), "filter": False,
                "notes": "remove(keys) deletes; the Python search has no predicate (filtering exists in the C++ "
                         "API only), so filtering means over-fetching and dropping; keys are uint64; f16/i8 "
                         "storage available (float32 measured here)"}


ADAPTERS: dict[str, type[Adapter]] = {"hnswlib": Hnswlib, "faiss": Faiss, "usearch": Usearch}


# ------------------------------------------------------------------------------------------ one child's work
def _status_kib(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def neighbors_without_self(labels: np.ndarray, queries: np.ndarray, k: int = K) -> np.ndarray:
    """The first ``k`` labels of each row that are not the query itself (``labels`` has ``k + 1`` columns)."""
    not_self = labels != queries[:, None]
    order = np.argsort(~not_self, axis=1, kind="stable")  # non-self labels first, in their order
    return np.take_along_axis(labels, order, axis=1)[:, :k]


def hits(vectors: np.ndarray, queries: np.ndarray, found: np.ndarray, exact_sims: np.ndarray) -> np.ndarray:
    """Per query, how many of ``found`` are true top-``K`` neighbors: similarity ≥ the ``K``-th exact one (minus
    :data:`TIE_TOLERANCE`), each distinct item once."""
    valid = found >= 0
    sims = np.einsum("qd,qkd->qk", vectors[queries], vectors[np.maximum(found, 0)])
    ok = valid & (sims >= exact_sims[:, -1:] - TIE_TOLERANCE)
    sorted_found = np.sort(np.where(ok, found, -1), axis=1)
    dup = np.zeros_like(ok)
    dup[:, 1:] = (sorted_found[:, 1:] == sorted_found[:, :-1]) & (sorted_found[:, 1:] >= 0)
    return (ok.sum(axis=1) - dup.sum(axis=1)).astype(np.int64)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class _NoPickle:
    """While active, any unpickling in this process raises (the index load must not need it)."""

    def __enter__(self) -> _NoPickle:
        self.saved = (pickle.load, pickle.loads, pickle.Unpickler)

        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("the index load tried to unpickle")

        pickle.load, pickle.loads, pickle.Unpickler = refuse, refuse, refuse  # type: ignore[assignment,misc]
        return self

    def __exit__(self, *exc: object) -> None:
        pickle.load, pickle.loads, pickle.Unpickler = self.saved  # type: ignore[misc]


def worker(lib: str, folder: Path, truth_path: Path, scratch: Path, seed: int, determinism: bool) -> dict[str, Any]:
    """Build, query, save and reload ``lib``'s index of ``folder``'s vectors; the figures as a dict."""
    adapter = ADAPTERS[lib]()
    vectors = np.load(folder / "vectors.npy", allow_pickle=False)
    truth = np.load(truth_path, allow_pickle=False)
    queries, exact_sims, timing = truth["queries"], truth["exact_sims"], truth["timing_queries"]
    n, dim = vectors.shape
    out: dict[str, Any] = {"library": lib, "n": int(n), "dim": int(dim), "pid": os.getpid(),
                           "loadavg_before": list(os.getloadavg())}
    if lib == "hnswlib":
        import hnswlib  # noqa: F401 - the import is paid before the clock
    elif lib == "faiss":
        import faiss  # noqa: F401
    else:
        import usearch.index  # noqa: F401
    rss0 = _status_kib("VmRSS")
    out["peak_resettable"] = _reset_peak()
    t0 = time.perf_counter()
    adapter.build(vectors, THREADS, seed)
    out["build_seconds"] = time.perf_counter() - t0
    out["build_peak_added_mib"] = (_status_kib("VmHWM") - rss0) / 1024
    out["index_resident_added_mib"] = (_status_kib("VmRSS") - rss0) / 1024
    q_vectors, t_vectors = vectors[queries], vectors[timing]
    by_ef = []
    for ef in EF_SEARCH:
        labels = adapter.search(q_vectors, K + 1, ef, THREADS)
        found = neighbors_without_self(labels, queries)
        h = hits(vectors, queries, found, exact_sims)
        seconds = []
        for _ in range(TIMING_RUNS):
            t0 = time.perf_counter()
            adapter.search(t_vectors, K + 1, ef, THREADS)
            seconds.append(time.perf_counter() - t0)
        by_ef.append({"ef": ef, "hits": h.tolist(), "recall_at_10": float(h.mean() / K),
                      "qps_median": len(timing) / float(np.median(seconds)), "qps_best": len(timing) / min(seconds)})
    out["by_ef"] = by_ef
    out["search_peak_added_mib"] = (_status_kib("VmHWM") - rss0) / 1024
    # save / load without pickle, same answers after the reload
    path = scratch / f"{lib}-{os.getpid()}.index"
    t0 = time.perf_counter()
    adapter.save(path)
    out["save_seconds"] = time.perf_counter() - t0
    out["file_bytes"] = path.stat().st_size
    with open(path, "rb") as fh:
        out["file_magic_hex"] = fh.read(8).hex()
    before = adapter.search(q_vectors, K + 1, 64, THREADS)
    try:
        with _NoPickle():
            t0 = time.perf_counter()
            adapter.load(path, n, dim)
            out["load_seconds"] = time.perf_counter() - t0
        out["load_without_pickle"] = True
        out["same_results_after_reload"] = bool(np.array_equal(before, adapter.search(q_vectors, K + 1, 64, THREADS)))
    except AssertionError:
        out["load_without_pickle"] = False
    path.unlink()
    out["api"] = adapter.api()
    if determinism:
        sub = vectors[:DETERMINISM_ITEMS]
        digests: dict[str, list[str]] = {}
        for threads in (1, THREADS):
            digests[str(threads)] = []
            for _ in range(2):
                a = ADAPTERS[lib]()
                a.build(sub, threads, seed)
                p = scratch / f"{lib}-{os.getpid()}-det.index"
                a.save(p)
                digests[str(threads)].append(_sha256(p))
                p.unlink()
        out["determinism"] = {"items": len(sub), "sha256_by_threads": digests,
                              "identical_single_thread": digests["1"][0] == digests["1"][1],
                              "identical_two_threads": digests[str(THREADS)][0] == digests[str(THREADS)][1]}
    out["loadavg_after"] = list(os.getloadavg())
    return out


# ------------------------------------------------------------------------------------------------ the parent
def _dist_facts(names: tuple[str, ...]) -> dict[str, Any]:
    """Installed size and wheel tag of each distribution (a locally built wheel has a plain ``linux`` tag)."""
    facts: dict[str, Any] = {}
    for name in names:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            facts[name] = None
            continue
        size = 0
        for f in dist.files or []:
            p = Path(str(dist.locate_file(f)))
            if p.is_file():
                size += p.stat().st_size
        wheel = dist.read_text("WHEEL") or ""
        tags = [line.split(":", 1)[1].strip() for line in wheel.splitlines() if line.startswith("Tag:")]
        requires = dist.requires or []
        facts[name] = {"version": dist.version, "installed_mib": size / 2**20, "wheel_tags": tags,
                       "prebuilt_manylinux_wheel": any("manylinux" in t for t in tags),
                       "requires": [r for r in requires if "extra ==" not in r]}
    return facts


def _band_recall(h: np.ndarray, bands: np.ndarray) -> dict[str, Any]:
    return {b: {"queries": int((bands == b).sum()),
                "recall_at_10": float(h[bands == b].mean() / K) if (bands == b).any() else None} for b in BANDS}


def summarise(runs: list[dict[str, Any]], bands: np.ndarray) -> dict[str, Any]:
    """One library on one dataset: medians over its runs, recall by ef and band, the smallest ef at target."""
    first = runs[0]
    med = lambda key: float(np.median([r[key] for r in runs]))  # noqa: E731
    by_ef: list[dict[str, Any]] = []
    for i, ef in enumerate(EF_SEARCH):
        h = np.asarray(first["by_ef"][i]["hits"])
        recalls = [r["by_ef"][i]["recall_at_10"] for r in runs]
        by_ef.append({"ef": ef, "recall_at_10": float(np.mean(recalls)), "recall_runs": recalls,
                      "qps": float(np.median([r["by_ef"][i]["qps_median"] for r in runs])),
                      "qps_best": float(max(r["by_ef"][i]["qps_best"] for r in runs)),
                      "recall_by_band": _band_recall(h, bands),
                      "queries_below_0_8": int((h < 0.8 * K).sum())})
    at_target = next((e for e in by_ef if e["recall_at_10"] >= TARGET["recall_at_10"]), None)
    out = {
        "runs": len(runs),
        "build_seconds": med("build_seconds"), "build_seconds_best": float(min(r["build_seconds"] for r in runs)),
        "build_seconds_runs": [r["build_seconds"] for r in runs],
        "build_peak_added_mib": med("build_peak_added_mib"),
        "index_resident_added_mib": med("index_resident_added_mib"),
        "search_peak_added_mib": med("search_peak_added_mib"),
        "file_bytes": first["file_bytes"], "file_magic_hex": first["file_magic_hex"],
        "save_seconds": med("save_seconds"), "load_seconds": med("load_seconds") if "load_seconds" in first else None,
        "load_without_pickle": all(r.get("load_without_pickle") for r in runs),
        "same_results_after_reload": all(r.get("same_results_after_reload") for r in runs),
        "by_ef": by_ef,
        "ef_at_target": None if at_target is None else at_target["ef"],
        "recall_at_target_ef": None if at_target is None else at_target["recall_at_10"],
        "qps_at_target_ef": None if at_target is None else at_target["qps"],
        "api": first["api"], "peak_resettable": first["peak_resettable"],
        "loadavg": [r["loadavg_before"][0] for r in runs],
    }
    det = next((r["determinism"] for r in runs if "determinism" in r), None)
    if det is not None:
        out["determinism"] = det
    return out


def meets_target(s: dict[str, Any]) -> dict[str, Any]:
    """Whether a library's figures at M meet issue 23's target, criterion by criterion."""
    recall_ok = s["ef_at_target"] is not None
    qps_ok = recall_ok and s["qps_at_target_ef"] >= TARGET["queries_per_second"]
    build_ok = s["build_seconds"] <= TARGET["build_seconds"]
    return {"recall": recall_ok, "qps": bool(qps_ok), "build": build_ok, "all": bool(recall_ok and qps_ok and build_ok)}


def recommend(main: dict[str, dict[str, Any]], facts: dict[str, Any]) -> dict[str, Any]:
    """The library to build served indexes with (from the figures at M and the recorded package facts).

    Only a library whose index loads without pickle is eligible. Among those meeting the whole target, prefer
    the ones installable from a prebuilt manylinux wheel (no compiler on the user's machine), then the most
    queries/second at the smallest ``ef`` reaching the target recall. With none meeting it, the same order over
    those reaching the recall at all, and the result says the target is missed."""
    verdicts = {lib: meets_target(s) for lib, s in main.items()}
    safe = [lib for lib, s in main.items() if s["load_without_pickle"]]
    meeting = [lib for lib in safe if verdicts[lib]["all"]]
    pool = meeting or [lib for lib in safe if main[lib]["ef_at_target"] is not None] or safe

    def wheels(lib: str) -> bool:
        return all(f is None or f["prebuilt_manylinux_wheel"] for f in facts.get(lib, {}).values())

    choice = max(pool, key=lambda lib: (wheels(lib), main[lib]["qps_at_target_ef"] or 0.0,
                                        -main[lib]["build_seconds"]))
    return {"library": choice, "meets_target": verdicts[choice]["all"], "target": TARGET, "verdicts": verdicts,
            "candidates_meeting_target": meeting,
            "rule": "eligible: index loads without pickle; among those meeting the whole target (else reaching the "
                    "recall), prebuilt manylinux wheel first, then most queries/s at the target recall"}


def _run_child(lib: str, folder: Path, truth: Path, scratch: Path, seed: int, determinism: bool,
               log: Any) -> dict[str, Any]:
    result = scratch / f"{lib}-{folder.name}-{time.monotonic_ns()}.json"
    env = {**os.environ, "OMP_NUM_THREADS": str(THREADS), "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "benchmarks.ann_choice", "--worker", lib, "--vectors", str(folder), "--truth",
           str(truth), "--scratch", str(scratch), "--seed", str(seed), "--result", str(result)]
    if determinism:
        cmd.append("--determinism")
    subprocess.run(cmd, cwd=REPO, env=env, check=True, stdout=log, stderr=log)
    out = json.loads(result.read_text())
    result.unlink()
    return out


def run(args: argparse.Namespace, log: Any) -> dict[str, Any]:
    from behemb_core.compare.stability import popularity_bands

    from .machine import machine_info

    workdir = Path(args.workdir)
    scratch = Path(args.scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    libs = [lib for lib in args.libraries.split(",") if lib]
    datasets = [d for d in args.datasets.split(",") if d]
    result: dict[str, Any] = {
        "command": "python -m benchmarks.ann_choice " + " ".join(sys.argv[1:]),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine_info(), "loadavg_at_start": list(os.getloadavg()),
        "settings": {"M": M_LINKS, "ef_construction": EF_CONSTRUCTION, "ef_search": list(EF_SEARCH), "k": K,
                     "threads": THREADS, "queries": args.queries, "timing_queries": TIMING_QUERIES,
                     "timing_runs": TIMING_RUNS, "repeats": args.repeats, "seed": args.seed, "metric": "inner product "
                     "on unit-norm float32 vectors (= cosine)", "tie_tolerance": TIE_TOLERANCE,
                     "bands": "head = top 10 % of items by events, tail = bottom 50 %, torso = the rest "
                              "(behemb_core.compare.stability.popularity_bands), band of the query item"},
        "packages": {lib: _dist_facts(PACKAGES[lib]) for lib in libs},
        "datasets": {},
    }
    for name in datasets:
        base = name.partition(":")[0]
        if base in REAL and not (SHARED_DATA / base).exists():
            print(f"skipping {name}: {SHARED_DATA / base} not found", file=log, flush=True)
            continue
        folder = vectors_for(name, items=args.items, dim=args.dim, seed=args.seed, workdir=workdir, log=log)
        vectors = np.load(folder / "vectors.npy", allow_pickle=False)
        events = np.load(folder / "events.npy", allow_pickle=False)
        rng = np.random.default_rng(args.seed)
        queries = np.sort(rng.choice(len(vectors), size=min(args.queries, len(vectors)), replace=False))
        timing = rng.choice(len(vectors), size=TIMING_QUERIES, replace=len(vectors) < TIMING_QUERIES)
        print(f"{folder.name}: exact top-{K} of {len(queries)} queries", file=log, flush=True)
        codes, sims, exact_qps = ground_truth(vectors, queries)
        truth = scratch / f"truth-{folder.name}.npz"
        np.savez(truth, queries=queries, exact_codes=codes, exact_sims=sims, timing_queries=timing)
        bands = popularity_bands(events)[queries]
        info = json.loads((folder / "info.json").read_text())
        runs: dict[str, list[dict[str, Any]]] = {lib: [] for lib in libs}
        for r in range(args.repeats):
            order = libs[r % len(libs):] + libs[: r % len(libs)]
            for lib in order:
                print(f"  round {r + 1}: {lib} (load {os.getloadavg()[0]:.2f})", file=log, flush=True)
                runs[lib].append(_run_child(lib, folder, truth, scratch, args.seed, r == 0, log))
        truth.unlink()
        per_lib = {lib: summarise(runs[lib], bands) for lib in libs}
        result["datasets"][info["dataset"]] = {
            "vectors": {**info, **vector_shape_facts(vectors, events, args.seed)},
            "exact_search_qps": exact_qps, "libraries": per_lib,
        }
        write(result, Path(args.out))  # after every dataset, so a run that dies keeps what it measured
    result["main_dataset"] = f"planted-{args.items}"
    decide(result)
    result["loadavg_at_end"] = list(os.getloadavg())
    write(result, Path(args.out))
    return result


# --------------------------------------------------------------------------------------------------- report
def decide(result: dict[str, Any]) -> None:
    """Set ``result["recommendation"]`` (with its reasons) from the main dataset's figures, when it was measured."""
    result["maintenance"] = MAINTENANCE
    if result.get("main_dataset") in result["datasets"]:
        result["recommendation"] = recommend(result["datasets"][result["main_dataset"]]["libraries"],
                                             result["packages"])
        result["recommendation"]["reasons"] = reasons(result)


def _f(x: float | None, spec: str = ".3f") -> str:
    return "—" if x is None else format(x, spec)


def _qps_best_at_target(s: dict[str, Any]) -> float:
    return float(next((e["qps_best"] for e in s["by_ef"] if e["ef"] == s["ef_at_target"]), float("nan")))


def reasons(result: dict[str, Any]) -> list[str]:
    """The recommendation's reasons, each carrying its figure."""
    rec = result["recommendation"]
    main = result["datasets"][result["main_dataset"]]["libraries"]
    lib = rec["library"]
    s = main[lib]
    others = [o for o in main if o != lib]
    out = []
    if rec["meets_target"]:
        out.append(f"{lib} meets the target at M: recall@10 {s['recall_at_target_ef']:.3f} at ef {s['ef_at_target']} "
                   f"with {s['qps_at_target_ef']:,.0f} queries/s on {THREADS} threads, built in "
                   f"{s['build_seconds']:.1f} s.")
    else:
        v = rec["verdicts"][lib]
        missed = [k for k in ("recall", "qps", "build") if not v[k]]
        out.append(f"No library met the whole target at M; {lib} came closest and misses {', '.join(missed)}.")
    for o in others:
        so = main[o]
        if so["qps_at_target_ef"] and s["qps_at_target_ef"]:
            ratio = s["qps_at_target_ef"] / so["qps_at_target_ef"]
            best = _qps_best_at_target(s) / _qps_best_at_target(so)
            build_best = s.get("build_seconds_best", s["build_seconds"]) / so.get("build_seconds_best",
                                                                                  so["build_seconds"])
            out.append(f"At recall ≥ {TARGET['recall_at_10']} it answers {ratio:.2f}× "
                       f"the queries/s of {o} (ef {s['ef_at_target']} vs {so['ef_at_target']}; medians, "
                       f"{best:.2f}× by the best runs); builds in "
                       f"{s['build_seconds'] / so['build_seconds']:.2f}× {o}'s time ({build_best:.2f}× best); adds "
                       f"{s['build_peak_added_mib']:.0f} vs {so['build_peak_added_mib']:.0f} MiB at peak.")
        elif s["qps_at_target_ef"]:
            out.append(f"{o} does not reach recall {TARGET['recall_at_10']} at any measured ef.")
    margins = {o: main[o]["qps_at_target_ef"] / TARGET["queries_per_second"] for o in main
               if main[o]["qps_at_target_ef"]}
    if len(margins) == len(main) and min(margins.values()) >= 2:
        fastest = []
        for name, d in result["datasets"].items():
            libs = {o: x for o, x in d["libraries"].items() if x["qps_at_target_ef"]}
            if d["vectors"]["n_vectors"] >= 50_000 and libs:
                by_median = max(libs, key=lambda o: libs[o]["qps_at_target_ef"])
                by_best = max(libs, key=lambda o: _qps_best_at_target(libs[o]))
                fastest.append(f"{name}: {by_median} by medians, {by_best} by best runs")
        out.append(f"Speed does not decide: every library clears the target at M by ≥ {min(margins.values()):.1f}× "
                   f"(median queries/s), and which is fastest moves with the vectors and the machine's load ("
                   + "; ".join(fastest) + "). What decides is below: install, maintenance, determinism, API.")
    for name, d in result["datasets"].items():
        if name == result["main_dataset"]:
            continue
        parts = [f"{o} ef {d['libraries'][o]['ef_at_target'] or 'not reached'} "
                 f"({_f(d['libraries'][o]['qps_at_target_ef'], ',.0f')} q/s)" for o in d["libraries"]]
        out.append(f"On {name} ({d['vectors']['n_vectors']:,} vectors) recall ≥ {TARGET['recall_at_10']} at: "
                   + "; ".join(parts) + ".")
    pk = result["packages"][lib]
    wheel = all(v is None or v["prebuilt_manylinux_wheel"] for v in pk.values())
    size = sum(v["installed_mib"] for v in pk.values() if v)
    out.append(f"Install: {'prebuilt manylinux wheels' if wheel else 'built from source here (no wheel)'} for "
               f"Python 3.11, {size:.0f} MiB installed ({', '.join(pk)}).")
    det = s.get("determinism", {})
    out.append(f"Index file {s['file_bytes'] / 2**20:.0f} MiB at M, loads without pickle: {s['load_without_pickle']}; "
               f"single-thread build byte-identical across two runs: {det.get('identical_single_thread')}; "
               f"two threads: {det.get('identical_two_threads')}.")
    out.append(f"API: deletes {s['api']['delete']}, filtered search {s['api']['filter']} — {s['api']['notes']}."
               + ("" if s["api"]["delete"] else " Deletes are not needed here: an index is built from one version and "
                  "replaced with the next version, never edited in place."))
    return out


def markdown(result: dict[str, Any]) -> str:
    st = result["settings"]
    lines = [
        "# ANN library choice: hnswlib, faiss-cpu, usearch on behemb's own vectors",
        "",
        f"`{result['command']}` — started {result['started_utc']}; {result['machine']['cpu']}, "
        f"{result['machine']['cores_usable']} usable cores, Python {result['machine']['python']}. Load average at "
        f"start {result['loadavg_at_start'][0]:.2f}, at end {_f(result.get('loadavg_at_end', [None])[0], '.2f')} "
        "(the machine is shared: compare the ratios between libraries as much as the absolute numbers).",
        "",
        f"HNSW in all three: M = {st['M']} (2·M links on the bottom layer), ef_construction = {st['ef_construction']}, "
        f"float32, {st['metric']}, {st['threads']} threads to build and to query (batched). Recall@10 against exact "
        f"top-10 (`behemb_core.neighbors.exact_top_k`, the item itself excluded, exact ties count as hits) on "
        f"{st['queries']} seeded query items; queries/second over {st['timing_queries']:,} queries, median of "
        f"{st['timing_runs']} passes, median over {st['repeats']} interleaved rounds (one child process per library "
        "and round; memory = peak RSS the build added over the loaded vectors). Bands: " + st["bands"] + ".",
        "",
    ]
    rec = result.get("recommendation")
    if rec:
        t = rec["target"]
        lines += [f"## Recommendation: **{rec['library']}** — "
                  + ("meets" if rec["meets_target"] else "does NOT meet")
                  + f" the target at M (recall@10 ≥ {t['recall_at_10']} at ≥ {t['queries_per_second']:,.0f} "
                  f"queries/s on 2 cores, build ≤ {t['build_seconds']:.0f} s)", ""]
        lines += [f"- {r}" for r in rec["reasons"]]
        lines += ["", f"Rule applied: {rec['rule']}."]
        lines += ["", "| library | recall target | QPS target | build target |", "|---|---|---|---|"]
        for lib, v in rec["verdicts"].items():
            lines.append(f"| {lib} | {'✅' if v['recall'] else '❌'} | {'✅' if v['qps'] else '❌'} | "
                         f"{'✅' if v['build'] else '❌'} |")
        lines.append("")
    for name, d in result["datasets"].items():
        v = d["vectors"]
        lines += [f"## {name}: {v['n_vectors']:,} vectors × {v['dim']} ({v['method']}, version {v['version']})", "",
                  f"Shape: mean-vector norm {v['norm_of_mean_vector']:.3f}, top-10 directions hold "
                  f"{v['variance_share_top_10_directions']:.1%} of the variance, effective dimension "
                  f"{v['effective_dimension']:.1f}; busiest item has {v['events_max_over_median']:.0f}× the median "
                  f"item's events. Exact search (blocked matmul): {d['exact_search_qps']:,.0f} queries/s.", "",
                  "| library | build s (median / best) | peak added MiB | file MiB | ef at recall ≥ 0.95 "
                  "| recall there | QPS there (median / best) | load no pickle | same after reload |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for lib, s in d["libraries"].items():
            best = next((e["qps_best"] for e in s["by_ef"] if e["ef"] == s["ef_at_target"]), None)
            build_best = s.get("build_seconds_best", s["build_seconds"])
            lines.append(f"| {lib} | {s['build_seconds']:.1f} / {build_best:.1f} | "
                         f"{s['build_peak_added_mib']:.0f} | "
                         f"{s['file_bytes'] / 2**20:.1f} | {s['ef_at_target'] or 'not reached'} | "
                         f"{_f(s['recall_at_target_ef'])} | {_f(s['qps_at_target_ef'], ',.0f')} / {_f(best, ',.0f')} | "
                         f"{'yes' if s['load_without_pickle'] else 'NO'} | "
                         f"{'yes' if s['same_results_after_reload'] else 'NO'} |")
        lines += ["", "| library | ef | recall@10 | head | torso | tail | queries < 0.8 | QPS (median) | QPS best |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for lib, s in d["libraries"].items():
            for e in s["by_ef"]:
                b = e["recall_by_band"]
                lines.append(f"| {lib} | {e['ef']} | {e['recall_at_10']:.3f} | {_f(b['head']['recall_at_10'])} | "
                             f"{_f(b['torso']['recall_at_10'])} | {_f(b['tail']['recall_at_10'])} | "
                             f"{e['queries_below_0_8']} | {e['qps']:,.0f} | {e['qps_best']:,.0f} |")
        lines.append("")
        dets = {lib: s.get("determinism") for lib, s in d["libraries"].items() if s.get("determinism")}
        if dets:
            lines += [f"Determinism (first {next(iter(dets.values()))['items']:,} vectors built twice, saved files "
                      "compared): " + "; ".join(
                          f"{lib} 1 thread {'identical' if x['identical_single_thread'] else 'differs'}, "
                          f"2 threads {'identical' if x['identical_two_threads'] else 'differs'}"
                          for lib, x in dets.items()) + ".", ""]
    lines += ["## Packages", "", "| library | distribution | version | installed MiB | prebuilt manylinux wheel | "
              "wheel tag here |", "|---|---|---|---|---|---|"]
    for lib, dists in result["packages"].items():
        for dist, f in dists.items():
            if f:
                lines.append(f"| {lib} | {dist} | {f['version']} | {f['installed_mib']:.1f} | "
                             f"{'yes' if f['prebuilt_manylinux_wheel'] else 'no (built from sdist)'} | "
                             f"{', '.join(f['wheel_tags'])} |")
    lines += ["", "API for deletes and filtering:", ""]
    main = result["datasets"].get(result.get("main_dataset", ""), next(iter(result["datasets"].values()), None))
    if main:
        for lib, s in main["libraries"].items():
            lines.append(f"- {lib}: deletes {'yes' if s['api']['delete'] else 'no'}, filter "
                         f"{'yes' if s['api']['filter'] else 'no'} — {s['api']['notes']}.")
    if result.get("maintenance"):
        lines += ["", "Maintenance (recorded, not measured):", ""]
        lines += [f"- {lib}: {text}." for lib, text in result["maintenance"].items()]
    for note in result.get("notes", []):
        lines += ["", note]
    return "\n".join(lines) + "\n"


def write(result: dict[str, Any], out: Path) -> None:
    write_results(result, out, markdown)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--items", type=int, default=100_000, help="planted catalogue size (100000 = scale M)")
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--datasets", default="planted,planted:ppmi_svd,online-retail,movielens-small",
                   help="comma-separated; name[:method] trains that method instead of the default")
    p.add_argument("--libraries", default=",".join(LIBRARIES))
    p.add_argument("--repeats", type=int, default=2, help="interleaved rounds per library and dataset")
    p.add_argument("--queries", type=int, default=QUERIES)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workdir", default=str(DEFAULT_WORKDIR))
    p.add_argument("--scratch", default="/tmp/behemb-ann-choice")
    p.add_argument("--out", default=str(DEFAULT_OUT))
    p.add_argument("--report-only", action="store_true",
                   help="recompute the recommendation and rewrite the .md from an existing --out JSON")
    p.add_argument("--worker", choices=LIBRARIES, help=argparse.SUPPRESS)
    p.add_argument("--vectors", help=argparse.SUPPRESS)
    p.add_argument("--truth", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    p.add_argument("--determinism", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        out = worker(args.worker, Path(args.vectors), Path(args.truth), Path(args.scratch), args.seed,
                     args.determinism)
        Path(args.result).write_text(json.dumps(out))
        return 0
    if args.report_only:
        result = json.loads(Path(args.out).read_text())
        decide(result)
        write(result, Path(args.out))
        return 0
    run(args, sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
