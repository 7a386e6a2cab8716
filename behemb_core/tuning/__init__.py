"""Honest auto-tuning of a behavior method's parameters on a validation split that excludes the evaluation
hold-out; see :mod:`.protocol` (the split), :mod:`.space` (what is searched), :mod:`.search` (the loop) and
:mod:`.version` (tune, then train and save the winner)."""

from .protocol import describe_protocol, validation_split
from .search import TuneResult, describe_params, tune_method
from .space import NEXT_STAGE, Stage, scoring_mode, search_space, stages_for, tunable_methods
from .version import tune_and_train

__all__ = [
    "NEXT_STAGE", "Stage", "TuneResult", "describe_params", "describe_protocol", "scoring_mode", "search_space",
    "stages_for", "tunable_methods", "tune_and_train", "tune_method", "validation_split",
]
