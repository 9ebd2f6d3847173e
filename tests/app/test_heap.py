"""ui/heap.py: the long-lived heap is frozen so Streamlit's collection after each rerun stays cheap."""

from __future__ import annotations

import gc
import threading
import time

import pytest

from ui import heap


@pytest.fixture
def enabled(monkeypatch):
    monkeypatch.setattr(heap, "ENABLED", True)
    monkeypatch.setattr(heap, "_last_check", float("-inf"))
    yield
    gc.unfreeze()


def test_freezes_a_grown_heap_and_then_waits(enabled, monkeypatch):
    gc.unfreeze()
    # long-lived objects the collector tracks (lists: a dict holding only ints is untracked)
    keep = [[i] for i in range(heap.MIN_NEW_OBJECTS + 1000)]
    gc.collect()
    assert heap.settle(now=1000.0)
    assert gc.get_freeze_count() >= len(keep)
    assert len(gc.get_objects(generation=2)) < 1000
    # within CHECK_EVERY_S nothing is looked at, even if the heap grew again
    more = [[i] for i in range(heap.MIN_NEW_OBJECTS + 1000)]
    gc.collect()
    assert not heap.settle(now=1000.0 + heap.CHECK_EVERY_S / 2)
    assert heap.settle(now=1000.0 + heap.CHECK_EVERY_S)
    del keep, more


def test_small_growth_is_left_to_the_collector(enabled):
    gc.collect()
    gc.freeze()
    few = [[i] for i in range(100)]
    gc.collect()
    frozen = gc.get_freeze_count()
    assert not heap.settle(now=5000.0)
    assert gc.get_freeze_count() == frozen
    del few


def test_garbage_is_collected_not_frozen(enabled):
    gc.unfreeze()

    class Node:
        pass

    keep = [[i] for i in range(heap.MIN_NEW_OBJECTS + 1000)]
    gc.collect()
    cycle = Node()
    cycle.self = cycle  # unreachable once deleted: only the collector frees it
    ident = id(cycle)
    del cycle
    assert heap.settle(now=9000.0)
    assert all(id(o) != ident for o in gc.get_objects())
    del keep


def test_off_means_off(monkeypatch):
    monkeypatch.setattr(heap, "ENABLED", False)
    monkeypatch.setattr(heap, "_last_check", float("-inf"))
    before = gc.get_freeze_count()
    assert not heap.settle(now=1.0)
    assert gc.get_freeze_count() == before


def test_start_runs_one_watcher_thread(enabled, monkeypatch):

    monkeypatch.setattr(heap, "_thread", None)
    monkeypatch.setattr(heap, "CHECK_EVERY_S", 0.05)
    calls = []
    monkeypatch.setattr(heap, "settle", lambda: calls.append(1))
    heap.start()
    heap.start()
    watchers = [t for t in threading.enumerate() if t.name == "superintendent-heap"]
    assert len(watchers) == 1 and watchers[0].daemon
    deadline = time.monotonic() + 5
    while not calls and time.monotonic() < deadline:
        time.sleep(0.01)
    assert calls, "the watcher never called settle()"


def test_the_first_run_is_frozen_once_without_a_collection(enabled, monkeypatch):
    gc.unfreeze()
    monkeypatch.setattr(heap, "_first_run_frozen", False)
    collections = []
    monkeypatch.setattr(gc, "collect", lambda *a: collections.append(a) or 0)
    keep = [[i] for i in range(1000)]
    assert heap.freeze_first_run()
    assert gc.get_freeze_count() >= len(keep)
    assert collections == []  # the point: no walk over the whole heap
    assert not heap.freeze_first_run()  # once per process
    del keep


def test_the_first_run_freeze_is_off_when_the_heap_module_is(monkeypatch):
    monkeypatch.setattr(heap, "ENABLED", False)
    monkeypatch.setattr(heap, "_first_run_frozen", False)
    before = gc.get_freeze_count()
    assert not heap.freeze_first_run()
    assert gc.get_freeze_count() == before
