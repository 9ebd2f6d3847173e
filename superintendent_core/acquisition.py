"""Acquisition functions: orderings of a pool from the model's probabilities.

Every function here is a plain function of ``probabilities``, an array of shape
``(n_samples, n_classes)`` or a list of such arrays (one per output, as
:meth:`sklearn.multioutput.MultiOutputClassifier.predict_proba` returns), and
returns an **order**: an ``np.ndarray`` of row indices, most informative first
(a permutation of ``range(n_samples)``). Rows that tie keep their original
order.

Each strategy is built from a *key*, a one-dimensional score where a smaller
value means "ask this first"; the order is a stable sort of that key. A key and
the validation of the values cost one O(n·k) pass; asking for only the first
``k`` rows (``n_items=k``) costs a partition instead of a full sort.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

__all__ = [
    "STRATEGIES",
    "certainty",
    "check_probabilities",
    "entropy",
    "margin",
    "random",
    "rank",
    "register_strategy",
    "resolve_strategy",
    "shuffle_positions",
    "strategy_names",
]

ProbabilityInput = np.ndarray | Sequence[np.ndarray]
Strategy = Callable[..., np.ndarray]

#: Tolerance on ``|row sum - 1|`` (probabilities from float32 models are not exact).
_SUM_TOLERANCE = 1e-3


# --------------------------------------------------------------------------- validation and keys
#
# Each strategy is a *key* per row (smaller = ask first). Keys and the validation
# of the values are computed in one pass over the array, a chunk of rows at a time:
# the chunk is copied transposed into a small buffer, so that every per-class
# operation runs on contiguous memory that stays in cache. On 1,000,000 × 10 here
# a row-wise ``p.max(axis=1)`` took 48 ms; the chunked max with the checks, 29 ms.

#: Rows per chunk of the scan.
_CHUNK_ROWS = 4096


def _outputs(probabilities: ProbabilityInput) -> list[tuple[str, np.ndarray]]:
    """Structural checks (types, dimensions, matching rows); values are checked by the scan."""
    if isinstance(probabilities, np.ndarray) or not isinstance(probabilities, list | tuple):
        arrays = [probabilities]
    else:
        arrays = list(probabilities)
        if not arrays:
            raise ValueError("probabilities: got an empty list of outputs; expected at least one array.")
    outputs = []
    n_rows = None
    for i, p in enumerate(arrays):
        where = "probabilities" if len(arrays) == 1 else f"probabilities[{i}]"
        p = np.asarray(p)
        if p.dtype.kind not in "fiub":
            raise ValueError(f"{where}: expected numbers, got dtype {p.dtype}.")
        if p.ndim != 2:
            raise ValueError(
                f"{where}: expected a 2-D array of shape (n_samples, n_classes), "
                f"got {p.ndim} dimension(s) with shape {p.shape}."
            )
        if n_rows is None:
            n_rows = p.shape[0]
        elif p.shape[0] != n_rows:
            raise ValueError(
                f"{where}: has {p.shape[0]} rows but the first output has {n_rows}; "
                "every output must score the same samples."
            )
        if p.shape[0] and p.shape[1] == 0:
            raise ValueError(f"{where}: has no class columns.")
        if p.dtype.kind != "f":
            p = p.astype(np.float64)
        outputs.append((where, p))
    return outputs


def _raise_for_values(p: np.ndarray, where: str, sums: np.ndarray) -> None:
    """Called only when the scan found a problem: say which, and in which row."""
    finite = np.isfinite(p).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise ValueError(f"{where}: contains NaN or infinite values (first in row {bad}).")
    negative = (p < 0).any(axis=1)
    if negative.any():
        bad = int(np.flatnonzero(negative)[0])
        raise ValueError(f"{where}: contains negative values (first in row {bad}).")
    bad = int(np.flatnonzero(np.abs(sums - 1.0) > _SUM_TOLERANCE)[0])
    raise ValueError(f"{where}: rows must sum to 1; row {bad} sums to {sums[bad]:.6g}.")


def _chunk_key(kind: str, columns: np.ndarray, out: np.ndarray, scratch: np.ndarray) -> None:
    """Write the key of one chunk into ``out``; ``columns`` is (n_classes, rows), contiguous.

    ``columns`` may be overwritten (the checks have already read it).
    """
    k = columns.shape[0]
    if kind == "certainty":  # low top probability first
        np.maximum.reduce(columns, axis=0, out=out)
    elif kind == "margin":  # small gap between the two largest first; O(k) per row, no sort
        if k == 1:
            out[:] = columns[0]
            return
        first, second, tmp = out, scratch[0], scratch[1]
        np.maximum(columns[0], columns[1], out=first)
        np.minimum(columns[0], columns[1], out=second)
        for j in range(2, k):
            np.minimum(first, columns[j], out=tmp)
            np.maximum(second, tmp, out=second)
            np.maximum(first, columns[j], out=first)
        np.subtract(first, second, out=first)
    elif kind == "entropy":  # minus the entropy: high entropy first; 0·log 0 counts as 0
        np.maximum(columns, np.finfo(columns.dtype).tiny, out=columns)
        terms = np.log(columns)
        terms *= columns
        np.add.reduce(terms, axis=0, out=out)
    else:  # pragma: no cover - internal
        raise AssertionError(kind)


def _scan(p: np.ndarray, where: str, kind: str | None) -> np.ndarray | None:
    """Validate the values of ``p`` and, for ``kind``, compute its key, in one pass."""
    n, k = p.shape
    key = np.empty(n, dtype=p.dtype) if kind else None
    if n == 0:
        return key
    sums = np.empty(n, dtype=p.dtype)
    rows = min(n, _CHUNK_ROWS)
    buffer = np.empty((k, rows), dtype=p.dtype)
    scratch = np.empty((2, rows), dtype=p.dtype)
    smallest = np.inf
    for start in range(0, n, rows):
        q = p[start : start + rows]
        m = q.shape[0]
        columns = buffer[:, :m]
        np.copyto(columns, q.T)
        np.add.reduce(columns, axis=0, out=sums[start : start + m])
        smallest = min(smallest, float(columns.min()))
        if kind:
            _chunk_key(kind, columns, key[start : start + m], scratch[:, :m])
    if not (smallest >= 0 and np.all(np.abs(sums - 1.0) <= _SUM_TOLERANCE)):
        _raise_for_values(p, where, sums)  # NaN fails both comparisons above
    return key


def check_probabilities(probabilities: ProbabilityInput) -> list[np.ndarray]:
    """Validate probabilities and return them as a list of 2-D float arrays.

    Parameters
    ----------
    probabilities : ndarray of shape (n_samples, n_classes) or list of such arrays
        One array per output for multi-output models; every array must have the
        same ``n_samples``.

    Returns
    -------
    list of ndarray of shape (n_samples, n_classes_i)

    Raises
    ------
    ValueError
        If an array is not two-dimensional, outputs disagree on the number of
        rows, or a value is NaN, infinite or negative, or a row does not sum to 1.
    """
    outputs = _outputs(probabilities)
    for where, p in outputs:
        _scan(p, where, None)
    return [p for _, p in outputs]


def _key(probabilities: ProbabilityInput, kind: str) -> np.ndarray:
    """The validated key of ``kind``, averaged over the outputs of a multi-output model."""
    keys = [_scan(p, where, kind) for where, p in _outputs(probabilities)]
    return keys[0] if len(keys) == 1 else np.mean(keys, axis=0)


# --------------------------------------------------------------------------- ordering


def _stable_argsort(key: np.ndarray) -> np.ndarray:
    """``np.argsort(key, kind="stable")``, faster when ties are rare.

    numpy's default sort is about 3× faster than its stable sort on floats; ties are
    then put back in row order, touching only the tied positions. When ties are
    widespread (e.g. a model that is sure of everything) the stable sort is used.
    """
    order = np.argsort(key)
    ordered = key[order]
    equal = ordered[1:] == ordered[:-1]
    n_equal = int(np.count_nonzero(equal))
    if n_equal == 0:
        return order
    if n_equal > key.size // 16:
        return np.argsort(key, kind="stable")
    tied = np.zeros(key.size, dtype=bool)
    tied[1:] |= equal
    tied[:-1] |= equal
    positions = np.flatnonzero(tied)
    runs = np.cumsum(np.concatenate(([True], ~equal)))[positions]
    members = order[positions]
    order[positions] = members[np.lexsort((members, runs))]
    return order


def _order_from_key(key: np.ndarray, n_items: int | None = None) -> np.ndarray:
    """Stable ascending order of ``key``; with ``n_items``, only its first ``n_items``.

    Selecting the first ``n_items`` partitions instead of sorting the pool, and
    still breaks ties by row order exactly as the full sort would.
    """
    n = key.shape[0]
    if n_items is None or n_items >= n:
        return _stable_argsort(key)
    if n_items <= 0:
        return np.empty(0, dtype=np.intp)
    threshold = np.partition(key, n_items - 1)[n_items - 1]
    below = np.flatnonzero(key < threshold)
    tied = np.flatnonzero(key == threshold)[: n_items - below.size]
    chosen = np.concatenate([below, tied])
    chosen.sort()  # row order, so the stable sort below breaks ties by it
    return chosen[np.argsort(key[chosen], kind="stable")]


def margin(probabilities: ProbabilityInput, *, n_items: int | None = None) -> np.ndarray:
    """Order rows by the gap between their two most probable classes, smallest first.

    Parameters
    ----------
    probabilities : ndarray of shape (n_samples, n_classes) or list of such arrays
    n_items : int, optional
        Return only the first ``n_items`` of the order (no full sort).

    Returns
    -------
    order : ndarray of shape (n_samples,) or (n_items,)
        Row indices, most informative first.

    Examples
    --------
    >>> margin(np.array([[0.7, 0.3], [0.55, 0.45], [0.5, 0.5], [0.9, 0.1]])).tolist()
    [2, 1, 0, 3]
    """
    return _order_from_key(_key(probabilities, "margin"), n_items)


def entropy(probabilities: ProbabilityInput, *, n_items: int | None = None) -> np.ndarray:
    """Order rows by the entropy of their predicted distribution, highest first.

    Parameters
    ----------
    probabilities : ndarray of shape (n_samples, n_classes) or list of such arrays
        For several outputs the entropies are averaged.
    n_items : int, optional
        Return only the first ``n_items`` of the order (no full sort).

    Returns
    -------
    order : ndarray of shape (n_samples,) or (n_items,)
    """
    return _order_from_key(_key(probabilities, "entropy"), n_items)


def certainty(probabilities: ProbabilityInput, *, n_items: int | None = None) -> np.ndarray:
    """Order rows by the probability of their most likely class, lowest first.

    Parameters
    ----------
    probabilities : ndarray of shape (n_samples, n_classes) or list of such arrays
    n_items : int, optional
        Return only the first ``n_items`` of the order (no full sort).

    Returns
    -------
    order : ndarray of shape (n_samples,) or (n_items,)
    """
    return _order_from_key(_key(probabilities, "certainty"), n_items)


def random(
    probabilities: ProbabilityInput,
    *,
    n_items: int | None = None,
    random_state: int | np.random.RandomState | None = None,
) -> np.ndarray:
    """A uniformly random order, ignoring the probabilities' values (the baseline).

    Parameters
    ----------
    probabilities : ndarray of shape (n_samples, n_classes) or list of such arrays
        Validated, and used only for the number of rows.
    n_items : int, optional
        Return only the first ``n_items`` of the order.
    random_state : int, RandomState instance or None
        Seed for reproducible orders.

    Returns
    -------
    order : ndarray of shape (n_samples,) or (n_items,)
    """
    n = check_probabilities(probabilities)[0].shape[0]
    order = check_random_state(random_state).permutation(n)
    return order if n_items is None else order[:n_items]


#: The registered strategies, by the name the UI lists.
STRATEGIES: dict[str, Strategy] = {
    "margin": margin,
    "entropy": entropy,
    "certainty": certainty,
    "random": random,
}


def register_strategy(name: str, function: Strategy | None = None):
    """Register an ordering function under ``name`` (usable as a decorator).

    The function takes ``probabilities`` and returns an order (see the module
    docstring); it may accept ``n_items`` and ``random_state`` keywords.
    """

    def _register(f: Strategy) -> Strategy:
        if not callable(f):
            raise ValueError(f"strategy {name!r}: {f!r} is not callable.")
        STRATEGIES[name] = f
        return f

    return _register(function) if function is not None else _register


def _register_builtin_strategies() -> None:
    """Import the modules that register the project's own strategies (the default among them).

    Imported here, at call time, because :mod:`.selection` imports this module.
    """
    from . import selection  # noqa: F401  (registers "neighbourhood" on import)


def strategy_names() -> list[str]:
    """Names of every registered strategy, the project's own included, in registration order.

    Unlike reading :data:`STRATEGIES` directly, this does not depend on whether
    the module that registers the default strategy has been imported yet.
    """
    _register_builtin_strategies()
    return list(STRATEGIES)


def resolve_strategy(strategy: str | Strategy) -> Strategy:
    """Return the ordering function for a registered name, or the callable itself.

    Names of the project's own strategies (e.g. ``"neighbourhood"``) resolve
    whether or not their module has been imported yet.

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
    if isinstance(strategy, str) and strategy not in STRATEGIES:
        _register_builtin_strategies()
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
