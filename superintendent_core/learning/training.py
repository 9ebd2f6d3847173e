"""Retraining a project: from the store's labels to a new serving order.

:func:`retrain_project` is one retrain, start to end: it reads the project's
settings, labels and unlabelled features from a store, runs a
:class:`~superintendent_core.learning.learner.Learner`, writes the new order back with
``store.set_order`` and appends the retrain to the history. The app's Model page,
the background :class:`RetrainScheduler` and the ``orchestrate`` command all call it.

:class:`RetrainScheduler` runs retrains in a background thread, one at a time
per store, every ``N`` new labels (superintendent's
``orchestrate(interval_n_labels=N)``). A label click only calls
:meth:`RetrainScheduler.notify`, which compares two integers and returns at once.

Importing this module does not import scikit-learn: the Learner is imported
when a retrain runs.

The accuracy estimate (issue 12): :func:`run_retrain` passes the store's audit
records to ``Learner.retrain(..., audited=)`` as rows of the training data
(:func:`audited_rows`); it writes the retrain's audit draws with the order
(:func:`order_draws`) and puts ``result.estimate.to_entry()`` in the history.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import foreground
from .._lazy import lazy_module
from ..labels import join_labels
from ..memory import trim
from ..store.audit import AuditDraws
from .models import DEFAULT_MODEL, MODELS, make_model

if TYPE_CHECKING:
    import pandas as pd
else:  # imported on first use (superintendent_core/_lazy.py): not on the first item's path
    pd = lazy_module("pandas")

if TYPE_CHECKING:  # pragma: no cover
    from ..store.protocol import LabelStore
    from ..store.suggestions import Suggestions
    from .learner import RetrainResult

__all__ = [
    "ModelSnapshot",
    "PoolBuffer",
    "RetrainScheduler",
    "audited_rows",
    "cold_start_project",
    "order_draws",
    "read_features",
    "retrain_project",
    "run_retrain",
]

#: ``progress(fraction, message)``: called between the phases of a retrain.
ProgressCallback = Callable[[float, str], None]

#: Items served from one ranking before a retrain, when no automatic interval is set
#: (what feature-aware strategies diversify over).
_DEFAULT_BATCH = 10


def _noop(fraction: float, message: str) -> None:
    return None


#: How much lower than the app's threads a background retrain or cold start runs (Linux ``nice``
#: steps; each step is ~1.25× less CPU when both want it). Moderate on purpose: a thread that
#: can hardly run would keep the GIL waiting for it between its numpy calls.
BACKGROUND_NICENESS = 5


#: What a cold start and the first retrain import (pandas for the store's frames, scikit-learn and
#: SciPy through the learner), imported first in the warm-up thread, giving way to page runs.
WARM_UP_MODULES = ("pandas", "pyarrow.pandas_compat", "superintendent_core.learning.learner", "sklearn.linear_model")


def _lower_priority() -> None:
    """Lower the calling thread's scheduling priority (Linux: per thread) so clicks get the CPU first."""
    try:
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, current + BACKGROUND_NICENESS))
    except (AttributeError, OSError):  # not Linux, or not allowed: run at the same priority
        pass


@dataclass(frozen=True)
class ModelSnapshot:
    """The outcome of one retrain, kept in memory for the app.

    Attributes
    ----------
    version : int
        1 for a scheduler's first retrain, then 2, 3, ...
    result : RetrainResult
        What the Learner returned (score, order, fitted model, timings ...).
    model_name : str
        Registry name of the model.
    labelled_ids : ndarray of int64, shape (n_labelled,)
        Ids the model was trained on, ascending.
    y : ndarray of object, shape (n_labelled,)
        Their training labels (str; multi-label joined by ``"|"``), aligned with ``labelled_ids``.
    opinions : ndarray of object, shape (n_labelled,)
        The model's label for each labelled item: the out-of-fold prediction
        when cross-validation ran (an honest second opinion), else the fitted
        model's prediction.
    pool_ids : ndarray of int64, shape (n_pool,)
        Unlabelled ids at the time of the retrain, ascending.
    pool_labels : ndarray of object, shape (n_pool,)
        The model's suggestion for each of them (str; multi-label joined by ``"|"``).
    pool_probability : ndarray of float, shape (n_pool,)
        The probability of that suggestion.
    seconds : float
        Wall time of the whole retrain: reading the data, fitting, ordering and writing the
        order, the suggestions and the history entry. (The history entry's own ``seconds``
        stops before those writes: it is written by them.)
    finished : float
        ``time.time()`` when it finished.
    stored_version : int
        The store's suggestions version this retrain saved (0: not saved).
    estimate : AccuracyEstimate or None
        The retrain's estimate of the model's accuracy (``result.estimate``);
        None when the Learner made none.
    feature_set : str
        The features it was trained on (``store.features_in_use()``; ``""``: the
        import features). A model whose set differs from the store's now is stale.
    """

    version: int
    result: Any
    model_name: str
    labelled_ids: np.ndarray
    y: np.ndarray
    opinions: np.ndarray
    pool_ids: np.ndarray
    pool_labels: np.ndarray
    pool_probability: np.ndarray
    seconds: float
    finished: float = field(default_factory=time.time)
    stored_version: int = 0
    estimate: Any = None
    feature_set: str = ""

    def suggestion(self, item_id: int) -> tuple[str, float] | None:
        """``(label, probability)`` the model suggests for an item of the pool, or None.

        O(log n): a binary search in :attr:`pool_ids`.
        """
        i = int(np.searchsorted(self.pool_ids, item_id))
        if i < len(self.pool_ids) and self.pool_ids[i] == item_id:
            return str(self.pool_labels[i]), float(self.pool_probability[i])
        return None

    def opinion_of(self, ids: np.ndarray) -> np.ndarray:
        """The model's label for each id (labelled or pool); None where it has none.

        Parameters
        ----------
        ids : array-like of int, shape (n,)

        Returns
        -------
        ndarray of object, shape (n,)
        """
        ids = np.asarray(ids, dtype=np.int64)
        out = np.full(len(ids), None, dtype=object)
        for known, values in ((self.labelled_ids, self.opinions), (self.pool_ids, self.pool_labels)):
            if len(known) == 0:
                continue
            pos = np.clip(np.searchsorted(known, ids), 0, len(known) - 1)
            hit = known[pos] == ids
            out[hit] = values[pos[hit]]
        return out


#: Items read per ``store.features`` call by a retrain or a cold start: the store holds its
#: lock while it gathers them, so a click waits for one chunk at most, not for the pool.
FEATURE_CHUNK = 16_384


class PoolBuffer:
    """Memory for the pool's features, kept from one retrain to the next (one per scheduler).

    A retrain at 1M × 64 copies 256 MB of features into a new array. On a machine that hands
    freed memory back to its host (a virtual machine with free page reporting, as ours are),
    touching fresh memory costs far more than copying into memory the process already holds:
    filling a new 256 MB array took 0.02–0.3 s of CPU and up to 1 s of wall time there, the same
    array reused 0.01–0.02 s. So the scheduler keeps the block between retrains and
    :func:`read_features` fills it again; it is replaced only when the pool outgrows it or its
    width or dtype changes.

    The block stays allocated while the scheduler lives (at 1M × 64: 256 MB, what each retrain
    held anyway while it ran). Not thread-safe: the scheduler's retrain lock serialises its users.
    """

    def __init__(self) -> None:
        self._block: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        """Bytes held (0 before the first use)."""
        return 0 if self._block is None else int(self._block.nbytes)

    def take(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """A C-ordered array of ``shape`` and ``dtype`` over the kept memory (reallocated if too small)."""
        dtype = np.dtype(dtype)
        block = self._block
        if (
            block is None
            or block.dtype != dtype
            or block.shape[1:] != tuple(shape[1:])
            or block.shape[0] < shape[0]
        ):
            self._block = None  # the old block is freed before the new one is made
            block = self._block = np.empty(shape, dtype=dtype)
        return block[: shape[0]]

    def release(self) -> None:
        """Drop the kept memory."""
        self._block = None


def read_features(
    store: LabelStore, ids: np.ndarray, chunk: int | None = None, buffer: PoolBuffer | None = None
) -> Any:
    """``store.features(ids)``, read ``chunk`` ids at a time (the same value, whatever the chunk).

    A background retrain or cold start reads the whole pool; in one call the store's
    lock would be held for the whole gather (1M × 64: 0.3 s, more on a busy machine)
    and every click of every session would wait for it. In chunks a click waits for
    one chunk at most. Arrays are filled in place (no second copy of the pool); frames
    and lists are joined once at the end.

    With ``buffer``, numeric features (an array, or a table's columns of one dtype) are
    filled into its kept memory instead of a new array: the value returned is then a view
    of it, valid until the buffer's next use. ``chunk`` defaults to :data:`FEATURE_CHUNK`
    (read when called). A pool of one chunk or less is returned as the store gives it.
    """
    ids = np.asarray(ids, dtype=np.int64)
    chunk = FEATURE_CHUNK if chunk is None else int(chunk)
    if len(ids) <= chunk:
        return store.features(ids)
    first = store.features(ids[:chunk])

    def new_block(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        return np.empty(shape, dtype=dtype) if buffer is None else buffer.take(shape, dtype)

    # A folder store copies numeric features straight from its mapped files into the block
    # (no frame and no second copy per chunk); other stores, or other features, say no.
    into = getattr(store, "features_into", None)

    def fill(part: np.ndarray, rows: np.ndarray) -> bool:
        return into is not None and bool(into(part, rows))

    if isinstance(first, np.ndarray):
        out = new_block((len(ids), *first.shape[1:]), first.dtype)
        out[:chunk] = first
        del first
        for start in range(chunk, len(ids), chunk):
            part = ids[start : start + chunk]
            if not fill(part, out[start : start + chunk]):
                out[start : start + chunk] = store.features(part)
        return out
    if isinstance(first, pd.DataFrame) and len(first.columns) and len(set(first.dtypes)) == 1 \
            and first.dtypes.iloc[0].kind in "fiub" and isinstance(first.index, pd.RangeIndex):
        # One numeric dtype (a table's feature columns): filled into one C-ordered block, as
        # for arrays; joining many frames cost more than the reads. ``to_numpy()`` of the
        # frame is then that block again, rows contiguous (what the strategies gather from).
        block = new_block((len(ids), len(first.columns)), first.dtypes.iloc[0])
        block[:chunk] = first.to_numpy()
        columns = first.columns
        del first
        for start in range(chunk, len(ids), chunk):
            part = ids[start : start + chunk]
            if not fill(part, block[start : start + chunk]):
                block[start : start + chunk] = store.features(part).to_numpy()
        return pd.DataFrame(block, columns=columns, copy=False)
    parts = [first]
    for start in range(chunk, len(ids), chunk):
        parts.append(store.features(ids[start : start + chunk]))
    if isinstance(first, pd.DataFrame):
        return pd.concat(parts, ignore_index=True)
    if isinstance(first, list):
        return [value for part in parts for value in part]
    import scipy.sparse as sp

    if sp.issparse(first):
        return sp.vstack(parts, format=first.format)
    return store.features(ids)  # a type this does not know how to join: one call


def _strategy_for(settings) -> tuple[Any, list[str]]:
    """The project's strategy; None is the engine's default (:data:`selection.DEFAULT_STRATEGY`)."""
    if settings.strategy is not None:
        return settings.strategy, []
    from ..strategies.neighbourhood import DEFAULT_STRATEGY

    return DEFAULT_STRATEGY, []


def _model_for(settings) -> tuple[str, Any]:
    name = settings.model or DEFAULT_MODEL
    spec = MODELS.get(name)
    if spec is not None and settings.feature_kind == "text" and not spec.text:
        name = "text_logistic_regression"
    return name, make_model(name)


def _learner(store: LabelStore, random_state: Any):
    from .learner import Learner

    settings = store.settings
    model_name, estimator = _model_for(settings)
    strategy, notes = _strategy_for(settings)
    learner = Learner(
        estimator,
        strategy=strategy,
        shuffle_prop=float(settings.shuffle_prop),
        multi_label=bool(settings.multi_label),
        batch_size=max(1, int(settings.retrain_every or _DEFAULT_BATCH)),
        random_state=settings.random_state if random_state is None else random_state,
        audit_share=float(settings.audit_share),
    )
    return learner, model_name, notes


def audited_rows(store: LabelStore, ids: np.ndarray) -> pd.DataFrame | None:
    """The store's audit records as rows of the training data (``Learner.retrain(audited=...)``).

    Parameters
    ----------
    store : LabelStore
    ids : ndarray of int64, shape (n_labelled,)
        The training data's item ids (``store.training_data()[0]``), in its row order.

    Returns
    -------
    DataFrame or None
        Columns ``row`` (index into the training rows), ``probability``,
        ``support``, ``seq``, one row per audited item among ``ids``, by row; None
        when there is none (records of items labelled or undone since
        ``training_data`` was read are left out).
    """
    records = store.audit_records()
    if not len(records) or not len(ids):
        return None
    ids = np.asarray(ids, dtype=np.int64)
    sort = np.argsort(ids, kind="stable")
    item = records["item_id"].to_numpy(dtype=np.int64)
    pos = np.clip(np.searchsorted(ids, item, sorter=sort), 0, len(ids) - 1)
    hit = ids[sort[pos]] == item
    if not hit.any():
        return None
    out = pd.DataFrame({
        "row": sort[pos[hit]].astype(np.int64),
        "probability": records["probability"].to_numpy(dtype=np.float64)[hit],
        "support": records["support"].to_numpy(dtype=np.int64)[hit],
        "seq": records["seq"].to_numpy(dtype=np.int64)[hit],
    })
    return out.sort_values("row", kind="stable").reset_index(drop=True)


def order_draws(pool_ids: np.ndarray, audit: Any) -> AuditDraws | None:
    """A retrain's audit draws (pool positions) as item ids for ``store.set_order``; None when there are none."""
    if audit is None or not len(audit.ids):
        return None
    positions = np.asarray(audit.ids, dtype=np.int64)
    return AuditDraws(pool_ids[positions], np.asarray(audit.probability), np.asarray(audit.support))


def run_retrain(
    store: LabelStore,
    *,
    random_state: Any = None,
    progress: ProgressCallback | None = None,
    version: int = 1,
    source: str = "app",
    buffer: PoolBuffer | None = None,
) -> ModelSnapshot:
    """Retrain a project and keep what the app shows (suggestions, opinions).

    Same steps as :func:`retrain_project`; also predicts a suggestion for every
    unlabelled item so the Label page can highlight it without a model call.

    Parameters
    ----------
    store : LabelStore
    random_state : int, RandomState or None
        Seed; None uses the project's ``random_state`` setting.
    progress : callable (fraction, message), optional
        Told about each phase (for a progress bar).
    version : int, default=1
        Stored in the snapshot.
    source : str, default="app"
        Who retrained, recorded in the history's ``by`` column ("app", "orchestrate").
    buffer : PoolBuffer, optional
        Memory to read the pool's features into, kept between retrains (see
        :class:`PoolBuffer`); None reads them into a new array.

    Returns
    -------
    ModelSnapshot

    Raises
    ------
    TrainingError
        The labels cannot support a fit (no labels, one class ...): the message says what to do.
    StoreError
        The store refused to read or write.
    """
    from .learner import TrainingError

    report = progress or _noop
    start = time.perf_counter()
    report(0.0, "Reading the labels")
    learner, model_name, notes = _learner(store, random_state)
    feature_set = store.features_in_use()
    ids, X, y = store.training_data()
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) == 0:
        raise TrainingError("No labels yet: label a few items of at least 2 classes, then retrain.")
    report(0.1, f"Reading the pool's features ({len(store):,} items)")
    pool_ids = np.asarray(store.unlabelled_ids(), dtype=np.int64)
    X_pool = read_features(store, pool_ids, buffer=buffer)
    if store.features_in_use() != feature_set:
        raise TrainingError("The project's features changed while the retrain read them; retrain again.")
    report(0.3, f"Fitting {model_name} on {len(ids):,} labels and cross-validating")
    audited = audited_rows(store, ids)
    if audited is None:  # no audited labels yet: the estimate then says so instead of being left out
        audited = pd.DataFrame({"row": [], "probability": [], "support": [], "seq": []})
    result = learner.retrain(X, list(y), X_pool, audited=audited)
    del X_pool  # the pool's features are not needed past the order (the store's copy may be mapped)
    result.messages[:0] = notes
    report(0.8, "Saving the new order and the suggestions")
    # The suggestions come with the result, from the predict_proba the order used: the
    # pool is not predicted a second time, and no Python object is made per item.
    suggested = result.suggestions
    pool_labels = suggested.labels()
    pool_probability = suggested.probability
    if result.cv_predictions is not None:
        opinions = np.array([join_labels(v) for v in result.cv_predictions], dtype=object)
    else:
        opinions = np.array([join_labels(s.label) for s in learner.suggest(X)], dtype=object)
    order_ids = pool_ids[np.asarray(result.order, dtype=np.int64)]
    draws = order_draws(pool_ids, result.audit)
    estimate = result.estimate
    entry = {
        "n_labels": int(len(ids)),
        "score": result.score,
        "metric": result.metric,
        "strategy": result.strategy,
        "model": model_name,
        "seconds": float(time.perf_counter() - start),  # up to here: the writes below come after
        "cv_folds": int(result.cv_folds),
        "by": str(source),
        "features": feature_set or "import",
    }
    if estimate is not None:
        entry.update(estimate.to_entry())
    # Every process showing the project (app processes, not only this one) shows these.
    coded = pd.Categorical.from_codes(suggested.codes, categories=list(suggested.names), validate=False)
    # The order and the suggestions are written side by side: each is mostly a file written
    # and fsync'd, then the project file swapped (waiting on the disk, not the CPU; 1M items:
    # 0.1-0.3 s each on our machines). The history entry follows once both are in place.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="superintendent-save") as pool:
        saving = pool.submit(store.save_suggestions, pool_ids, coded, pool_probability, entry)
        try:
            store.set_order(order_ids, audit=draws)
        finally:
            stored_version = saving.result()  # its error, if any, is raised here
    store.record_retrain(entry)
    sort = np.argsort(ids, kind="stable")
    y_text = np.array([join_labels(v) for v in y], dtype=object)
    seconds = time.perf_counter() - start
    report(1.0, "Done")
    return ModelSnapshot(
        version=version,
        result=result,
        model_name=model_name,
        labelled_ids=ids[sort],
        y=y_text[sort],
        opinions=opinions[sort],
        pool_ids=pool_ids,
        pool_labels=pool_labels,
        pool_probability=pool_probability,
        seconds=seconds,
        stored_version=int(stored_version),
        estimate=estimate,
        feature_set=feature_set,
    )


def retrain_project(store: LabelStore, *, random_state: Any = None, source: str = "app") -> RetrainResult:
    """Retrain a project on all its labels and re-rank its unlabelled items.

    Reads the settings (model, strategy, shuffle proportion, multi-label), the
    training data and the unlabelled items' features from ``store``; fits and
    cross-validates the model; calls ``store.set_order`` with the new order of
    the unlabelled ids; saves the model's suggestion for each of them with
    ``store.save_suggestions`` (so every process showing the project shows
    them); appends the retrain to ``store.history()``.

    Parameters
    ----------
    store : LabelStore
    random_state : int, RandomState or None
        Seed; None uses the project's ``random_state`` setting.
    source : str, default="app"
        Recorded in the history's ``by`` column.

    Returns
    -------
    RetrainResult
        ``order`` indexes the unlabelled ids in ascending order.

    Raises
    ------
    TrainingError
        The labels cannot support a fit; the message says what to do.
    """
    return run_retrain(store, random_state=random_state, source=source).result


def cold_start_project(
    store: LabelStore, *, random_state: Any = None, buffer: PoolBuffer | None = None
) -> np.ndarray:
    """Order a project's unlabelled items before any model exists.

    The project's strategy chooses representative items when it has a cold
    start (the default strategy does); otherwise the order is random. The order
    is written with ``store.set_order``. With ``buffer`` the pool's features are
    read into it (:func:`read_features`): the scheduler passes its own, so the
    first retrain finds that memory already in use.

    Returns
    -------
    ndarray of int64
        The ids in their new serving order.
    """
    learner, _, _ = _learner(store, random_state)
    pool_ids = np.asarray(store.unlabelled_ids(), dtype=np.int64)
    if len(pool_ids) == 0:
        return pool_ids
    order = learner.cold_start(read_features(store, pool_ids, buffer=buffer))
    ordered = pool_ids[np.asarray(order, dtype=np.int64)]
    store.set_order(ordered)
    return ordered


class RetrainScheduler:
    """Background retrains for one store: one at a time, every N labels.

    Parameters
    ----------
    store : LabelStore
        The project. Its ``settings.retrain_every`` is read at each
        :meth:`notify`, so changing the setting takes effect at once.
    random_state : int or None
        Passed to every retrain (None: the project's setting).
    runner : callable, optional
        ``runner(store, random_state=..., version=...) -> ModelSnapshot``;
        defaults to :func:`run_retrain` reading the pool into :attr:`pool_buffer`
        (tests pass a fake).
    keep_pool : bool, optional
        Keep the pool's features' memory between retrains (:attr:`pool_buffer`);
        None: :attr:`KEEP_POOL` (True).

    Attributes
    ----------
    snapshot : ModelSnapshot or None
        The latest successful retrain (manual or automatic).
    error : str or None
        Why the latest retrain failed, or None if it succeeded.
    pool_buffer : PoolBuffer or None
        The memory the default runner and the cold start read the pool's features into,
        kept between retrains (at 1M × 64 float32: 256 MB once the cold start or the first
        retrain ran); None with ``keep_pool=False``.

    Notes
    -----
    A click calls :meth:`notify` with the labelled count it already has; it
    takes a lock for a few integer comparisons and, when a retrain is due,
    starts a daemon thread. It never waits for a retrain.
    """

    #: Whether schedulers keep the pool's features' memory between retrains (:class:`PoolBuffer`):
    #: faster retrains on our machines (see there), at the cost of holding that memory (1M × 64:
    #: 256 MB) while the project is open. False: each retrain and cold start allocates its own.
    KEEP_POOL = True

    def __init__(
        self,
        store: LabelStore,
        *,
        random_state: Any = None,
        runner: Callable | None = None,
        keep_pool: bool | None = None,
    ):
        self.store = store
        self.random_state = random_state
        keep = self.KEEP_POOL if keep_pool is None else bool(keep_pool)
        #: The pool's features are read into this memory at every retrain (see :class:`PoolBuffer`);
        #: None when the scheduler does not keep it (``keep_pool=False``).
        self.pool_buffer: PoolBuffer | None = PoolBuffer() if keep else None
        self.runner = runner or functools.partial(run_retrain, buffer=self.pool_buffer)
        self.snapshot: ModelSnapshot | None = None
        self.error: str | None = None
        self._state = threading.Lock()  # guards the attributes below
        self._run = threading.Lock()  # held while a retrain runs
        self._thread: threading.Thread | None = None
        self._trained_at = 0  # labelled count when the latest retrain started
        self._version = 0
        self._warm_thread: threading.Thread | None = None
        self._warm_checked = False  # warm_up has been called once
        self._warm_active = False  # a warm-up holds self._run
        #: Why the cold start failed (None: it succeeded, was not needed, or has not run).
        self.cold_start_error: str | None = None

    # ------------------------------------------------------------------ status

    @property
    def running(self) -> bool:
        """Whether a retrain (background or not) is in progress (a warm-up's cold start does not count)."""
        return self._run.locked() and not self._warm_active

    @property
    def version(self) -> int:
        """How many retrains this scheduler has started."""
        return self._version

    def suggestions(self) -> ModelSnapshot | Suggestions | None:
        """The newest suggestions for the project: this process's snapshot or the store's saved ones.

        The snapshot when it is at least as new as what the store holds (its
        ``stored_version``); else the suggestions another process saved (the
        ``orchestrate`` command, another app process); the store reads them once
        per version. Both have ``suggestion(item_id)``. None when neither exists.

        Costs one version check (``store.suggestions_version()``) when nothing changed.
        """
        snapshot = self.snapshot
        stored = self.store.suggestions_version()
        if snapshot is not None and snapshot.stored_version >= stored:
            return snapshot
        if stored == 0:
            return snapshot
        saved = self.store.suggestions()  # every backend caches them per version
        return saved if saved is not None else snapshot

    def suggestion(self, item_id: int) -> tuple[str, float] | None:
        """``(label, probability)`` of the newest suggestions for one item (see :meth:`suggestions`), or None."""
        current = self.suggestions()
        return None if current is None else current.suggestion(item_id)

    def due(self, labelled: int) -> bool:
        """Whether ``labelled`` labels call for an automatic retrain now."""
        every = self.store.settings.retrain_every
        return bool(every) and labelled - self._trained_at >= int(every)

    # ------------------------------------------------------------------ triggers

    def notify(self, labelled: int) -> bool:
        """Tell the scheduler how many items are labelled; start a retrain if one is due.

        Parameters
        ----------
        labelled : int
            The project's labelled count (``store.progress().labelled``).

        Returns
        -------
        bool
            Whether a background retrain was started.
        """
        if not self.due(labelled):
            return False
        return self._start(labelled)

    def request(self) -> bool:
        """Start a background retrain now (False if one is already running)."""
        return self._start(None)

    def _start(self, labelled: int | None) -> bool:
        with self._state:
            if self._run.locked() or (self._thread is not None and self._thread.is_alive()):
                return False
            if labelled is not None:
                self._trained_at = labelled
            thread = threading.Thread(target=self._background, name="superintendent-retrain", daemon=True)
            self._thread = thread
            thread.start()  # inside the lock: a concurrent caller sees it alive
        return True

    def warm_up(self) -> bool:
        """Prepare an opened project in a background thread: a cold-start order, or its model back.

        The first call per scheduler starts a daemon thread; every later call
        returns False at once, so the app may call it on every rerun.

        * A project that was never ordered (``store.revision().order == 0``: no
          cold start and no retrain has written an order, in this process or any
          other) gets its strategy's cold-start order (:func:`cold_start_project`).
        * A project that was retrained before (its history is not empty) but has no
          model in this process (the app restarted) is retrained, so suggestions and
          the model's opinions come back without anyone pressing *Retrain*.

        The cold start holds the retrain lock while it works: a retrain waits for
        it, and one that came first makes it unnecessary.

        Returns
        -------
        bool
            Whether a thread was started.
        """
        with self._state:
            if self._warm_checked:
                return False
            self._warm_checked = True
            thread = threading.Thread(target=self._warm_up, name="superintendent-warm-up", daemon=True)
            self._warm_thread = thread
            thread.start()
        return True

    def _warm_up(self) -> None:
        _lower_priority()
        with foreground.background():  # its imports wait while a page is drawn (foreground.py)
            # Here, holding no lock, not inside a store call that would hold the store's lock
            # while its first DataFrame imports pandas (0.8 s of imports in all).
            foreground.preload(WARM_UP_MODULES)
            self._warm_up_work()

    def _warm_up_work(self) -> None:
        restore = False
        with self._run:
            self._warm_active = True
            try:
                if self.store.revision().order == 0:
                    cold_start_project(
                        self.store, random_state=self.random_state, buffer=self.pool_buffer
                    )
                else:
                    restore = self.snapshot is None and len(self.store.history()) > 0
                self.cold_start_error = None
            except Exception as exc:  # a thread has no one to raise to; the app may show it
                self.cold_start_error = f"{type(exc).__name__}: {exc}"
            finally:
                self._warm_active = False
                trim()  # what the pass over the pool freed goes back to the system (memory.py)
        if restore:
            try:
                self.run()
            except Exception:  # kept in self.error by run(), shown by the app
                pass

    def _background(self) -> None:
        _lower_priority()
        try:
            with foreground.background():
                self.run()
        except Exception:  # recorded in self.error by run(); a thread has no one to raise to
            pass

    # ------------------------------------------------------------------ running

    def run(self, progress: ProgressCallback | None = None) -> ModelSnapshot:
        """Retrain now, in the calling thread (waits for a running retrain to finish first).

        Returns
        -------
        ModelSnapshot

        Raises
        ------
        Exception
            Whatever the retrain raised (``TrainingError``, ``StoreError`` ...);
            its message is also kept in :attr:`error`.
        """
        with self._run:
            with self._state:
                self._version += 1
                version = self._version
            try:
                kwargs: dict[str, Any] = {"random_state": self.random_state, "version": version}
                if progress is not None:
                    kwargs["progress"] = progress
                snapshot = self.runner(self.store, **kwargs)
            except Exception as exc:
                self.error = str(exc)
                trim()
                raise
            with self._state:
                self.snapshot = snapshot
                self.error = None
                self._trained_at = max(self._trained_at, len(snapshot.labelled_ids))
            trim()  # the pool's copies and the previous snapshot go back to the system
            return snapshot

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the background retrain and the warm-up to finish; True if none runs afterwards."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in (self._warm_thread, self._thread):
            if thread is not None:
                thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
                if thread.is_alive():
                    return False
        return True
