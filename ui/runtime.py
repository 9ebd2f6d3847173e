"""The app process's long-lived objects: created once, shared by every session, closed at exit.

Open projects (a store holding its folder lock, a retrain scheduler) and the
passcode attempt limiter must outlive any single browser session, and no
browser may be able to drop them. ``st.cache_resource`` is the wrong home:
any client, signed in or not, can send Streamlit's ``BackMsg(clear_cache=True)``
(the "Clear cache" menu item) and empty it for the whole process — the limiter
then forgets every failed passcode and a dropped store keeps its folder lock,
so the project reports "open in another process" until the server restarts.

So they live here, in a module-level :class:`Registry` that Streamlit knows
nothing about (this module never imports streamlit). ``streamlit run``
re-executes the main script and the page scripts on every rerun, but modules
they import (``ui.*``) are imported once and stay in ``sys.modules``, so there
is one registry per process.

Lifetime, explicitly:

* an object is created on first use (:func:`process_wide`), once, even when
  several sessions ask for it at the same moment (a lock per key);
* :meth:`ProcessWideFunction.clear` closes and drops it on purpose (the app
  does so before replacing a project's folder);
* every object still open is closed when the process exits (``atexit``):
  closing a store releases its folder lock.

The registry lives in the app layer (``ui/``), not in the engine: the engine
opens and closes projects explicitly (``with open_project(...)``) and never
assumes a long-lived process; the app is what keeps objects across reruns and
sessions. Tests reset it with :func:`reset_for_tests`, which no client message
reaches.
"""

from __future__ import annotations

import atexit
import functools
import logging
import threading
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

__all__ = ["ProcessWideFunction", "Registry", "close_all", "process_wide", "registry", "reset_for_tests"]

T = TypeVar("T")
log = logging.getLogger(__name__)


class _Slot:
    """One key's object: its own lock, so opening one project never waits for another."""

    __slots__ = ("close", "dropped", "lock", "ready", "value")

    def __init__(self, close: Callable[[Any], None] | None) -> None:
        self.lock = threading.Lock()
        self.close = close
        self.ready = False
        self.dropped = False
        self.value: Any = None


class Registry:
    """Long-lived objects by key: created once on first use, closed explicitly or at exit.

    Thread-safe: concurrent :meth:`get` calls for one key run ``create`` once
    and all receive its object; a :meth:`discard` running meanwhile finishes
    closing before anyone creates the key's object again (so a project's folder
    lock is released before it is taken again).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[Hashable, _Slot] = {}
        self._closed = False

    def get(self, key: Hashable, create: Callable[[], T], close: Callable[[T], None] | None = None) -> T:
        """The object under ``key``, created with ``create()`` the first time.

        A failing ``create`` is not remembered: the next call tries again.

        Raises
        ------
        RuntimeError
            The process is shutting down (:meth:`close_all` ran): nothing new is opened.
        """
        while True:
            with self._lock:
                if self._closed:
                    raise RuntimeError("The app is shutting down: nothing new can be opened.")
                slot = self._slots.get(key)
                if slot is None:
                    slot = self._slots[key] = _Slot(close)
            with slot.lock:
                if slot.dropped:
                    continue  # closed and dropped while we waited: start again with a new slot
                if not slot.ready:
                    try:
                        slot.value = create()
                    except BaseException:
                        self._remove(key, slot)
                        raise
                    slot.ready = True
                return slot.value

    def peek(self, key: Hashable) -> Any | None:
        """The object under ``key`` if it is open, else None (never creates it)."""
        with self._lock:
            slot = self._slots.get(key)
        if slot is None:
            return None
        with slot.lock:
            return slot.value if slot.ready and not slot.dropped else None

    def keys(self) -> list[Hashable]:
        """Keys of the objects created so far (in creation order)."""
        with self._lock:
            return list(self._slots)

    def discard(self, key: Hashable) -> bool:
        """Close (with its ``close``) and drop the object under ``key``; False when there was none."""
        with self._lock:
            slot = self._slots.get(key)
        if slot is None:
            return False
        with slot.lock:
            if slot.dropped:
                return False
            try:
                if slot.ready and slot.close is not None:
                    slot.close(slot.value)
            finally:
                self._remove(key, slot)
        return True

    def _remove(self, key: Hashable, slot: _Slot) -> None:
        """Drop ``slot`` (its lock held by the caller)."""
        slot.dropped = True
        slot.value = None
        with self._lock:
            if self._slots.get(key) is slot:
                del self._slots[key]

    def close_all(self, *, final: bool = True) -> None:
        """Close every object, newest first; ``final``: refuse new ones afterwards (process exit).

        A failing ``close`` is logged and does not stop the others from closing.
        """
        with self._lock:
            if final:
                self._closed = True
            keys = list(self._slots)
        for key in reversed(keys):
            try:
                self.discard(key)
            except Exception:  # noqa: BLE001 — close the rest; the reason goes to the server log
                log.exception("Closing %r at exit failed", key)


_REGISTRY = Registry()


def registry() -> Registry:
    """The process's registry (one per process)."""
    return _REGISTRY


def close_all() -> None:
    """Close every long-lived object of the process (run at exit)."""
    _REGISTRY.close_all(final=True)


atexit.register(close_all)


def reset_for_tests() -> None:
    """Close and drop everything, then accept new objects again. For tests only: no client reaches it."""
    _REGISTRY.close_all(final=False)


class ProcessWideFunction(Generic[T]):
    """A function whose result, per argument tuple, is one object of the process registry.

    The drop-in replacement of ``st.cache_resource`` for objects with a
    lifetime: ``f(*args)`` creates (once) or returns the object; ``f.clear(*args)``
    closes and drops it; ``f.clear()`` closes and drops every object of ``f``.
    """

    def __init__(self, function: Callable[..., T], close: Callable[[T], None] | None) -> None:
        functools.update_wrapper(self, function)
        self._function = function
        self._close = close
        self._name = f"{function.__module__}.{function.__qualname__}"

    def _key(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return (self._name, *args)

    def __call__(self, *args: Hashable) -> T:
        return _REGISTRY.get(self._key(args), lambda: self._function(*args), self._close)

    def peek(self, *args: Hashable) -> T | None:
        """The object for ``args`` if it is open, else None (never creates it)."""
        return _REGISTRY.peek(self._key(args))

    def clear(self, *args: Hashable) -> None:
        """Close and drop the object for ``args``; with no ``args``, every object of this function."""
        if args:
            _REGISTRY.discard(self._key(args))
            return
        for key in _REGISTRY.keys():
            if isinstance(key, tuple) and key and key[0] == self._name:
                _REGISTRY.discard(key)


def process_wide(
    close: Callable[[T], None] | None = None,
) -> Callable[[Callable[..., T]], ProcessWideFunction[T]]:
    """Decorator: keep the function's results in the process registry (see :class:`ProcessWideFunction`).

    Positional, hashable arguments only. ``close`` is called on an object when
    it is dropped (:meth:`ProcessWideFunction.clear`) and at process exit.
    """

    def wrap(function: Callable[..., T]) -> ProcessWideFunction[T]:
        return ProcessWideFunction(function, close)

    return wrap
