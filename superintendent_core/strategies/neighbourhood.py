"""The project's default strategy: margin, smoothed over the pool's neighbourhoods.

Plain margin (what superintendent, modAL and scikit-activeml offer) asks for the
single item the model is least sure about. Early on that is often an odd one
out, and in a batch the top items are often near-duplicates of each other.
:class:`NeighbourhoodMargin` ("neighbourhood") keeps margin's uncertainty but
asks *where labelling one item settles the most*:

1. Sample the pool: the ``n_candidates`` items with the smallest margin (a
   partition, not a sort) plus ``n_reference`` random items — the whole pool
   when it is that small. The labelled items (the learner passes them, in the
   pool's representation) join the sample at the same rate, with uncertainty 0:
   they are covered, so a region that already has labels scores lower.
2. Score each sampled pool item by the mean uncertainty (1 − margin) over itself
   and its ``n_neighbours`` nearest sampled items. A confusing item among
   confusing items scores high; an odd one out, or one next to labelled items,
   scores low.
3. Pick the best, mark what it covers as settled (uncertainty 0: its neighbours
   and every item within the typical neighbourhood radius), re-score, and repeat
   for the batch. A near-duplicate of a chosen item loses its score, so a batch
   spreads over the pool.
4. The rest of the pool follows by plain margin.

Before any model exists, :meth:`NeighbourhoodMargin.cold_start` serves a
coverage order of the pool (:func:`~superintendent_core.strategies.coverage.coverage_order`).
Until there are ``cover_per_class`` (2) labels per class, the batches continue
that coverage (:func:`~superintendent_core.strategies.coverage.coverage_continuation`):
a model trained on one label per class is too weak for its uncertainty to
guide the next picks, and uncertainty picks then pile into a few confused
classes; the retrain on them lost accuracy (digits, batch 10: 0.83 at 10
labels, 0.74 at 20 by margin over neighbourhoods, 0.81 by coverage).

From ``handover_per_class`` (12) labels per class on, each item scores by its
own margin instead of its neighbourhood's (a batch is still spread: what a
pick covers is settled; at batch 1 the order is plain margin's). The
neighbourhood average steers towards dense confusing regions, which is what a
weak model needs; once the model is good, its remaining mistakes sit in thin
regions between classes, and there plain margin overtook it (digits, 20 seeds,
mean accuracy over 201–300 labels, batch 1 / 10: +0.008 / +0.006 on the
protocol's split and +0.006 / +0.007 on another, whose 95 % came at 175 / 170
labels instead of 205 / 210; nothing changes below 120 labels).

Cost: one O(n·k) pass over the probabilities and one sort of the margins; the
distance work is (sample × sample × ``n_components``), independent of the pool
size: features wider than ``n_components`` are reduced to their top principal
components (a randomized SVD of 500 sampled rows). On a 70,000 × 784 pool with
500 labelled the whole call takes about 17 ms (plain margin: 4 ms; 2-core
machine, one BLAS thread; the pool's margins are sorted in a second thread
meanwhile); the first calls in a fresh process take up to 25 ms. While the
coverage continues (fewer than 2 labels per class) it costs what the cold
start costs, about 50 ms.

Figures (digits, ``benchmarks/bench_efficiency.py``) are in
``benchmarks/results/efficiency_table.csv``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sklearn.utils import check_random_state

from . import uncertainty
from .base import PoolContext, Strategy
from .coverage import (
    coverage_continuation,
    coverage_order,
    principal_components,
    squared_distances,
)

__all__ = ["DEFAULT_STRATEGY", "NeighbourhoodMargin", "neighbourhood"]


def _int_at_least(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer of at least {minimum}"
        raise ValueError(f"{name} must be {kind}, got {value!r}.")
    return int(value)


def _draw_others(n: int, exclude: np.ndarray, size: int, rng: np.random.RandomState) -> np.ndarray:
    """``size`` distinct rows of ``range(n)`` outside ``exclude``, uniformly at random.

    Needs ``n >= len(exclude) + size``. On a small pool this is ``rng.choice``
    without replacement (a permutation of the pool). On a large one (more than
    8 × the rows wanted) a permutation of the whole pool is wasted work: 1.1 ms
    at 70,000 rows against 0.1 ms for drawing with replacement and dropping
    repeats. Both are uniform draws of distinct rows.
    """
    wanted = exclude.size + size
    if n <= 8 * wanted:
        draw = rng.choice(n, wanted, replace=False)
        return draw[~np.isin(draw, exclude)][:size]
    taken = np.zeros(n, dtype=bool)
    taken[exclude] = True
    chosen: list[np.ndarray] = []
    missing = size
    while missing:
        draw = rng.randint(0, n, size=missing + missing // 4 + 8)
        _, first = np.unique(draw, return_index=True)
        draw = draw[np.sort(first)]  # distinct, in the order drawn
        draw = draw[~taken[draw]][:missing]
        taken[draw] = True
        chosen.append(draw)
        missing -= draw.size
    return np.concatenate(chosen)


def _n_classes(probabilities: uncertainty.ProbabilityInput) -> int:
    """Classes the model knows: the widest output's."""
    outputs = probabilities if isinstance(probabilities, list | tuple) else [probabilities]
    return max(np.shape(p)[1] for p in outputs)


class NeighbourhoodMargin(Strategy):
    """Margin smoothed over neighbourhoods, with a coverage cold start and diverse batches.

    A :class:`~superintendent_core.strategies.base.Strategy` that uses features
    (``uses_features = True``): the learner gives it, in the
    :class:`~superintendent_core.strategies.base.PoolContext`, the pool's
    representation — what the model's last step sees, e.g. after a Pipeline's
    transforms — and the labelled items in the same representation. Without
    features it is plain margin. Its cold start covers the pool
    (``informed_cold_start = True``). It can also be called as a function
    (``neighbourhood(probabilities, features=..., ...)``).

    Parameters
    ----------
    n_neighbours : int, default=15
        Size of the neighbourhood an item's score averages over. On digits, 8,
        10, 12 and 15 measured within noise of each other (30 seeds, labelled
        items passed); on a synthetic 5-class set 10 was worse than 15 at
        batch 1, so 15 stays.
    n_candidates : int, default=100
        Smallest-margin items always in the sample (at least ``10 * batch_size``).
    n_reference : int, default=1000
        Random pool items added to the sample (the pool is used whole when it
        has no more than ``n_candidates + n_reference`` items).
    n_components : int, default=32
        Wider features are reduced to this many principal components for the
        distances (digits' 64 pixels included: measured as good as the raw
        pixels, and it denoises wide, noisy features).
    cover_per_class : int, default=2
        While fewer than ``cover_per_class`` labels per class are in (e.g. 20 for
        10 classes), the batch continues the coverage order instead
        (:func:`~superintendent_core.strategies.coverage.coverage_continuation`). 0: never.
    handover_per_class : int, default=12
        From this many labels per class on (e.g. 120 for 10 classes), items score
        by their own margin, not their neighbourhood's; batches stay spread. 0: never.
    name : str, default="neighbourhood"
        The name the strategy is listed under.
    """

    uses_features = True
    informed_cold_start = True

    def __init__(
        self,
        n_neighbours: int = 15,
        n_candidates: int = 100,
        n_reference: int = 1000,
        n_components: int = 32,
        cover_per_class: int = 2,
        handover_per_class: int = 12,
        name: str = "neighbourhood",
    ) -> None:
        self.n_neighbours = _int_at_least("n_neighbours", n_neighbours)
        self.n_candidates = _int_at_least("n_candidates", n_candidates)
        self.n_reference = _int_at_least("n_reference", n_reference)
        self.n_components = _int_at_least("n_components", n_components)
        self.cover_per_class = _int_at_least("cover_per_class", cover_per_class, minimum=0)
        self.handover_per_class = _int_at_least("handover_per_class", handover_per_class, minimum=0)
        if 0 < self.handover_per_class < self.cover_per_class:
            raise ValueError(
                f"handover_per_class ({handover_per_class}) must be 0 or at least cover_per_class "
                f"({cover_per_class}): the coverage continues up to cover_per_class labels per class."
            )
        self.name = name
        self.__name__ = name  # as a function's, for code that reads it

    def __repr__(self) -> str:
        return (
            f"NeighbourhoodMargin(n_neighbours={self.n_neighbours}, n_candidates={self.n_candidates}, "
            f"n_reference={self.n_reference}, n_components={self.n_components}, "
            f"cover_per_class={self.cover_per_class}, handover_per_class={self.handover_per_class})"
        )

    # ------------------------------------------------------------------ cold start

    def cold_start(
        self, features: np.ndarray | None, random_state: int | np.random.RandomState | None = None
    ) -> np.ndarray:
        """Order the pool before any model exists: a coverage order of its features.

        Parameters
        ----------
        features : ndarray of shape (n_samples, n_features)
        random_state : int, RandomState instance or None

        Returns
        -------
        order : ndarray of shape (n_samples,)
        """
        return coverage_order(features, random_state=random_state)

    # ------------------------------------------------------------------ ordering

    def order(self, context: PoolContext) -> np.ndarray:
        """Order the pool from a :class:`~superintendent_core.strategies.base.PoolContext` (see :meth:`__call__`)."""
        return self(
            context.probabilities,
            features=context.features,
            labelled_features=context.labelled_features,
            batch_size=context.batch_size,
            random_state=context.random_state,
        )

    def __call__(
        self,
        probabilities: uncertainty.ProbabilityInput,
        *,
        features: np.ndarray | None = None,
        labelled_features: np.ndarray | None = None,
        batch_size: int = 1,
        random_state: int | np.random.RandomState | None = None,
    ) -> np.ndarray:
        """Order the pool, most useful first.

        Parameters
        ----------
        probabilities : ndarray of shape (n_samples, n_classes) or list of such arrays
        features : ndarray of shape (n_samples, n_features), optional
            The pool's representation (what the model sees). None: plain margin.
        labelled_features : ndarray of shape (n_labelled, n_features), optional
            The labelled items in the same representation; they count as covered.
        batch_size : int, default=1
            Items served before the next retrain; that many are chosen greedily.
        random_state : int, RandomState instance or None
            Seed for the sample.

        Returns
        -------
        order : ndarray of shape (n_samples,)
            A permutation of the pool's row indices.

        Raises
        ------
        ValueError
            For invalid probabilities, features whose number of rows differs from
            the probabilities', labelled features of another width, or
            ``batch_size`` < 1.
        """
        key = uncertainty._key(probabilities, "margin")  # validated; small = unsure
        n = key.shape[0]
        if features is None or n < 2:
            return uncertainty._order_from_key(key)
        features = np.asarray(features)
        if features.ndim != 2 or features.shape[0] != n:
            raise ValueError(
                f"features must have shape (n_samples, n_features) with n_samples = {n} (one row per "
                f"probability row), got shape {features.shape}."
            )
        batch_size = _int_at_least("batch_size", batch_size)
        if labelled_features is not None:
            labelled_features = np.asarray(labelled_features)
            if labelled_features.ndim != 2 or labelled_features.shape[1] != features.shape[1]:
                columns = labelled_features.shape[1] if labelled_features.ndim == 2 else "no"
                raise ValueError(
                    f"labelled_features must be 2-D with one column per feature: got {columns} columns "
                    f"(shape {labelled_features.shape}) while the features have {features.shape[1]}."
                )
        rng = check_random_state(random_state)
        handed_over = labelled_features is not None and self._handed_over(probabilities, len(labelled_features))
        if handed_over and batch_size == 1:  # one item: the smallest margin, i.e. plain margin's order
            return uncertainty._order_from_key(key)
        m = min(n, max(self.n_candidates, 10 * batch_size))  # smallest margins, always in the sample
        if n <= m + self.n_reference:  # the sample is the whole pool, in margin order
            margin_order = uncertainty._order_from_key(key)
            picked = self._batch(
                key, margin_order, probabilities, features, labelled_features, batch_size, rng, handed_over
            )
        else:
            # The full margin order is needed only for the tail: it is sorted in a second
            # thread (numpy's sort releases the GIL) while the batch is chosen from the
            # m smallest margins (a partition, same rows as the sort's first m).
            with ThreadPoolExecutor(max_workers=1) as executor:
                sorting = executor.submit(uncertainty._order_from_key, key)
                head = uncertainty._order_from_key(key, m)
                picked = self._batch(
                    key, head, probabilities, features, labelled_features, batch_size, rng, handed_over
                )
                margin_order = sorting.result()
        rest = np.ones(n, dtype=bool)
        rest[picked] = False
        return np.concatenate([picked, margin_order[rest[margin_order]]]).astype(np.intp)

    def _batch(
        self,
        key: np.ndarray,
        head: np.ndarray,
        probabilities: uncertainty.ProbabilityInput,
        features: np.ndarray,
        labelled_features: np.ndarray | None,
        batch_size: int,
        rng: np.random.RandomState,
        handed_over: bool = False,
    ) -> np.ndarray:
        """The first ``batch_size`` items of the order (``head``: the smallest margins, in margin order)."""
        picked = np.empty(0, dtype=np.intp)
        if labelled_features is not None and self._too_few_labels(probabilities, len(labelled_features)):
            # Too few labels per class for the model's uncertainty to mean much (the
            # first retrains dipped): keep covering the pool, as the cold start did.
            picked = coverage_continuation(features, labelled_features, batch_size, random_state=rng)
        if picked.size < batch_size:
            # The batch by neighbourhood margin, or the rest of it once coverage runs out
            # (every region has a label nearby); coverage picks count as labelled.
            covered = labelled_features
            if picked.size:
                covered = np.concatenate([labelled_features, features[picked]])
            sample = self._sample(head, key.shape[0], rng)
            more = self._pick(key, sample, features, covered, batch_size, rng, own=handed_over)
            picked = np.concatenate([picked, more[~np.isin(more, picked)][: batch_size - picked.size]])
        return picked

    # ------------------------------------------------------------------ internals

    def _too_few_labels(self, probabilities: uncertainty.ProbabilityInput, n_labelled: int) -> bool:
        """Fewer than ``cover_per_class`` labels per class the model knows (the widest output's)."""
        return n_labelled < self.cover_per_class * _n_classes(probabilities)

    def _handed_over(self, probabilities: uncertainty.ProbabilityInput, n_labelled: int) -> bool:
        """At least ``handover_per_class`` labels per class (never when it is 0)."""
        return 0 < self.handover_per_class and n_labelled >= self.handover_per_class * _n_classes(probabilities)

    def _sample(self, head: np.ndarray, n: int, rng: np.random.RandomState) -> np.ndarray:
        """Pool rows to work on: ``head`` (the smallest margins, or the whole pool), then random ones."""
        if head.size == n:
            return head
        return np.concatenate([head, _draw_others(n, head, self.n_reference, rng)])

    def _pick(
        self,
        key: np.ndarray,
        sample: np.ndarray,
        features: np.ndarray,
        labelled_features: np.ndarray | None,
        batch_size: int,
        rng: np.random.RandomState,
        own: bool = False,
    ) -> np.ndarray:
        """The batch: greedy picks of the best-scoring ``sample`` item, covering as it goes.

        ``sample``: pool rows, those with the smallest margins first, in margin order.
        ``own``: score each item by its own uncertainty, not its neighbourhood's
        (the batch is still spread: what a pick covers is settled).
        """
        n, s = key.shape[0], sample.size  # rows 0..s-1 of the sample are pool items, the rest labelled
        chosen = np.empty(0, dtype=np.intp)
        if labelled_features is not None and len(labelled_features):
            # Labelled items at the pool's sampling rate, so the sample keeps the data's proportions.
            n_lab = len(labelled_features)
            rate = s / n
            take = n_lab if rate >= 1 else int(rng.binomial(n_lab, rate))
            chosen = np.arange(n_lab) if take == n_lab else np.sort(rng.choice(n_lab, take, replace=False))
        # Gathered straight into one float32 block: the pool's rows are the big part.
        rows = np.empty((s + chosen.size, features.shape[1]), dtype=np.float32)
        if features.dtype == np.float32 and features.flags.c_contiguous:
            # np.take into ``out`` is fast on C-ordered rows only: on a column-major array
            # (a DataFrame's ``to_numpy()``) it took 1.1 s for 1,100 rows of a 1M × 64 pool.
            np.take(features, sample, axis=0, out=rows[:s])
        else:
            rows[:s] = features[sample]
        if chosen.size:
            rows[s:] = labelled_features[chosen]
        u = np.zeros(rows.shape[0], dtype=np.float32)  # labelled items: no uncertainty left
        u[:s] = 1.0 - key[sample].astype(np.float64)
        Z = principal_components(rows, self.n_components)
        D = squared_distances(Z[:s], Z)
        D[np.arange(s), np.arange(s)] = -1.0  # an item is its own first neighbour
        k = min(self.n_neighbours + 1, Z.shape[0])
        # Neighbourhood = the k nearest (more on exact ties). A value partition and a
        # mask cost a third of an argpartition, and the score is then one mat-vec.
        kth = np.partition(D, k - 1, axis=1)[:, k - 1]
        near = (D <= kth[:, None]).astype(np.float32)
        size = near @ np.ones(near.shape[1], dtype=np.float32)  # exact: counts < 2**24
        radius = np.median(kth)

        total = None if own else (near @ u).astype(np.float64)  # uncertainty left in each neighbourhood
        free = np.ones(s, dtype=bool)
        picked = []
        n_picks = min(batch_size, s)
        for j in range(n_picks):
            # Ties go to the smaller margin: the head of the sample is in margin order.
            score = u[:s] if own else total / size
            best = int(np.argmax(np.where(free, score, -np.inf)))
            picked.append(best)
            free[best] = False
            if j == n_picks - 1:
                break
            # What it covers is settled: take those items' uncertainty out of every
            # neighbourhood (a few columns, not a new mat-vec over the whole sample).
            covered = np.flatnonzero(((near[best] > 0) | (D[best] <= radius)) & (u > 0))
            if total is not None:
                total -= near[:, covered] @ u[covered]
            u[covered] = 0.0
        return sample[np.asarray(picked, dtype=np.intp)]


#: The project's default strategy (the registry, :mod:`.registry`, lists it under its name).
neighbourhood = NeighbourhoodMargin()

#: Name of the strategy the learner uses when none is given.
DEFAULT_STRATEGY: str = neighbourhood.name
