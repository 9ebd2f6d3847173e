"""The strategy protocol: the one way the learner, :func:`~.registry.rank` and ``simulate`` call a strategy.

A strategy is an object with

- ``order(context)``: the pool's order, most useful first, from a
  :class:`PoolContext` (the model's probabilities, the pool's and the labelled
  items' representations, the batch size and the random state);
- ``cold_start(features, random_state)``: the pool's order before any model
  exists (by default a random permutation);
- ``name``, and two declared abilities: ``uses_features`` (the learner computes
  the labelled items' representation for it) and ``informed_cold_start`` (its
  cold start looks at the pool, rather than being the default random order).

:class:`~.neighbourhood.NeighbourhoodMargin` implements it natively. Plain
ordering functions ``f(probabilities) -> order`` (:mod:`.uncertainty`, and the
ones users register) are adapted by :func:`as_strategy`, which is also the one
place where user objects written for the older protocol (duck-typed
``needs_features`` / ``needs_labelled_features`` / ``cold_start`` attributes)
are understood. :func:`order_pool` calls ``order``, checks that the result is a
permutation of the pool, and shuffles it: every caller goes through it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from sklearn.utils import check_random_state

from . import uncertainty
from .uncertainty import ProbabilityInput, check_probabilities

__all__ = [
    "FunctionStrategy",
    "PoolContext",
    "Strategy",
    "as_strategy",
    "check_order",
    "order_pool",
    "shuffle_positions",
]


@dataclass(frozen=True)
class PoolContext:
    """What a strategy may look at to order the pool.

    Attributes
    ----------
    probabilities : ndarray of shape (n_samples, n_classes) or list of such arrays
        The model's probabilities for the pool (one array per output for a
        multi-output model); not yet validated.
    features : ndarray of shape (n_samples, n_features) or None
        The pool as the model's last step sees it (after a Pipeline's
        transforms); None when that is not a dense numeric array, or unknown
        (as in :func:`~.registry.rank`).
    labelled_features : ndarray of shape (n_labelled, n_features) or None
        The labelled items in the same representation; filled by the learner
        only for strategies with ``uses_features``.
    batch_size : int, default=1
        Items served from the top of the order before the next retrain.
    random_state : int, RandomState instance or None
        Turned into a ``RandomState`` (``check_random_state``); every draw of the
        strategy and of the shuffle after it comes from this one stream.
    """

    probabilities: ProbabilityInput
    features: np.ndarray | None = None
    labelled_features: np.ndarray | None = None
    batch_size: int = 1
    random_state: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "random_state", check_random_state(self.random_state))

    @property
    def n_items(self) -> int:
        """Rows of the pool: of the (first) probability array."""
        p = self.probabilities
        first = p[0] if isinstance(p, list | tuple) and len(p) else p
        return int(np.shape(first)[0]) if np.ndim(first) else 0


@runtime_checkable
class Strategy(Protocol):
    """Orders a pool of unlabelled items, most useful to label first.

    Subclass it to inherit the defaults (no features used, a random cold
    start); any object with these members is a strategy too.

    Attributes
    ----------
    name : str
        The name results and charts show.
    uses_features : bool, default=False
        ``order`` reads ``context.labelled_features``: the learner then computes
        the labelled items' representation (a transform of every labelled item,
        the costly part) and puts it in the context; otherwise it is None. The
        pool's representation, ``context.features``, is always given when known.
    informed_cold_start : bool, default=False
        ``cold_start`` looks at the pool's features. When False the cold start is
        the default random permutation: the learner draws it without computing
        features, and ``simulate`` uses one draw shared by every such strategy, so
        their curves start from the same labels.
    """

    name: str
    uses_features: bool = False
    informed_cold_start: bool = False

    def order(self, context: PoolContext) -> np.ndarray:
        """The pool's order: a permutation of ``range(context.n_items)``, most useful first.

        Must validate ``context.probabilities`` (raise ValueError for invalid
        values, as :func:`~.uncertainty.check_probabilities` does) and draw any
        randomness from ``context.random_state``.
        """
        ...

    def cold_start(self, features: np.ndarray, random_state: Any = None) -> np.ndarray:
        """The pool's order before any model exists; by default a random permutation.

        Parameters
        ----------
        features : ndarray of shape (n_samples, n_features)
        random_state : int, RandomState instance or None

        Returns
        -------
        order : ndarray of shape (n_samples,)
        """
        return check_random_state(random_state).permutation(len(features))


def _callable_name(function: Any) -> str:
    return getattr(function, "__name__", None) or repr(function)


class FunctionStrategy(Strategy):
    """A plain ordering function as a :class:`Strategy`.

    ``function(probabilities) -> order`` is called with the probabilities alone,
    after they are validated (:func:`~.uncertainty.check_probabilities`), as
    :func:`~.registry.rank` always did; ``seeded=True`` also passes
    ``random_state=`` (the project's ``random`` baseline).

    Objects written for the older, duck-typed protocol keep working, read here
    and nowhere else: one with ``needs_features = True`` is called with
    ``features=``, ``batch_size=`` and ``random_state=`` (and
    ``labelled_features=`` when it also has ``needs_labelled_features = True``);
    one with a ``cold_start(features, random_state=...)`` method has an informed
    cold start.

    Calling the adapter calls the function (``resolve_strategy(name)(p)`` as before).
    """

    def __init__(self, function: Callable[..., Any], *, seeded: bool = False) -> None:
        if not callable(function):
            raise ValueError(f"{function!r} is not a strategy: it is not callable.")
        self.function = function
        self.name = _callable_name(function)
        self.seeded = seeded
        # The older protocol's flags, read once.
        self._passes_features = bool(getattr(function, "needs_features", False))
        self._passes_labelled = self._passes_features and bool(getattr(function, "needs_labelled_features", False))
        hook = getattr(function, "cold_start", None)
        self._cold_start_hook = hook if callable(hook) else None
        self.uses_features = self._passes_labelled
        self.informed_cold_start = self._cold_start_hook is not None

    def __repr__(self) -> str:
        return f"FunctionStrategy({self.function!r})"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(*args, **kwargs)

    def order(self, context: PoolContext) -> np.ndarray:
        p = context.probabilities
        check_probabilities(p)
        if self._passes_features:
            extra = {"labelled_features": context.labelled_features} if self._passes_labelled else {}
            return np.asarray(
                self.function(
                    p,
                    features=context.features,
                    batch_size=int(context.batch_size),
                    random_state=context.random_state,
                    **extra,
                )
            )
        if self.seeded:
            return np.asarray(self.function(p, random_state=context.random_state))
        return np.asarray(self.function(p))

    def cold_start(self, features: np.ndarray, random_state: Any = None) -> np.ndarray:
        if self._cold_start_hook is None:
            return super().cold_start(features, random_state)
        return np.asarray(self._cold_start_hook(features, random_state=random_state))


def as_strategy(obj: Any) -> Strategy:
    """``obj`` as a :class:`Strategy`: a strategy as it is, a callable through :class:`FunctionStrategy`.

    Raises
    ------
    ValueError
        For anything else.
    """
    if isinstance(obj, Strategy):
        return obj
    if callable(obj):
        # The random baseline draws from the context's random state. Other plain
        # functions get the probabilities alone, as they always did (passing a
        # user function's own random_state keyword would change its orders).
        return FunctionStrategy(obj, seeded=obj is uncertainty.random)
    raise ValueError(f"{obj!r} is not a strategy: pass a Strategy or an ordering function.")


def is_permutation(order: np.ndarray, n: int) -> bool:
    """``order`` is an integer array holding every index of ``range(n)`` exactly once."""
    if order.shape != (n,) or order.dtype.kind not in "iu":
        return False
    if n == 0:
        return True
    if order.min() < 0 or order.max() >= n:
        return False
    return bool((np.bincount(order, minlength=n) == 1).all())


def check_order(order: Any, n: int, what: str) -> np.ndarray:
    """``order`` as an ``intp`` array, after checking it is a permutation of ``range(n)``.

    Parameters
    ----------
    order : array-like
    n : int
    what : str
        Who returned it, for the message (e.g. ``"strategy 'margin'"``).

    Raises
    ------
    ValueError
        Naming ``what``, the expected size and what came back.
    """
    order = np.asarray(order)
    if not is_permutation(order, n):
        raise ValueError(
            f"{what} did not return a permutation of the {n} rows (got shape {order.shape}, dtype "
            f"{order.dtype}); an ordering must return every row index exactly once."
        )
    return order.astype(np.intp, copy=False)


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


def order_pool(strategy: Strategy, context: PoolContext, shuffle_prop: float = 0.0, *, name: str | None = None) -> np.ndarray:
    """The strategy's order of the pool, checked, then ``shuffle_prop`` of its positions shuffled.

    The one place a strategy's order is validated. The shuffle draws from
    ``context.random_state`` after the strategy has drawn what it needed.

    Parameters
    ----------
    strategy : Strategy
    context : PoolContext
    shuffle_prop : float in [0, 1], default=0.0
    name : str, optional
        The strategy's name in messages (default: ``strategy.name``).

    Returns
    -------
    order : ndarray of shape (n_samples,), intp
    """
    order = check_order(strategy.order(context), context.n_items, f"strategy {name or strategy.name!r}")
    return shuffle_positions(order, shuffle_prop, context.random_state)
