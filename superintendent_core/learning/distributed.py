"""Scoring the pool on a Dask cluster: the retrain for a pool past one machine.

The model is fitted on the driver, as in :func:`~.training.run_retrain` (the labels
are small). The **pool** is cut into partitions of consecutive pool positions
(ascending item ids); each partition is a task that reads its own items' features
on the worker — from the project's files (folder project), or from the database
(SQLite file, PostgreSQL) by id — computes ``predict_proba`` and sends back only
per-item numbers: the strategy's key, the model's uncertainty and confidence, and
its suggestion (class index and probability). Features never travel through the
driver; the driver holds a few numbers per item (about 30 bytes) and orders them.

The order is the single-process one, exactly: the driver sorts the keys with the
same stable sort (ties by pool position, i.e. by item id), draws the shuffle and
the audit draws from the same random stream in the same sequence, and computes
the same estimate. Supported strategies: :data:`SUPPORTED` (``margin``,
``entropy``, ``certainty``, ``random``) on single-label projects. Others are
refused with a message (:class:`DistributedError`): the project default
``neighbourhood`` reads features of rows sampled across the whole pool, and a
user strategy is an arbitrary function of the whole probability matrix.

Nothing here imports Dask until a :class:`DaskScorer` is used: the app runs without it.

Use::

    from distributed import Client
    from superintendent_core.learning.distributed import DaskScorer
    from superintendent_core.orchestrate import retrain_once

    with Client("tcp://scheduler:8786") as client:
        retrain_once(store, scorer=DaskScorer(client))
"""

from __future__ import annotations

import os
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..labels import join_labels
from ..store.errors import StoreError

if TYPE_CHECKING:  # pragma: no cover
    from ..store.protocol import LabelStore
    from .training import ModelSnapshot

__all__ = [
    "SUPPORTED",
    "DaskScorer",
    "DistributedError",
    "FolderFeatures",
    "PartitionScores",
    "SQLFeatures",
    "connect",
    "feature_source",
    "run_retrain_distributed",
    "score_partition",
]

#: Strategies scored distributed, giving exactly the single-process order.
SUPPORTED = ("margin", "entropy", "certainty", "random", "neighbourhood")

#: Pool rows per task when the scorer is not told otherwise.
DEFAULT_PARTITION_ROWS = 100_000


class DistributedError(StoreError):
    """Distributed scoring cannot run or failed; nothing was written. The message says why."""


# --------------------------------------------------------------------------- where workers read features


@dataclass(frozen=True)
class SQLFeatures:
    """Features read on a worker from the project's database (SQLite file or PostgreSQL), by id.

    Parameters
    ----------
    url : str
        The database URL, password included (the workers connect with it); an
        absolute path for SQLite, so every worker finds the same file.
    schema : str or None
        The PostgreSQL schema of the project.
    """

    url: str
    schema: str | None = None

    def __repr__(self) -> str:  # never print the password
        from ..store import display_location

        return f"SQLFeatures({display_location(self.url)!r}, schema={self.schema!r})"

    def read(self, ids: np.ndarray) -> Any:
        store = _open_sql(self.url, self.schema)
        return store.features(ids)


_SQL_STORES: dict[tuple[str, str | None], Any] = {}


def _open_sql(url: str, schema: str | None) -> Any:
    """One read-only use store per worker process and project (its engine and feature cache reused)."""
    key = (url, schema)
    store = _SQL_STORES.get(key)
    if store is None:
        from ..store.sql import SQLStore

        store = SQLStore(url, schema=schema, create=False, pool_size=1)
        _SQL_STORES[key] = store
    return store


@dataclass(frozen=True)
class FolderFeatures:
    """Features read on a worker from a folder project's items files, by id, without opening the project.

    The folder project is locked by the process that has it open (the app, or
    the driver); its items files are written once and never changed, so a
    worker reads them directly: the manifest (``project.json``) says which file
    holds which ids, and only the row groups holding the partition's ids are
    read, feature columns only. The folder must be reachable at ``path`` on
    every worker (the same machine, or a shared file system).
    """

    path: str

    def read(self, ids: np.ndarray) -> Any:
        from ..store.folder.batches import ItemsFile, take_rows
        from ..store.folder.files import MANIFEST, decode_manifest
        from ..store.items import PoolShape

        folder = Path(self.path)
        try:
            manifest = decode_manifest((folder / MANIFEST).read_bytes())
        except (OSError, ValueError) as exc:
            raise DistributedError(f"A worker cannot read the project file in {folder}: {exc}") from None
        shape = PoolShape.from_dict(manifest["pool"])
        batches = manifest["batches"]
        starts = np.array([int(b["start"]) for b in batches], dtype=np.int64)
        ids = np.asarray(ids, dtype=np.int64)
        which = np.searchsorted(starts, ids, side="right") - 1
        parts: list[Any] = []
        positions: list[np.ndarray] = []
        for k in np.unique(which).tolist():
            pos = np.flatnonzero(which == k)
            # The store's own reader of one items file: a memory-mapped .npy (format 3) or the
            # parquet feature columns (formats 1-2), reading only the rows asked for.
            b = ItemsFile(folder, batches[k])
            rows = ids[pos] - b.start
            if shape.feature_kind == "array":
                parts.append(take_rows(b.features(shape), rows).astype(np.float32, copy=False))
            elif shape.feature_kind == "text":
                parts.append(list(b.column_rows("features", rows)))
            else:
                parts.append(b.table_rows(shape, rows))
            positions.append(pos)
        return _assemble(parts, positions, shape, len(ids))


def _assemble(parts: list[Any], positions: list[np.ndarray], shape: Any, n: int) -> Any:
    if len(parts) == 1:
        return parts[0]
    if shape.feature_kind == "array":
        out = np.empty((n, shape.n_features), dtype=np.float32)
        for part, pos in zip(parts, positions, strict=True):
            out[pos] = part
        return out
    if shape.feature_kind == "text":
        out_list: list[Any] = [None] * n
        for part, pos in zip(parts, positions, strict=True):
            for value, p in zip(part, pos.tolist(), strict=True):
                out_list[p] = value
        return out_list
    df = pd.concat(parts, ignore_index=True)
    order = np.argsort(np.concatenate(positions), kind="stable")
    return df.iloc[order].reset_index(drop=True)


def feature_source(store: LabelStore) -> SQLFeatures | FolderFeatures:
    """Where workers read ``store``'s features: its database URL, or its folder.

    Raises
    ------
    DistributedError
        An in-memory SQLite database (no worker can reach it), or a store of
        another kind.
    """
    url = getattr(store, "url", None)
    if url is not None:
        if url.get_backend_name() == "sqlite":
            database = url.database or ""
            if database in ("", ":memory:"):
                raise DistributedError(
                    "An in-memory SQLite project cannot be scored on a cluster: no worker can reach it. "
                    "Use a SQLite file or PostgreSQL."
                )
            url = url.set(database=os.path.abspath(database))
        return SQLFeatures(url.render_as_string(hide_password=False), getattr(store, "schema", None))
    path = getattr(store, "path", None)
    if path is not None and (Path(path) / "project.json").exists():
        return FolderFeatures(str(Path(path).resolve()))
    raise DistributedError(
        f"Cannot tell where workers would read the features of a {type(store).__name__}: distributed scoring "
        "reads a folder project's files or a database (SQLite file, PostgreSQL)."
    )


# --------------------------------------------------------------------------- one partition, on a worker


@dataclass(frozen=True)
class PartitionScores:
    """What a worker sends back for one partition (one value per item, in pool order).

    Attributes
    ----------
    key : ndarray of shape (n,) or None
        The strategy's key (smaller: ask first); None for ``random``.
    unsure : ndarray of float64, shape (n,)
        1 − margin (:func:`~.estimate.pool_uncertainty`), for the audit draws.
    confidence : ndarray of float64, shape (n,)
        The top probability (:func:`~.estimate.pool_confidence`), for the estimate.
    best : ndarray of int32, shape (n,)
        Column of the most probable class (the suggestion).
    best_probability : ndarray of float64, shape (n,)
        Its probability.
    top2 : ndarray of shape (n,) or None
        The second-largest probability, in the probabilities' dtype (with
        ``confidence`` it rebuilds the margin key for ``neighbourhood``); None for
        other strategies.
    seconds : float
        Worker time: reading the features, predicting, scoring.
    """

    key: np.ndarray | None
    unsure: np.ndarray
    confidence: np.ndarray
    best: np.ndarray
    best_probability: np.ndarray
    top2: np.ndarray | None
    seconds: float


def score_partition(source: Any, ids: np.ndarray, model: Any, strategy: str, n_threads: int | None = 1) -> PartitionScores:
    """Read a partition's features, predict, and compute the per-item numbers (runs on a worker).

    Parameters
    ----------
    source : SQLFeatures or FolderFeatures
        Anything with ``read(ids) -> features``.
    ids : ndarray of int64
        The partition's item ids, ascending.
    model : fitted estimator
    strategy : str
        One of :data:`SUPPORTED`.
    n_threads : int or None
        BLAS/OpenMP threads while predicting (the Learner's setting).
    """
    from ..strategies import uncertainty
    from .estimate import pool_uncertainty, top_two
    from .learner import _controller

    start = time.perf_counter()
    X = source.read(np.asarray(ids, dtype=np.int64))
    with _controller().limit(limits=n_threads) if n_threads else nullcontext():
        p = np.asarray(model.predict_proba(X))
    if strategy == "random":
        uncertainty.check_probabilities(p)
        key = None
    else:  # validated, as in the single-process path; neighbourhood's own key is margin's
        key = uncertainty._key(p, "margin" if strategy == "neighbourhood" else strategy)
    unsure = pool_uncertainty(p)
    confidence, second = top_two(p)
    best = p.argmax(axis=1).astype(np.int32)
    best_probability = p[np.arange(len(best)), best].astype(np.float64)
    top2 = second.astype(p.dtype) if strategy == "neighbourhood" else None
    return PartitionScores(key, unsure, confidence, best, best_probability, top2, time.perf_counter() - start)


def read_rows(source: Any, ids: np.ndarray) -> Any:
    """Features of a few items (runs on a worker): the rows a feature-aware strategy samples."""
    return source.read(np.asarray(ids, dtype=np.int64))


# --------------------------------------------------------------------------- the scorer


def connect(address: str | None = None, *, local_workers: int | None = None, timeout: float = 10.0):
    """A Dask client for a scheduler address, or for a new LocalCluster of ``local_workers`` processes.

    Raises
    ------
    DistributedError
        Dask is not installed, the scheduler does not answer within ``timeout``
        seconds, or the arguments are not usable.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise DistributedError(
            "Scoring with Dask needs dask.distributed: pip install 'superintendent-core[distributed]' "
            "(or pip install 'dask[distributed]')."
        ) from None
    if (address is None) == (local_workers is None):
        raise DistributedError("Give either a scheduler address (tcp://host:8786) or a number of local workers.")
    if local_workers is not None:
        if isinstance(local_workers, bool) or int(local_workers) < 1:
            raise DistributedError(f"--dask-local must be 1 or more workers; got {local_workers!r}.")
        cluster = LocalCluster(n_workers=int(local_workers), threads_per_worker=1, processes=True,
                               dashboard_address=":0")
        client = Client(cluster)
        client._superintendent_cluster = cluster  # closed with the client by close_client
        return client
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(str(address), strict=True)
        parse_host_port(location)
        if scheme not in ("tcp", "tls", "ws", "wss", "ucx"):
            raise ValueError(f"{scheme}:// is not a scheduler protocol (the dashboard is http://, the scheduler tcp://)")
    except (ValueError, TypeError) as exc:
        raise DistributedError(
            f"{address!r} is not a Dask scheduler address ({exc}); give it as tcp://host:8786."
        ) from None
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise DistributedError(
            f"The Dask scheduler at {address} does not answer ({type(exc).__name__}: {exc}); start it "
            "(dask scheduler), check the address and port, or run without --dask-scheduler. Nothing was retrained."
        ) from None


def close_client(client: Any) -> None:
    """Close a client from :func:`connect` (and the LocalCluster it started)."""
    cluster = getattr(client, "_superintendent_cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


def _same(value: Any) -> Any:
    return value


class DaskScorer:
    """Scores a project's pool on a Dask cluster (``run_retrain(..., scorer=)``'s engine).

    Parameters
    ----------
    client : distributed.Client
        Connected to the cluster. The scorer does not close it.
    partition_rows : int, default=100_000
        Pool items per task (the last partition takes a remainder of one row:
        a one-row predict may round differently from the same row among others).
    source : SQLFeatures or FolderFeatures, optional
        Where workers read features; default :func:`feature_source` of the store.
    """

    def __init__(self, client: Any, *, partition_rows: int = DEFAULT_PARTITION_ROWS, source: Any = None) -> None:
        self.client = client
        self.partition_rows = partition_rows
        self.source = source

    def partitions(self, n: int) -> list[tuple[int, int]]:
        """``(start, stop)`` pool positions of each task; none of one row unless the pool is one row."""
        rows = self.partition_rows
        if isinstance(rows, bool) or not isinstance(rows, int | np.integer) or rows < 2:
            raise DistributedError(f"partition_rows must be a whole number of 2 or more; got {rows!r}.")
        bounds = list(range(0, n, int(rows))) + [n]
        if len(bounds) > 2 and bounds[-1] - bounds[-2] == 1:
            del bounds[-2]
        return list(zip(bounds[:-1], bounds[1:], strict=True)) if n else []

    def score(self, store: LabelStore, pool_ids: np.ndarray, model: Any, strategy: str,
              n_threads: int | None = 1) -> tuple[list[PartitionScores], dict[str, float]]:
        """Score every partition of ``pool_ids`` on the cluster; the results in pool order.

        Raises
        ------
        DistributedError
            A task failed (its error is named) or workers died more often than the
            scheduler allows (``distributed.scheduler.allowed-failures``).
        """
        source = self.source if self.source is not None else feature_source(store)
        spans = self.partitions(len(pool_ids))
        if not spans:
            return [], {"workers": 0.0}
        t = time.perf_counter()
        # The model as a task, not scattered data: if every worker holding it dies, the
        # scheduler recomputes it from the task (scattered data would be lost for good).
        model_future = self.client.submit(_same, model, pure=False)
        futures = [
            self.client.submit(score_partition, source, pool_ids[a:b], model_future, strategy, n_threads,
                               pure=False)
            for a, b in spans
        ]
        try:
            results = self.client.gather(futures)
        except Exception as exc:
            from distributed import KilledWorker

            for f in futures:
                f.cancel()
            if isinstance(exc, KilledWorker):
                raise DistributedError(
                    f"Workers died while scoring the pool, more often than the scheduler retries ({exc}); "
                    "nothing was written. Check the workers' memory (a partition's features must fit) and logs."
                ) from exc
            if isinstance(exc, DistributedError):
                raise
            raise DistributedError(
                f"Scoring a partition failed on a worker: {type(exc).__name__}: {exc}; nothing was written."
            ) from exc
        finally:
            model_future.release()
        worker_seconds = float(sum(r.seconds for r in results))
        return results, {"distributed": time.perf_counter() - t, "worker_seconds": worker_seconds,
                         "partitions": float(len(spans))}


    def gather_rows(self, store: LabelStore, pool_ids: np.ndarray, positions: np.ndarray) -> list[Any]:
        """Features of the pool rows at ``positions`` (ascending), read on the workers, one task per partition.

        Returns the partitions' feature blocks in order (concatenate them).
        """
        source = self.source if self.source is not None else feature_source(store)
        spans = self.partitions(len(pool_ids))
        futures = []
        for a, b in spans:
            inside = positions[(positions >= a) & (positions < b)]
            if inside.size:
                futures.append(self.client.submit(read_rows, source, pool_ids[inside], pure=False))
        try:
            return self.client.gather(futures)
        except Exception as exc:
            for f in futures:
                f.cancel()
            raise DistributedError(
                f"Reading the sampled rows' features failed on a worker: {type(exc).__name__}: {exc}; "
                "nothing was written."
            ) from exc


# --------------------------------------------------------------------------- the retrain


def _check_supported(learner: Any) -> str:
    """The registered name of the learner's strategy, if it can be scored distributed."""
    from ..strategies import registry, uncertainty

    if learner.multi_label:
        raise DistributedError(
            "Distributed scoring supports single-label projects; this project is multi-label. "
            "Retrain without Dask."
        )
    strategy = learner.strategy
    if strategy is None:
        from ..strategies.neighbourhood import DEFAULT_STRATEGY

        strategy = DEFAULT_STRATEGY
    name = strategy if isinstance(strategy, str) else None
    builtin = {"margin": uncertainty.margin, "entropy": uncertainty.entropy,
               "certainty": uncertainty.certainty, "random": uncertainty.random}
    # A registered name counts only while it still names the built-in function.
    if name in builtin and registry.STRATEGIES.get(name) is builtin[name]:
        return name
    from ..strategies.neighbourhood import NeighbourhoodMargin

    resolved = registry.STRATEGIES.get(name) if name is not None else strategy
    if type(resolved) is NeighbourhoodMargin:
        return "neighbourhood"
    shown = name if name is not None else getattr(strategy, "__name__", repr(strategy))
    raise DistributedError(
        f"Strategy {shown!r} cannot be scored distributed: a user strategy may read the whole "
        f"probability matrix and the pool's features. Distributed scoring supports {', '.join(SUPPORTED)}: "
        "choose one in the project's settings (Model page), or retrain without Dask."
    )


def _margin_stand_in(parts: list[PartitionScores], n_classes: int) -> np.ndarray:
    """Probabilities with the pool's two largest values per row and ``n_classes`` columns.

    Their margin key is the pool's, bit for bit (largest minus second largest, in the
    model's dtype), their rows sum to 1 and their width is the model's: all that
    :class:`~superintendent_core.strategies.neighbourhood.NeighbourhoodMargin` reads of
    the probabilities.
    """
    top1 = np.concatenate([p.confidence.astype(p.top2.dtype) for p in parts])
    top2 = np.concatenate([p.top2 for p in parts])
    out = np.empty((len(top1), max(n_classes, 2)), dtype=top2.dtype)
    out[:, 0], out[:, 1] = top1, top2
    if out.shape[1] > 2:
        rest = np.clip(1.0 - top1.astype(np.float64) - top2, 0.0, None) / (out.shape[1] - 2)
        out[:, 2:] = np.minimum(rest.astype(top2.dtype), top2)[:, None]  # never above the second largest
    return out


def _neighbourhood_order(scorer: DaskScorer, store: Any, pool_ids: np.ndarray, parts: list[PartitionScores],
                         strategy: Any, learner: Any, model: Any, X: Any,
                         rng: np.random.RandomState) -> tuple[np.ndarray, float]:
    """The ``neighbourhood`` order with only the rows it samples read (on the workers), and how many.

    The strategy reads the pool's features at two samples drawn from the random
    stream: the coverage sample (while there are few labels per class) and the
    smallest margins plus ``n_reference`` random rows. Those draws are replayed on a
    copy of the stream to know the rows; the workers read them; the strategy then
    runs on the driver, on the real stream, with the pool's features as a sparse
    memory-mapped file of the pool's shape holding those rows (nothing else is read:
    the rest of the file is never written, and takes neither memory nor disk).

    The replay mirrors :class:`~superintendent_core.strategies.neighbourhood.NeighbourhoodMargin`'s
    draws (exactly that class: a subclass may draw otherwise and is refused); a change
    there that reads other rows makes ``tests/core/test_distributed.py`` fail, which
    compares this order with the single-process one in each of its regimes.
    """
    import copy
    import shutil
    import tempfile

    from ..strategies.coverage import coverage_continuation
    from ..strategies.uncertainty import _order_from_key

    probabilities = _margin_stand_in(parts, len(model.classes_))
    n = probabilities.shape[0]
    labelled = learner._representation(model, X)
    if labelled is None or n < 2:  # no numeric representation: the strategy orders by plain margin
        return strategy.order(_context(probabilities, None, None, learner, rng)), 0.0
    key = np.concatenate([p.key for p in parts])
    batch_size = int(learner.batch_size)
    replay = copy.deepcopy(rng)
    wanted = []
    if strategy._too_few_labels(probabilities, len(labelled)):
        n_sample = coverage_continuation.__kwdefaults__["n_sample"]
        wanted.append(np.sort(replay.choice(n, n_sample, replace=False)) if n > n_sample else np.arange(n))
    m = min(n, max(strategy.n_candidates, 10 * batch_size))
    head = _order_from_key(key) if n <= m + strategy.n_reference else _order_from_key(key, m)
    wanted.append(strategy._sample(head, n, replay))
    rows = np.unique(np.concatenate(wanted))
    blocks = scorer.gather_rows(store, pool_ids, rows)
    if isinstance(blocks[0], pd.DataFrame):
        raw = pd.concat(blocks, ignore_index=True)
    else:
        raw = np.concatenate(blocks)
    values = learner._representation(model, raw)  # as the labelled rows', which had one
    folder = tempfile.mkdtemp(prefix="superintendent-rows-")
    try:
        features = np.lib.format.open_memmap(os.path.join(folder, "pool.npy"), mode="w+", dtype=values.dtype,
                                             shape=(n, values.shape[1]))
        features[rows] = values
        order = strategy.order(_context(probabilities, features, labelled, learner, rng))
        del features
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return order, float(rows.size)


def _context(probabilities: Any, features: Any, labelled: Any, learner: Any, rng: Any) -> Any:
    from ..strategies.base import PoolContext

    return PoolContext(probabilities, features, labelled, int(learner.batch_size), rng)


def run_retrain_distributed(
    store: LabelStore,
    scorer: DaskScorer,
    *,
    random_state: Any = None,
    source: str = "orchestrate",
    version: int = 1,
) -> ModelSnapshot:
    """:func:`~.training.run_retrain` with the pool scored on a Dask cluster: the same order, suggestions and estimate.

    Steps, in the single-process sequence: read the labels and fit (driver);
    score the pool by partitions (workers); order by the strategy's key with the
    same stable sort; shuffle ``shuffle_prop`` of the positions and draw the audit
    slots from the same random stream; cross-validate; estimate. Only when all of
    that succeeded are the order, the suggestions and the history row written.

    Raises
    ------
    DistributedError
        The strategy or project is not supported distributed, or scoring failed
        (nothing is written then).
    TrainingError
        The labels cannot support a fit.
    """
    from sklearn.utils import check_random_state

    from ..strategies.base import check_order, shuffle_positions
    from ..strategies.uncertainty import _order_from_key
    from .learner import RetrainResult, TrainingError, _n_rows
    from .training import ModelSnapshot, _learner, audited_rows, order_draws

    start = time.perf_counter()
    learner, model_name, notes = _learner(store, random_state)
    strategy_name = _check_supported(learner)
    in_use = store.features_in_use()
    if in_use:
        # Workers read the features given at import (items files or the features table), not feature sets.
        raise DistributedError(
            f"Distributed scoring reads the features given at import; this project's model uses the feature set "
            f"{in_use!r}. Retrain without Dask, or switch the project back to its import features."
        )
    ids, X, y = store.training_data()
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) == 0:
        raise TrainingError("No labels yet: label a few items of at least 2 classes, then retrain.")
    pool_ids = np.asarray(store.unlabelled_ids(), dtype=np.int64)
    audited = audited_rows(store, ids)
    if audited is None:
        audited = pd.DataFrame({"row": [], "probability": [], "support": [], "seq": []})

    # Learner.retrain's sequence, with the pool's numbers from the workers.
    learner._check_params()
    estimator = learner._estimator()
    strategy, _ = learner._strategy()
    n = _n_rows(X)
    rng = check_random_state(learner.random_state)
    messages: list[str] = []
    timings = {"fit": 0.0, "scoring": 0.0, "predict": 0.0, "ordering": 0.0}
    y_fit, classes, counts = learner._check_labels(list(y))
    with learner._limits():
        t = time.perf_counter()
        model = learner._fit(estimator, X, y_fit)
        timings["fit"] = time.perf_counter() - t
    t = time.perf_counter()
    parts, extra = scorer.score(store, pool_ids, model, strategy_name, learner.n_threads)
    timings["predict"] = time.perf_counter() - t
    timings.update(extra)
    m = len(pool_ids)

    def column(name: str, dtype: Any) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts]) if parts else np.empty(0, dtype=dtype)

    unsure, confidence = column("unsure", np.float64), column("confidence", np.float64)
    best, best_probability = column("best", np.int32), column("best_probability", np.float64)
    with learner._limits():
        t = time.perf_counter()
        if m == 0:
            order = np.empty(0, dtype=np.intp)
        else:
            if strategy_name == "random":
                raw = rng.permutation(m)
            elif strategy_name == "neighbourhood":
                raw, timings["rows_read"] = _neighbourhood_order(
                    scorer, store, pool_ids, parts, strategy, learner, model, X, rng)
            else:
                raw = _order_from_key(column("key", np.float64))
            order = shuffle_positions(check_order(raw, m, f"strategy {strategy_name!r}"), learner.shuffle_prop, rng)
        side_seed = rng.randint(np.iinfo(np.int32).max)
        if isinstance(learner.random_state, int | np.integer):
            side_seed = np.random.SeedSequence([side_seed, n, m]).generate_state(1)[0]
        side = np.random.RandomState(side_seed)
        fold_seed = side.randint(np.iinfo(np.int32).max)
        order, audit = learner._weave(order, None, strategy, n, side, unsure=unsure)
        timings["ordering"] = time.perf_counter() - t

        folds = learner._folds(y_fit, counts, messages, fold_seed)
        score, cv_predictions, cv_probabilities, n_folds = None, None, None, 0
        if folds is not None:
            t = time.perf_counter()
            score, cv_predictions, cv_probabilities = learner._cross_validate(estimator, X, y_fit, folds, classes)
            timings["scoring"] = time.perf_counter() - t
            n_folds = folds.get_n_splits()
    learner.model_ = model
    learner.classes_ = tuple(str(c) for c in model.classes_)
    t = time.perf_counter()
    estimate = learner._estimate(audited, y_fit, cv_probabilities, None, n, n_folds, on_pool=confidence)
    timings["estimate"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - start
    result = RetrainResult(
        order=order, score=score, metric="accuracy", cv_folds=n_folds, label_counts=counts, model=model,
        classes=learner.classes_, n_labels=n, cv_predictions=cv_predictions, timings=timings,
        messages=messages, strategy=strategy_name, estimate=estimate, audit=audit,
        cv_probabilities=cv_probabilities,
    )
    result.messages[:0] = notes

    labels = np.asarray(learner.classes_, dtype=object)
    pool_labels = labels[best] if m else np.empty(0, dtype=object)
    pool_probability = best_probability.astype(float)
    if cv_predictions is not None:
        opinions = np.array([join_labels(v) for v in cv_predictions], dtype=object)
    else:
        opinions = np.array([join_labels(s.label) for s in learner.suggest(X)], dtype=object)
    # Everything is computed: only now is anything written.
    store.set_order(pool_ids[np.asarray(order, dtype=np.int64)], audit=order_draws(pool_ids, audit))
    seconds = time.perf_counter() - start
    entry = {
        "n_labels": int(n), "score": score, "metric": "accuracy", "strategy": strategy_name,
        "model": model_name, "seconds": float(seconds), "cv_folds": int(n_folds), "by": str(source),
    }
    if estimate is not None:
        entry.update(estimate.to_entry())
    stored_version = store.save_suggestions(pool_ids, pool_labels.tolist(), pool_probability, entry)
    store.record_retrain(entry)
    sort = np.argsort(ids, kind="stable")
    y_text = np.array([join_labels(v) for v in y], dtype=object)
    return ModelSnapshot(
        version=version, result=result, model_name=model_name, labelled_ids=ids[sort], y=y_text[sort],
        opinions=opinions[sort], pool_ids=pool_ids, pool_labels=pool_labels, pool_probability=pool_probability,
        seconds=seconds, stored_version=int(stored_version), estimate=estimate,
    )
