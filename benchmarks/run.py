"""Benchmark entry point: ``python -m benchmarks.run --scale S|M|L [--only GROUP[,GROUP…]]``.

Generates (or reuses) seeded planted-cluster sessions for the scale, runs behemb's stages and the peers on the
same data in one process, and writes ``<out>/<scale>.json`` and ``<out>/<scale>.md``. Timings are wall-clock on
whatever machine this runs on; ratios to the peers in the same run are what to compare across machines.
Nothing here asserts a timing: the test suite runs the smallest scale only to check the harness works.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import peers
from .data import SCALES, BenchData, prepare
from .machine import machine_info
from .measure import PEAK_RESETTABLE, StageResult, measure
from .ours import echo_to, quality, read_events, read_sessions, train
from .report import markdown, targets

GROUPS = ("read", "ppmi_svd", "cooc_softmax", "item2vec", "graph", "walks", "neighbors", "umap")
QUALITY_QUERIES = 2000
#: Above this many items the exact all-pairs top-10 is timed on a sample of query rows and scaled up.
EXACT_FULL_LIMIT = 200_000
EXACT_SAMPLE = 20_000

PPMI_SVD = {"dim": 128, "window": 5, "alpha": 0.75, "n_iter": 3, "oversample": 10}
ITEM2VEC = {"dim": 128, "workers": 2}
GRAPH = {"dim": 128, "workers": 2}
COOC_SOFTMAX = {"dim": 128}  # the defaults: window 10 harmonic, γ 0.1, τ 0.1, 20 epochs; sampled above 15k items


@dataclass
class Context:
    data: BenchData
    seed: int
    workdir: Path
    store_dir: Path
    full_dense_svd: bool
    log: Any
    repeat: int = 1
    stages: list[StageResult] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    _dataset: Any = None
    _store: Any = None
    read_seconds: float | None = None
    versions: dict[str, str] = field(default_factory=dict)
    query_ids: np.ndarray | None = None

    @property
    def store(self):
        from behemb_core.store import Store

        if self._store is None:
            self._store = Store(str(self.store_dir))
        return self._store

    def dataset(self):
        if self._dataset is None:
            t0 = time.perf_counter()
            self._dataset = read_sessions(self.data.sessions_jsonl, [], None)
            self.read_seconds = time.perf_counter() - t0
        return self._dataset

    def queries(self) -> np.ndarray:
        if self.query_ids is None:
            ids = self.dataset().sessions.vocab.ids.astype(np.int64)
            rng = np.random.default_rng(self.seed)
            self.query_ids = np.sort(rng.choice(ids, size=min(QUALITY_QUERIES, len(ids)), replace=False))
        return self.query_ids

    def embeddings(self, method: str):
        return self.store.load_version(self.versions[method]).embeddings

    def ppmi_svd_version(self) -> str:
        """The ppmi_svd version neighbors and UMAP run on (trained untimed when its group did not run)."""
        if "ppmi_svd" not in self.versions:
            self.say("  (training ppmi_svd first, untimed)")
            self.versions["ppmi_svd"], _ = train(self.store, self.dataset(), "ppmi_svd", PPMI_SVD, seed=self.seed,
                                                 sink=[], name="bench-ppmi-svd")
        return self.versions["ppmi_svd"]

    def say(self, text: str) -> None:
        print(text, file=self.log, flush=True)


# ----------------------------------------------------------------------------------------------- groups
def run_read(ctx: Context) -> None:
    t0 = time.perf_counter()
    ctx._dataset = read_sessions(ctx.data.sessions_jsonl, ctx.stages, echo_to(ctx.log))
    ctx.read_seconds = time.perf_counter() - t0
    ctx.results["read_sessions_seconds"] = ctx.read_seconds
    t0 = time.perf_counter()
    events = read_events(ctx.data.events_parquet, ctx.stages, echo_to(ctx.log))
    ctx.results["read_events_seconds"] = time.perf_counter() - t0
    same = (events.sessions.n_sessions == ctx._dataset.sessions.n_sessions
            and events.sessions.n_events == ctx._dataset.sessions.n_events)
    ctx.results["events_sessionized_like_jsonl"] = bool(same)


def run_ppmi_svd(ctx: Context) -> None:
    dataset = ctx.dataset()
    version, seconds = train(ctx.store, dataset, "ppmi_svd", PPMI_SVD, seed=ctx.seed, sink=ctx.stages,
                             name="bench-ppmi-svd", echo=echo_to(ctx.log))
    ctx.versions["ppmi_svd"] = version
    ours = ctx.read_seconds + seconds
    peak = max(r.peak_rss_bytes for r in ctx.stages if r.group in ("ppmi_svd", "read sessions JSONL"))
    q = quality(ctx.embeddings("ppmi_svd"), ctx.data.cluster_of_id, ctx.queries())
    ctx.say("  reference numpy/scipy/scikit-learn pipeline")
    ref_stages: list[StageResult] = []
    ids, vectors = peers.reference_ppmi_svd(
        ctx.data.sessions_jsonl, window=PPMI_SVD["window"], alpha=PPMI_SVD["alpha"], dim=PPMI_SVD["dim"],
        n_iter=PPMI_SVD["n_iter"], n_oversamples=PPMI_SVD["oversample"], seed=ctx.seed, sink=ref_stages,
    )
    ctx.stages.extend(ref_stages)
    ref_seconds = sum(r.seconds for r in ref_stages)
    ref_q = quality(_as_embeddings(ids, vectors), ctx.data.cluster_of_id, ctx.queries())
    ctx.results["ppmi_svd"] = {
        "end_to_end_seconds": ours, "peak_rss_gib": peak / 2**30, "precision_at_10": q,
        "reference_seconds": ref_seconds, "reference_precision_at_10": ref_q,
        "reference_peak_rss_gib": max(r.peak_rss_bytes for r in ref_stages) / 2**30,
        "ratio_to_reference": ours / ref_seconds,
    }
    if ctx.data.scale.name in ("XS", "S"):
        ctx.say("  dense sketch (Python loop per event, dense matrix, full SVD)")
        dense_stages: list[StageResult] = []
        out = peers.dense_seed_method(ctx.data.sessions_jsonl, window=PPMI_SVD["window"], alpha=PPMI_SVD["alpha"],
                                      dim=PPMI_SVD["dim"], full_svd=ctx.full_dense_svd, sink=dense_stages)
        ctx.stages.extend(dense_stages)
        dense_seconds = sum(r.seconds for r in dense_stages)
        ctx.results["ppmi_svd"]["dense_seconds"] = dense_seconds
        ctx.results["ppmi_svd"]["dense_svd_extrapolated"] = out is None
        ctx.results["ppmi_svd"]["dense_peak_rss_gib"] = max(r.peak_rss_bytes for r in dense_stages) / 2**30
        if out is not None:
            ctx.results["ppmi_svd"]["dense_precision_at_10"] = quality(
                _as_embeddings(*out), ctx.data.cluster_of_id, ctx.queries())


def run_cooc_softmax(ctx: Context) -> None:
    """cooc_softmax with its defaults, file → stored version, next to ppmi_svd's numbers of the same run."""
    dataset = ctx.dataset()
    before = len(ctx.stages)
    version, seconds = train(ctx.store, dataset, "cooc_softmax", COOC_SOFTMAX, seed=ctx.seed, sink=ctx.stages,
                             name="bench-cooc-softmax", echo=echo_to(ctx.log))
    ctx.versions["cooc_softmax"] = version
    report = ctx.store.load_version(version).manifest["fit_report"]
    ctx.results["cooc_softmax"] = {
        "end_to_end_seconds": ctx.read_seconds + seconds,
        "train_version_seconds": seconds,
        "peak_rss_gib": max(r.peak_rss_bytes for r in ctx.stages[before:]) / 2**30,
        "precision_at_10": quality(ctx.embeddings("cooc_softmax"), ctx.data.cluster_of_id, ctx.queries()),
        "estimator": report["estimator"],
        "target_nnz": report["target_nnz"],
        "seconds_per_epoch": report["seconds_per_epoch"],
        "epoch_losses": report["epoch_losses"],
    }


def run_item2vec(ctx: Context) -> None:
    """behemb's item2vec against raw gensim on the identical corpus file.

    gensim is imported before either side is timed (a once-per-process cost that is neither's work). With
    ``--repeat 2`` or more the two alternate as behemb, gensim, gensim, behemb, … so drift on the machine falls
    on both alike, and the ratio is of the fastest run of each (skip-gram on two Hogwild threads varies by
    5-20 % from run to run here).
    """
    import gensim.models  # noqa: F401 - see the docstring

    from behemb_core.methods.registry import parse_config
    from behemb_core.skipgram import write_corpus

    dataset = ctx.dataset()
    s = dataset.sessions
    cfg = parse_config("item2vec", ITEM2VEC)
    corpus = ctx.workdir / "gensim-corpus.txt"
    write_corpus(str(corpus), s.indptr, s.codes)  # the very corpus behemb trains on (tokens = item codes)
    params = dict(vector_size=cfg.dim, window=cfg.window, negative=cfg.negative, ns_exponent=cfg.ns_exponent,
                  sample=cfg.sample, epochs=cfg.epochs, min_count=cfg.min_count, workers=cfg.workers,
                  shrink_windows=cfg.shrink_windows, alpha=cfg.alpha, min_alpha=cfg.min_alpha,
                  compute_loss=True)  # behemb reports every epoch's loss; gensim pays ~5 % for it
    ours: list[float] = []
    theirs: list[float] = []

    def behemb_run(i: int) -> None:
        before = len(ctx.stages)
        version, _ = train(ctx.store, dataset, "item2vec", ITEM2VEC, seed=ctx.seed, sink=ctx.stages,
                           name=f"bench-item2vec-{i}", echo=echo_to(ctx.log),
                           group="item2vec" if ctx.repeat == 1 else f"item2vec (run {i})")
        ctx.versions.setdefault("item2vec", version)
        ours.append(sum(r.seconds for r in ctx.stages[before:]
                        if r.stage in ("skip-gram corpus", "skip-gram training")))

    def gensim_run(i: int) -> tuple[np.ndarray, np.ndarray]:
        ctx.say("  raw gensim Word2Vec(corpus_file=…)")
        group = "raw gensim (corpus_file)" if ctx.repeat == 1 else f"raw gensim (corpus_file, run {i})"
        with measure(group, "Word2Vec: vocabulary scan + training", ctx.stages) as st:
            out = peers.raw_gensim(corpus, params, seed=ctx.seed)
            st.extra["note"] = f"workers={cfg.workers}, epochs={cfg.epochs}, dim={cfg.dim}, compute_loss=True"
        theirs.append(ctx.stages[-1].seconds)
        return out

    gensim_vectors = None  # the first run's, for its quality
    for i in range(1, ctx.repeat + 1):
        if i % 2:
            behemb_run(i)
            out = gensim_run(i)
        else:
            out = gensim_run(i)
            behemb_run(i)
        gensim_vectors = gensim_vectors or out
    corpus.unlink()
    codes, vectors = gensim_vectors
    fit, gensim_seconds = min(ours), min(theirs)
    ctx.results["item2vec"] = {
        "fit_seconds": fit, "gensim_seconds": gensim_seconds, "ratio_to_gensim": fit / gensim_seconds,
        "runs": ctx.repeat, "fit_seconds_runs": ours, "gensim_seconds_runs": theirs,
        "precision_at_10": quality(ctx.embeddings("item2vec"), ctx.data.cluster_of_id, ctx.queries()),
        "gensim_precision_at_10": quality(_as_embeddings(s.vocab.ids.astype(np.int64)[codes], vectors),
                                          ctx.data.cluster_of_id, ctx.queries()),
        "params": params,
    }


def run_graph(ctx: Context) -> None:
    dataset = ctx.dataset()
    version, seconds = train(ctx.store, dataset, "graph", GRAPH, seed=ctx.seed, sink=ctx.stages,
                             name="bench-graph", echo=echo_to(ctx.log))
    ctx.versions["graph"] = version
    manifest = ctx.store.load_version(version).manifest
    ctx.results["graph"] = {
        "train_version_seconds": seconds,
        "precision_at_10": quality(ctx.embeddings("graph"), ctx.data.cluster_of_id, ctx.queries()),
        "report": {k: v for k, v in manifest["fit_report"].items() if not k.startswith("items_without_vector_ex")},
    }


def run_walks(ctx: Context) -> None:
    from behemb_core.cooccurrence import count_cooccurrence, ppmi
    from behemb_core.graph_build import build_item_graph, top_k_per_row
    from behemb_core.methods.graph import GraphConfig
    from behemb_core.walks import generate_walks

    cfg = GraphConfig(**GRAPH)
    weights = ppmi(count_cooccurrence(ctx.dataset().sessions, window=cfg.cooc_window), alpha=cfg.ppmi_alpha)
    chosen = top_k_per_row(weights, 50)
    uncapped = int(np.diff(chosen.maximum(chosen.T).tocsr().indptr).max(initial=0))
    graph = build_item_graph(weights, top_k=cfg.top_k, max_degree=cfg.max_degree)
    indptr, indices, w = graph.indptr.astype(np.int64), graph.indices.astype(np.int32), graph.data.astype(np.float32)
    degree = np.diff(indptr)
    tiny = 64  # compile (or load from numba's cache) before timing
    for p, q in ((1.0, 1.0), (0.5, 2.0)):
        generate_walks(indptr, indices, w, walks_per_node=1, walk_length=3, p=p, q=q, seed=0,
                       start_nodes=np.flatnonzero(degree)[:tiny])
    out: dict[str, Any] = {"nodes": int((degree > 0).sum()), "edges": int(graph.nnz // 2),
                           "max_degree_top50_uncapped": uncapped, "max_degree": int(degree.max(initial=0)),
                           "mean_degree": float(degree[degree > 0].mean())}
    for label, p, q in (("first-order (DeepWalk)", 1.0, 1.0), ("node2vec p=0.5 q=2", 0.5, 2.0)):
        with measure("walks", f"walk generation, {label}", ctx.stages) as st:
            w_indptr, nodes = generate_walks(indptr, indices, w, walks_per_node=cfg.walks_per_node,
                                             walk_length=cfg.walk_length, p=p, q=q, seed=ctx.seed)
        steps = len(nodes) - (len(w_indptr) - 1)  # transitions; the start node is not a step
        st.extra["steps_per_second"] = steps / st.seconds
        out[label] = steps / st.seconds
    if ctx.data.scale.name in ("XS", "S"):
        rate = peers.python_walks(indptr, indices, w, n_steps=20_000, walk_length=cfg.walk_length, seed=ctx.seed)
        ctx.stages.append(StageResult("walks", "pure-Python loop (rng.choice per step)", 20_000 / rate, 0,
                                      {"steps_per_second": rate, "note": "20,000 steps"}))
        out["python_loop"] = rate
    ctx.results["walks"] = out


def run_neighbors(ctx: Context) -> None:
    from behemb_core.neighbors import top_k_neighbors

    from .peers import approximate_top_k_neighbors

    ctx.ppmi_svd_version()
    emb = ctx.embeddings("ppmi_svd")
    n = len(emb)
    top_k_neighbors(emb, 10, queries=np.arange(4))  # compile / load the selection kernel
    full = n <= EXACT_FULL_LIMIT
    queries = None if full else np.sort(np.random.default_rng(ctx.seed).choice(n, EXACT_SAMPLE, replace=False))
    label = f"exact top-10, all {n:,} items × {emb.dim}" if full else \
        f"exact top-10, {EXACT_SAMPLE:,} of {n:,} items × {emb.dim} (scaled to all)"
    with measure("neighbors", label, ctx.stages) as st:
        exact = top_k_neighbors(emb, 10, queries=queries)
    if not full:
        st.extra["measured_seconds"] = round(st.seconds, 2)
        st.seconds *= n / EXACT_SAMPLE
    exact_seconds = st.seconds
    from behemb_core.projection import (
        warm_up,  # pynndescent's kernels: compile or load before timing
    )

    with measure("neighbors", "numba warm-up (umap/pynndescent)", ctx.stages):
        warm_up()
    with measure("neighbors", f"pynndescent top-10, all {n:,} items", ctx.stages) as st:
        approx = approximate_top_k_neighbors(emb, 10, seed=ctx.seed)
    rows = np.arange(n) if queries is None else queries
    a = approx.codes[rows]
    recall = float(np.mean([len(np.intersect1d(x, y)) / 10 for x, y in zip(a, exact.codes, strict=True)]))
    st.extra["recall_vs_exact"] = recall
    ctx.results["neighbors"] = {"items": n, "dim": emb.dim, "exact_seconds": exact_seconds,
                                "exact_extrapolated": not full, "pynndescent_seconds": st.seconds,
                                "pynndescent_recall": recall}


def run_umap(ctx: Context) -> None:
    from behemb_core.projection import project_version, warm_up

    version = ctx.ppmi_svd_version()
    with measure("UMAP", "numba warm-up (umap + placement kernels)", ctx.stages):
        warm_up(pynndescent=False)
    with measure("UMAP", "projection, computed and cached", ctx.stages) as st:
        table = project_version(ctx.store, version, {"seed": ctx.seed})
        st.extra["items"] = len(table)
        st.extra["fitted"] = int(table["fitted"].sum())
    with measure("UMAP", "projection again (from the store cache)", ctx.stages) as again:
        project_version(ctx.store, version, {"seed": ctx.seed})
    ctx.results["umap"] = {"computed_seconds": st.seconds, "cached_seconds": again.seconds,
                           "items": len(table)}


RUNNERS = {"read": run_read, "ppmi_svd": run_ppmi_svd, "cooc_softmax": run_cooc_softmax, "item2vec": run_item2vec,
           "graph": run_graph, "walks": run_walks, "neighbors": run_neighbors, "umap": run_umap}


def _as_embeddings(ids: np.ndarray, vectors: np.ndarray):
    from behemb_core.embeddings import make_embeddings
    from behemb_core.vocab import Vocabulary

    order = np.argsort(ids)
    return make_embeddings(Vocabulary(ids[order]), vectors[order])


# ------------------------------------------------------------------------------------------------- main
def run(scale: str, *, only: list[str] | None = None, seed: int = 0, workdir: Path, out: Path | None,
        full_dense_svd: bool = False, repeat: int = 1, log=sys.stderr) -> dict[str, Any]:
    groups = list(GROUPS) if not only else [g for g in GROUPS if g in only]
    sc = SCALES[scale]
    workdir = Path(workdir)
    t0 = time.perf_counter()
    print(f"preparing {scale}: {sc.n_items:,} items, {sc.n_sessions:,} sessions (seed {seed})", file=log, flush=True)
    data = prepare(sc, seed=seed, workdir=workdir)
    store_dir = workdir / f"store-{scale}-seed{seed}-{int(time.time())}"
    ctx = Context(data=data, seed=seed, workdir=workdir, store_dir=store_dir, full_dense_svd=full_dense_svd,
                  log=log, repeat=repeat)
    failures: dict[str, str] = {}

    def snapshot() -> dict[str, Any]:
        result = {
            "scale": {"name": sc.name, "items": sc.n_items, "sessions": sc.n_sessions, "seed": seed,
                      "events": data.n_events, "distinct_items": data.info["distinct_items"],
                      "jsonl_mib": round(data.info["jsonl_bytes"] / 2**20, 1)},
            "groups": groups,
            "repeat": repeat,
            "failures": failures,
            "machine": machine_info(),
            "peak_rss_is_per_stage": PEAK_RESETTABLE,
            "stages": [r.as_dict() for r in ctx.stages],
            "results": ctx.results,
            "total_seconds": round(time.perf_counter() - t0, 1),
            "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        }
        result["targets"] = targets(result)
        if out is not None:  # written after every group, so a long run that dies keeps what it measured
            out.mkdir(parents=True, exist_ok=True)
            suffix = "" if not only else "-" + "-".join(groups)
            (out / f"{scale}{suffix}.json").write_text(json.dumps(result, indent=2, default=float) + "\n")
            (out / f"{scale}{suffix}.md").write_text(markdown(result))
        return result

    try:
        for g in groups:
            ctx.say(f"[{g}]")
            try:
                RUNNERS[g](ctx)
            except Exception as exc:  # noqa: BLE001 - report and go on: the other groups still say something
                failures[g] = f"{type(exc).__name__}: {exc}"
                traceback.print_exc(file=log)
            snapshot()
    finally:
        shutil.rmtree(store_dir, ignore_errors=True)
    return snapshot()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", choices=list(SCALES), default="S",
                    help="XS smoke test; S 10k items/50k sessions; M 100k/500k; L 1M/2M")
    ap.add_argument("--only", default="", help=f"comma-separated groups of {', '.join(GROUPS)} (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", type=Path, default=Path("benchmarks/work"),
                    help="generated data and a temporary store (default: benchmarks/work, git-ignored)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="where the JSON and Markdown go")
    ap.add_argument("--full-dense-svd", action="store_true",
                    help="S only: run the dense sketch's full SVD (most of an hour) instead of extrapolating it")
    ap.add_argument("--repeat", type=int, default=1,
                    help="item2vec: run behemb and raw gensim this many times each, interleaved, and compare the "
                         "fastest of each (2 is enough to tame two-thread noise)")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    only = [g.strip() for g in args.only.split(",") if g.strip()]
    unknown = sorted(set(only) - set(GROUPS))
    if unknown:
        ap.error(f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    result = run(args.scale, only=only, seed=args.seed, workdir=args.workdir, out=args.out,
                 full_dense_svd=args.full_dense_svd, repeat=args.repeat)
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
