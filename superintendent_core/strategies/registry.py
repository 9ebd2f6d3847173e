"""The strategy registry: every ordering the app lists, by name, and :func:`rank`.

The registry is filled explicitly here, when :mod:`superintendent_core.strategies`
is imported: the uncertainty orderings of :mod:`.uncertainty` and the project's
default of :mod:`.neighbourhood`. No strategy is registered by the side effect of
importing its module, so every name is listed in a fresh interpreter.
Users add their own with :func:`register_strategy`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from .neighbourhood import neighbourhood
from .uncertainty import ProbabilityInput, certainty, check_probabilities, entropy, margin, random

__all__ = [
    "STRATEGIES",
    "rank",
    "register_strategy",
    "resolve_strategy",
    "shuffle_positions",
    "strategy_names",
]

Strategy = Callable[..., np.ndarray]

#: The registered strategies, by the name the UI lists, in the order it lists them.
STRATEGIES: dict[str, Strategy] = {
    "margin": margin,
    "entropy": entropy,
    "certainty": certainty,
    "random": random,
    neighbourhood.__name__: neighbourhood,
}


def register_strategy(name: str, function: Strategy | None = None):
    """Register an ordering function under ``name`` (usable as a decorator).

    The function takes ``probabilities`` and returns an order (see
    :mod:`.uncertainty`); it may accept ``n_items`` and ``random_state`` keywords.
    """

    def _register(f: Strategy) -> Strategy:
        if not callable(f):
            raise ValueError(f"strategy {name!r}: {f!r} is not callable.")
        STRATEGIES[name] = f
        return f

    return _register(function) if function is not None else _register


def strategy_names() -> list[str]:
    """Names of every registered strategy, the project's own included, in registration order."""
    return list(STRATEGIES)


def resolve_strategy(strategy: str | Strategy) -> Strategy:
    """Return the ordering function for a registered name, or the callable itself.

    Parameters
    ----------
    strategy : str or callable

    Returns
    -------
    callable

    Raises
    ------
    ValueError
        For a name that is not registered, listing the valid names.
    """
    if callable(strategy):
        return strategy
    if isinstance(strategy, str) and strategy in STRATEGIES:
        return STRATEGIES[strategy]
    valid = ", ".join(repr(name) for name in STRATEGIES)
    raise ValueError(f"Unknown strategy {strategy!r}; valid names are {valid}, or pass a callable.")


def _strategy_name(strategy: Any) -> str:
    return strategy if isinstance(strategy, str) else getattr(strategy, "__name__", repr(strategy))


def _is_permutation(order: np.ndarray, n: int) -> bool:
    if order.shape != (n,) or order.dtype.kind not in "iu":
        return False
    if n == 0:
        return True
    if order.min() < 0 or order.max() >= n:
        return False
    return bool((np.bincount(order, minlength=n) == 1).all())


def _call_strategy(
    function: Strategy, probabilities: ProbabilityInput, random_state: Any
) -> np.ndarray:
    if function is random:
        return random(probabilities, random_state=random_state)
    return np.asarray(function(probabilities))


def shuffle_positions(
    order: np.ndarray,
    shuffle_prop: float,
    random_state: int | np.random.RandomState | None = None,
) -> np.ndarray:
    """Shuffle a proportion of an order's positions among themselves.

    superintendent's meaning of ``shuffle_prop``: ``round(shuffle_prop * n)``
    positions are drawn at random and the items at those positions are permuted
    among them; every other item keeps its place. ``0`` leaves the order as is,
    ``1`` gives a uniformly random order.

    Parameters
    ----------
    order : ndarray of shape (n_samples,)
    shuffle_prop : float in [0, 1]
    random_state : int, RandomState instance or None

    Returns
    -------
    ndarray of shape (n_samples,)
    """
    if not 0.0 <= float(shuffle_prop) <= 1.0 or np.isnan(shuffle_prop):
        raise ValueError(f"shuffle_prop must be between 0 and 1, got {shuffle_prop!r}.")
    order = np.asarray(order).copy()
    n = order.size
    n_shuffled = int(round(float(shuffle_prop) * n))
    if n_shuffled < 2:
        return order
    rng = check_random_state(random_state)
    positions = rng.choice(n, size=n_shuffled, replace=False)
    order[positions] = order[rng.permutation(positions)]
    return order


def rank(
    probabilities: ProbabilityInput,
    strategy: str | Strategy = "margin",
    shuffle_prop: float = 0.0,
    random_state: int | np.random.RandomState | None = None,
) -> np.ndarray:
    """Order the pool by ``strategy``, then shuffle ``shuffle_prop`` of the positions.

    Parameters
    ----------
    probabilities : ndarray of shape (n_samples, n_classes) or list of such arrays
    strategy : str or callable, default="margin"
        A name in :data:`STRATEGIES` or any callable with the same contract.
    shuffle_prop : float in [0, 1], default=0.0
        Proportion of positions shuffled among themselves (mixes random items in).
    random_state : int, RandomState instance or None
        Seed for the shuffle (and for the ``random`` strategy).

    Returns
    -------
    order : ndarray of shape (n_samples,)
        A permutation of ``range(n_samples)``, most informative first.

    Raises
    ------
    ValueError
        For an unknown strategy name, a callable whose result is not a
        permutation of the rows, or invalid probabilities.
    """
    function = resolve_strategy(strategy)
    if not 0.0 <= float(shuffle_prop) <= 1.0 or np.isnan(shuffle_prop):
        raise ValueError(f"shuffle_prop must be between 0 and 1, got {shuffle_prop!r}.")
    rng = check_random_state(random_state)
    n = check_probabilities(probabilities)[0].shape[0]
    order = _call_strategy(function, probabilities, rng)
    if not _is_permutation(order, n):
        raise ValueError(
            f"strategy {_strategy_name(strategy)!r} did not return a permutation of the "
            f"{n} rows (got shape {order.shape}, dtype {order.dtype}); an ordering function "
            "must return every row index exactly once."
        )
    return shuffle_positions(order.astype(np.intp, copy=False), shuffle_prop, rng)
