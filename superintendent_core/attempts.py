"""Slowing down passcode guessing: a per-client limit on failed sign-in attempts.

The sign-in form compares passcodes in constant time (:mod:`.auth`), but nothing
there stops a client from trying thousands of passcodes. :class:`AttemptLimiter`
does: each client gets ``free`` failed attempts; after that every further
attempt waits, the wait doubling with each failure up to ``max_delay``. A
success, or ``window`` seconds without a failure, forgets the client's count. A
waiting client's attempts are refused *without* checking the passcode, so the
wait cannot be sidestepped by trying quickly. One client's failures never delay
another client: a wrong *shared* passcode slows only whoever typed it.

Who "a client" is comes from :func:`client_key`: the address of the connection
the server sees, or the address a *trusted* proxy forwarded (``[auth]
trusted_proxies``); a forwarded header from anyone else is ignored, so it cannot
choose (or share) someone else's key. When the address cannot be known, each
session is its own client (``session:<id>``) and all such sessions also share
one pooled count with a much higher ceiling and short waits (``pool_free``,
``pool_max_delay``): it slows mass guessing through reconnections without ever
locking anyone out for long.

Thread-safe (one limiter serves every session of an app process) and bounded in
memory (at most ``max_clients`` clients are remembered; the stalest go first).
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = [
    "POOL_KEY",
    "SERVER_TRUSTS",
    "SESSION_PREFIX",
    "Attempt",
    "AttemptLimiter",
    "client_key",
    "parse_networks",
]

T = TypeVar("T")

#: Key prefix of a client whose address is unknown: one key per session (see :func:`client_key`).
SESSION_PREFIX = "session:"
#: The count every ``session:`` client also adds to (the ceiling of :class:`AttemptLimiter`'s pool).
POOL_KEY = "pool:unknown-address"
#: Whose ``X-Forwarded-For`` Streamlit's server (uvicorn) itself applies by default
#: (``$FORWARDED_ALLOW_IPS``, default loopback): it then reports the forwarded address as the peer.
SERVER_TRUSTS: tuple[str, ...] = ("127.0.0.1", "::1")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: Where proxies usually sit (RFC 1918, carrier-grade NAT, link-local, unique local).
_PROXY_RANGES = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16",
              "fc00::/7", "fe80::/10")
)


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
    pool_free : int or None, default=100
        Failed attempts that all clients of unknown address (keys starting with
        :data:`SESSION_PREFIX`) may make together before each of their attempts
        waits as well; None: no pool.
    pool_max_delay : float, default=10.0
        The pool's longest wait (it only slows; it never locks anyone out for long).
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
        pool_free: int | None = 100,
        pool_max_delay: float = 10.0,
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
        self._pool: AttemptLimiter | None = None
        if pool_free is not None:
            self._pool = AttemptLimiter(
                free=pool_free, base_delay=min(1.0, pool_max_delay), max_delay=pool_max_delay,
                window=window, max_clients=1, pool_free=None, clock=clock,
            )

    def _pooled(self, client: str) -> bool:
        return self._pool is not None and client.startswith(SESSION_PREFIX)

    def _current(self, client: str, now: float) -> _Record | None:
        record = self._records.get(client)
        if record is not None and now - record.last >= self.window and now >= record.blocked_until:
            del self._records[client]
            return None
        return record

    def retry_after(self, client: str) -> float:
        """Seconds ``client`` must wait before its next attempt is checked (0.0: it may try now)."""
        pool = self._pool.retry_after(POOL_KEY) if self._pooled(client) else 0.0
        with self._lock:
            now = self._clock()
            record = self._current(client, now)
            return max(pool, 0.0 if record is None else max(0.0, record.blocked_until - now))

    def failed(self, client: str) -> float:
        """Record a failed attempt; returns the wait it imposes (0.0 while within ``free``)."""
        pool = self._pool.failed(POOL_KEY) if self._pooled(client) else 0.0
        return max(pool, self._failed(client))

    def _failed(self, client: str) -> float:
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


# --------------------------------------------------------------------------- who the client is


def parse_networks(value: object, where: str = "trusted_proxies") -> tuple[Network, ...]:
    """Addresses and CIDR networks (``["127.0.0.1", "10.0.0.0/8"]``) as networks.

    Raises
    ------
    ValueError
        Not a list of strings, or an entry that is neither an IP address nor a network;
        the message names ``where`` and the entry.
    """
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError(f'{where} must be a list of addresses or networks, e.g. ["127.0.0.1", "10.0.0.0/8"].')
    out = []
    for entry in value:
        try:
            out.append(ipaddress.ip_network(str(entry).strip(), strict=False) if isinstance(entry, str) else None)
        except ValueError:
            out.append(None)
        if out[-1] is None:
            raise ValueError(
                f"{where}: {str(entry)[:60]!r} is not an IP address or a network like 10.0.0.0/8; "
                "list only the proxies in front of the app."
            )
    return tuple(out)


def _ip(text: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address from a peer or a forwarded hop (``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``), else None."""
    if not isinstance(text, str) or not text or len(text) > 64:
        return None
    text = text.strip()
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped if mapped is not None else address


def _within(address, networks: Iterable[Network]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def _server_rewrote(peer, hops: Sequence[str], server_trusts: Sequence[str]) -> bool:
    """Whether the server may have replaced the peer by a forwarded hop (as uvicorn does).

    uvicorn takes the right-most hop its ``server_trusts`` does not cover (all
    covered: the left-most; ``"*"``: the left-most). If that hop is the peer we
    were given, the real connection may have come from one of ``server_trusts``.
    """
    if not server_trusts:
        return False
    if "*" in server_trusts:
        pick = hops[0]
    else:
        trusted = []
        for entry in server_trusts:
            try:
                trusted.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                continue
        pick = next((h for h in reversed(hops) if not ((a := _ip(h)) and _within(a, trusted))), hops[0])
    return _ip(pick) == peer


def _covers(trusted_proxies: Sequence[Network], server_trusts: Sequence[str]) -> bool:
    """Whether every address the server trusts is one of our trusted proxies."""
    if "*" in server_trusts:
        return False
    for entry in server_trusts:
        try:
            net = ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            return False
        if not any(net.version == t.version and net.subnet_of(t) for t in trusted_proxies):
            return False
    return True


def _forwarded_client(hops: Sequence[str], trusted_proxies: Sequence[Network]) -> str | None:
    """The right-most forwarded address that is not a trusted proxy (None: a hop is not an address)."""
    for hop in reversed(hops):
        address = _ip(hop)
        if address is None:
            return None
        if not _within(address, trusted_proxies):
            return f"ip:{address}"
    first = _ip(hops[0]) if hops else None
    return None if first is None else f"ip:{first}"


def client_key(
    peer: str | None,
    forwarded_for: Iterable[str] = (),
    *,
    session_id: str | None,
    trusted_proxies: Sequence[Network] = (),
    server_trusts: Sequence[str] = SERVER_TRUSTS,
) -> str:
    """Who is trying to sign in, as a key of :class:`AttemptLimiter`.

    Parameters
    ----------
    peer : str or None
        The address of the connection, as the server reports it.
    forwarded_for : iterable of str
        The ``X-Forwarded-For`` header values of the request (each may list several hops).
    session_id : str or None
        The session, for clients whose address cannot be known.
    trusted_proxies : sequence of networks
        The proxies in front of the app (:func:`parse_networks` of ``[auth] trusted_proxies``).
        A forwarded address counts only when the connection comes from one of them.
    server_trusts : sequence of str
        Whose ``X-Forwarded-For`` the server itself applies before the app sees the
        peer (Streamlit's uvicorn: ``$FORWARDED_ALLOW_IPS``, default loopback).

    Returns
    -------
    str
        ``"ip:<address>"`` for a known client; ``"session:<id>"`` when the address
        cannot be known: no peer; a loopback peer (a local proxy that did not
        forward, or a forwarded hop that no trusted proxy vouches for); a private
        peer sending ``X-Forwarded-For`` that is not a trusted proxy (an unnamed proxy:
        keying on it would put every client behind it into one count).
    """
    hops = [h.strip() for value in forwarded_for if isinstance(value, str)
            for h in value.split(",") if h.strip()]
    unknown = f"{SESSION_PREFIX}{session_id or 'none'}"
    address = _ip(peer)
    if address is None:
        return unknown
    if hops and _server_rewrote(address, hops, server_trusts):
        # The server replaced the peer by a forwarded hop: the connection came from one of
        # server_trusts. That hop counts only if we trust those proxies ourselves.
        if not _covers(trusted_proxies, server_trusts):
            return unknown
        return _forwarded_client(hops, trusted_proxies) or unknown
    if _within(address, trusted_proxies):
        return (_forwarded_client(hops, trusted_proxies) if hops else None) or unknown
    if address.is_loopback or (hops and _within(address, _PROXY_RANGES)):
        return unknown
    return f"ip:{address}"
