"""Spark engine vs single machine: ``python -m benchmarks.spark_engine --scales M,L`` (``--scales XS`` is a smoke run).

For each scale and each input kind (``--inputs``, default both) of the data :mod:`benchmarks.data` generates:

- ``sessions``: the session JSON Lines file (``--input sessions.jsonl``; no sessionization);
- ``events``: the same interactions as a Parquet event log (``--input events.parquet --format events``: user,
  item, timestamp; sessions by the default 30-minute inactivity gap, which recovers the generated sessions),

four subprocesses of the CLI, each timed wall-clock from launch to exit (Python start, imports and the JVM
included), all reading the same file with the same options:

- ``local``: ``train --input FILE --method ppmi_svd`` — the single-machine engine, file → stored version;
- ``spark``: ``train --engine spark --master local[2] …`` — the whole Spark path in one process; its split into
  Spark's part (prepare) and the driver's part (train from the prepared work dir) is read off the time each
  progress line reached stderr (the line ``done: prepared …`` ends the prepare step);
- ``prepare`` then ``from-prepared``: the same two halves as separate processes (``prepare --work-dir``, then
  ``train --from-prepared``).

Every version uses ppmi_svd's default config (dim 128, window 5, uniform). Spark runs get the CLI's own settings
(a local master: ``spark.driver.memory=4g``) plus ``--spark-conf``. Peak RSS is each Python process's own
``VmHWM``; the JVM Spark starts is a child of the Python driver and its ``VmHWM`` is read separately just before the
driver exits (it is not in the driver's number). The versions' vectors are compared with ``np.array_equal``, and
the single-machine vectors of the two input kinds by a hash. A case whose Spark run fails for memory is run again
with ``--retry-conf`` added when that is given (both attempts are recorded). Writes ``<out>/spark-engine.json`` and
``<out>/spark-engine.md``; the store and work dirs are removed afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .data import SCALES, BenchData, prepare
from .machine import machine_info
from .measure import status_kib

REPO = Path(__file__).resolve().parents[1]
MASTER = "local[2]"
METHOD = "ppmi_svd"
#: The line that ends the prepare step in ``train --engine spark``'s progress on stderr.
PREPARED_LINE = re.compile(r"^\[\s*[\d.]+s\]\s+(?:\d+%)?\s*done: prepared ")
PROGRESS_LINE = re.compile(r"^\[\s*[\d.]+s\]\s+(?:\d+%)?\s*([\w-]+): (.*)$")
#: The JVM's own error on stderr (e.g. ``java.lang.OutOfMemoryError: Java heap space``), which says why a JVM died;
#: the CLI's ``error: …`` line then only says that it stopped (``error: the Spark JVM stopped while the job ran …``).
JVM_ERROR_LINE = re.compile(r"(java\.lang\.\w+(?:Error|Exception)\b.*)")
ERROR_LINE = re.compile(r"^(error: .*)")
#: A failure worth a run with more memory (``--retry-conf``): the JVM ran out of heap, or died (killed) mid-job.
MEMORY_FAILURE = re.compile(r"OutOfMemoryError|the Spark JVM stopped|GC overhead limit")
#: Input kinds: (what the file is, the ``BenchData`` attribute of its path, the reading options after ``--input``).
INPUTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "sessions": ("session JSON Lines", "sessions_jsonl", ()),
    "events": ("Parquet event log, sessions by the default 30-min gap", "events_parquet", ("--format", "events")),
}
CHILD = "import sys; from benchmarks.spark_engine import child; sys.exit(child(sys.argv[1], sys.argv[2:]))"


# ------------------------------------------------------------------------------------- inside the child process
def _descendants(root: int) -> list[int]:
    """Live descendants of ``root`` (from each process's parent id in ``/proc/<pid>/stat``)."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        parent[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])  # the name may hold spaces and parentheses
    found, frontier = [], [root]
    while frontier:
        kids = [pid for pid, ppid in parent.items() if ppid in frontier]
        found.extend(kids)
        frontier = kids
    return found


def _process_memory(pid: int) -> dict[str, Any]:
    try:
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        name = "?"
    hwm, rss = status_kib("VmHWM", pid), status_kib("VmRSS", pid)
    return {"pid": pid, "name": name, "peak_rss_bytes": None if hwm is None else hwm * 1024,
            "rss_bytes": None if rss is None else rss * 1024}


def child(result_path: str, argv: list[str]) -> int:
    """Run one CLI command in this process, then write its exit code, seconds, this process's peak RSS and the
    peak RSS of its live child processes (Spark's JVM) to ``result_path``."""
    from behemb_core.cli import main as cli_main

    t0 = time.perf_counter()
    code = cli_main(argv)
    seconds = time.perf_counter() - t0
    hwm = status_kib("VmHWM")
    result = {"exit_code": code, "cli_seconds": seconds, "peak_rss_bytes": None if hwm is None else hwm * 1024,
              "children": [_process_memory(pid) for pid in _descendants(os.getpid())]}
    Path(result_path).write_text(json.dumps(result, indent=1))
    return code


# ------------------------------------------------------------------------------------- in the benchmark process
@dataclass
class Run:
    """One timed CLI subprocess."""

    label: str
    argv: list[str]
    seconds: float = 0.0
    cli_seconds: float = 0.0
    peak_rss_bytes: int | None = None
    jvm_peak_rss_bytes: int | None = None
    children: list[dict[str, Any]] = field(default_factory=list)
    load_before: float | None = None  # the 1-minute load average at launch and at exit (the machine is shared)
    load_after: float | None = None
    lines: list[tuple[float, str]] = field(default_factory=list)  # (seconds since launch, stderr line)
    stdout: str = ""

    def summary(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("lines", "argv")}
        out["command"] = "python -m behemb_core " + " ".join(self.argv)
        out["stages"] = stages(self)
        return out


def _env() -> dict[str, str]:
    env = {**os.environ, "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


class RunFailed(RuntimeError):
    """A CLI subprocess exited with an error: ``error`` is the CLI's ``error: …`` line, ``cause`` the JVM's own
    error where there is one (else the same line); ``seconds`` from launch to the exit, ``stage`` the last progress
    stage it reached."""

    def __init__(self, run: Run, code: int, stderr_log: Path) -> None:
        error = next((m.group(1) for _, line in run.lines if (m := ERROR_LINE.search(line))), None)
        jvm = next((m.group(1).strip() for _, line in run.lines if (m := JVM_ERROR_LINE.search(line))), None)
        last = run.lines[-1][1] if run.lines else "no output"
        self.cause, self.error = jvm or error or last, error or last
        marks = [m.group(1) for _, line in run.lines if (m := PROGRESS_LINE.match(line))]
        self.label, self.code, self.stderr_log = run.label, code, stderr_log
        self.seconds, self.stage = run.seconds, marks[-1] if marks else None
        super().__init__(f"{self.label} exited with {code} after {self.seconds:.0f} s (stage {self.stage}): "
                         f"{self.cause}; {self.error} (full stderr: {stderr_log})")

    @property
    def memory(self) -> bool:
        return bool(MEMORY_FAILURE.search(self.cause) or MEMORY_FAILURE.search(self.error))

    def summary(self) -> dict[str, Any]:
        return {"run": self.label, "exit_code": self.code, "cause": self.cause, "error": self.error,
                "seconds": round(self.seconds, 1), "stage": self.stage, "memory": self.memory,
                "stderr_log": str(self.stderr_log)}


def run_cli(label: str, argv: list[str], result_file: Path, stderr_log: Path, log: Any) -> Run:
    """Run ``python -m behemb_core ARGV`` (through :func:`child`) and time it; stderr lines are timestamped as they
    arrive, progress lines echoed to ``log``, and all of them kept in ``stderr_log``. A failing command raises
    :class:`RunFailed`."""
    run = Run(label, argv)
    print(f"  [{label}] python -m behemb_core {' '.join(argv)}", file=log, flush=True)
    run.load_before = os.getloadavg()[0]
    stdout_file = result_file.with_suffix(".stdout")
    t0 = time.perf_counter()
    with open(stdout_file, "w") as stdout:
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(result_file), *argv], cwd=REPO, env=_env(),
                                stdout=stdout, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        for line in proc.stderr:
            run.lines.append((time.perf_counter() - t0, line.rstrip("\n")))
            if PROGRESS_LINE.match(line):
                print(f"    {time.perf_counter() - t0:7.1f}s {line.rstrip()}", file=log, flush=True)
        code = proc.wait()
    run.seconds = time.perf_counter() - t0
    run.load_after = os.getloadavg()[0]
    stderr_log.parent.mkdir(parents=True, exist_ok=True)
    stderr_log.write_text("".join(f"[{t:8.2f}] {line}\n" for t, line in run.lines))
    if code != 0 or not result_file.exists():
        raise RunFailed(run, code, stderr_log)
    run.stdout = stdout_file.read_text()
    info = json.loads(result_file.read_text())
    run.cli_seconds, run.peak_rss_bytes, run.children = info["cli_seconds"], info["peak_rss_bytes"], info["children"]
    jvm = [c["peak_rss_bytes"] for c in run.children if c["name"] == "java" and c["peak_rss_bytes"]]
    run.jvm_peak_rss_bytes = max(jvm) if jvm else None
    print(f"  [{label}] {run.seconds:.1f} s, driver peak {_gib(run.peak_rss_bytes)} GiB"
          + (f", JVM peak {_gib(run.jvm_peak_rss_bytes)} GiB" if jvm else ""), file=log, flush=True)
    return run


def stages(run: Run) -> list[dict[str, Any]]:
    """The progress stages of a run, each from its first line to the next stage's (the last to the exit), in
    seconds since launch; a stage name seen again later (``done``) is a new entry."""
    marks: list[tuple[str, float, str]] = []
    for t, line in run.lines:
        m = PROGRESS_LINE.match(line)
        if m and (not marks or marks[-1][0] != m.group(1)):
            marks.append((m.group(1), t, m.group(2)))
    ends = [t for _, t, _ in marks[1:]] + [run.seconds]
    return [{"stage": s, "start": round(t, 2), "seconds": round(end - t, 2), "message": msg}
            for (s, t, msg), end in zip(marks, ends, strict=True)]


def prepared_at(run: Run) -> float:
    """Seconds from launch until ``train --engine spark`` said the prepare step was done."""
    for t, line in run.lines:
        if PREPARED_LINE.match(line):
            return t
    raise RuntimeError(f"{run.label}: no 'done: prepared' line on stderr")


def compare_versions(store_dir: Path, reference: str, others: list[str]) -> dict[str, Any]:
    """``np.array_equal`` of each version's vectors (and ids, and dataset fingerprint) with ``reference``'s."""
    from behemb_core.store import Store

    store = Store(str(store_dir))
    ref = store.load_version(reference)
    out: dict[str, Any] = {}
    for name in others:
        other = store.load_version(name)
        same_ids = np.array_equal(ref.embeddings.vocab.ids, other.embeddings.vocab.ids)
        same_vectors = same_ids and np.array_equal(ref.embeddings.vectors, other.embeddings.vectors)
        diff = None if same_vectors or not same_ids else float(
            np.abs(ref.embeddings.vectors - other.embeddings.vectors).max())
        out[name] = {"ids_equal": bool(same_ids), "vectors_equal": bool(same_vectors), "max_abs_diff": diff,
                     "fingerprint_equal": ref.manifest["dataset"]["fingerprint"]
                     == other.manifest["dataset"]["fingerprint"]}
    return out


def vectors_digest(store_dir: Path, version: str) -> str:
    """sha256 of a version's item ids and vectors (dtype, shape and bytes): equal digests, bit-identical versions."""
    from behemb_core.store import Store

    emb = Store(str(store_dir)).load_version(version).embeddings
    h = hashlib.sha256()
    for a in (np.asarray(emb.vocab.ids), np.ascontiguousarray(emb.vectors)):
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def bench_case(data: BenchData, kind: str, *, workdir: Path, spark_conf: list[str], log: Any,
               attempt: str = "first") -> dict[str, Any]:
    """The four runs of one input kind of one scale, and the comparison of their versions; a run that fails ends
    the case, and the result says which run and why (``failed``)."""
    _, attr, options = INPUTS[kind]
    path: Path = getattr(data, attr)
    conf_text = f" with {' '.join(spark_conf)}" if spark_conf else ""
    print(f"{data.scale.name} / {kind}{conf_text}: {path} ({data.n_events:,} events)", file=log, flush=True)
    name = f"spark-bench-{data.scale.name}-{kind}-seed{data.info['params']['seed']}-{int(time.time())}"
    scratch = workdir / name
    store, work = scratch / "store", scratch / "prepared"
    scratch.mkdir(parents=True)
    reading = ["--input", str(path), *options]
    common = [*reading, "--method", METHOD, "--store", str(store)]
    spark = ["--master", MASTER, *(a for kv in spark_conf for a in ("--spark-conf", kv))]
    commands = {
        "local": ["train", *common, "--version", "local"],
        "spark": ["train", *common, "--version", "spark", "--engine", "spark", *spark],
        "prepare": ["prepare", *reading, "--work-dir", str(work), *spark],
        "from_prepared": ["train", "--from-prepared", str(work), "--method", METHOD, "--store", str(store),
                          "--version", "spark-2step"],
    }
    head = {"scale": _scale_info(data), "input": _input_info(data, kind), "spark_conf": list(spark_conf),
            "attempt": attempt}
    runs: dict[str, Run] = {}
    try:
        for label, argv in commands.items():
            runs[label] = run_cli(label, argv, scratch / f"{label}.json",
                                  workdir / "logs" / f"{name}-{label}.stderr", log)
        identical = compare_versions(store, "local", ["spark", "spark-2step"])
        manifest = _manifest(store, "local")
        digest = vectors_digest(store, "local")
    except RunFailed as exc:
        print(f"  FAILED: {exc}", file=log, flush=True)
        return {**head, "failed": exc.summary(), "runs": {k: r.summary() for k, r in runs.items()}}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {**head, **_case_result(runs, identical, manifest), "local_vectors_sha256": digest}


def _scale_info(data: BenchData) -> dict[str, Any]:
    return {"name": data.scale.name, "items": data.scale.n_items, "sessions": data.scale.n_sessions,
            "events": data.n_events, "generator": "benchmarks/data.py"}


def _input_info(data: BenchData, kind: str) -> dict[str, Any]:
    description, attr, options = INPUTS[kind]
    path: Path = getattr(data, attr)
    return {"kind": kind, "description": description, "file": path.name, "options": list(options),
            "mib": round(path.stat().st_size / 2**20, 1)}


def _manifest(store_dir: Path, version: str) -> dict[str, Any]:
    from behemb_core.store import Store

    return Store(str(store_dir)).load_version(version).manifest


def _case_result(runs: dict[str, Run], identical: dict[str, Any], manifest: dict[str, Any]) -> dict[str, Any]:
    spark = runs["spark"]
    split = prepared_at(spark)
    summary = manifest["dataset"]["summary"]
    return {
        "trained_on": {"sessions": summary["sessions"], "events": summary["events"], "items": manifest["n_items"]},
        "config": manifest["config"],
        "single_machine_seconds": runs["local"].seconds,
        "single_machine_peak_rss_bytes": runs["local"].peak_rss_bytes,
        "spark_seconds": spark.seconds,
        "spark_prepare_seconds": split,
        "spark_driver_seconds": spark.seconds - split,
        "spark_driver_peak_rss_bytes": spark.peak_rss_bytes,
        "spark_jvm_peak_rss_bytes": spark.jvm_peak_rss_bytes,
        "ratio_spark_to_single": spark.seconds / runs["local"].seconds,
        "two_step": {
            "prepare_seconds": runs["prepare"].seconds,
            "from_prepared_seconds": runs["from_prepared"].seconds,
            "total_seconds": runs["prepare"].seconds + runs["from_prepared"].seconds,
            "prepare_driver_peak_rss_bytes": runs["prepare"].peak_rss_bytes,
            "prepare_jvm_peak_rss_bytes": runs["prepare"].jvm_peak_rss_bytes,
            "from_prepared_peak_rss_bytes": runs["from_prepared"].peak_rss_bytes,
        },
        "identical": all(v["vectors_equal"] for v in identical.values()),
        "comparison": identical,
        "runs": {k: r.summary() for k, r in runs.items()},
    }


def across_inputs(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Per scale, whether the single-machine vectors are the same from every input kind (by their digests)."""
    out: dict[str, Any] = {}
    for c in cases:
        if "local_vectors_sha256" in c:
            out.setdefault(c["scale"]["name"], {})[c["input"]["kind"]] = c["local_vectors_sha256"]
    return {scale: {"digests": d, "equal": len(set(d.values())) == 1} for scale, d in out.items() if len(d) > 1}


# ---------------------------------------------------------------------------------------------------- report
#: What the runs before this one found (their numbers are in git history).
HISTORY = ("History: the first run of this benchmark (session JSONL only) failed at L under Spark's own 1 GiB "
           "driver heap (`java.lang.OutOfMemoryError: Java heap space` in the read stage) and was measured with "
           "`--spark-conf spark.driver.memory=4g` (Spark total 80.9 s at M, 179.1 s at L: 9.7× and 3.8× the single "
           "machine, before the Spark reads got faster); the CLI has since given a local master 4 GiB by default.")


def _gib(n: int | None) -> str:
    return "–" if n is None else f"{n / 2**30:.2f}"


def _spark_info(spark_conf: list[str], retry_conf: list[str]) -> dict[str, Any]:
    import pyspark

    from behemb_core.cli.training import LOCAL_SPARK_CONF

    try:
        java = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=60).stderr.splitlines()
    except (OSError, subprocess.SubprocessError):
        java = []
    return {"pyspark": pyspark.__version__, "java": java[0] if java else None, "master": MASTER,
            "cli_local_defaults": LOCAL_SPARK_CONF, "spark_conf": spark_conf, "retry_conf": retry_conf,
            "SPARK_LOCAL_IP": _env()["SPARK_LOCAL_IP"]}


def _stage_text(stages: list[dict[str, Any]]) -> str:
    """``read 12.3, clean 4.5, …`` (seconds). The segment after ``done: prepared`` is the driver reading the work
    dir and building the co-occurrence matrix (no progress line of its own); the one after ``done: saved`` is the
    exit (for Spark: stopping the session and the JVM)."""
    def name(i: int, s: dict[str, Any]) -> str:
        if s["message"].startswith("prepared "):
            return "read work dir + matrix"
        return "saved → exit" if i == len(stages) - 1 and s["message"].startswith("saved ") else s["stage"]

    return ", ".join(f"{name(i, s)} {s['seconds']:.1f}" for i, s in enumerate(stages))


def _label(r: dict[str, Any], base_conf: list[str]) -> str:
    extra = [kv for kv in r["spark_conf"] if kv not in base_conf]
    return r["scale"]["name"] + (f" ({', '.join(f'`{kv}`' for kv in extra)})" if extra else "")


def _stage_lines(r: dict[str, Any], base_conf: list[str]) -> list[str]:
    spark = r["runs"]["spark"]["stages"]
    cut = next(i for i, s in enumerate(spark) if s["message"].startswith("prepared "))
    local = r["runs"]["local"]["stages"]
    name = _label(r, base_conf)
    return [f"- {name} Spark (one process): start-up {spark[0]['start']:.1f} | on Spark: {_stage_text(spark[:cut])} "
            f"| on the driver: {_stage_text(spark[cut:])}",
            f"- {name} single machine: start-up {local[0]['start']:.1f} | {_stage_text(local)}" if local else ""]


def _settings(sp: dict[str, Any]) -> str:
    defaults = ", ".join(f"{k}={v}" for k, v in sp.get("cli_local_defaults", {}).items())
    text = f"the CLI's defaults for a local master ({defaults})" if defaults else "the CLI's defaults"
    if sp["spark_conf"]:
        text += " under " + ", ".join(f"`--spark-conf {kv}`" for kv in sp["spark_conf"])
    else:
        text += ", no --spark-conf"
    if sp.get("retry_conf"):
        text += "; a case whose Spark run fails for memory is run again with " + ", ".join(
            f"`--spark-conf {kv}`" for kv in sp["retry_conf"])
    return text


def _row(r: dict[str, Any], base_conf: list[str]) -> str:
    name, events = _label(r, base_conf), f"{r['scale']['events']:,}"
    if "failed" in r:
        f = r["failed"]
        local = r["runs"].get("local")
        single = f"{local['seconds']:.1f}" if local else "–"
        single_rss = f"({_gib(local['peak_rss_bytes'])})" if local else "–"
        return (f"| {name} | {events} | – | {single} | **failed** ({f['run']} run, after {f['seconds']:.0f} s in "
                f"stage {f['stage']}: `{f['cause']}`) | – | – {single_rss} | – | – |")
    return (f"| {name} | {events} | {r['trained_on']['items']:,} | "
            f"{r['single_machine_seconds']:.1f} | {r['spark_seconds']:.1f} ({r['spark_prepare_seconds']:.1f} + "
            f"{r['spark_driver_seconds']:.1f}) | {r['ratio_spark_to_single']:.1f}× | "
            f"{_gib(r['spark_driver_peak_rss_bytes'])} ({_gib(r['single_machine_peak_rss_bytes'])}) | "
            f"{_gib(r['spark_jvm_peak_rss_bytes'])} | {'yes' if r['identical'] else 'NO'} |")


def _two_step_row(r: dict[str, Any], base_conf: list[str]) -> str:
    t = r["two_step"]
    return (f"| {_label(r, base_conf)} | {r['input']['kind']} | {t['prepare_seconds']:.1f} | "
            f"{t['from_prepared_seconds']:.1f} | {t['total_seconds']:.1f} | "
            f"{_gib(t['prepare_driver_peak_rss_bytes'])} / {_gib(t['prepare_jvm_peak_rss_bytes'])} | "
            f"{_gib(t['from_prepared_peak_rss_bytes'])} |")


def _trained_on_text(done: list[dict[str, Any]]) -> str:
    """``M: 3,5… sessions, … events (either input)`` per scale, or per input where the inputs differ."""
    parts = []
    for scale in dict.fromkeys(r["scale"]["name"] for r in done):
        seen = {r["input"]["kind"]: (r["trained_on"]["sessions"], r["trained_on"]["events"])
                for r in done if r["scale"]["name"] == scale}
        if len(set(seen.values())) == 1:
            (sessions, events), = set(seen.values())
            which = "either input" if len(seen) > 1 else next(iter(seen))
            parts.append(f"{scale} {sessions:,} sessions, {events:,} events ({which})")
        else:
            parts += [f"{scale} ({kind}) {n:,} sessions, {e:,} events" for kind, (n, e) in seen.items()]
    return "; ".join(parts)


def _failure_lines(cases: list[dict[str, Any]], base_conf: list[str], defaults: dict[str, str]) -> list[str]:
    default = ", ".join(f"{k}={v}" for k, v in defaults.items())
    out = []
    for r in cases:
        if "failed" not in r:
            continue
        f = r["failed"]
        conf = ", ".join(r["spark_conf"]) or f"no --spark-conf: the CLI's local default {default}".rstrip()
        why = "for memory" if f["memory"] else "not for memory"
        error = f" The CLI's last word: `{f['error']}`." if f["error"] != f["cause"] else ""
        out.append(f"- {_label(r, base_conf)}, {r['input']['kind']} ({conf}): the {f['run']} run failed {why} "
                   f"after {f['seconds']:.0f} s, in stage {f['stage']}, with `{f['cause']}`.{error}")
    return out


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    sp = result["spark"]
    base = sp["spark_conf"]
    cases = result["cases"]
    done = [r for r in cases if "failed" not in r]
    lines = [
        "# Spark engine vs single machine (ppmi_svd, file → stored version)",
        "",
        f"Machine: {m['cpu']}, {m['cores_usable']} usable cores, {m['memory_gib']} GiB; Python {m['python']}; "
        f"pyspark {sp['pyspark']} ({sp['java']}), master `{sp['master']}`, Spark settings: {_settings(sp)}. "
        f"Finished {result['finished']}. Command: `{result['command']}`.",
        "",
        "**On 2 cores Spark is overhead.** Spark's engine exists for inputs that do not fit one machine or live on a "
        "cluster; here it runs the same work the single-machine engine does, in a JVM on the same two cores, plus "
        "JVM start-up, shuffles to local disk and Parquet round trips. The numbers below measure that overhead, "
        "not a speed-up" + (": at every scale and input below the single machine is faster." if done and all(
            r["ratio_spark_to_single"] > 1 for r in done) else "."),
        "",
        *([result["note"], ""] if result.get("note") else []),
    ]
    header = ["| scale | events (input) | items | single-machine s | Spark total s (prepare + driver) | ratio | "
              "driver peak RSS GiB (single-machine) | JVM peak RSS GiB | identical |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for kind in result["inputs"]:
        rows = [r for r in cases if r["input"]["kind"] == kind]
        if not rows:
            continue
        i = rows[0]["input"]
        options = f" `{' '.join(i['options'])}`" if i["options"] else ""
        lines += [f"## Input: {i['description']} (`{i['file']}`{options})", "", *header]
        lines += [_row(r, base) for r in rows]
        lines += [""]
    lines += [
        "Times are wall-clock from launching `python -m behemb_core …` to its exit (interpreter start, imports, JVM "
        "start and stop included). *Spark total* is one `train --engine spark --master local[2]` process; its "
        "split is when the line `done: prepared …` reached stderr. *Driver peak RSS* is the Python process's own "
        "VmHWM; the JVM (a child process of the driver) is not counted in it and is reported beside it (its VmHWM, "
        "read just before the driver exits). *Identical*: `np.array_equal` of the vectors (and equal item ids) of "
        "the single-machine version and both Spark versions of that input. *Events (input)* are the generated "
        "events; both inputs hold the same ones, and after cleaning (consecutive repeats collapsed, sessions "
        "shorter than 2 dropped) the versions are trained on: " + _trained_on_text(done) + ".",
        "",
    ]
    across = result.get("across_inputs", {})
    if across:
        same = [s for s, v in across.items() if v["equal"]]
        differ = [s for s, v in across.items() if not v["equal"]]
        text = [f"The single-machine vectors from the event log are bit-identical to those from the JSON Lines "
                f"(equal sha256 of ids and vectors) at {', '.join(same)}." if same else "",
                f"They differ at {', '.join(differ)}, where the inputs gave "
                + "; ".join(_trained_on_text([r for r in done if r["scale"]["name"] == d]) for d in differ) + "."
                if differ else ""]
        lines += [" ".join(t for t in text if t), ""]
    if result.get("note_after_run"):
        lines += [f"Added after the run: {result['note_after_run']}", ""]
    failures = _failure_lines(cases, base, sp.get("cli_local_defaults", {}))
    if failures:
        lines += ["Failed runs:", "", *failures, ""]
    elif done:
        peaks = [p for r in done for p in (r["spark_jvm_peak_rss_bytes"], r["two_step"]["prepare_jvm_peak_rss_bytes"])
                 if p]
        retry = " (so `--retry-conf` was not used)" if sp.get("retry_conf") else ""
        lines += [f"No run failed{retry}: every Spark run fit the settings above; the JVM's peak RSS (heap and "
                  f"off-heap) was at most {_gib(max(peaks) if peaks else None)} GiB.", ""]
    lines += [
        "The same two halves as separate processes (`prepare --work-dir`, then `train --from-prepared`):",
        "",
        "| scale | input | prepare s | train --from-prepared s | sum s | prepare driver / JVM peak GiB | "
        "from-prepared peak GiB |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    lines += [_two_step_row(r, base) for r in done]
    lines += ["", "Stages in seconds, from the progress lines on stderr (start-up: launch to the first line; each "
              "stage runs to the next stage's first line, the last to the exit). For the event log, Spark's *read* "
              "includes the sessionization (one stage on Spark); the single machine reports it as *sessionize*:",
              ""]
    for kind in result["inputs"]:
        rows = [r for r in done if r["input"]["kind"] == kind]
        if rows:
            lines += [f"{kind}:", ""]
            for r in rows:
                lines += [x for x in _stage_lines(r, base) if x]
            lines += [""]
    if done:
        lines += [f"Method config: ppmi_svd's defaults "
                  f"({', '.join(f'{k}={v}' for k, v in done[0]['config'].items())}).", ""]
    lines += [HISTORY, ""]
    return "\n".join(lines)


def write(result: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "spark-engine.json").write_text(json.dumps(result, indent=2, default=float) + "\n")
    (out / "spark-engine.md").write_text(markdown(result))


def run(scales: list[str], *, seed: int, workdir: Path, out: Path | None, command: str,
        inputs: list[str] | None = None, spark_conf: list[str] | None = None, retry_conf: list[str] | None = None,
        note: str | None = None, log: Any = sys.stderr) -> dict[str, Any]:
    """Benchmark each scale and input kind in turn; the results are written after each case (a dying L run keeps
    M's). A case whose Spark run fails for memory is run again with ``retry_conf`` added, if given."""
    conf, retry = list(spark_conf or []), list(retry_conf or [])
    kinds = list(inputs or INPUTS)
    result: dict[str, Any] = {"command": command, "seed": seed, "inputs": kinds, "note": note,
                              "machine": machine_info(), "spark": _spark_info(conf, retry), "cases": [],
                              "across_inputs": {}, "finished": None}
    workdir = Path(workdir)

    def record(case: dict[str, Any]) -> None:
        result["cases"].append(case)
        result["across_inputs"] = across_inputs(result["cases"])
        result["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        if out is not None:
            write(result, out)

    for scale in scales:
        sc = SCALES[scale]
        t0 = time.perf_counter()
        data = prepare(sc, seed=seed, workdir=workdir)
        print(f"{scale}: {sc.n_items:,} items, {sc.n_sessions:,} sessions, {data.n_events:,} events (seed {seed}; "
              f"{time.perf_counter() - t0:.0f} s to generate or reuse)", file=log, flush=True)
        for kind in kinds:
            case = bench_case(data, kind, workdir=workdir, spark_conf=conf, log=log)
            record(case)
            failed = case.get("failed")
            if failed and failed["memory"] and failed["run"] != "local" and retry:
                record(bench_case(data, kind, workdir=workdir, spark_conf=conf + retry, log=log, attempt="retry"))
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.spark_engine", description=__doc__.split("\n\n")[0])
    ap.add_argument("--scales", default="M,L", help=f"comma-separated, of {', '.join(SCALES)} (default M,L)")
    ap.add_argument("--inputs", default=",".join(INPUTS),
                    help=f"comma-separated input kinds, of {', '.join(INPUTS)} (default both)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", type=Path, default=Path("benchmarks/work"),
                    help="generated data and temporary stores (default: benchmarks/work, git-ignored)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="where the JSON and Markdown go")
    ap.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE",
                    help="passed to every Spark run (repeatable), e.g. spark.driver.memory=8g; recorded in the "
                         "results (default none: the CLI's own settings)")
    ap.add_argument("--retry-conf", action="append", default=[], metavar="KEY=VALUE",
                    help="a case whose Spark run fails for memory is run again with these settings added "
                         "(repeatable), e.g. spark.driver.memory=8g; both attempts are recorded")
    ap.add_argument("--note", help="a paragraph added to the Markdown (e.g. why a Spark setting was given)")
    args = ap.parse_args(argv)
    scales = [s.strip() for s in args.scales.split(",") if s.strip()]
    unknown = sorted(set(scales) - set(SCALES))
    if unknown or not scales:
        ap.error(f"unknown scale(s) {', '.join(unknown)}; choose from {', '.join(SCALES)}")
    inputs = [s.strip() for s in args.inputs.split(",") if s.strip()]
    unknown = sorted(set(inputs) - set(INPUTS))
    if unknown or not inputs:
        ap.error(f"unknown input kind(s) {', '.join(unknown)}; choose from {', '.join(INPUTS)}")
    command = shlex.join(["python", "-m", "benchmarks.spark_engine", *(argv if argv is not None else sys.argv[1:])])
    result = run(scales, seed=args.seed, workdir=args.workdir.resolve(), out=args.out, command=command,
                 inputs=inputs, spark_conf=args.spark_conf, retry_conf=args.retry_conf, note=args.note)
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
