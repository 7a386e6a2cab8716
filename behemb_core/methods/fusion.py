"""(D) Fusion of behavior and content vectors; gives cold-start items a vector.

Content vectors (any dimension) are mapped into the behavior space by a ridge regression fitted on the items
that have both; then ``E = w·E_behavior + (1−w)·E_content_mapped``, re-normalised. Items with content but no
behavior (cold start) get the mapped content vector. Every row records its ``source``.

The weight ``w`` is one number (``behavior_weight``) or one per popularity band of the item's training events
(``tail_weight`` below ``tail_events``, ``head_weight`` from ``head_events`` on, ``torso_weight`` between; an empty
band weight follows ``behavior_weight``), so items with little behavior can lean on their content. The tuner
learns them on its validation split: the base vectors are fitted once, only the blend is searched
(:mod:`behemb_core.tuning`).

Fusion builds on behavior vectors it does not train itself: a stored version, or the base method that
whoever orchestrates the job (:func:`behemb_core.train.fit_method`) trains first, as
:func:`fusion_base_training` asks.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from ..content import ContentVectors, content_from_text
from ..embeddings import FitResult, ItemEmbeddings, l2_normalize, make_embeddings
from ..errors import ConfigError
from ..progress import ProgressCallback, Reporter, as_reporter
from .base import BaseTraining, MethodConfig, MethodSpec, TrainingInputs
from .facts import stage

BANDS = ("tail", "torso", "head")  # popularity bands of an item's training events, rarest first
WEIGHT_GRID = (0.7, 0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 0.9, 1.0)  # behavior_weight's default first


class FusionConfig(MethodConfig):
    dim: int | None = Field(  # type: ignore[assignment]  # optional here: fusion follows the behavior vectors
        None, title="Dimensions", ge=2, le=2048,
        description="Vector dimension; fusion keeps the behavior vectors' dimension (leave empty), or checks it.",
    )
    behavior_weight: float = Field(
        0.7, title="Behavior weight w",
        ge=0, le=1, description="w in w·behavior + (1−w)·content for items that have both (every band whose own "
        "weight is empty)."
    )
    tail_weight: float | None = Field(
        None, title="Behavior weight, tail items", ge=0, le=1,
        description="w for items with fewer than tail_events training events (empty = behavior_weight); needs "
        "the training sessions' event counts.",
    )
    torso_weight: float | None = Field(
        None, title="Behavior weight, torso items", ge=0, le=1,
        description="w for items with tail_events up to head_events training events (empty = behavior_weight).",
    )
    head_weight: float | None = Field(
        None, title="Behavior weight, head items", ge=0, le=1,
        description="w for items with head_events or more training events (empty = behavior_weight).",
    )
    tail_events: int = Field(10, title="Tail: fewer events than", ge=1, le=10**9,
        description="Items with fewer training events than this are the tail band.")
    head_events: int = Field(100, title="Head: at least events", ge=2, le=10**9,
        description="Items with at least this many training events are the head band.")
    ridge: float = Field(1.0, title="Ridge penalty",
        ge=0, le=1e6, description="Ridge penalty of the content → behavior linear map.")
    base_method: str = Field(
        "ppmi_svd", title="Base method",
        description="Behavior method trained first when no base version is given (any registered method that "
        "learns from sessions; checked against the registry when the config is parsed).",
    )
    base_config: dict[str, Any] = Field(default_factory=dict, title="Base method config",
        description="Config of the base method.")
    text_dim: int = Field(128, title="Text vector dimensions",
        ge=2, le=2048, description="Dimension of TF-IDF→SVD text vectors.")
    text_columns: list[str] = Field(
        default_factory=list, title="Text columns",
        description="Metadata columns added to the item name as content text (e.g. genres, category).",
    )
    text_max_features: int = Field(50_000, title="Text vocabulary size",
        ge=10, description="Vocabulary size of the TF-IDF.")
    min_shared_items: int = Field(
        20, title="Minimum shared items",
        ge=2, description="Items with both behavior and content needed to fit the map."
    )
    holdout_share: float = Field(
        0.1, title="Held-out share for the map fit",
        ge=0, lt=0.5, description="Share of shared items held out to measure the map's cosine fit."
    )

    @model_validator(mode="after")
    def _bands_in_order(self) -> FusionConfig:
        if self.head_events <= self.tail_events:
            raise ValueError(f"head_events={self.head_events} must be more than tail_events={self.tail_events}")
        return self

    @property
    def per_band(self) -> bool:
        """Whether any band has its own weight (then the item's training events decide its weight)."""
        return any(getattr(self, f"{band}_weight") is not None for band in BANDS)

    def band_weights(self) -> dict[str, float]:
        """The behavior weight of every band (an empty band weight follows ``behavior_weight``)."""
        out = {}
        for band in BANDS:
            own = getattr(self, f"{band}_weight")
            out[band] = self.behavior_weight if own is None else float(own)
        return out


def popularity_band(counts: np.ndarray, tail_events: int, head_events: int) -> np.ndarray:
    """Band index per item (0 tail, 1 torso, 2 head; see :data:`BANDS`) from its training event counts."""
    counts = np.asarray(counts)
    return (counts >= tail_events).astype(np.int64) + (counts >= head_events).astype(np.int64)


def _fit_ridge(x: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """Least-squares map with intercept: returns W of shape (dx+1, dy) for [x, 1] @ W ≈ y."""
    xb = np.hstack([x, np.ones((len(x), 1), dtype=x.dtype)]).astype(np.float64)
    gram = xb.T @ xb
    reg = lam * np.eye(gram.shape[0])
    reg[-1, -1] = 0.0  # do not shrink the intercept
    return np.linalg.solve(gram + reg, xb.T @ y.astype(np.float64))


def _apply(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return (np.hstack([x, np.ones((len(x), 1), dtype=x.dtype)]) @ w).astype(np.float32)


def fuse(
    behavior: ItemEmbeddings, content: ContentVectors, config: FusionConfig, *, seed: int = 0,
    event_counts: pd.Series | None = None,
) -> tuple[ItemEmbeddings, dict[str, Any]]:
    """Fuse ``behavior`` with ``content``; returns the embeddings and a report with class counts and fit quality.

    ``event_counts`` (training events per item id; an item it lacks has none) puts every item in its popularity
    band; it is needed when ``config`` gives a band its own weight (:attr:`FusionConfig.per_band`)."""
    aligned = behavior.vocab.align(content.vocab)  # one rule for mixed int/str ids: they match by their text
    vocab, b_codes, c_codes = aligned.universe, aligned.left_codes, aligned.right_codes
    has_b = np.zeros(len(vocab), dtype=bool)
    has_c = np.zeros(len(vocab), dtype=bool)
    has_b[b_codes] = True
    has_c[c_codes] = True
    beh = np.zeros((len(vocab), behavior.dim), dtype=np.float32)
    beh[b_codes] = behavior.vectors
    con = np.zeros((len(vocab), content.vectors.shape[1]), dtype=np.float32)
    con[c_codes] = content.vectors
    shared = np.flatnonzero(has_b & has_c)
    if len(shared) < config.min_shared_items:
        raise ConfigError(
            f"fusion: only {len(shared)} items have both behavior and content vectors, need "
            f"min_shared_items={config.min_shared_items}; check that item ids match between the two"
        )
    rng = np.random.default_rng(seed)
    perm = rng.permutation(shared)
    n_hold = int(round(len(shared) * config.holdout_share)) if len(shared) >= 50 else 0
    hold, train = perm[:n_hold], perm[n_hold:]
    holdout_cosine = None
    if n_hold:
        w_eval = _fit_ridge(con[train], beh[train], config.ridge)
        pred = l2_normalize(_apply(con[hold], w_eval))
        holdout_cosine = float(np.mean(np.sum(pred * beh[hold], axis=1)))
    w_map = _fit_ridge(con[shared], beh[shared], config.ridge)
    mapped = np.zeros_like(beh)
    mapped[has_c] = l2_normalize(_apply(con[has_c], w_map))
    band = None
    if event_counts is not None:
        own = np.zeros(len(behavior.vocab), dtype=np.int64)  # counted by the behavior vectors' own ids
        at = behavior.vocab.codes(np.asarray(event_counts.index))
        own[at[at >= 0]] = np.asarray(event_counts.to_numpy(), dtype=np.int64)[at >= 0]
        events = np.zeros(len(vocab), dtype=np.int64)
        events[b_codes] = own
        band = popularity_band(events, config.tail_events, config.head_events)
    elif config.per_band:
        raise ConfigError(
            "fusion: per-band behavior weights (tail_weight, torso_weight, head_weight) need the items' training "
            "event counts: give the sessions, or leave the band weights empty"
        )
    weights = config.band_weights()
    w = np.full(len(vocab), config.behavior_weight, dtype=np.float32)
    if band is not None and config.per_band:
        w = np.asarray([weights[b] for b in BANDS], dtype=np.float32)[band]
    out = np.where(has_b[:, None], beh, mapped)
    both = has_b & has_c
    out[both] = w[both, None] * beh[both] + (1 - w[both, None]) * mapped[both]
    source = np.where(both, "fused", np.where(has_b, "behavior", "content_only")).astype(object)
    source[both & (w == 1.0)] = "behavior"
    keep = np.flatnonzero(np.linalg.norm(out, axis=1) > 1e-6)
    dropped = len(vocab) - len(keep)
    emb = make_embeddings(
        vocab.subset(keep), out[keep], source=source[keep], expected_dim=behavior.dim,
        behavior_version=behavior.behavior_version, method="fusion",
    )
    counts = {s: int((emb.source == s).sum()) for s in ("behavior", "fused", "content_only")}
    report = {
        "classes": counts,
        "shared_items": int(len(shared)),
        "content_origin": content.origin,
        "content_dim": int(content.vectors.shape[1]),
        "map_holdout_cosine": holdout_cosine,
        "map_holdout_items": int(n_hold),
        "items_without_vector": int(dropped),
        "items_without_vector_reason": "behavior and mapped content vectors cancel out (zero vector)",
        "weights": _weights_report(config, band, both),
    }
    return emb, report


def _weights_report(config: FusionConfig, band: np.ndarray | None, both: np.ndarray) -> dict[str, Any]:
    """The behavior weight(s) applied and, with event counts, how many fused items each band holds."""
    if not config.per_band:
        out: dict[str, Any] = {"rule": "one weight", "behavior_weight": config.behavior_weight}
    else:
        out = {"rule": "by popularity band", "band_weights": config.band_weights()}
    if band is not None:
        edges = {"tail": f"< {config.tail_events}", "torso": f"{config.tail_events}–{config.head_events - 1}",
                 "head": f">= {config.head_events}"}
        out["bands"] = {
            name: {"events": edges[name], "weight": config.band_weights()[name] if config.per_band
                   else config.behavior_weight, "items_with_both": int((both & (band == i)).sum())}
            for i, name in enumerate(BANDS)
        }
    return out


_TEXT_CACHE: OrderedDict[str, ContentVectors] = OrderedDict()
_TEXT_LOCK = threading.Lock()


def text_content(text: pd.Series, config: FusionConfig, *, seed: int) -> ContentVectors:
    """:func:`~behemb_core.content.content_from_text` of ``text`` with ``config``'s text settings; the last two
    results are kept by the text's hash, so a tuner's trials (same text, other blend weights) build them once."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(text, index=True).to_numpy().tobytes())
    digest.update(repr((config.text_dim, config.text_max_features, seed)).encode())
    key = digest.hexdigest()
    with _TEXT_LOCK:
        hit = _TEXT_CACHE.get(key)
    if hit is not None:
        return hit
    content = content_from_text(text, dim=config.text_dim, seed=seed, max_features=config.text_max_features)
    with _TEXT_LOCK:
        _TEXT_CACHE[key] = content
        while len(_TEXT_CACHE) > 2:
            _TEXT_CACHE.popitem(last=False)
    return content


def fusion_base_training(config: FusionConfig) -> BaseTraining:
    """The behavior method to train first when no base version is given: ``base_method`` with ``base_config``
    (and fusion's ``dim``, unless ``base_config`` sets its own)."""
    values = dict(config.base_config)
    if config.dim is not None:
        values.setdefault("dim", config.dim)
    return BaseTraining(method=config.base_method, config=values)


def fit_fusion(
    inputs: TrainingInputs, config: FusionConfig, *, seed: int = 0,
    progress: ProgressCallback | Reporter | None = None,
) -> FitResult:
    """Fusion as a method: fuse ``inputs.base`` (a stored version, or the base method the orchestrator trained
    first, see :func:`fusion_base_training`) with ``inputs.content``, or with text vectors built from
    ``inputs.item_meta``; then :func:`fuse`."""
    rep = as_reporter(progress)
    behavior = inputs.base
    if behavior is None:
        raise ConfigError("fusion needs behavior vectors: a base version, or sessions to train base_method on")
    if config.dim is not None and config.dim != behavior.dim:
        raise ConfigError(
            f"fusion: dim={config.dim} differs from the behavior vectors' dimension {behavior.dim}; "
            "leave dim empty to keep the behavior dimension"
        )
    rep("content", 0.1, "preparing content vectors")
    content = inputs.content
    if content is None:
        if inputs.item_meta is None:
            raise ConfigError("fusion needs content: a content-vector table or item metadata with names")
        missing = [c for c in config.text_columns if c not in inputs.item_meta.table.columns]
        if missing:
            raise ConfigError(
                f"fusion: text_columns {missing} are not in the item metadata "
                f"(columns: {list(inputs.item_meta.table.columns)})"
            )
        content = text_content(inputs.item_meta.text_series(config.text_columns), config, seed=seed)
    rep("fuse", 0.6, "fitting the content → behavior map")
    counts = None
    if inputs.sessions is not None:
        counts = pd.Series(inputs.sessions.item_counts(), index=inputs.sessions.vocab.ids)
    emb, report = fuse(behavior, content, config, seed=seed, event_counts=counts)
    if inputs.base_version is not None:
        emb = ItemEmbeddings(emb.vocab, emb.vectors, emb.source, behavior_version=inputs.base_version)
    trained_here = inputs.base_report is not None
    report["base_method"] = config.base_method if trained_here else None
    report["base_version"] = inputs.base_version
    if inputs.base_report:
        report["base_report"] = inputs.base_report
    rep("done", 1.0, f"fused {len(emb)} items: {report['classes']}")
    return FitResult(embeddings=emb, report=report)


SPEC = MethodSpec(
    name="fusion", title="Behavior + content fusion", config_class=FusionConfig, fit=fit_fusion,
    description="Blend behavior vectors with content vectors mapped into the same space. Pick it when new items "
    "without behavior need a vector (cold start) from their text or content vectors.",
    version_prefix="fus",
    learns_from_sessions=False, builds_on=fusion_base_training, accepts_content=True,
    # Only the blend is searched: the tuner fits the base vectors (and the content) once per search.
    search_space=(
        stage("weight", "fit", behavior_weight=WEIGHT_GRID),
        *(stage(f"{band} weight", "fit", **{f"{band}_weight": (None, *sorted(WEIGHT_GRID))}) for band in BANDS),
    ),
    collapse_hints=(
        "fusion inherits its behavior vectors: run the diagnostics on the base (behavior) version and fix that "
        "method's settings there",
    ),
)
