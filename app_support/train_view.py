"""The Train page's words that depend on what was asked and on the data: the outcome's timing sentence, how the
evaluation's hold-out was chosen, and whether a method that needs item names can have them. No Streamlit here:
the page and the tests call the same functions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from behemb_core.metadata import ItemMetadata
from behemb_core.methods.base import MethodSpec


def extra_fits(spec: MethodSpec, *, evaluate: bool, noise_floor: bool) -> list[str]:
    """The fits a training job makes besides the version's own, as the library runs them: an evaluation and a
    noise floor only for a method that learns from the sessions alone (``train_version`` skips them otherwise)."""
    if not spec.learns_from_sessions:
        return []
    return [what for what, on in (("evaluation", evaluate), ("noise-floor", noise_floor)) if on]


def outcome_sentence(result: Mapping[str, Any], fits: Sequence[str]) -> str:
    """"Saved version …, fitted in … s" and, when the job took visibly longer, what else it did in that time —
    naming only the fits that were asked for."""
    text = (f"Saved version **{result['version']}**: {result['items']:,} items × {result['dim']} dimensions, "
            f"fitted in {result['seconds']:.1f} s")
    job_seconds = float(result.get("job_seconds", 0.0))
    if job_seconds > float(result["seconds"]) + 0.5:
        if fits:
            names = " and ".join(fits)
            with_ = f", with its {names} fit{'s' if len(fits) > 1 else ''},"
        else:
            with_ = ", with writing the version,"
        text += f" (the whole job{with_} took {job_seconds:.1f} s)."
    else:
        text += "."
    if "tuning_seconds" in result:
        text += f" Tuned first in {float(result['tuning_seconds']):.0f} s ({len(result.get('trials') or [])} trials)."
    return text


def session_order(source: Mapping[str, Any] | None, has_times: bool | None = None) -> str | None:
    """How the evaluation ordered the sessions it held out: ``"time"`` (by start time), ``"file"`` (in file order:
    the data has no timestamps — baskets never do) or ``None`` when the manifest cannot tell. ``source`` is the
    manifest's ``dataset.source``; ``has_times`` what the loaded dataset says, when it is the one trained on."""
    if has_times is not None:
        return "time" if has_times else "file"
    kind = (source or {}).get("kind")
    if kind == "event_log":  # an event log always has a timestamp column
        return "time"
    if kind == "baskets":
        return "file"
    if (source or {}).get("timestamp"):
        return "time"
    return None


def holdout_words(split: Mapping[str, Any], order: str | None) -> str:
    """What the evaluation held out, in words that are true for the data: by time, in file order, or at random."""
    share = f"{float(split.get('holdout', 0)):.0%}"
    if split.get("kind") == "random":
        return f"a random {share} of sessions"
    recorded = split.get("order")  # recorded by the evaluation since issue 22; older versions leave it to `order`
    order = {"start time": "time", "file order": "file"}.get(str(recorded), order) if recorded else order
    if order == "time":
        return f"latest {share} of sessions by time"
    if order == "file":
        return f"last {share} of sessions in file order (the data has no timestamps)"
    return f"last {share} of sessions (by start time, or in file order where sessions have none)"


def content_refusal(spec: MethodSpec, *, dataset_meta: ItemMetadata | None, base_version: str | None,
                    base_meta: ItemMetadata | None) -> str | None:
    """Why ``spec`` cannot train with the content at hand, or ``None`` when it can (or needs none). A method that
    uses content gets it in the app from item names: the dataset's, else those stored with the base version
    (as ``train_version`` takes them)."""
    if not spec.accepts_content or dataset_meta is not None or base_meta is not None:
        return None
    where = "the dataset in use has no item names" + (
        f" and version {base_version} stores none" if base_version is not None else "")
    return (f"{spec.title} needs item names as its content, but {where}. On the Data page choose an 'item name' "
            "column or upload item metadata, and read the data again"
            + ("" if base_version is not None else "; or fuse a stored version that has names") + ".")


def missing_text_columns(spec: MethodSpec, config: Mapping[str, Any], meta: ItemMetadata | None) -> str | None:
    """The configured text columns the item metadata lacks, as a message; ``None`` when all are there."""
    wanted = [str(c) for c in (config.get("text_columns") or [])] if spec.accepts_content else []
    if not wanted or meta is None:
        return None
    have = [str(c) for c in meta.table.columns]
    missing = [c for c in wanted if c not in have]
    if not missing:
        return None
    return (f"text_columns: {', '.join(missing)} not in the item metadata (its columns: {', '.join(have)})")
