"""``python -m superintendent_core.orchestrate``: retrain a shared SQL project once or on a schedule."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sql_helpers import POSTGRES_URL, drop_schemas, fresh_schema, postgres_available, require

from superintendent_core.orchestrate import (
    EXIT_CANNOT_TRAIN,
    EXIT_ERROR,
    EXIT_OK,
    OrchestrateError,
    main,
    orchestrate,
    single_orchestrator,
)
from superintendent_core.store import ItemBatch, ProjectSettings
from superintendent_core.store.sql import SQLStore

ROOT = Path(__file__).resolve().parents[2]
N_ITEMS = 300


def _digits_project(url: str, *, schema: str | None = None, n_labels: int = 60) -> list[str]:
    """A digits project with ``n_labels`` labels (true labels) by two labellers; returns the classes."""
    X, y = load_digits(return_X_y=True)
    X, y = X[:N_ITEMS].astype(np.uint8), y[:N_ITEMS].astype(str)
    classes = [str(c) for c in range(10)]
    with SQLStore(
        url,
        schema=schema,
        settings=ProjectSettings(
            classes=tuple(classes), model="logistic_regression", strategy="margin"
        ),
    ) as store:
        store.add_items(
            ItemBatch(
                names=tuple(f"d{i}" for i in range(N_ITEMS)),
                kind="image",
                features=X,
                image_shape=(8, 8),
                pixel_max=16,
                true_labels=list(y),
            )
        )
        for i in range(n_labels):
            store.submit(i, y[i], "ann" if i % 2 else "bob")
    return classes


def _served_order(store: SQLStore, k: int = 20) -> list[int]:
    """The first k items the store would serve (leased to distinct throw-away labellers)."""
    return [store.next_item(f"probe{j}") for j in range(k)]


def test_once_writes_history_and_changes_the_order(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    _digits_project(url)
    with SQLStore(url, create=False) as store:
        before = store.revision().order
        assert len(store.history()) == 0
    assert main(["--database-url", url, "--random-state", "0"]) == EXIT_OK
    assert "retrained on 60 labels" in capsys.readouterr().out
    with SQLStore(url, create=False) as store:
        history = store.history()
        assert len(history) == 1
        row = history.iloc[0]
        assert (
            row["n_labels"] == 60
            and 0.5 < row["score"] <= 1.0
            and row["model"] == "logistic_regression"
        )
        assert row["by"] == "orchestrate"  # the Model page tells these from the app's retrains
        assert store.revision().order == before + 1
        served = _served_order(store)
        assert served != list(
            range(60, 80)
        )  # no longer id order: the model's least-sure items first
        assert all(i >= 60 for i in served)  # never a labelled item


def test_too_few_labels_exit_3_and_write_nothing(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    _digits_project(url, n_labels=0)
    assert main(["--database-url", url]) == EXIT_CANNOT_TRAIN
    assert "not retrained" in capsys.readouterr().out
    with SQLStore(url, create=False) as store:
        assert len(store.history()) == 0 and store.revision().order == 0


@pytest.mark.parametrize(
    "argv, fragment",
    [
        ([], "--database-url"),
        (["--database-url", "sqlite:///{tmp}/absent.db"], "no labelling project"),
        (["--database-url", "postgresql://u:pw-secret@127.0.0.1:1/x"], "cannot be reached"),
        (["--database-url", "mysql://u@h/d"], "postgresql"),
        (["--database-url", "sqlite:///{tmp}/p.db", "--every-labels", "0"], "every-labels"),
        (["--database-url", "sqlite:///{tmp}/p.db", "--every-seconds", "-5"], "every-seconds"),
    ],
)
def test_bad_arguments_exit_1_readably(tmp_path, capsys, monkeypatch, argv, fragment):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    _digits_project(f"sqlite:///{tmp_path / 'p.db'}", n_labels=0)
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert fragment in err and "pw-secret" not in err and "Traceback" not in err


def test_database_url_from_environment(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    _digits_project(url)
    monkeypatch.setenv("DATABASE_URL", url)
    assert main([]) == EXIT_OK


class FakeTime:
    """A clock and a sleep that labels items while 'sleeping' (the labellers at work)."""

    def __init__(self, store: SQLStore, per_sleep: int, y: np.ndarray) -> None:
        self.now = 0.0
        self.store, self.per_sleep, self.y = store, per_sleep, y
        self.sleeps = 0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds
        for _ in range(self.per_sleep):
            i = self.store.next_item("labeller")
            if i is None:
                return
            self.store.submit(i, self.y[i], "labeller")


def test_every_labels_retrains_as_labels_arrive(tmp_path):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    _digits_project(url)
    y = load_digits().target[:N_ITEMS].astype(str)
    with SQLStore(url, create=False) as store:
        fake = FakeTime(store, per_sleep=4, y=y)
        lines: list[str] = []
        reports = orchestrate(
            store,
            every_labels=10,
            max_runs=3,
            random_state=0,
            clock=fake.clock,
            sleep=fake.sleep,
            log=lines.append,
            poll_seconds=1.0,
        )
        assert [r.ok for r in reports] == [True, True, True]
        assert [r.n_labels for r in reports] == [60, 72, 84]  # 4 labels per poll: due after 3 polls
        assert store.history()["n_labels"].tolist() == [60, 72, 84]
        assert len(lines) == 3


def test_every_seconds_retrains_only_when_labels_changed(tmp_path):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    _digits_project(url)
    y = load_digits().target[:N_ITEMS].astype(str)
    with SQLStore(url, create=False) as store:
        idle = FakeTime(store, per_sleep=0, y=y)
        stop_after = 10
        reports = orchestrate(
            store,
            every_seconds=5,
            clock=idle.clock,
            sleep=idle.sleep,
            poll_seconds=1.0,
            log=lambda _: None,
            should_stop=lambda: idle.sleeps >= stop_after,
        )
        assert len(reports) == 1  # the start only: nothing changed for 10 s
        busy = FakeTime(store, per_sleep=1, y=y)
        reports = orchestrate(
            store,
            every_seconds=5,
            clock=busy.clock,
            sleep=busy.sleep,
            poll_seconds=1.0,
            log=lambda _: None,
            max_runs=3,
        )
        assert len(reports) == 3 and busy.sleeps == 10  # every 5 s
        assert [r.n_labels for r in reports] == [60, 65, 70]


def test_bad_intervals_are_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    _digits_project(url)
    with SQLStore(url, create=False) as store:
        for kw in (
            {"every_labels": 0},
            {"every_labels": -3},
            {"every_seconds": 0},
            {"every_seconds": -1.0},
        ):
            with pytest.raises(OrchestrateError):
                orchestrate(store, **kw)
        assert len(store.history()) == 0  # refused before any retrain


def test_only_one_orchestrator_per_sqlite_project(tmp_path):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    _digits_project(url, n_labels=0)
    with SQLStore(url, create=False) as a, SQLStore(url, create=False) as b:
        with single_orchestrator(a):
            with pytest.raises(OrchestrateError, match="already"):
                with single_orchestrator(b):
                    pass
        with single_orchestrator(b):  # released
            pass


@pytest.mark.postgres
def test_once_as_a_command_on_postgres():
    require(postgres_available(), "PostgreSQL")
    schema = fresh_schema()
    try:
        _digits_project(POSTGRES_URL, schema=schema)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "superintendent_core.orchestrate",
                "--database-url",
                POSTGRES_URL,
                "--schema",
                schema,
                "--random-state",
                "0",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == EXIT_OK, done.stderr
        assert "retrained on 60 labels" in done.stdout
        with SQLStore(POSTGRES_URL, schema=schema, create=False) as store:
            assert store.history()["n_labels"].tolist() == [60]
            assert store.revision().order == 1
            assert all(i >= 60 for i in _served_order(store))
            with single_orchestrator(store):
                with SQLStore(POSTGRES_URL, schema=schema, create=False) as other:
                    with pytest.raises(OrchestrateError, match="already"):
                        with single_orchestrator(other):
                            pass
    finally:
        drop_schemas([schema])
