"""Slowing down passcode guessing: a per-client limit on failed sign-in attempts.

The sign-in form compares passcodes in constant time (:mod:`.auth`), but nothing
there stops a client from trying thousands of passcodes. :class:`AttemptLimiter`
does: each client (an IP address, or one shared key when the app cannot tell
clients apart) gets ``free`` failed attempts; after that every further attempt
waits, the wait doubling with each failure up to ``max_delay``. A success, or
``window`` seconds without a failure, forgets the client's count. A waiting
client's attempts are refused *without* checking the passcode, so the wait
cannot be sidestepped by trying quickly.

Thread-safe (one limiter serves every session of an app process) and bounded in
memory (at most ``max_clients`` clients are remembered; the stalest go first).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Attempt", "AttemptLimiter"]

T = TypeVar("T")


@dataclass(frozen=True)
class Attempt(Generic[T]):
    """What :meth:`AttemptLimiter.attempt` made of one try.

    Attributes
    ----------
    result : object or None
        What the check returned; None when it failed or was not run.
    checked : bool
        False when the client still had to wait, so the check was not even run.
    wait : float
        Seconds the client must wait before its next try is checked (0.0: at once).
    """

    result: T | None
    checked: bool
    wait: float

    @property
    def ok(self) -> bool:
        return self.result is not None


@dataclass
class _Record:
    failures: int
    last: float  # clock time of the latest failure
    blocked_until: float


class AttemptLimiter:
    """Failed-attempt counter with exponential waits, per client.

    Parameters
    ----------
    free : int, default=5
        Failed attempts a client may make before it has to wait.
    base_delay : float, default=2.0
        Seconds of the first wait; each further failure doubles it.
    max_delay : float, default=300.0
        The longest wait.
    window : float, default=900.0
        Seconds after a client's latest failure at which its count is forgotten.
    max_clients : int, default=10_000
        Clients remembered at most (memory bound); the stalest are dropped.
    clock : callable, default=time.monotonic
        Returns the current time in seconds (tests pass a fake clock).

    Examples
    --------
    >>> limiter = AttemptLimiter(free=2, base_delay=1.0)
    >>> limiter.failed("10.0.0.1"), limiter.failed("10.0.0.1")
    (0.0, 0.0)
    >>> limiter.failed("10.0.0.1")  # the third failure: wait 1 s
    1.0
    >>> limiter.retry_after("10.0.0.1") > 0
    True
    """

    def __init__(
        self,
        free: int = 5,
        base_delay: float = 2.0,
        max_delay: float = 300.0,
        window: float = 900.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if free < 0 or base_delay <= 0 or max_delay < base_delay or window <= 0 or max_clients < 1:
            raise ValueError(
                "AttemptLimiter needs free >= 0, 0 < base_delay <= max_delay, window > 0 and max_clients >= 1."
            )
        self.free = int(free)
        self.base_delay = float(base_delay)
        self.max_delay = float(max_delay)
        self.window = float(window)
        self.max_clients = int(max_clients)
        self._clock = clock
        self._lock = threading.Lock()
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def _current(self, client: str, now: float) -> _Record | None:
        record = self._records.get(client)
        if record is not None and now - record.last >= self.window and now >= record.blocked_until:
            del self._records[client]
            return None
        return record

    def retry_after(self, client: str) -> float:
        """Seconds ``client`` must wait before its next attempt is checked (0.0: it may try now)."""
        with self._lock:
            now = self._clock()
            record = self._current(client, now)
            return 0.0 if record is None else max(0.0, record.blocked_until - now)

    def failed(self, client: str) -> float:
        """Record a failed attempt; returns the wait it imposes (0.0 while within ``free``)."""
        with self._lock:
            now = self._clock()
            record = self._current(client, now)
            if record is None:
                record = _Record(0, now, now)
                self._records[client] = record
                while len(self._records) > self.max_clients:
                    self._records.popitem(last=False)
            record.failures += 1
            record.last = now
            self._records.move_to_end(client)
            excess = record.failures - self.free
            if excess <= 0:
                return 0.0
            delay = min(self.max_delay, self.base_delay * 2.0 ** min(excess - 1, 64))
            record.blocked_until = now + delay
            return delay

    def attempt(self, client: str, check: Callable[[], T | None]) -> Attempt[T]:
        """One try by ``client``: run ``check`` unless the client must wait, and count the outcome.

        Parameters
        ----------
        client : str
            Who is trying (e.g. ``"ip:10.0.0.1"``).
        check : callable
            Compares the credential; returns what it unlocks, or None when it is wrong.

        Returns
        -------
        Attempt
            ``checked=False`` (and no result) while the client waits: the check is
            not run, so trying faster does not help. Otherwise the check's result;
            a None result counts as a failure (and may impose a wait), anything
            else as a success (which forgets the client's failures).
        """
        wait = self.retry_after(client)
        if wait > 0:
            return Attempt(None, False, wait)
        result = check()
        if result is None:
            return Attempt(None, True, self.failed(client))
        self.succeeded(client)
        return Attempt(result, True, 0.0)

    def succeeded(self, client: str) -> None:
        """A correct passcode: forget the client's failures."""
        with self._lock:
            self._records.pop(client, None)

    @staticmethod
    def describe(seconds: float) -> str:
        """``"12 s"`` / ``"3 min"``: a wait as the sign-in form says it."""
        seconds = math.ceil(seconds)
        return f"{seconds} s" if seconds < 120 else f"{math.ceil(seconds / 60)} min"
