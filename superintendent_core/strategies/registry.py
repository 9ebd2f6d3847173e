"""The strategy registry: every ordering the app lists, by name, and :func:`rank`.

The registry is filled explicitly here, when :mod:`superintendent_core.strategies`
is imported: the uncertainty orderings of :mod:`.uncertainty` and the project's
default of :mod:`.neighbourhood`. No strategy is registered by the side effect of
importing its module, so every name is listed in a fresh interpreter.
Users add their own with :func:`register_strategy`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.utils import check_random_state

from .base import (
    PoolContext,
    Strategy,
    as_strategy,
    order_pool,
    shuffle_positions,
)
from .neighbourhood import neighbourhood
from .uncertainty import ProbabilityInput, certainty, entropy, margin, random

__all__ = [
    "STRATEGIES",
    "rank",
    "register_strategy",
    "resolve_strategy",
    "shuffle_positions",
    "strategy_description",
    "strategy_names",
]

#: What may be registered: a :class:`~.base.Strategy`, or a plain ordering function.
Registrable = Strategy | Callable[..., np.ndarray]

#: The registered strategies, by the name the UI lists, in the order it lists them:
#: what was registered (a plain function stays that function); :func:`resolve_strategy`
#: gives the :class:`~.base.Strategy` to call.
STRATEGIES: dict[str, Registrable] = {
    "margin": margin,
    "entropy": entropy,
    "certainty": certainty,
    "random": random,
    neighbourhood.name: neighbourhood,
}

#: One line per registered strategy saying what it does (what the Model page shows next to its name).
#: Built-ins are written here; :func:`register_strategy` takes one, or the first line of the docstring.
DESCRIPTIONS: dict[str, str] = {
    "margin": "Items whose two most likely classes are closest first: where the model hesitates between two.",
    "entropy": "Items whose predicted probabilities are most spread over all classes first.",
    "certainty": "Items whose most likely class has the lowest probability first: the model's least sure.",
    "random": "Items in random order, ignoring the model: a baseline, and unbiased.",
    neighbourhood.name: "Margin averaged over each item's neighbours, in diverse batches: uncertain regions "
    "first, not lone outliers.",
}

#: Shown for a strategy registered without a description or docstring.
NO_DESCRIPTION = "A user-registered strategy (no description given)."


def _first_line(f: object) -> str | None:
    doc = getattr(f, "__doc__", None)
    lines = [line.strip() for line in (doc or "").strip().splitlines()]
    return lines[0] if lines and lines[0] else None


def register_strategy(name: str, function: Registrable | None = None, *, description: str | None = None):
    """Register a strategy under ``name`` (usable as a decorator).

    ``function`` is a :class:`~.base.Strategy`, or a plain ordering function
    ``f(probabilities) -> order`` (see :mod:`.uncertainty`), which is called with
    the validated probabilities alone. ``description`` is the one line the app
    shows next to the name; by default, the first line of the function's docstring.
    """

    def _register(f: Registrable) -> Registrable:
        if not (isinstance(f, Strategy) or callable(f)):
            raise ValueError(f"strategy {name!r}: {type(f).__name__} object is not callable.")
        STRATEGIES[name] = f
        given = (description or "").strip()
        DESCRIPTIONS[name] = given.splitlines()[0] if given else (_first_line(f) or NO_DESCRIPTION)
        return f

    return _register(function) if function is not None else _register


def strategy_names() -> list[str]:
    """Names of every registered strategy, the project's own included, in registration order."""
    return list(STRATEGIES)


def strategy_description(name: str) -> str:
    """The one line saying what the registered strategy ``name`` does.

    Raises
    ------
    ValueError
        For a name that is not registered, listing the valid names.
    """
    if name not in STRATEGIES:
        resolve_strategy(name)  # raises the message listing the valid names
    return DESCRIPTIONS.get(name) or _first_line(STRATEGIES[name]) or NO_DESCRIPTION


def resolve_strategy(strategy: str | Registrable) -> Strategy:
    """The :class:`~.base.Strategy` for a registered name, a strategy object or an ordering function.

    Parameters
    ----------
    strategy : str, Strategy or callable

    Returns
    -------
    Strategy
        Plain functions come wrapped (:func:`~.base.as_strategy`); the wrapper
        is still callable as the function.

    Raises
    ------
    ValueError
        For a name that is not registered, listing the valid names.
    """
    if isinstance(strategy, str):
        if strategy in STRATEGIES:
            return as_strategy(STRATEGIES[strategy])
    elif isinstance(strategy, Strategy) or callable(strategy):
        return as_strategy(strategy)
    valid = ", ".join(repr(name) for name in STRATEGIES)
    raise ValueError(f"Unknown strategy {strategy!r}; valid names are {valid}, or pass a callable.")


def resolve_named(strategy: str | Registrable) -> tuple[Strategy, str]:
    """The strategy to call and the name results show (the registered name asked for, or its own)."""
    resolved = resolve_strategy(strategy)
    return resolved, strategy if isinstance(strategy, str) else resolved.name


def rank(
    probabilities: ProbabilityInput,
    strategy: str | Registrable = "margin",
    shuffle_prop: float = 0.0,
    random_state: int | np.random.RandomState | None = None,
) -> np.ndarray:
    """Order the pool by ``strategy``, then shuffle ``shuffle_prop`` of the positions.

    Parameters
    ----------
    probabilities : ndarray of shape (n_samples, n_classes) or list of such arrays
    strategy : str, Strategy or callable, default="margin"
        A name in :data:`STRATEGIES`, a :class:`~.base.Strategy`, or any
        callable with the same contract as the ordering functions.
    shuffle_prop : float in [0, 1], default=0.0
        Proportion of positions shuffled among themselves (mixes random items in).
    random_state : int, RandomState instance or None
        Seed for the shuffle (and for the ``random`` strategy).

    Returns
    -------
    order : ndarray of shape (n_samples,)
        A permutation of ``range(n_samples)``, most informative first.

    Notes
    -----
    The strategy sees the probabilities alone: no features (a feature-aware
    strategy orders by its fallback, plain margin for the default) and a batch
    size of 1.

    Raises
    ------
    ValueError
        For an unknown strategy name, a callable whose result is not a
        permutation of the rows, or invalid probabilities.
    """
    resolved, name = resolve_named(strategy)
    if not 0.0 <= float(shuffle_prop) <= 1.0 or np.isnan(shuffle_prop):
        raise ValueError(f"shuffle_prop must be between 0 and 1, got {shuffle_prop!r}.")
    context = PoolContext(probabilities, random_state=check_random_state(random_state))
    return order_pool(resolved, context, shuffle_prop, name=name)
