"""Folder store: an order or suggestions file written outside the lock survives a reload meanwhile."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from superintendent_core.store.errors import StoreError
from superintendent_core.store.folder import FolderStore
from superintendent_core.store.folder import history as history_mod
from superintendent_core.store.folder import labels as labels_mod
from superintendent_core.store.protocol import ItemBatch, ProjectSettings

N = 20


def _store(tmp_path) -> FolderStore:
    s = FolderStore(tmp_path / "p", settings=ProjectSettings(classes=("a", "b")))
    s.add_items(ItemBatch(names=tuple(f"i{i}" for i in range(N)), kind="image", image_shape=(2, 2), pixel_max=1.0,
                          features=np.random.default_rng(0).random((N, 4), dtype=np.float32)))
    return s


def _pause_after_write(monkeypatch, module, prefix: str, meanwhile) -> None:
    real = module.write_atomic

    def slow(path, fn):
        real(path, fn)
        if path.name.startswith(prefix):
            meanwhile(path)

    monkeypatch.setattr(module, "write_atomic", slow)


def _failed_bulk_label(s: FolderStore, monkeypatch) -> None:
    """A bulk label that fails (disk full) reloads the store from disk."""
    def failing(*a, **k):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(s, "_compact", failing)
        with pytest.raises(OSError):
            s.bulk_label([1, 2], "a", "alice")


def test_set_order_survives_a_reload_while_its_file_is_written(tmp_path, monkeypatch):
    s = _store(tmp_path)
    _pause_after_write(monkeypatch, labels_mod, "order-", lambda path: _failed_bulk_label(s, monkeypatch))
    order = np.arange(N)[::-1]
    s.set_order(order)
    assert (s.path / s._order_file).exists()
    s.close()
    t = FolderStore(tmp_path / "p", create=False)  # raised FileNotFoundError before the fix
    assert t.next_item("bob") == N - 1
    t.close()


def test_save_suggestions_survives_a_reload_while_its_file_is_written(tmp_path, monkeypatch):
    s = _store(tmp_path)
    _pause_after_write(monkeypatch, history_mod, "suggestions-", lambda path: _failed_bulk_label(s, monkeypatch))
    probs = np.full(N, 0.5)
    s.save_suggestions(np.arange(N), ["a"] * N, probs)
    assert (s.path / s._suggestions_file).exists()
    s.close()
    t = FolderStore(tmp_path / "p", create=False)
    assert t.suggestions() is not None
    t.close()


def test_set_order_whose_file_vanished_raises_and_names_nothing(tmp_path, monkeypatch):
    s = _store(tmp_path)
    s.set_order(np.arange(N))
    before = s._order_file
    _pause_after_write(monkeypatch, labels_mod, "order-", lambda path: os.unlink(path))
    with pytest.raises(StoreError, match="vanished"):
        s.set_order(np.arange(N)[::-1])
    assert s._order_file == before and (s.path / before).exists()
    s.close()
    FolderStore(tmp_path / "p", create=False).close()


def test_reload_during_order_write_in_another_thread(tmp_path, monkeypatch):
    s = _store(tmp_path)
    written, go = threading.Event(), threading.Event()

    def wait(path):
        written.set()
        go.wait(10)

    _pause_after_write(monkeypatch, labels_mod, "order-", wait)
    th = threading.Thread(target=s.set_order, args=(np.arange(N)[::-1],))
    th.start()
    assert written.wait(10)
    _failed_bulk_label(s, monkeypatch)
    go.set()
    th.join(10)
    s.close()
    FolderStore(tmp_path / "p", create=False).close()
