"""Strategies: which unlabelled item to ask about next.

- :mod:`.uncertainty`: plain functions of a model's probabilities (margin,
  entropy, certainty, random), with the validation every strategy shares;
- :mod:`.neighbourhood`: the project's default, margin smoothed over the pool's
  neighbourhoods, with diverse batches;
- :mod:`.coverage`: the cold start (representative items before any model);
- :mod:`.registry`: every strategy by name, filled here, and :func:`rank`.
"""

from .coverage import coverage_continuation, coverage_order
from .neighbourhood import DEFAULT_STRATEGY, NeighbourhoodMargin, neighbourhood
from .registry import (
    STRATEGIES,
    rank,
    register_strategy,
    resolve_strategy,
    shuffle_positions,
    strategy_names,
)
from .uncertainty import certainty, check_probabilities, entropy, margin, random

__all__ = [
    "DEFAULT_STRATEGY",
    "STRATEGIES",
    "NeighbourhoodMargin",
    "certainty",
    "check_probabilities",
    "coverage_continuation",
    "coverage_order",
    "entropy",
    "margin",
    "neighbourhood",
    "random",
    "rank",
    "register_strategy",
    "resolve_strategy",
    "shuffle_positions",
    "strategy_names",
]
