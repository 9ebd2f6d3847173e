"""The serving queue: which item a labeller gets next, with leases, skips and an order.

Pure in-memory bookkeeping, no I/O, reusable by any backend that keeps its
queue in one process. Not thread-safe by itself: the owning store holds a lock.

How it works
------------
Every item has a ``rank`` (its position in the serving order; lower is served
first). ``serve`` holds the items that were open at the last :meth:`set_order`,
sorted by rank, and ``cursor`` walks it once. Items that become open again
behind the cursor (a lease expired, a skip, an undo) go into a heap keyed by
rank. ``next_item`` takes the lower-ranked of the heap's top and
``serve[cursor]``, discarding entries that are done or leased (lazy deletion).
Each item enters the heap only when it changes state, so the cost per call is
O(log n) amortised, whatever the pool size and however full it is.

Skips: an item skipped by a labeller stays at its rank for everybody else and
is served to the skipper only when nothing else is open for them.

Bounded leases: a labeller holds at most one item (``next_item`` returns the one
it holds). Labellers with no label in force (``idle``) together hold at most
:func:`~._rules.idle_lease_cap` items; past that an idle labeller is shown the
best free item without a lease (it goes back into the heap at its rank).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable

import numpy as np

from ._rules import idle_lease_cap

__all__ = ["ServeQueue"]


class ServeQueue:
    """Leases, skips and the serving order of ``n_items`` items.

    Parameters
    ----------
    n_items : int
        Items in the pool (ids ``0 .. n_items-1``).
    lease_seconds : float, default=600
        How long a served item stays reserved for its labeller.
    clock : callable returning float, default=time.monotonic
        Time source (tests pass a fake clock instead of sleeping).
    excluded : callable (item_id, labeller) -> bool, optional
        Items a labeller must not be served although they are open (for example
        ones they have already labelled when several labels per item are wanted).
    idle : callable (labeller) -> bool, optional
        Whether a labeller has no label in force; such labellers together hold at
        most :func:`~._rules.idle_lease_cap` leases. None: no cap.
    """

    def __init__(
        self,
        n_items: int = 0,
        *,
        lease_seconds: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        excluded: Callable[[int, str], bool] | None = None,
        idle: Callable[[str], bool] | None = None,
    ) -> None:
        self.lease_seconds = float(lease_seconds)
        self.clock = clock
        self.excluded = excluded
        self.idle = idle
        self._done = np.zeros(n_items, dtype=bool)
        self._rank = np.arange(n_items, dtype=np.int64)
        self._serve = np.arange(n_items, dtype=np.int64)
        self._cursor = 0
        self._next_rank = n_items
        self._heap: list[tuple[int, int]] = []
        self._leases: dict[int, tuple[str, float]] = {}
        self._lease_of: dict[str, int] = {}
        self._expiries: list[tuple[float, int, str]] = []
        self._skipped: dict[int, set[str]] = {}
        #: the current order's audit slots: item -> (probability, support, seq) (see :mod:`.audit`)
        self.audit: dict[int, tuple[float, int, int]] = {}

    # ------------------------------------------------------------------ pool

    def __len__(self) -> int:
        return len(self._done)

    def grow(self, n_new: int) -> None:
        """Append ``n_new`` open items, served after every item already ranked."""
        if n_new <= 0:
            return
        start = len(self._done)
        new_ids = np.arange(start, start + n_new, dtype=np.int64)
        self._done = np.concatenate([self._done, np.zeros(n_new, dtype=bool)])
        self._rank = np.concatenate([self._rank, self._next_rank + np.arange(n_new, dtype=np.int64)])
        self._next_rank += n_new
        # serve[cursor:] stays sorted by rank: the new ranks are the largest.
        self._serve = np.concatenate([self._serve[self._cursor :], new_ids])
        self._cursor = 0

    def set_done(self, ids: np.ndarray, done: bool = True) -> None:
        """Flag many items at once (imports, loading); O(n log n), not for the labelling path."""
        self._done[np.asarray(ids, dtype=np.int64)] = done
        self._rebuild(np.argsort(self._rank, kind="stable"))

    def set_order(self, ids: np.ndarray, audit: dict[int, tuple[float, int, int]] | None = None) -> None:
        """Serve ``ids`` first, in order; every other item after them in id order.

        ``ids`` must be unique and in range (the store validates). ``audit``: the
        order's audit slots, ``{item: (probability, support, seq)}`` (items of ``ids``).
        """
        self.apply_order(self.prepare_order(ids, len(self._done)), audit)

    @staticmethod
    def prepare_order(ids: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The full order and the rank of each of ``n`` items for :meth:`apply_order`.

        The O(n) part of :meth:`set_order`, which reads no state: a store computes it
        before taking its lock (1M items: ~30 ms).
        """
        ids = np.asarray(ids, dtype=np.int64)
        ranked = np.zeros(n, dtype=bool)
        ranked[ids] = True
        order = np.concatenate([ids, np.flatnonzero(~ranked)])
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n, dtype=np.int64)
        return order, rank

    def apply_order(
        self, prepared: tuple[np.ndarray, np.ndarray], audit: dict[int, tuple[float, int, int]] | None = None
    ) -> None:
        """Serve in a :meth:`prepare_order` result's order (made for this queue's item count)."""
        order, rank = prepared
        if len(rank) != len(self._done):
            raise ValueError(f"an order prepared for {len(rank)} items, the queue has {len(self._done)}")
        self.audit = dict(audit or {})
        self._rank = rank
        self._next_rank = len(rank)
        self._rebuild(order)

    def _rebuild(self, order: np.ndarray) -> None:
        """Serve the open items of ``order`` (all items, sorted by rank) from the start.

        Every open item is in the new ``serve``, so the heap of returned items can go.
        """
        self._serve = order[~self._done[order]]
        self._cursor = 0
        self._heap = []

    # ------------------------------------------------------------------ state changes

    def is_done(self, item_id: int) -> bool:
        return bool(self._done[item_id])

    def mark_done(self, item_id: int) -> None:
        """The item needs no more labels: release any lease on it."""
        self._done[item_id] = True
        self._drop_lease(item_id)
        self._skipped.pop(item_id, None)

    def mark_open(self, item_id: int) -> None:
        """The item needs labels again (after an undo): back at its rank."""
        if self._done[item_id]:
            self._done[item_id] = False
            heapq.heappush(self._heap, (int(self._rank[item_id]), int(item_id)))

    def release(self, item_id: int) -> None:
        """Drop the lease on an item (after a label that did not finish it)."""
        if self._drop_lease(item_id) and not self._done[item_id]:
            heapq.heappush(self._heap, (int(self._rank[item_id]), int(item_id)))

    def skip(self, item_id: int, labeller: str) -> None:
        """Release ``labeller``'s lease; serve the item to others first."""
        self._skipped.setdefault(int(item_id), set()).add(labeller)
        holder = self._leases.get(int(item_id))
        if holder is not None and holder[0] == labeller:
            self.release(item_id)

    def lease(self, item_id: int, labeller: str) -> None:
        """Reserve ``item_id`` for ``labeller`` (their previous lease goes back)."""
        item_id = int(item_id)
        previous = self._lease_of.get(labeller)
        if previous is not None and previous != item_id:
            self.release(previous)
        self._drop_lease(item_id)
        expiry = self.clock() + self.lease_seconds
        self._leases[item_id] = (labeller, expiry)
        self._lease_of[labeller] = item_id
        heapq.heappush(self._expiries, (expiry, item_id, labeller))

    def leased_to(self, item_id: int) -> str | None:
        """Who holds a valid lease on the item, if anyone."""
        self._expire()
        holder = self._leases.get(int(item_id))
        return holder[0] if holder else None

    def held_by(self, labeller: str) -> int | None:
        """The item ``labeller`` holds a valid lease on, if any."""
        self._expire()
        return self._lease_of.get(labeller)

    def n_leased(self) -> int:
        self._expire()
        return len(self._leases)

    def _drop_lease(self, item_id: int) -> bool:
        holder = self._leases.pop(int(item_id), None)
        if holder is None:
            return False
        if self._lease_of.get(holder[0]) == item_id:
            del self._lease_of[holder[0]]
        return True

    def _expire(self) -> None:
        now = self.clock()
        while self._expiries and self._expiries[0][0] <= now:
            expiry, item_id, labeller = heapq.heappop(self._expiries)
            if self._leases.get(item_id) == (labeller, expiry):
                self.release(item_id)

    # ------------------------------------------------------------------ serving

    def _usable(self, item_id: int, labeller: str) -> int:
        """0: not open (drop it), 1: open but not for this labeller, 2: serve it."""
        if self._done[item_id] or item_id in self._leases:
            return 0
        skipped = self._skipped.get(item_id)
        if skipped and labeller in skipped:
            return 1
        if self.excluded is not None and self.excluded(item_id, labeller):
            return 1
        return 2

    def next_item(self, labeller: str) -> int | None:
        """Lease and return the best open item for ``labeller`` (their current lease if valid)."""
        self._expire()
        current = self._lease_of.get(labeller)
        if current is not None:
            return current
        may_lease = self._may_lease(labeller)
        deferred: list[tuple[int, int]] = []
        chosen: int | None = None
        serve, rank = self._serve, self._rank
        while True:
            from_heap = bool(self._heap) and (
                self._cursor >= len(serve) or self._heap[0][0] < rank[serve[self._cursor]]
            )
            if from_heap:
                entry = heapq.heappop(self._heap)
            elif self._cursor < len(serve):
                item_id = int(serve[self._cursor])
                self._cursor += 1
                entry = (int(rank[item_id]), item_id)
            else:
                break
            usable = self._usable(entry[1], labeller)
            if usable == 2:
                chosen = entry[1]
                break
            if usable == 1:
                deferred.append(entry)
        if chosen is None:
            # Nothing else left: the labeller's own skipped items come back, best rank first.
            own = [e for e in deferred if labeller in self._skipped.get(e[1], ())]
            own = [e for e in own if self.excluded is None or not self.excluded(e[1], labeller)]
            if own:
                best = min(own)
                chosen = best[1]
                if may_lease:
                    deferred.remove(best)
                    self._skipped[chosen].discard(labeller)
        elif not may_lease:
            # shown, not reserved: the item stays open at its rank for everybody
            deferred.append((int(rank[chosen]), chosen))
        for entry in deferred:
            heapq.heappush(self._heap, entry)
        if chosen is not None and may_lease:
            self.lease(chosen, labeller)
        return chosen

    def _may_lease(self, labeller: str) -> bool:
        """Whether ``labeller`` may take a lease now (idle labellers share :func:`idle_lease_cap`)."""
        if self.idle is None or not self.idle(labeller):
            return True
        held = sum(1 for who in self._lease_of if self.idle(who))
        return held < idle_lease_cap(len(self._done) - self.n_done())

    def n_done(self) -> int:
        return int(self._done.sum())
