"""How long the Publish page waits for the sign-off checklist: ``signoff_checks(store, version)``, first call and
reruns, on a ppmi_svd version of the synthetic data, nothing published yet.

``python -m benchmarks.signoff_speed [--scale XS|S|M|L] [--reruns 3] [--label after] [--page]``

The Publish page calls ``signoff_checks`` on every rerun (each ticked box, each letter typed into the note), so
the first call is what a person waits for once per version and the reruns are what every click costs. The data
are those of ``benchmarks/run.py`` (``benchmarks/data.py``: seeded planted-cluster sessions); the version is
trained once, untimed, into ``<workdir>/signoff-store-<scale>-seed<seed>`` and reused by later runs (``--label
before`` run on the code before the change, ``--label after`` on the code after it, share it). ``--page``
also times the Publish page itself (Streamlit AppTest: first run and reruns). Results go to
``<out>/signoff-<scale>.json`` and ``.md``; a run replaces the entry of its label and keeps the others, so the
files hold before and after side by side. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from .data import SCALES, prepare
from .machine import machine_info
from .ours import read_sessions, train
from .results_io import write_results

REPO = Path(__file__).resolve().parents[1]
PPMI_SVD = {"dim": 128, "window": 5, "alpha": 0.75, "n_iter": 3, "oversample": 10}  # as benchmarks/run.py
VERSION = "bench-ppmi-svd"
APP = REPO / "app.py"
PAGE = "pages/6_Publish.py"


def bench_store(scale: str, *, seed: int, workdir: Path, log: Any = sys.stderr) -> tuple[Any, str, dict[str, Any]]:
    """The store holding the ppmi_svd version of ``scale`` (trained once, untimed) and facts about the data."""
    from behemb_core.store import Store

    sc = SCALES[scale]
    data = prepare(sc, seed=seed, workdir=workdir)
    store = Store(str(Path(workdir) / f"signoff-store-{scale}-seed{seed}"))
    if not store.exists(VERSION):
        print(f"training ppmi_svd on {scale} (untimed, once)", file=log, flush=True)
        dataset = read_sessions(data.sessions_jsonl, [], None)
        train(store, dataset, "ppmi_svd", PPMI_SVD, seed=seed, sink=[], name=VERSION)
    manifest = store.manifest(VERSION)
    facts = {"name": sc.name, "items": sc.n_items, "sessions": sc.n_sessions, "seed": seed,
             "events": data.n_events, "version_items": manifest.get("n_items"), "dim": manifest.get("dim")}
    return store, VERSION, facts


def time_library(store: Any, version: str, reruns: int, log: Any = sys.stderr) -> dict[str, Any]:
    """Seconds of ``signoff_checks(store, version)``: the first call in this process, then ``reruns`` more."""
    from behemb_core.signoff import signoff_checks

    seconds: list[float] = []
    states: list[list[str]] = []
    for i in range(1 + reruns):
        t0 = time.perf_counter()
        checks, _ = signoff_checks(store, version)
        seconds.append(time.perf_counter() - t0)
        states.append([f"{c.name}: {'pass' if c.passed else 'not passed'}" for c in checks])
        print(f"  signoff_checks call {i + 1}: {seconds[-1]:.2f} s", file=log, flush=True)
    return {"first_seconds": seconds[0], "rerun_seconds": seconds[1:], "checks": states[0],
            "same_results_every_call": all(s == states[0] for s in states)}


def time_page(store: Any, version: str, reruns: int, log: Any = sys.stderr) -> dict[str, Any]:
    """Seconds of the Publish page (AppTest): the first run (with the library's caches emptied first), then
    ``reruns`` reruns, each ticking or unticking the first acknowledgement box (what a person does between two
    runs)."""
    from streamlit.testing.v1 import AppTest

    try:  # the page's first run does the work again, as in a fresh server (the library calls ran before it)
        from behemb_core.checks.cache import clear_caches
    except ImportError:  # the code before the checks were cached
        pass
    else:
        clear_caches()
    at = AppTest.from_file(str(APP), default_timeout=3600)
    at.session_state["store_path"] = store.url
    at.run()
    at.session_state["pub_version"] = version
    t0 = time.perf_counter()
    at.switch_page(PAGE).run()
    first = time.perf_counter() - t0
    print(f"  page first run: {first:.2f} s", file=log, flush=True)
    if at.exception:
        raise RuntimeError(f"the Publish page failed: {at.exception[0].value}")
    seconds: list[float] = []
    for i in range(reruns):
        boxes = [b for b in at.checkbox if b.key and b.key.startswith("pub_ack::")]
        t0 = time.perf_counter()
        if boxes:
            boxes[0].set_value(not boxes[0].value).run()
        else:
            at.run()
        seconds.append(time.perf_counter() - t0)
        print(f"  page rerun {i + 1}: {seconds[-1]:.2f} s", file=log, flush=True)
    return {"first_seconds": first, "rerun_seconds": seconds}


def markdown(result: dict[str, Any]) -> str:
    sc = result["scale"]
    lines = [f"### Sign-off checks at scale {sc['name']}: a ppmi_svd version of {sc['version_items']:,} items × "
             f"{sc['dim']} dims, nothing published",
             "",
             "`signoff_checks(store, version)` — the call the Publish page makes on every rerun — timed as the first "
             "call of a fresh process and the calls after it; the page itself (AppTest, ticking an acknowledgement "
             "box between reruns) where measured.",
             "",
             "| code | machine | first call s | rerun s (each) | page first run s | page rerun s (each) | finished |",
             "|---|---|---:|---|---:|---|---|"]
    def sec(s: float) -> str:
        return f"{s:.2f}" if s >= 0.1 else f"{s:.4f}"

    for label, run in result["runs"].items():
        lib, page = run["library"], run.get("page")
        m = run["machine"]
        lines.append(
            f"| {label} | {m['cpu']}, {m['cores_usable']} cores | {sec(lib['first_seconds'])} | "
            f"{', '.join(sec(s) for s in lib['rerun_seconds'])} | "
            f"{'—' if not page else sec(page['first_seconds'])} | "
            f"{'—' if not page else ', '.join(sec(s) for s in page['rerun_seconds'])} | {run['finished']} |")
    notes = [run["note"] for run in result["runs"].values() if run.get("note")]
    if notes:
        lines += ["", *[f"- {n}" for n in notes]]
    return "\n".join(lines) + "\n"


def run(scale: str, *, seed: int = 0, workdir: Path, out: Path | None, reruns: int = 3, label: str = "after",
        page: bool = False, note: str | None = None, log: Any = sys.stderr) -> dict[str, Any]:
    """Time the checks (and optionally the page) and merge the entry ``label`` into ``<out>/signoff-<scale>.*``."""
    store, version, facts = bench_store(scale, seed=seed, workdir=Path(workdir), log=log)
    entry: dict[str, Any] = {"library": time_library(store, version, reruns, log), "machine": machine_info(),
                             "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "note": note}
    if page:
        entry["page"] = time_page(store, version, reruns, log)
    result: dict[str, Any] = {"scale": facts, "runs": {}}
    if out is not None:
        path = Path(out) / f"signoff-{scale}.json"
        if path.exists():
            old = json.loads(path.read_text())
            if old.get("scale") == facts:
                result["runs"] = old.get("runs", {})
        result["runs"][label] = entry
        write_results(result, path, markdown)
    else:
        result["runs"][label] = entry
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.signoff_speed", description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", choices=list(SCALES), default="S",
                    help="XS smoke test; S 10k items; M 100k items (the Publish page's target); L 1M")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reruns", type=int, default=3, help="calls after the first")
    ap.add_argument("--label", default="after", help="the entry this run writes (e.g. before, after)")
    ap.add_argument("--note", default=None, help="a sentence kept with the entry")
    ap.add_argument("--page", action="store_true", help="also time the Publish page (Streamlit AppTest)")
    ap.add_argument("--workdir", type=Path, default=REPO / "benchmarks" / "work",
                    help="generated data and the store (default: benchmarks/work, git-ignored)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = ap.parse_args(argv)
    if args.reruns < 0:
        ap.error("--reruns must be 0 or more")
    result = run(args.scale, seed=args.seed, workdir=args.workdir, out=args.out, reruns=args.reruns,
                 label=args.label, page=args.page, note=args.note)
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
