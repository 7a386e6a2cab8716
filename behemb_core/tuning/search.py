"""The search loop: one mechanism for every tunable method, driven by its entry's search space (:mod:`.space`).

Order of trials: the base config (the method's defaults, or ``base_config``) is always trial 1 and is scored
with fitted vectors; then each stage of the method's table in turn, every grid point built on the best config
so far. The winner is the best *fitted* trial on the validation pairs (HR@10, then NDCG@10, then the earlier
trial), so it is never worse there than the base config. The clock is checked between trials: when the next
trial would likely end past the budget the search stops, keeps the best so far and lists the trials it did
not run as ``skipped``.

A config that fits the "next item" tables (``directional``) adds the method's ``next`` stage (e.g. the forward
share α) and is scored in the mode it serves (:func:`.space.scoring_mode`): ``"next"`` by the HR@10 of ``Q·K``
(the target stage by the target those tables fit), ``"also"`` by the symmetric HR@10 as always, ties broken by the
next mode — which is how α, which does not touch the symmetric vectors, is chosen there. A symmetric-only config
runs exactly the trials it always did and is chosen the same way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..content import ContentVectors
from ..diagnostics import CollapseThresholds
from ..errors import ConfigError, FitError
from ..metadata import ItemMetadata
from ..methods.base import MethodConfig, MethodSpec
from ..methods.registry import get_method
from ..progress import ProgressCallback, ProgressEvent, Reporter, as_reporter
from ..sessions import Sessions
from .protocol import K, describe_protocol, validation_split
from .scoring import CollapseGate, FitScorer, TargetScorer
from .space import Mode, Stage, fits_next_tables, scoring_mode, search_space, stages_for

_clock = time.perf_counter  # the budget's clock (tests replace it with a fake one)
_COST = {"fit": 1.0, "target": 0.05}  # progress weight of a trial: counting + ranking costs a sliver of a fit
HR, NDCG = f"hr@{K}", f"ndcg@{K}"
_SYMBOL = {"gamma": "γ", "tau": "τ", "alpha": "α"}
Scorer = Callable[[MethodConfig, ProgressCallback], dict[str, Any]]  # FitScorer or TargetScorer


@dataclass
class TuneResult:
    """The outcome of :func:`tune_method`.

    ``trials`` are plain dicts (trial, stage, scored_by, params, hr@10, ndcg@10, queries_without_vector,
    seconds, status ``ok``/``repeat``/``error``/``skipped``, note); ``best_trial`` is the winner's number.
    """

    method: str
    best_config: MethodConfig
    best_trial: int
    best_score: dict[str, float]
    default_score: dict[str, float] | None
    trials: list[dict[str, Any]]
    protocol: dict[str, Any]
    stopped_early: bool
    seconds: float
    budget_seconds: float
    seed: int
    tuned_params: list[str] = field(default_factory=list)
    gate: dict[str, Any] | None = None
    mode: Mode = "also"  # the ranking trials were scored by: "also" (symmetric vectors) or "next" (Q·K)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: what a version's manifest stores under ``"tuning"``."""
        return {
            "method": self.method,
            "best_config": self.best_config.model_dump(mode="json"),
            "best_trial": self.best_trial,
            "best_score": self.best_score,
            "default_score": self.default_score,
            "tuned_params": self.tuned_params,
            "trials": self.trials,
            "protocol": self.protocol,
            "stopped_early": self.stopped_early,
            "seconds": round(self.seconds, 3),
            "budget_seconds": self.budget_seconds,
            "seed": self.seed,
            "gate": self.gate,
            "mode": self.mode,
        }


def tune_method(
    sessions: Sessions,
    method: str | MethodSpec,
    *,
    budget_seconds: float = 600,
    seed: int = 0,
    base_config: MethodConfig | dict[str, Any] | None = None,
    progress: ProgressCallback | Reporter | None = None,
    item_meta: ItemMetadata | None = None,
    content: ContentVectors | None = None,
    pass_gate: bool = False,
    gate_thresholds: CollapseThresholds = CollapseThresholds(),
) -> TuneResult:
    """Search ``method``'s parameters on a validation split of ``sessions`` within ``budget_seconds``.

    The sessions :func:`~behemb_core.evaluation.evaluate_method` holds out are dropped before anything is read
    (see :mod:`.protocol`). ``base_config`` is the starting point and trial 1 (parameters the search does not
    touch, such as ``dim``, keep its values). Deterministic for a seed where the method is (not item2vec or
    graph with ``workers > 1``) and the budget is not reached. A :class:`~behemb_core.errors.Cancelled` raised
    by ``progress`` propagates.

    A method that builds on behavior vectors (fusion) has its base method fitted once on the validation-train
    sessions (``base_config``'s base plan) and only its own parameters searched on top (the blend weights: no
    refit per trial); ``item_meta`` or ``content`` give it content, as in training.

    With ``pass_gate`` every fitted trial also gets the sign-off collapse verdict of its vectors (judged against
    item-kNN on the validation-train sessions, ``gate_thresholds``; recorded as the trial's ``collapse``), and the
    winner is the best fitted trial whose verdict is ``ok``; later stages build on that one. When no fitted trial
    passes, the best one wins anyway and ``gate`` says so (``met`` False) — never silently.
    """
    spec = get_method(method)  # resolved once: every trial fits and validates with this spec
    stages = search_space(spec)
    if not budget_seconds >= 0:
        raise ConfigError(f"budget_seconds must be 0 or more, got budget_seconds={budget_seconds}")
    base = spec.parse_config(base_config)
    stages = stages_for(spec, base)  # the "next" stage only for a config that fits the next-item tables
    mode, directional = scoring_mode(base), fits_next_tables(base)
    if content is not None:
        spec.check_sources(sessions=True, content=True)
    rep = as_reporter(progress)
    t0 = _clock()
    rep("tune", 0.0, "splitting off the validation sessions (the evaluation hold-out is never read)")
    split = validation_split(sessions, seed=seed)
    gate = None
    if pass_gate:
        rep("tune", 0.0, "item-kNN's popularity diagnostics on the validation-train sessions (the collapse gate)")
        gate = CollapseGate(split, gate_thresholds)
    fit_scorer = FitScorer(spec, split, seed=seed, content=content, item_meta=item_meta, gate=gate)
    scorers: dict[str, Scorer] = {"fit": fit_scorer}
    if any(s.scored_by == "target" for s in stages):
        scorers["target"] = TargetScorer(spec, split)
    search = _Search(spec, base, stages, scorers, rep, t0, float(budget_seconds), pass_gate=pass_gate,
                     mode=mode, directional=directional)
    search.run()
    best = search.best
    gate_record = None
    if pass_gate:
        met = best is not None
        if best is None:
            best = search.best_any
        gate_record = {"required": True, "met": met, "rule": "sign-off collapse verdict 'ok' against item-kNN on "
                       "the validation-train sessions", "passing_trials": search.passing,
                       "note": None if met else "no fitted trial passed the collapse gate; the best trial by HR@10 "
                       "was chosen anyway (its verdict is in its 'collapse' record)"}
        if mode == "next":
            gate_record["judged"] = "the symmetric vectors' top lists (the next-item tables have no collapse gate)"
    if best is None:
        first = next((t["note"] for t in search.trials if t["status"] == "error"), "no trial ran")
        raise ConfigError(f"tuning {spec.name}: no trial could be trained on the validation split ({first})")
    default = search.trials[0]
    score = {HR: best[1][HR], NDCG: best[1][NDCG]}
    protocol = {**split.protocol, "mode": mode}
    if directional:
        protocol["next_tables"] = True
        protocol["summary"] = describe_protocol(protocol)
    if spec.builds_on is not None:
        plan = spec.builds_on(base)
        protocol = {**protocol, "base": {
            "method": plan.method, "config": plan.config, "fits": fit_scorer.base_fits,
            "note": "the base vectors were fitted once on the validation-train sessions; each trial only "
                    f"re-ran {spec.name}'s own fit on top of them",
        }}
    rep("tune", 1.0, f"best: trial {best[2]} → {_hr_label(mode)} {score[HR]:.3f}"
        + (f" (default {default[HR]:.3f})" if default["status"] == "ok" else ""))
    return TuneResult(
        method=spec.name, best_config=best[0], best_trial=best[2], best_score=score,
        default_score={HR: default[HR], NDCG: default[NDCG]} if default["status"] == "ok" else None,
        trials=search.trials, protocol=protocol, stopped_early=search.stopped_early,
        seconds=_clock() - t0, budget_seconds=float(budget_seconds), seed=seed,
        tuned_params=[p for s in stages for p in s.params], gate=gate_record, mode=mode,
    )


def _labels(mode: Mode, directional: bool) -> dict[str, str]:
    """What a trial record's ``scored_by`` says, per kind of stage (a symmetric-only search: as always)."""
    if mode == "next":
        return {"fit": "next-item tables (Q·K)", "target": "next-item target ranking"}
    if directional:
        return {"fit": "embeddings (ties: next-item Q·K)", "target": "target ranking"}
    return {"fit": "embeddings", "target": "target ranking"}


def _hr_label(mode: Mode) -> str:
    return f"next-item HR@{K}" if mode == "next" else f"HR@{K}"


class _Search:
    """Runs (or skips) every planned trial in order and keeps the incumbent and the best fitted trial."""

    def __init__(
        self, spec: MethodSpec, base: MethodConfig, stages: tuple[Stage, ...], scorers: dict[str, Scorer],
        rep: Reporter, t0: float, budget: float, *, pass_gate: bool = False, mode: Mode = "also",
        directional: bool = False,
    ) -> None:
        self.spec, self.base, self.stages, self.scorers = spec, base, stages, scorers
        self.rep, self.t0, self.budget = rep, t0, budget
        self.total = 1 + sum(s.size(base) for s in stages)
        self.total_cost = _COST["fit"] + sum(_COST[s.scored_by] * s.size(base) for s in stages)
        self.done_cost = 0.0
        self.trials: list[dict[str, Any]] = []
        self.best: tuple[MethodConfig, dict[str, Any], int] | None = None  # (config, record, trial number)
        self.best_any: tuple[MethodConfig, dict[str, Any], int] | None = None  # ignoring the gate
        self.pass_gate = pass_gate
        self.passing: list[int] = []  # fitted trials whose collapse verdict is ok (with pass_gate)
        self.stopped_early = False
        self.last_seconds: dict[str, float] = {}
        self.seen: dict[str, int] = {}  # scored_by + config → trial number
        self.labels, self.hr_label = _labels(mode, directional), _hr_label(mode)

    def run(self) -> None:
        all_params = [p for s in self.stages for p in s.params]
        self.trial("default", "fit", self.base, all_params)
        incumbent = self.base
        shown: list[str] = []
        for stage in self.stages:
            shown = [*shown, *stage.params]
            stage_best: tuple[MethodConfig, dict[str, Any]] | None = None
            for values in stage.combinations(self.base, incumbent):
                config = self.config_with(incumbent, values)
                record = self.trial(stage.name, stage.scored_by, config, shown)
                if record["status"] in ("ok", "repeat") and (stage_best is None or _key(record) > _key(stage_best[1])):
                    stage_best = (config, record)
            if stage.scored_by == "target":  # carried into the next stage; only fitted trials can win
                incumbent = stage_best[0] if stage_best is not None else incumbent
            else:
                incumbent = self.best[0] if self.best is not None else incumbent

    def config_with(self, start: MethodConfig, values: dict[str, Any]) -> MethodConfig:
        return self.spec.parse_config({**start.model_dump(), **values})

    def trial(self, stage: str, scored_by: str, config: MethodConfig, shown: list[str]) -> dict[str, Any]:
        n = len(self.trials) + 1
        params = {p: getattr(config, p) for p in shown}
        record: dict[str, Any] = {
            "trial": n, "stage": stage, "scored_by": self.labels[scored_by],
            "params": params, HR: None, NDCG: None, "queries_without_vector": None, "seconds": 0.0,
            "status": "skipped", "note": "",
        }
        self.trials.append(record)
        identity = scored_by + json.dumps(config.model_dump(mode="json"), sort_keys=True)
        lo = self.done_cost / self.total_cost
        self.done_cost += _COST[scored_by]
        hi = self.done_cost / self.total_cost
        label = f"trial {n}/{self.total} ({stage}): {describe_params(params)}"
        if identity in self.seen:
            same = self.trials[self.seen[identity] - 1]
            record.update({HR: same[HR], NDCG: same[NDCG], "queries_without_vector": same["queries_without_vector"],
                           "status": "repeat" if same["status"] == "ok" else same["status"],
                           "note": f"same config as trial {same['trial']}"})
            if "modes" in same:
                record["modes"] = same["modes"]
        elif self.out_of_time(scored_by, n):
            record["note"] = "budget reached"
            self.rep("trial", hi, f"{label} → skipped (budget reached)", trial=n, status="skipped")
            return record
        else:
            self.seen[identity] = n
            started = _clock()
            try:
                scores = self.scorers[scored_by](config, _forward(self.rep.sub(lo, hi), label))
                record.update(scores, status="ok")
            except (ConfigError, FitError) as exc:  # a grid point the data cannot support; Cancelled propagates
                record.update(status="error", note=str(exc))
            record["seconds"] = round(_clock() - started, 3)
            self.last_seconds[scored_by] = record["seconds"]
        if scored_by == "fit" and record["status"] == "ok":
            if self.best_any is None or _key(record) > _key(self.best_any[1]):
                self.best_any = (config, record, n)
            passes = not self.pass_gate or (record.get("collapse") or {}).get("verdict") == "ok"
            if self.pass_gate and passes:
                self.passing.append(n)
            if passes and (self.best is None or _key(record) > _key(self.best[1])):
                self.best = (config, record, n)
        outcome = f"{self.hr_label} {record[HR]:.3f}" if record[HR] is not None else record["status"]
        outcome += f" ({record['note']})" if record["status"] == "repeat" else ""
        if record.get("collapse"):
            outcome += f", collapse verdict {record['collapse']['verdict']}"
        self.rep("trial", hi, f"{label} → {outcome}", trial=n, status=record["status"], **{HR: record[HR]})
        return record

    def out_of_time(self, scored_by: str, n: int) -> bool:
        """The first trial always runs; later ones only if the last of their kind would still fit in."""
        if n == 1:
            return False
        if self.stopped_early or _clock() - self.t0 + self.last_seconds.get(scored_by, 0.0) > self.budget:
            self.stopped_early = True
        return self.stopped_early


def _key(record: dict[str, Any]) -> tuple[float, ...]:
    """Higher is better; ``>`` keeps the earlier trial on ties (the default, then the table's order). A trial
    scored in both modes (``modes``) breaks a tie of its scored mode by the other one (listing both modes adds
    nothing else: the scored one is already the key's head)."""
    modes = record.get("modes") or {}
    return (record[HR], record[NDCG], *(m[name] for key in sorted(modes) for m in [modes[key]] for name in (HR, NDCG)))


def describe_params(params: dict[str, Any]) -> str:
    """``window=5 γ=0.1 τ=0.2`` — how trials are named in progress messages and in the app."""
    return " ".join(f"{_SYMBOL.get(k, k)}={v}" for k, v in params.items())


def _forward(rep: Reporter, label: str) -> ProgressCallback:
    """Pass a trial's own progress on as ``tune`` events (its metrics, e.g. losses, stay inside the trial)."""

    def callback(event: ProgressEvent) -> None:
        rep("tune", event.fraction, f"{label}: {event.message or event.stage}")

    return callback


__all__ = ["TuneResult", "describe_params", "tune_method"]
