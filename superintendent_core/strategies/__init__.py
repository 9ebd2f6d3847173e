"""Strategies: which unlabelled item to ask about next.

- :mod:`.base`: the one :class:`~.base.Strategy` protocol (``order(context)``
  with a :class:`~.base.PoolContext`, ``cold_start(features, random_state)``),
  the adapter of plain ordering functions (:func:`~.base.as_strategy`) and
  :func:`~.base.order_pool`, which calls, checks and shuffles;
- :mod:`.uncertainty`: plain functions of a model's probabilities (margin,
  entropy, certainty, random), with the validation every strategy shares;
- :mod:`.neighbourhood`: the project's default, margin smoothed over the pool's
  neighbourhoods, with diverse batches;
- :mod:`.coverage`: the cold start (representative items before any model);
- :mod:`.registry`: every strategy by name, filled here, and :func:`rank`.
"""

from .base import FunctionStrategy, PoolContext, Strategy, as_strategy, order_pool
from .coverage import coverage_continuation, coverage_order
from .neighbourhood import DEFAULT_STRATEGY, NeighbourhoodMargin, neighbourhood
from .registry import (
    STRATEGIES,
    rank,
    register_strategy,
    resolve_strategy,
    shuffle_positions,
    strategy_description,
    strategy_names,
)
from .uncertainty import certainty, check_probabilities, entropy, margin, random

__all__ = [
    "DEFAULT_STRATEGY",
    "STRATEGIES",
    "FunctionStrategy",
    "NeighbourhoodMargin",
    "PoolContext",
    "Strategy",
    "as_strategy",
    "certainty",
    "check_probabilities",
    "coverage_continuation",
    "coverage_order",
    "entropy",
    "margin",
    "neighbourhood",
    "order_pool",
    "random",
    "rank",
    "register_strategy",
    "resolve_strategy",
    "shuffle_positions",
    "strategy_description",
    "strategy_names",
]
