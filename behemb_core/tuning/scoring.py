"""Scoring one trial on the validation pairs: by fitted vectors, or by the sparse ranking of ``T`` itself.

A config that fits the "next item" tables is scored in the mode it serves (:func:`.space.scoring_mode`): its
record's ``hr@10`` / ``ndcg@10`` are that mode's, and ``modes`` holds both (``"also"``: the symmetric vectors by
cosine; ``"next"``: ``Q·K``, :func:`~behemb_core.evaluation.sequential.ranks_for_directional`). A symmetric-only
config is scored exactly as before and its record has no ``modes``."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..content import ContentVectors
from ..cooccurrence import Weighting, cooccurrence_from_pairs, count_cooccurrence, count_pairs, forward_from_pairs
from ..diagnostics import CollapseThresholds, judge_collapse, popularity_diagnostics
from ..embeddings import FitResult, ItemEmbeddings
from ..errors import ConfigError, FitError
from ..evaluation import metrics_from_ranks, ranks_for_embeddings
from ..evaluation.collapse import knn_reference
from ..evaluation.sequential import ranks_for_directional
from ..metadata import ItemMetadata
from ..methods.base import MethodConfig, MethodSpec, TrainingInputs
from ..progress import ProgressCallback, Reporter, as_reporter
from ..target_similarity import DirectionalTarget, damp, popularity_normalize, top_k_by_target
from .protocol import K, ValidationSplit
from .space import Mode, fits_next_tables, scoring_mode


def _metrics(ranks: np.ndarray) -> dict[str, float]:
    m = metrics_from_ranks(ranks, K)
    return {f"hr@{K}": m[f"hr@{K}"], f"ndcg@{K}": m[f"ndcg@{K}"]}


class CollapseGate:
    """The sign-off collapse gate applied to a trial's vectors: popularity diagnostics of their top-``K`` lists on the
    validation-train sessions, judged against item-kNN on those same sessions (computed once)."""

    def __init__(self, split: ValidationSplit, thresholds: CollapseThresholds = CollapseThresholds()) -> None:
        self.thresholds = thresholds
        self.stats = split.train.item_stats()
        self.reference = knn_reference(split.train, k=K, thresholds=thresholds)

    def __call__(self, emb: ItemEmbeddings, method: str) -> dict[str, Any]:
        diag = popularity_diagnostics(emb, self.stats, k=K, thresholds=self.thresholds, method=method)
        judged = judge_collapse(diag, self.reference)
        return {"verdict": judged["verdict"], "tripped": judged["tripped_rules"],
                "head_slot_lift": diag["metrics"]["head_slot_lift"], "hub_share": diag["metrics"]["hub_share"]}


class FitScorer:
    """Train the method on the validation-train sessions and rank the validation pairs by cosine (with a ``gate``,
    also record the trial's collapse verdict under ``"collapse"``).

    A method that builds on behavior vectors (``spec.builds_on``: fusion) gets its base method fitted on the same
    validation-train sessions once per base plan (the search varies only the method's own, cheap parameters, so
    that is once per search), plus the search's ``content`` / ``item_meta``; each trial then runs only the
    method's own fit on top of it."""

    def __init__(
        self, spec: MethodSpec, split: ValidationSplit, *, seed: int, content: ContentVectors | None = None,
        item_meta: ItemMetadata | None = None, gate: CollapseGate | None = None,
    ) -> None:
        self.spec, self.split, self.seed, self.gate = spec, split, seed, gate
        self.content, self.item_meta = content, item_meta
        self._base_key: str | None = None
        self._base: FitResult | None = None
        self.base_fits = 0  # how often a base was fitted (once per search unless the base plan changes)

    def inputs(
        self, config: MethodConfig, progress: ProgressCallback
    ) -> tuple[TrainingInputs, ProgressCallback | Reporter]:
        """The trial's inputs (the cached base for a builder) and the progress left for the trial's own fit."""
        plain = TrainingInputs(sessions=self.split.train, content=self.content, item_meta=self.item_meta)
        if self.spec.builds_on is None:
            return plain, progress
        base_spec = self.spec.base_spec(config)
        assert base_spec is not None  # a builder's base is checked when its config is parsed
        plan = self.spec.builds_on(config)
        key = json.dumps([plan.method, plan.config], sort_keys=True, default=str)
        rep = as_reporter(progress)
        out: ProgressCallback | Reporter = progress
        if key != self._base_key:
            self._base, self._base_key = None, None  # free the previous base before fitting the next
            rep("base", 0.0, f"fitting the base method {plan.method} once on the validation-train sessions")
            self._base = base_spec.fit(TrainingInputs(sessions=self.split.train), base_spec.parse_config(plan.config),
                                       seed=self.seed, progress=rep.sub(0.0, 0.9))
            self._base_key = key
            self.base_fits += 1
            out = rep.sub(0.9, 1.0)
        assert self._base is not None
        return replace(plain, base=self._base.embeddings, base_report=self._base.report), out

    def __call__(self, config: MethodConfig, progress: ProgressCallback) -> dict[str, Any]:
        mode = scoring_mode(config)
        inputs, rest = self.inputs(config, progress)
        result = self.spec.fit(inputs, config, seed=self.seed, progress=rest)
        ranks, missing = ranks_for_embeddings(result.embeddings, self.split.pairs, K)
        out: dict[str, Any] = {**_metrics(ranks), "queries_without_vector": missing}
        if fits_next_tables(config):
            pair = getattr(result, "directional", None)
            if pair is None:
                raise FitError(f"{self.spec.name}: the config asks for the 'next item' tables but its fit returned "
                               "none")
            next_ranks, _ = ranks_for_directional(result.embeddings, pair, self.split.pairs, K)
            modes = {"also": _metrics(ranks), "next": _metrics(next_ranks)}
            out.update(modes[mode], modes=modes)
        if self.gate is not None:
            out["collapse"] = self.gate(result.embeddings, self.spec.name)
        return out


class TargetScorer:
    """Rank the validation pairs by the target ``T = D^-γ C D^-γ`` a method fits (its entry's ``target``),
    counted on the validation-train sessions; a config scored in the "next" mode is ranked by the target its
    "next item" tables fit instead — the row-normalised mix of the forward and the symmetric target at the
    config's share ``alpha`` (:meth:`~behemb_core.target_similarity.DirectionalTarget.mixed`).

    ``C`` (with the forward counts ``F`` in the next mode) is counted once per ``(window, weighting)`` and only the
    latest count is kept: the stage's grid varies ``gamma`` fastest, so each count serves all its gammas and memory
    holds one count at a time.
    """

    def __init__(self, spec: MethodSpec, split: ValidationSplit) -> None:
        if spec.target is None:
            raise ConfigError(f"{spec.name} fits no target similarity: a 'target' stage cannot score it")
        self.target = spec.target
        self.split = split
        train = split.train
        q = train.vocab.codes(split.pairs.queries)
        t = train.vocab.codes(split.pairs.targets)
        self.valid = (q >= 0) & (t >= 0)  # a query or target outside the vocabulary is a miss
        self.uniq, self.rows = np.unique(q[self.valid], return_inverse=True)
        self.targets = t[self.valid]
        self._key: tuple[int, Weighting, Mode] | None = None
        self._counts: sp.csr_matrix | None = None
        self._forward: sp.csr_matrix | None = None

    def _count(self, window: int, weighting: Weighting, mode: Mode, progress: ProgressCallback) -> None:
        if (window, weighting, mode) == self._key:
            return
        self._counts, self._forward = None, None  # free the previous count before building the next
        if mode == "next":
            pairs = count_pairs(self.split.train, window=window, weighting=weighting, directed=True,
                                progress=as_reporter(progress))
            self._counts, self._forward = cooccurrence_from_pairs(pairs), forward_from_pairs(pairs)
        else:
            self._counts = count_cooccurrence(
                self.split.train, window=window, weighting=weighting, progress=as_reporter(progress)
            )
        self._key = (window, weighting, mode)

    def __call__(self, config: MethodConfig, progress: ProgressCallback) -> dict[str, Any]:
        target = self.target(config)
        mode = scoring_mode(config)
        self._count(target.window, target.weighting, mode, progress)
        assert self._counts is not None
        symmetric = popularity_normalize(self._counts, float(target.gamma))
        if mode == "next":
            assert self._forward is not None
            directed = DirectionalTarget(symmetric=symmetric, forward=damp(self._forward, symmetric.degree,
                                                                           float(target.gamma)))
            alpha = getattr(config, "alpha", None)
            if alpha is None:
                raise ConfigError(f"{type(config).__name__} has no forward share 'alpha': it cannot be scored in the "
                                  "next mode")
            t = directed.mixed(float(alpha), np.arange(self._counts.shape[0])).tocsr()
        else:
            t = symmetric.matrix
        ranks = np.zeros(len(self.valid), dtype=np.int64)
        if len(self.uniq):
            top = top_k_by_target(t, self.uniq, K)
            match = top[self.rows] == self.targets[:, None]
            ranks[self.valid] = np.where(match.any(axis=1), match.argmax(axis=1) + 1, 0)
        has_row = np.zeros(len(self.valid), dtype=bool)
        has_row[self.valid] = np.diff(t.indptr)[self.uniq][self.rows] > 0
        return {**_metrics(ranks), "queries_without_vector": int((~has_row).sum())}
