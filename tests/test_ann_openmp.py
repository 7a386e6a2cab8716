"""faiss and numba in one process: both run on OpenMP, and faiss-cpu bundles its own libgomp beside the one numba's
``omp`` threading layer loads. Training (numba threads), then building and searching a faiss index, then training
again must neither deadlock nor change what training computes.

The work runs in a subprocess with a timeout, so a deadlock fails this test instead of hanging the suite; numba's
threading layer is set to ``omp`` there, the pairing that could conflict. The benchmark
(``python -m benchmarks.ann_served``) does the same with an index of 94,522 vectors and records the timings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 600

SCRIPT = textwrap.dedent("""
    import json
    import numpy as np
    import numba
    from behemb_core.ann.index import AnnParams, build_index
    from behemb_core.ann.recall import measure_recall
    from behemb_core.demo import load_demo_dataset
    from behemb_core.methods.registry import DEFAULT_METHOD
    from behemb_core.neighbors import exact_top_k
    from behemb_core.train import fit_method

    sessions = load_demo_dataset().sessions
    _, first, _ = fit_method(DEFAULT_METHOD, {"dim": 16}, sessions=sessions, seed=0)
    layer = numba.threading_layer()
    v = np.asarray(first.embeddings.vectors, dtype=np.float32)
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    index = build_index(v, AnnParams(threads=2))
    rows = np.arange(0, len(v), 7)
    codes, _ = index.search(v[rows], 10, skip=rows)
    exact, _ = exact_top_k(v[rows], v, 10, skip=rows)
    recall = measure_recall(index, v, queries=500)["recall"]
    _, second, _ = fit_method(DEFAULT_METHOD, {"dim": 16}, sessions=sessions, seed=0)
    maps = open("/proc/self/maps").read()
    gomp = sorted({line.split()[-1] for line in maps.splitlines() if "libgomp" in line})
    print(json.dumps({
        "layer": layer, "threads": numba.get_num_threads(), "n": len(v),
        "identical": bool(np.array_equal(first.embeddings.vectors, second.embeddings.vectors)),
        "top1_same": float(np.mean(codes[:, 0] == exact[:, 0])), "recall": recall,
        "self_returned": bool((codes == rows[:, None]).any()), "libgomp": gomp,
    }))
""")


@pytest.mark.slow
def test_training_faiss_and_training_again_in_one_process_agree_and_do_not_hang() -> None:
    env = {**os.environ, "NUMBA_THREADING_LAYER": "omp", "NUMBA_NUM_THREADS": "2", "OMP_NUM_THREADS": "2"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    try:
        out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=REPO, capture_output=True, text=True,
                             timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"training, a faiss build and training again did not finish in {TIMEOUT} s (an OpenMP deadlock?)")
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["layer"] == "omp" and got["threads"] == 2, got  # numba really ran OpenMP threads
    assert any("faiss" in path for path in got["libgomp"]), got["libgomp"]  # faiss's own libgomp was loaded
    assert got["identical"], "the second training after the faiss build gave other vectors"
    assert got["n"] > 1000
    assert got["top1_same"] >= 0.99, got  # the index finds each query's nearest neighbor
    assert got["recall"] >= 0.99, got
    assert not got["self_returned"]
