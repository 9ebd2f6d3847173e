"""Retrain a shared project from its own process: ``python -m superintendent_core.orchestrate``.

superintendent's ``orchestrate`` for the SQL store. Labellers label through the
app (any number of processes); this process retrains from the same database and
writes the new serving order and a history row, which every app process picks up::

    python -m superintendent_core.orchestrate --database-url postgresql://… --every-labels 50
    python -m superintendent_core.orchestrate --database-url postgresql://… --every-seconds 600
    python -m superintendent_core.orchestrate --database-url sqlite:///project.db          # once (cron)
    python -m superintendent_core.orchestrate --database-url postgresql://… --dask-scheduler tcp://host:8786

With ``--dask-scheduler`` (or ``--dask-local N``) the pool is scored on a Dask cluster
(:mod:`superintendent_core.learning.distributed`): workers read their partition's
features from the database and send back one score per item; the order is the one
the single-process retrain gives. A scheduler that does not answer exits 1 before
anything is retrained.

Without an interval it retrains once and exits (for cron). With intervals it
retrains at start, then whenever ``N`` labels were added since the last retrain
or ``S`` seconds have passed (whichever comes first; a time-triggered retrain
is skipped when no label changed). The URL may also come from ``$DATABASE_URL``.

Exit status: 0 retrained (or, in a loop, stopped cleanly), 1 the database or
the arguments cannot be used, 3 the labels cannot support a fit yet (too few
labels, one class …) — the message says what to do.

Only one orchestrator runs per project: a second one refuses to start
(PostgreSQL advisory lock held for the process's lifetime; a lock file beside a
SQLite database).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .store.errors import StoreError

__all__ = [
    "OrchestrateError",
    "RunReport",
    "main",
    "orchestrate",
    "retrain_once",
    "single_orchestrator",
]

EXIT_OK, EXIT_ERROR, EXIT_CANNOT_TRAIN = 0, 1, 3


class OrchestrateError(StoreError):
    """The orchestrator cannot start (another one runs, bad interval …)."""


@dataclass(frozen=True)
class RunReport:
    """One retrain attempt.

    Attributes
    ----------
    ok : bool
        Whether a retrain happened (new order and history row written).
    n_labels : int
        Labelled items when it started.
    score : float or None
        Cross-validated score (None when it did not run or there was too little data to score).
    seconds : float
        Wall time.
    message : str
        One line for the log.
    """

    ok: bool
    n_labels: int
    score: float | None
    seconds: float
    message: str


def retrain_once(store: Any, *, random_state: Any = None, scorer: Any = None) -> RunReport:
    """Retrain ``store`` once with :func:`superintendent_core.learning.training.retrain_project`.

    A :class:`~superintendent_core.learning.learner.TrainingError` (the labels cannot support
    a fit) becomes a report with ``ok=False``; store errors propagate.

    ``scorer``: a :class:`~superintendent_core.learning.distributed.DaskScorer` scores the
    pool on a Dask cluster (same order as without it; unsupported strategies raise
    :class:`~superintendent_core.learning.distributed.DistributedError`, a ``StoreError``,
    before anything is written).
    """
    from .learning.learner import TrainingError
    from .learning.training import retrain_project

    start = time.perf_counter()
    n_labels = store.progress().labelled
    try:
        if scorer is None:
            result = retrain_project(store, random_state=random_state, source="orchestrate")
        else:
            from .learning.distributed import run_retrain_distributed

            result = run_retrain_distributed(
                store, scorer, random_state=random_state, source="orchestrate"
            ).result
    except TrainingError as exc:
        return RunReport(
            False, n_labels, None, time.perf_counter() - start, f"not retrained: {exc}"
        )
    seconds = time.perf_counter() - start
    score = getattr(result, "score", None)
    metric = getattr(result, "metric", "score")
    shown = "n/a" if score is None else f"{score:.3f}"
    return RunReport(
        True,
        n_labels,
        score,
        seconds,
        f"retrained on {n_labels:,} labels in {seconds:.1f} s; {metric} {shown}",
    )


def orchestrate(
    store: Any,
    *,
    every_labels: int | None = None,
    every_seconds: float | None = None,
    random_state: Any = None,
    scorer: Any = None,
    max_runs: int | None = None,
    poll_seconds: float = 2.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = print,
    should_stop: Callable[[], bool] = lambda: False,
) -> list[RunReport]:
    """Retrain once, or keep retraining on a schedule (superintendent's ``orchestrate``).

    Parameters
    ----------
    store : LabelStore
        The shared project.
    every_labels : int, optional
        Retrain after this many labels were added since the last retrain.
    every_seconds : float, optional
        Retrain after this many seconds (only if labels changed since the last retrain).
    random_state : int or None
        Passed to every retrain (None: the project's setting).
    scorer : DaskScorer, optional
        Score the pool on a Dask cluster (see :func:`retrain_once`).
    max_runs : int, optional
        Stop after this many retrain attempts (None: until interrupted).
    poll_seconds : float, default=2
        How often to look at the label count between retrains.
    clock, sleep : callables
        Time source and wait (tests pass fakes).
    log : callable
        Receives one line per retrain attempt.
    should_stop : callable
        Checked between polls; True ends the loop.

    Returns
    -------
    list of RunReport
        Every attempt, in order.

    Raises
    ------
    OrchestrateError
        An interval that is not positive.
    """
    if every_labels is not None and (isinstance(every_labels, bool) or int(every_labels) < 1):
        raise OrchestrateError(
            f"--every-labels must be a whole number of labels, 1 or more; got {every_labels!r}."
        )
    if every_seconds is not None and not float(every_seconds) > 0:
        raise OrchestrateError(
            f"--every-seconds must be a positive number of seconds; got {every_seconds!r}."
        )
    reports: list[RunReport] = []

    def attempt() -> None:
        report = retrain_once(store, random_state=random_state, scorer=scorer)
        reports.append(report)
        log(report.message)

    attempt()
    if every_labels is None and every_seconds is None:
        return reports
    last_time = clock()
    last_events = store.revision().events
    last_labelled = store.progress().labelled
    while (max_runs is None or len(reports) < max_runs) and not should_stop():
        sleep(poll_seconds)
        labelled = store.progress().labelled
        events = store.revision().events
        new_labels = abs(labelled - last_labelled)
        due_labels = every_labels is not None and new_labels >= every_labels
        due_time = (
            every_seconds is not None
            and clock() - last_time >= every_seconds
            and events != last_events
        )
        if due_labels or due_time:
            attempt()
            last_time, last_events, last_labelled = clock(), events, labelled
        elif every_seconds is not None and clock() - last_time >= every_seconds:
            last_time = clock()  # nothing changed: wait another interval
    return reports


@contextmanager
def single_orchestrator(store: Any) -> Iterator[None]:
    """Hold the project's orchestrator lock for the duration (a second holder is refused).

    Raises
    ------
    OrchestrateError
        Another orchestrator holds the lock.
    """
    url = getattr(store, "url", None)
    if url is None:  # a folder store: one process at a time anyway
        yield
        return
    if url.get_backend_name() == "postgresql":
        key = (
            zlib.crc32(f"superintendent-orchestrate:{getattr(store, 'schema', None)}".encode())
            - 2**31
        )
        with store.engine.connect() as conn:
            got = conn.exec_driver_sql("SELECT pg_try_advisory_lock(%(k)s)", {"k": key}).scalar()
            conn.commit()
            if not got:
                raise OrchestrateError(
                    "Another orchestrator is already retraining this project; stop it first "
                    "(only one may run per project)."
                )
            try:
                yield
            finally:
                conn.exec_driver_sql("SELECT pg_advisory_unlock(%(k)s)", {"k": key})
                conn.commit()
        return
    from filelock import FileLock, Timeout

    database = url.database or ""
    if database in ("", ":memory:"):
        yield
        return
    lock = FileLock(database + ".orchestrate.lock", timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise OrchestrateError(
            f"Another orchestrator is already retraining {database}; stop it first."
        ) from None
    try:
        yield
    finally:
        lock.release()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m superintendent_core.orchestrate",
        description="Retrain a shared labelling project (SQL store) once, or on a schedule.",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="postgresql://… or sqlite:///path.db (default: $DATABASE_URL)",
    )
    parser.add_argument(
        "--schema", default=None, help="PostgreSQL schema of the project (default: public)"
    )
    parser.add_argument(
        "--every-labels", type=int, default=None, metavar="N", help="retrain after N new labels"
    )
    parser.add_argument(
        "--every-seconds",
        type=float,
        default=None,
        metavar="S",
        help="retrain every S seconds when labels changed",
    )
    parser.add_argument(
        "--random-state", type=int, default=None, help="seed (default: the project's)"
    )
    parser.add_argument("--max-runs", type=int, default=None, help="stop after this many retrains")
    parser.add_argument(
        "--poll-seconds", type=float, default=2.0, help="how often to check (default 2)"
    )
    dask = parser.add_mutually_exclusive_group()
    dask.add_argument(
        "--dask-scheduler",
        default=None,
        metavar="ADDRESS",
        help="score the pool on this Dask cluster (tcp://host:8786); needs dask[distributed]",
    )
    dask.add_argument(
        "--dask-local",
        type=int,
        default=None,
        metavar="N",
        help="score the pool on a local Dask cluster of N worker processes",
    )
    parser.add_argument(
        "--dask-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds to wait for the Dask scheduler to answer (default 10)",
    )
    parser.add_argument(
        "--dask-partition-rows",
        type=int,
        default=None,
        metavar="ROWS",
        help="pool items per Dask task (default 100000)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (see the module docstring)."""
    args = _parser().parse_args(argv)
    url = args.database_url or os.environ.get("DATABASE_URL")
    if not url:
        print("orchestrate: give --database-url (or set DATABASE_URL).", file=sys.stderr)
        return EXIT_ERROR
    from .store.sql import SQLStore

    try:
        store = SQLStore(url, schema=args.schema, create=False)
    except StoreError as exc:
        print(f"orchestrate: {exc}", file=sys.stderr)
        return EXIT_ERROR
    client = scorer = None
    try:
        if args.dask_scheduler is not None or args.dask_local is not None:
            from .learning.distributed import DaskScorer, connect

            client = connect(
                args.dask_scheduler, local_workers=args.dask_local, timeout=args.dask_timeout
            )
            kwargs = {}
            if args.dask_partition_rows is not None:
                kwargs["partition_rows"] = args.dask_partition_rows
            scorer = DaskScorer(client, **kwargs)
        with single_orchestrator(store):
            reports = orchestrate(
                store,
                every_labels=args.every_labels,
                every_seconds=args.every_seconds,
                random_state=args.random_state,
                scorer=scorer,
                max_runs=args.max_runs,
                poll_seconds=args.poll_seconds,
                log=lambda line: print(f"orchestrate: {line}", flush=True),
            )
    except KeyboardInterrupt:
        return EXIT_OK
    except StoreError as exc:
        print(f"orchestrate: {exc}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        store.close()
        if client is not None:
            from .learning.distributed import close_client

            close_client(client)
    once = args.every_labels is None and args.every_seconds is None
    if once and reports and not reports[-1].ok:
        return EXIT_CANNOT_TRAIN
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
