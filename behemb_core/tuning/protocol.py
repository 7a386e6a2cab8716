"""The tuner's validation split: carved from the training part only, never from the evaluation hold-out.

Evaluation (:func:`behemb_core.evaluation.evaluate_method`, ``train_version(evaluate=True)``) holds out the last
10 % of sessions by :func:`~behemb_core.evaluation.time_split`. The tuner drops exactly those sessions first and
splits what remains: its last 10 % by time when sessions have start times, else a seeded random 10 %. A
parameter chosen this way has never seen the sessions that later judge it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..evaluation import Pairs, next_item_pairs, time_split
from ..sessions import Sessions

EVALUATION_HOLDOUT = 0.1  # what evaluation.evaluate_method and train_version(evaluate=True) hold out
VALIDATION_HOLDOUT = 0.1
K = 10


@dataclass(frozen=True)
class ValidationSplit:
    """Sessions the tuner may train on, the validation pairs it scores on, and how they were made."""

    train: Sessions
    pairs: Pairs
    protocol: dict[str, Any]


def validation_split(sessions: Sessions, *, seed: int) -> ValidationSplit:
    """Drop the evaluation hold-out, then split the rest into validation-train and validation sessions."""
    if sessions.n_sessions < 20:
        raise ConfigError(
            f"tuning needs at least 20 sessions (10 % for evaluation, 10 % of the rest for validation); "
            f"got {sessions.n_sessions}"
        )
    has_times = sessions.start_times is not None
    fit_part, held_out = time_split(sessions, holdout=EVALUATION_HOLDOUT)
    if fit_part.start_times is not None:
        train, valid = time_split(fit_part, holdout=VALIDATION_HOLDOUT)
        kind = "time"
    else:
        train, valid = time_split(fit_part, holdout=VALIDATION_HOLDOUT, seed=seed)
        kind = "random"
    pairs = next_item_pairs(valid)
    if len(pairs) == 0:
        raise ConfigError(
            f"the {valid.n_sessions} validation sessions have no consecutive pairs of different items to score; "
            "tuning needs more (or longer) sessions"
        )
    protocol: dict[str, Any] = {
        "score": f"hr@{K}",
        "k": K,
        "evaluation_holdout": {
            "excluded": True,
            "kind": "time" if has_times else "file order",
            "share": EVALUATION_HOLDOUT,
            "sessions": held_out.n_sessions,
        },
        "validation": {
            "kind": kind,
            "share": VALIDATION_HOLDOUT,
            "seed": None if kind == "time" else seed,
            "train_sessions": train.n_sessions,
            "sessions": valid.n_sessions,
            "pairs": len(pairs),
        },
        "final_training": "all sessions, with the winning config",
    }
    protocol["summary"] = describe_protocol(protocol)
    return ValidationSplit(train=train, pairs=pairs, protocol=protocol)


def describe_protocol(protocol: dict[str, Any]) -> str:
    """The protocol in one sentence (the CLI, the app and the README say the same thing)."""
    ev, va = protocol["evaluation_holdout"], protocol["validation"]
    how = "by time" if va["kind"] == "time" else f"at random (seed {va['seed']})"
    scored = f"HR@{protocol['k']}"  # a symmetric-only search: the sentence it always was
    if protocol.get("next_tables"):  # a config with the "next item" tables says which ranking was scored
        scored = (f"HR@{protocol['k']} of the 'next item' ranking (Q·K), the mode this config serves,"
                  if protocol.get("mode") == "next" else
                  f"HR@{protocol['k']} of the symmetric 'also viewed' ranking, the mode this config serves (ties, "
                  "and so α, by the 'next item' ranking),")
    return (
        f"Scored by {scored} on {va['pairs']:,} next-item pairs of {va['sessions']:,} validation "
        f"sessions ({va['share']:.0%} {how}) after training on {va['train_sessions']:,}; the {ev['sessions']:,} "
        f"evaluation hold-out sessions (last {ev['share']:.0%} by {'time' if ev['kind'] == 'time' else 'file order'}) "
        "were never read; the final version is trained on all sessions."
    )
