"""Acquisition functions, at the path users' scripts import them from.

A public path kept for compatibility: the strategies live in
:mod:`superintendent_core.strategies` (plain orderings in
:mod:`~superintendent_core.strategies.uncertainty`, the registry and
:func:`rank` in :mod:`~superintendent_core.strategies.registry`).
"""

from .strategies.registry import (
    STRATEGIES,
    rank,
    register_strategy,
    resolve_strategy,
    shuffle_positions,
    strategy_description,
    strategy_names,
)
from .strategies.uncertainty import (
    ProbabilityInput,
    certainty,
    check_probabilities,
    entropy,
    margin,
    random,
)

__all__ = [
    "STRATEGIES",
    "ProbabilityInput",
    "certainty",
    "check_probabilities",
    "entropy",
    "margin",
    "random",
    "rank",
    "register_strategy",
    "resolve_strategy",
    "shuffle_positions",
    "strategy_description",
    "strategy_names",
]
