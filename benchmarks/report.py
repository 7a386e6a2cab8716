"""Targets checked against a benchmark result, and the Markdown report."""

from __future__ import annotations

from typing import Any


def _t(target: str, measured: str, ok: bool | None) -> dict[str, Any]:
    return {"target": target, "measured": measured, "ok": ok}


def _runs(i: dict[str, Any]) -> str:
    """', fastest of 2 runs each (…)' when the comparison was repeated, else nothing."""
    n = i.get("runs", 1)
    if n == 1:
        return ""
    ours = ", ".join(f"{x:.1f}" for x in i["fit_seconds_runs"])
    theirs = ", ".join(f"{x:.1f}" for x in i["gensim_seconds_runs"])
    return f", fastest of {n} runs each (behemb {ours} s; gensim {theirs} s)"


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets that this run can speak to (``ok`` is ``None`` where the scale is not the one the
    target names: the number is shown for information)."""
    r = result["results"]
    scale = result["scale"]["name"]
    out: list[dict[str, Any]] = []
    if "ppmi_svd" in r:
        p = r["ppmi_svd"]
        out.append(_t("ppmi_svd end-to-end (file → stored version) faster than the numpy/scipy/sklearn reference",
                      f"{p['end_to_end_seconds']:.1f} s vs {p['reference_seconds']:.1f} s "
                      f"({p['ratio_to_reference']:.2f}×)", p["ratio_to_reference"] < 1.0))
        out.append(_t("ppmi_svd peak memory at L ≤ 6 GiB", f"{p['peak_rss_gib']:.2f} GiB",
                      p["peak_rss_gib"] <= 6.0 if scale == "L" else None))
    if "cooc_softmax" in r:
        c = r["cooc_softmax"]
        limit = {"M": 90.0, "L": 1200.0}.get(scale)
        side = f" (ppmi_svd {r['ppmi_svd']['end_to_end_seconds']:.1f} s)" if "ppmi_svd" in r else ""
        out.append(_t("cooc_softmax end to end (file → stored version) ≤ 90 s at M, ≤ 20 min at L",
                      f"{c['end_to_end_seconds']:.1f} s, {c['estimator']} softmax{side}",
                      c["end_to_end_seconds"] <= limit if limit else None))
        out.append(_t("cooc_softmax peak memory at L ≤ 12 GiB", f"{c['peak_rss_gib']:.2f} GiB",
                      c["peak_rss_gib"] <= 12.0 if scale == "L" else None))
    if "item2vec" in r:
        i = r["item2vec"]
        out.append(_t("item2vec ≤ 1.10× raw gensim (corpus_file, same parameters)",
                      f"{i['fit_seconds']:.1f} s vs {i['gensim_seconds']:.1f} s ({i['ratio_to_gensim']:.2f}×)"
                      + _runs(i), i["ratio_to_gensim"] <= 1.10))
    if "walks" in r:
        w = r["walks"]
        a, b = w["first-order (DeepWalk)"], w["node2vec p=0.5 q=2"]
        out.append(_t("walks ≥ 3 M steps/s first-order", f"{a / 1e6:.2f} M steps/s", a >= 3e6))
        out.append(_t("walks ≥ 2 M steps/s node2vec", f"{b / 1e6:.2f} M steps/s", b >= 2e6))
    if "neighbors" in r:
        n = r["neighbors"]
        at_100k = 80_000 <= n["items"] <= 120_000 and n["dim"] == 128
        out.append(_t("exact top-10 of the whole catalogue at 100k × 128 ≤ 30 s",
                      f"{n['exact_seconds']:.1f} s at {n['items']:,} × {n['dim']}"
                      + (" (scaled from a sample)" if n["exact_extrapolated"] else ""),
                      n["exact_seconds"] <= 30.0 if at_100k else None))
        out.append(_t("pynndescent recall@10 ≥ 0.95 against exact", f"{n['pynndescent_recall']:.3f}",
                      n["pynndescent_recall"] >= 0.95))
    if "umap" in r:
        u = r["umap"]
        out.append(_t("UMAP computed once per version, then served from the store cache",
                      f"{u['computed_seconds']:.1f} s once, {u['cached_seconds']:.3f} s cached",
                      u["cached_seconds"] < 1.0))
    if "read_sessions_seconds" in r:
        ev = result["scale"]["events"]
        s_jsonl, s_parq = r["read_sessions_seconds"], r["read_events_seconds"]
        out.append(_t("reading 16 M events (JSONL sessions, Parquet event log) < 1 min",
                      f"{ev / 1e6:.1f} M events: JSONL {s_jsonl:.1f} s, Parquet {s_parq:.1f} s",
                      max(s_jsonl, s_parq) < 60.0 if scale == "L" else None))
    return out


def _fmt_ok(ok: bool | None) -> str:
    return "—" if ok is None else ("✅" if ok else "❌")


def _peers(r: dict[str, Any]) -> list[str]:
    rows = []
    if "ppmi_svd" in r:
        p = r["ppmi_svd"]
        rows.append(f"| ppmi_svd, file → stored version | {p['end_to_end_seconds']:.1f} s | reference numpy/scipy/"
                    f"sklearn | {p['reference_seconds']:.1f} s | {p['ratio_to_reference']:.2f}× | "
                    f"{p['precision_at_10']:.3f} vs {p['reference_precision_at_10']:.3f} |")
        if "dense_seconds" in p:
            q = f"{p['dense_precision_at_10']:.3f}" if "dense_precision_at_10" in p else "—"
            rows.append(f"| ppmi_svd | {p['end_to_end_seconds']:.1f} s | dense sketch"
                        f"{' (SVD extrapolated)' if p['dense_svd_extrapolated'] else ''}"
                        f" | {p['dense_seconds']:.0f} s | "
                        f"{p['end_to_end_seconds'] / p['dense_seconds']:.4f}× | {p['precision_at_10']:.3f} vs {q} |")
    if "item2vec" in r:
        i = r["item2vec"]
        best = f" (fastest of {i['runs']})" if i.get("runs", 1) > 1 else ""
        rows.append(f"| item2vec fit{best} | {i['fit_seconds']:.1f} s | raw gensim corpus_file{best}"
                    f" | {i['gensim_seconds']:.1f} s"
                    f" | {i['ratio_to_gensim']:.2f}×"
                    f" | {i['precision_at_10']:.3f} vs {i['gensim_precision_at_10']:.3f} |")
    if "walks" in r and "python_loop" in r["walks"]:
        w = r["walks"]
        a = w["first-order (DeepWalk)"]
        rows.append(f"| walks, first-order | {a / 1e6:.2f} M steps/s | Python loop, rng.choice per step | "
                    f"{w['python_loop'] / 1e3:.1f} k steps/s | {a / w['python_loop']:.0f}× faster | — |")
    if not rows:
        return []
    return ["| work | behemb | peer | peer | behemb / peer | precision@10 (behemb vs peer) |",
            "|---|---:|---|---:|---:|---|", *rows]


def markdown(result: dict[str, Any]) -> str:
    sc, m = result["scale"], result["machine"]
    blas = ", ".join(f"{p['internal_api']} {p['num_threads']} threads" for p in m["thread_pools"]) or "none loaded"
    lines = [
        f"### Scale {sc['name']}: {sc['items']:,} items, {sc['sessions']:,} sessions, {sc['events']:,} events "
        f"({sc['distinct_items']:,} distinct items; JSONL {sc['jsonl_mib']} MiB), seed {sc['seed']}",
        "",
        f"Machine: {m['cpu']}, {m['cores_usable']} cores, {m['memory_gib']} GiB; Python {m['python']}; "
        f"numba {m['numba_threads']} threads ({m['numba_threading_layer']}); thread pools: {blas}. "
        f"Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v) + ".",
        f"Finished {result['finished']} in {result['total_seconds']:.0f} s.",
        "",
    ]
    for group, error in result.get("failures", {}).items():
        lines += [f"**{group} did not complete:** {error}", ""]
    if result["targets"]:
        lines += ["| target | measured | met |", "|---|---|:-:|"]
        lines += [f"| {t['target']} | {t['measured']} | {_fmt_ok(t['ok'])} |" for t in result["targets"]]
        lines.append("")
    peers = _peers(result["results"])
    if peers:
        lines += [*peers, ""]
    r = result["results"]
    quality = [f"{k} {v['precision_at_10']:.3f}" for k, v in r.items()
               if isinstance(v, dict) and "precision_at_10" in v]
    if quality:
        lines += [f"Planted-cluster precision@10 (2,000 sampled items): {', '.join(quality)}.", ""]
    peak_note = "" if result["peak_rss_is_per_stage"] else " (process-wide peak so far: per-stage reset unavailable)"
    lines += [f"| group | stage | seconds | peak RSS GiB{peak_note} | notes |", "|---|---|---:|---:|---|"]
    for s in result["stages"]:
        notes = ", ".join(
            f"{k.replace('_', ' ')} {v / 1e6:.2f} M" if k == "steps_per_second" else
            f"{k.replace('_', ' ')} {v:.3f}" if isinstance(v, float) else f"{k.replace('_', ' ')} {v}"
            for k, v in s.items() if k not in ("group", "stage", "seconds", "peak_rss_gib"))
        lines.append(f"| {s['group']} | {s['stage']} | {s['seconds']:.2f} | {s['peak_rss_gib']:.2f} | {notes} |")
    return "\n".join(lines) + "\n"
