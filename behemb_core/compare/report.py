"""The comparison report of two versions: stability against the noise floor, a verdict, and the plain words.

Noise rule (:func:`compare_versions`): a scope (overall, or one popularity band) is *beyond noise* when its median
Jaccard@k is below both the noise floor's lower quartile and its median minus a margin. Two versions whose
catalogues barely overlap get no verdict, and the report says why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..diagnostics import PopularityLike, align_popularity
from ..embeddings import ItemEmbeddings
from ..errors import ConfigError
from ..metadata import ItemMetadata
from ..reports import (
    CatalogueNote,
    CompareReport,
    ItemExample,
    MethodBlock,
    NoiseFloor,
    NoiseScope,
    StoredComparison,
    Summary,
    stored_evaluation,
)
from .noise_floor import pick_noise_floor
from .sources import shared_ids_note
from .stability import (
    BAND_DEFINITION,
    BANDS,
    NamesLike,
    OverlapResult,
    band_summaries,
    most_moved,
    names_array,
    neighbor_overlap,
    plain_id,
    popularity_bands,
)

if TYPE_CHECKING:
    from typing import TypeAlias

    from ..store.filestore import StoredVersion

    #: A version to compare: a stored version (name, manifest, item names and stats) or bare embeddings.
    VersionLike: TypeAlias = StoredVersion | ItemEmbeddings

#: Fewer shared items than this, or a smaller share of the smaller catalogue than ``MIN_SHARED_SHARE``, and no
#: verdict against retraining noise is given: the floor describes lists over one catalogue, while lists over two
#: mostly different catalogues differ because their neighbors are missing from the other version.
MIN_SHARED_ITEMS = 20
MIN_SHARED_SHARE = 0.5


def version_names(*versions: VersionLike) -> pd.Series | None:
    """Item names (Series indexed by id) from the ``item_meta`` of the given versions; later ones win."""
    metas: list[ItemMetadata | None] = [getattr(v, "item_meta", None) for v in versions]
    tables = [m.table[["item_id", "name"]] for m in metas if m is not None]
    if not tables:
        return None
    t = pd.concat(tables[::-1]).drop_duplicates("item_id", keep="first")
    return pd.Series(t["name"].to_numpy(dtype=object), index=t["item_id"].to_numpy())


def _beyond(values: np.ndarray, noise: Summary, margin: float) -> NoiseScope:
    """The noise rule for one scope (overall or one band), on Jaccard@k."""
    med = float(np.median(values))
    n_med, q25, q10 = noise["median"], noise["quantiles"].get("q25"), noise["quantiles"].get("q10")
    if n_med is None or q25 is None or q10 is None:
        raise ConfigError("the noise floor was measured over no items, so it cannot judge a change")
    limit = min(float(q25), float(n_med) - margin)
    return {"median_jaccard": med, "noise_median_jaccard": float(n_med), "noise_q25_jaccard": float(q25),
            "limit": limit, "beyond_noise": bool(med < limit),
            "share_below_noise_q10": float(np.mean(values < float(q10)))}


def compare_versions(
    a: VersionLike, b: VersionLike, *, k: int = 10, rbo_p: float = 0.9, noise: NoiseFloor | None = None,
    popularity: PopularityLike = None, names: NamesLike = None, n_moved: int = 20, margin: float = 0.05,
    overlap: OverlapResult | None = None,
) -> CompareReport:
    """A JSON-able report of how version ``b`` differs from version ``a`` (StoredVersion-like objects with
    ``embeddings`` and optional ``name``/``item_meta``/``item_stats``, or bare :class:`ItemEmbeddings`).

    Contents: catalogue counts, Jaccard@k/RBO summaries overall and per popularity band (popularity from
    ``popularity``, else b's then a's ``item_stats``), the most-moved items with names, and — when ``noise``
    (from :func:`noise_floor`, same ``k``) is given — a verdict per scope and overall.

    Noise rule: a scope is *beyond noise* when its median Jaccard@k is below both the noise floor's lower
    quartile and its median minus ``margin`` (0.05). That is an effect-size rule, not a significance test:
    with thousands of items any shift is "significant", while this says the typical item moved more than
    three quarters of items move from retraining alone; the margin keeps a degenerate floor (all 1.0)
    from flagging tiny changes. ``share_below_noise_q10`` tells how many items moved more than 90 % of
    items do under noise.
    """
    emb_a = a if isinstance(a, ItemEmbeddings) else a.embeddings
    emb_b = b if isinstance(b, ItemEmbeddings) else b.embeddings
    name_a, name_b = getattr(a, "name", None) or "A", getattr(b, "name", None) or "B"
    if noise is not None and int(noise["k"]) != k:
        raise ConfigError(f"the noise floor was measured at k={noise.get('k')}, but the comparison uses k={k}")
    if names is None:
        names = version_names(a, b)
    if popularity is None:
        stats: list[pd.DataFrame | None] = [getattr(v, "item_stats", None) for v in (b, a)]
        popularity = next((st for st in stats if st is not None), None)
    result = overlap if overlap is not None else neighbor_overlap(emb_a, emb_b, k=k, rbo_p=rbo_p)
    pop = align_popularity(result.universe, popularity)
    bands = band_summaries(result, pop)
    name_arr = names_array(names, result.universe)

    def examples(ids: np.ndarray) -> list[ItemExample]:
        out: list[ItemExample] = [{"item_id": plain_id(i)} for i in ids[:20]]
        if name_arr is not None:
            for row, c in zip(out, result.universe.codes(ids[:20]).tolist(), strict=True):
                row["name"] = str(name_arr[c])
        return out

    catalogues = _catalogue_note(a, b, name_a, name_b, len(result.ids), min(len(emb_a), len(emb_b)))
    report: CompareReport = {
        "a": name_a, "b": name_b, "k": k, "rbo_p": rbo_p,
        "counts": {"a_items": len(emb_a), "b_items": len(emb_b), "shared": int(len(result.ids)),
                   "added": int(len(result.added)), "removed": int(len(result.removed))},
        "added_examples": examples(result.added), "removed_examples": examples(result.removed),
        "overall": result.summary(), "bands": bands, "band_definition": BAND_DEFINITION,
        "most_moved": most_moved(result, n=n_moved, names=names, popularity=popularity),
        "noise": None, "verdict": None, "catalogues": catalogues, "no_verdict_reason": None, "sentence": "",
    }
    if len(result.ids) == 0:
        report["sentence"] = f"{name_a} and {name_b} share no items, so their neighbor lists cannot be compared."
        report["no_verdict_reason"] = report["catalogues"]["explanation"]
        return report
    # Ids are matched as text: from different sources, a shared id may be another product (every sentence says so).
    ids_note = shared_ids_note(name_a, getattr(a, "manifest", None), name_b, getattr(b, "manifest", None),
                               int(len(result.ids)))
    if not report["catalogues"]["comparable"]:
        report["sentence"] = _with_note(_sentence(report, name_a, name_b, k), ids_note)
        report["no_verdict_reason"] = report["catalogues"]["explanation"]
        return report
    scopes: dict[str, np.ndarray] = {"overall": result.jaccard}
    if pop is not None and bands is not None and noise is not None and noise.get("bands"):
        labels = popularity_bands(pop[result.codes])
        noise_bands = noise["bands"] or {}
        scopes.update({band: result.jaccard[labels == band] for band in BANDS
                       if (labels == band).any() and band in noise_bands and noise_bands[band]["n"]})
    if noise is not None:
        floors = {"overall": noise["overall"], **(noise["bands"] or {})}
        checks = {s: _beyond(v, floors[s]["jaccard"], margin) for s, v in scopes.items()}
        report["noise"] = {"rule": "median Jaccard@k < min(noise q25, noise median - margin)", "margin": margin,
                           "seeds": noise.get("seeds"), "method": noise.get("method"), "scopes": checks}
        report["verdict"] = "beyond_noise" if checks["overall"]["beyond_noise"] else "within_noise"
    else:
        report["no_verdict_reason"] = (f"No noise floor at K = {k} was given (train with “Measure noise floor”), so "
                                       "the change cannot be judged against retraining noise.")
    report["sentence"] = _with_note(_sentence(report, name_a, name_b, k), ids_note)
    return report


def _with_note(sentence: str, note: str | None) -> str:
    return sentence if note is None else f"{sentence} {note}"


def _training_fingerprint(version: VersionLike) -> str | None:
    fingerprint = ((getattr(version, "manifest", None) or {}).get("dataset") or {}).get("fingerprint")
    return None if fingerprint is None else str(fingerprint)


def _catalogue_note(a: VersionLike, b: VersionLike, name_a: str, name_b: str, shared: int,
                    smaller: int) -> CatalogueNote:
    """Whether the two catalogues overlap enough to judge the change against retraining noise, and — when not —
    a plain explanation naming the counts and whether the versions were trained on the same data."""
    share = shared / smaller if smaller else 0.0
    fa, fb = _training_fingerprint(a), _training_fingerprint(b)
    same_data = None if not (fa and fb) else fa == fb
    comparable = shared >= MIN_SHARED_ITEMS and share >= MIN_SHARED_SHARE
    data = {True: " (trained on the same data)", False: " (trained on different data)", None: ""}[same_data]
    if shared == 0:
        explanation = (f"{name_a} and {name_b} have no items in common{data}: there are no neighbor lists to "
                       "compare and no verdict against retraining noise. Their popularity diagnostics and stored "
                       "quality are shown side by side.")
    elif not comparable:
        explanation = (f"{name_a} and {name_b} share only {shared:,} of the {smaller:,} items of the smaller "
                       f"catalogue ({share:.0%}){data}: their lists differ mostly because neighbors are missing "
                       "from the other version, so the change is not judged against retraining noise (a verdict "
                       f"needs at least {MIN_SHARED_ITEMS} shared items and {MIN_SHARED_SHARE:.0%} of the smaller "
                       "catalogue). The overlap of the shared items is shown for what it is worth.")
    else:
        explanation = None
    return {"shared_share": share, "same_training_data": same_data, "comparable": comparable,
            "explanation": explanation}


def _or_above_one(median: float | None) -> float:
    """A band's median for ranking, a band without items last."""
    return 2.0 if median is None else median


def _sentence(report: CompareReport, name_a: str, name_b: str, k: int) -> str:
    med = report["overall"]["jaccard"]["median"]
    c = report["counts"]
    churn = f" {c['added']} items added, {c['removed']} removed." if c["added"] or c["removed"] else ""
    if report["noise"] is None:
        moved = ""
        if report["bands"]:
            medians = {b: report["bands"][b]["jaccard"]["median"] for b in BANDS}
            worst = min(BANDS, key=lambda b: _or_above_one(medians[b]))
            moved = f"; {worst} items moved most"
        why = "no noise floor given" if report["catalogues"]["comparable"] else "too few shared items"
        return (f"Median Jaccard@{k} between {name_a} and {name_b} is {med:.2f} over {c['shared']} shared items "
                f"({why}, so no verdict){moved}.{churn}")
    scopes = report["noise"]["scopes"]
    floor = scopes["overall"]["noise_median_jaccard"]
    bands = [b for b in BANDS if b in scopes]
    moved = ""
    if bands:
        worst = max(bands, key=lambda b: scopes[b]["noise_median_jaccard"] - scopes[b]["median_jaccard"])
        moved = f"; {worst} items moved most"
    if report["verdict"] == "beyond_noise":
        return (f"{name_b} differs from {name_a} beyond retraining noise: median Jaccard@{k} {med:.2f} vs noise "
                f"floor {floor:.2f}{moved}.{churn}")
    return (f"{name_b} is within retraining noise of {name_a}: median Jaccard@{k} {med:.2f} vs noise floor "
            f"{floor:.2f}.{churn}")


def compare_stored(a: StoredVersion, b: StoredVersion, *, k: int = 10,
                   include_overlaps: bool = False) -> StoredComparison:
    """Everything a person compares two stored versions by, in one report (the CLI and the app show it):
    stability against the stored noise floor (:func:`compare_versions`), popularity diagnostics (with the verdict
    judged as sign-off judges it, ``judged``) and the stored
    evaluation of each, and — with ``include_overlaps`` — the per-item Jaccard@k values (for a histogram).

    Never fails on catalogues that share few or no items (versions trained on different data): the report then
    has no verdict, ``no_verdict_reason`` explains why, and the diagnostics and evaluations are still there."""
    from ..evaluation.collapse import judged_diagnosis

    noise, noise_from = pick_noise_floor(a, b, k)
    result = neighbor_overlap(a.embeddings, b.embeddings, k=k)
    compared = compare_versions(a, b, k=k, noise=noise, overlap=result)
    evaluations = {v.name: stored_evaluation(v.manifest, where=f"version {v.name}") for v in (a, b)}
    quality: dict[str, MethodBlock | None] = {name: ev["method"] if ev else None for name, ev in evaluations.items()}
    report: StoredComparison = {
        **compared,
        "noise_floor_from": noise_from if compared["noise"] is not None else None,
        "quality": quality,
        "evaluations": evaluations,
        # judged as the sign-off check judges it: against the item-kNN reference stored with each version
        "popularity": {v.name: judged_diagnosis(v, k=k) for v in (a, b)},
    }
    if noise is None and report["catalogues"]["comparable"]:
        report["no_verdict_reason"] = (f"Neither version stores a noise floor at K = {k} (train with “Measure noise "
                                       "floor”), so the change cannot be judged against retraining noise.")
    if include_overlaps:
        report["per_item_jaccard"] = result.jaccard.tolist()
    return report
