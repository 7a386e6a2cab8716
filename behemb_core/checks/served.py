"""Served neighbors match the inspected ones: the version's ANN index (what customers are served) against the
exact neighbor lists people inspected on the Neighbors page and the other checks judged."""

from __future__ import annotations

from typing import Any

from ..ann.modes import IndexMode, mode_vectors, mode_words, served_mode
from ..ann.recall import measure_recall
from ..ann.served import ForeignIndex, golden_codes, index_for_version, item_events, open_served
from ..errors import ConfigError, IntegrityError
from ..store.checklist import CheckResult
from .context import CheckContext

__all__ = ["CHECK_NAME", "check_served_neighbors"]

CHECK_NAME = "served neighbors match"


def check_served_neighbors(ctx: CheckContext) -> CheckResult:
    """Recall@k of the version's ANN index of the mode it serves (:func:`~behemb_core.ann.modes.served_mode`: an
    index over the symmetric vectors queried with them, or over ``K`` queried with ``Q`` for a version serving the
    "next item" ranking) against exact search of that mode (seeded sample, by popularity band, golden pairs'
    items) at or above the policy's ``served_recall``. The index is the one of that mode registered for the
    version, else the one kept with it; when its file cannot be read here (gone, or an export on the serving host)
    the index kept with the version that has the same bytes is measured (the detail says so), and without one the
    check could not judge (quoting the measurement the record holds). Below the threshold is a warning naming the
    worst band; no index of the mode is a check that could not judge (naming an index of the other mode when there
    is one, and how to build the right one); an index file that is not the recorded one fails (override only: it is
    not what was measured)."""
    k, need = ctx.k, ctx.policy.served_recall
    threshold = f"recall@{k} of the served index ≥ {need:g}"
    mode = served_mode(ctx.manifest)
    record = index_for_version(ctx.store, ctx.version, mode)
    if record is None:
        why = _no_index(ctx, mode)
        return CheckResult(CHECK_NAME, False, None, threshold, why, acknowledgeable=True, could_not_judge=why)
    stored = ctx.stored
    where = (f"index {record['registered_as']!r}" if record["registered_as"] else "the index kept with the version")
    try:
        indexed, query_with = mode_vectors(stored, mode)
        try:
            index, read = open_served(ctx.store, record)
        except FileNotFoundError:  # neither the file nor a kept copy of its bytes: nothing to measure
            why = _unreachable(record, where)
            return CheckResult(CHECK_NAME, False, None, threshold, why, acknowledgeable=True, could_not_judge=why)
        made = (f"{where} ({record.get('index_file')})" if "registered_file" not in read else
                f"{where}: its file {record.get('index_file')} cannot be read here, so the index kept with the "
                f"version with the same bytes (sha256 {str(record.get('index_sha256'))[:12]}…, "
                f"{read.get('index_file')}) was measured")
    except ForeignIndex as exc:
        return CheckResult(CHECK_NAME, False, None, threshold, str(exc), acknowledgeable=True,
                           could_not_judge=str(exc))
    except IntegrityError as exc:
        return CheckResult(CHECK_NAME, False, None, threshold, str(exc))
    except (OSError, ValueError, KeyError, TypeError, ConfigError) as exc:  # pydantic's ValidationError: a ValueError
        why = f"{where} could not be read ({type(exc).__name__}: {str(exc)[:200]}), so it was not measured"
        return CheckResult(CHECK_NAME, False, None, threshold, why, acknowledgeable=True, could_not_judge=why)
    m = measure_recall(index, indexed, k=k, seed=0, events=item_events(stored), query_vectors=query_with,
                       golden=golden_codes(ctx.store, stored.embeddings), target=need, ef_grid=None)
    ctx.details["served"] = {"measurement": m, "mode": mode, "index": {key: record.get(key) for key in (
        "registered_as", "build", "index_file", "params", "index_sha256")}}
    bands: dict[str, Any] = m["bands"] or {}
    band_words = ", ".join(f"{b} {v['recall']:.3f}" for b, v in bands.items() if v["recall"] is not None)
    golden = m["golden"]
    gold_words = f"; golden pairs' items {golden['recall']:.3f} ({golden['n']})" if golden else ""
    low = [(m["recall"], "all sampled items")]
    if golden and golden["recall"] is not None:
        low.append((golden["recall"], "the golden pairs' items"))
    passed = all(r >= need for r, _ in low)
    of_mode = " of the 'next item' ranking (Q·K)" if mode == "next" else ""
    detail = (f"recall@{m['k']}{of_mode} {m['recall']:.3f} at ef {m['ef_search']} on {m['queries']:,} sampled items "
              f"({band_words or 'no item counts stored: no bands'}){gold_words}; {made}")
    if not passed:
        worst = m["worst_band"]
        worst_words = (f"; lowest in the {worst} band ({bands[worst]['recall']:.3f})" if worst else
                       "; the same in every band" if bands else "")
        detail = (f"the served index misses exact neighbors: {detail}{worst_words} — rebuild it with a larger "
                  "ef_search or m")
    return CheckResult(CHECK_NAME, passed, round(m["recall"], 4), threshold, detail, acknowledgeable=True)


def _unreachable(record: dict[str, Any], where: str) -> str:
    """Why an index whose file cannot be read here was not measured, with what its record says was measured when
    it was built (a person decides whether that is enough)."""
    m = record.get("measurement")
    recall = m.get("recall") if isinstance(m, dict) else None
    said = (f"; its record says recall@{m.get('k')} {recall:.3f} at ef {m.get('ef_search')} when it was built"
            if isinstance(m, dict) and isinstance(recall, (int, float)) else "; its record holds no measurement")
    return (f"{where}'s file {record.get('index_file')} cannot be read from here (gone, or on another host) and no "
            "index kept with the version has its bytes, so the neighbors customers are served were not measured"
            f"{said} — rebuild it here (the Publish page, or export --format faiss) to measure it")


def _no_index(ctx: CheckContext, mode: IndexMode) -> str:
    """Why there is nothing to measure: no index at all, or only one of the other mode (and how to build one)."""
    how = ("build one in the Publish page's “ANN index” section, below the buttons, or with `export --format faiss"
           + (" --mode next`" if mode == "next" else "`"))
    other: IndexMode = "also" if mode == "next" else "next"
    wrong = index_for_version(ctx.store, ctx.version, other)
    if wrong is None:
        return (f"no ANN index was built for {ctx.version}, so the neighbors customers will be served were not "
                f"measured ({how})")
    name = f"index {wrong['registered_as']!r}" if wrong["registered_as"] else "the index kept with the version"
    return (f"{ctx.version} serves {mode_words(mode)}, but its ANN index ({name}, {wrong.get('build')}) is of the "
            f"'{other}' mode, built for {mode_words(other)}: what customers will be served was not measured — "
            f"build a '{mode}' index ({how})")
