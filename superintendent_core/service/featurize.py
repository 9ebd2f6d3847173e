"""Computing a project's image features in the background, chunk by chunk, resumable.

After an image import the items carry cheap pixel features (labelling starts at
once); the project's chosen extractor (``settings.feature_extractor``, e.g.
``"efficientnet_lite0"``) then computes its features for every item into the
feature set of the same name (:meth:`LabelStore.write_feature_set`):

- the pictures come from the store (``store.item(id).payload``, the display copy);
- a chunk of ``chunk_size`` items at a time, each chunk one durable write, so a
  restart resumes from ``store.missing_feature_ids`` and loses at most one chunk;
- the network runs in a separate process at low priority (``os.nice``), so the
  app's own process (serving clicks) keeps a core's worth of time
  (``mode="thread"`` runs it in a thread of this process instead; measured in
  ``benchmarks/bench_image_features.py``);
- an image that cannot be read gets a named reason (:attr:`FeaturizeStatus.failed`,
  also kept in the project's settings) and a row of zeros in the set, so the set
  completes; the zeros are stated next to the progress;
- when the set holds every item, the project switches to it
  (``update_settings(feature_set=...)``) and ``on_complete`` is called (the app
  retrains: the model trained on the pixel features is stale).

>>> job = FeaturizeJob(store, "efficientnet_lite0", on_complete=scheduler.request)  # doctest: +SKIP
>>> job.start(); job.status().stored                                                # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

from ..store.errors import StoreError
from ..store.protocol import LabelStore, ProjectSettings

__all__ = [
    "FAILED_KEY",
    "FLOAT16_EFFECT",
    "IMPORT_FEATURES_KEY",
    "FeaturizeJob",
    "FeaturizeStatus",
    "apply_feature_choice",
    "extractor_for_batch",
    "failures",
    "feature_storage_note",
    "featurize_payloads",
    "import_extractor",
    "wanted_feature_set",
]

log = logging.getLogger(__name__)

#: ``settings.extra`` key: the extractor that made the features given at import (``"pixels"`` in the app).
IMPORT_FEATURES_KEY = "import_features"
#: ``settings.extra`` key: JSON ``{set name: [[item id, reason], ...]}`` of images no features could be computed for.
FAILED_KEY = "feature_failures"
#: Reasons kept per set in the settings (the count is always exact).
MAX_FAILURES_KEPT = 100


def import_extractor(settings: ProjectSettings) -> str:
    """The extractor that made the project's import features (``""``: unknown / not an extractor).

    An image project without :data:`IMPORT_FEATURES_KEY` (the digits demo, projects made before
    the key existed) was imported with ``"pixels"``.
    """
    return dict(settings.extra).get(IMPORT_FEATURES_KEY, "pixels" if settings.kind == "image" else "")


def wanted_feature_set(settings: ProjectSettings) -> str:
    """The feature set the project should use: ``""`` (its import features) or the extractor's set.

    ``""`` when no extractor is chosen or the chosen one made the import features.
    """
    chosen = settings.feature_extractor
    if not chosen or chosen == import_extractor(settings):
        return ""
    return chosen


#: What storing feature sets as float16 changed where it was measured (``benchmarks/bench_photos.py
#: --float16``; the figures are in the README); shown beside the choice on the Data page.
FLOAT16_EFFECT = (
    "Measured on EfficientNet-Lite0 features of four photo sets: float16 changed test accuracy by 0.00 points on "
    "average (at most 0.6 in 1,200 paired draws), kept the same items in the top 100 of an order (at most 1 "
    "differed) and halves the set on disk; on a hard synthetic set, learning curves moved as much as with another "
    "random seed, with no loss on average."
)


def feature_storage_note(store: LabelStore) -> str:
    """How the project's feature sets are stored now, and what a change of ``settings.feature_dtype`` does."""
    dtypes = store.feature_set_dtypes()
    sets = "; ".join(f"{name}: {dtype}" for name, dtype in sorted(dtypes.items()))
    return ((f"Feature sets now: {sets}. " if sets else "")
            + "The choice applies to feature sets computed or imported from now on; a set keeps the dtype it "
            "was made with, and the model always reads float32.")


def failures(settings: ProjectSettings, name: str) -> list[tuple[int, str]]:
    """``(item id, reason)`` of the images the set ``name`` has zeros for (as recorded in the settings)."""
    try:
        data = json.loads(dict(settings.extra).get(FAILED_KEY, "{}"))
        return [(int(i), str(r)) for i, r in data.get(name, [])]
    except (ValueError, TypeError, AttributeError):
        return []


def _send(stream: IO[bytes], obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("the feature worker ended")
    (n,) = struct.unpack("<Q", head)
    data = stream.read(n)
    if len(data) < n:
        raise EOFError("the feature worker ended mid-message")
    return pickle.loads(data)  # our own child process's output


def worker_main(stdin: IO[bytes], stdout: IO[bytes], niceness: int, extractor: str) -> int:
    """The worker process's loop: a list of pictures in, ``("ok", matrix, failed)`` or ``("error", text)`` out."""
    if niceness:
        try:
            os.nice(niceness)
        except OSError:  # not allowed here: run at the normal priority
            pass
    while True:
        try:
            payloads = _receive(stdin)
        except EOFError:
            return 0
        try:
            matrix, failed = featurize_payloads(extractor, payloads)
            _send(stdout, ("ok", matrix, failed))
        except Exception as exc:  # reported to the parent, which stops the job with this reason
            _send(stdout, ("error", f"{type(exc).__name__}: {exc}"))


class _Worker:
    """``python -m superintendent_core.service._featurize_worker``: one child process, one BLAS thread."""

    #: Characters of the worker's stderr kept in the error when it ends unexpectedly.
    STDERR_TAIL = 1500

    def __init__(self, extractor: str, niceness: int) -> None:
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        # The child must import this package whatever the parent's working directory
        # (``streamlit run /elsewhere/app.py``): its parent directory goes first on PYTHONPATH.
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
        self._stderr = tempfile.TemporaryFile()  # why it ended, for the job's error (not a pipe: it cannot block)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "superintendent_core.service._featurize_worker", str(niceness), extractor],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=env,
        )

    def _stderr_tail(self) -> str:
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - self.STDERR_TAIL))
            return self._stderr.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

    def compute(self, payloads: list[Any]) -> tuple[np.ndarray, list[tuple[int, str]]]:
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            _send(self.process.stdin, payloads)
            reply = _receive(self.process.stdout)
        except (EOFError, OSError) as exc:
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                pass
            tail = self._stderr_tail()
            raise RuntimeError(f"the feature worker ended ({exc})" + (f": {tail}" if tail else "")) from exc
        if reply[0] != "ok":
            raise RuntimeError(reply[1])
        return reply[1], reply[2]

    def close(self) -> None:
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
            self.process.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        finally:
            self._stderr.close()


def featurize_payloads(extractor: str, payloads: Sequence[bytes]) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """Features of encoded pictures; a picture that cannot be read gets a zero row and a reason.

    Returns
    -------
    matrix : float32 ndarray (n, d)
    failed : list of (position, reason)
    """
    from ..features import EfficientNetLite0, get_extractor, open_image

    featurize: Any = EfficientNetLite0() if extractor == "efficientnet_lite0" else get_extractor(extractor)
    rows: list[np.ndarray | None] = []
    failed: list[tuple[int, str]] = []
    for k, raw in enumerate(payloads):
        try:
            if not isinstance(raw, bytes | bytearray):
                raise StoreError("the item has no picture")
            rows.append(np.asarray(featurize(open_image(bytes(raw), index=k)), dtype=np.float32).reshape(-1))
        except Exception as exc:  # every reason is named; the job goes on
            rows.append(None)
            failed.append((k, str(exc) or type(exc).__name__))
    widths = {len(r) for r in rows if r is not None}
    if len(widths) > 1:
        raise ValueError(f"The extractor {extractor!r} returned features of different lengths.")
    width = widths.pop() if widths else _width(extractor)
    out = np.zeros((len(rows), width), dtype=np.float32)
    for k, r in enumerate(rows):
        if r is not None:
            out[k] = r
    return out, failed


def _width(extractor: str) -> int:
    from ..features import EfficientNetLite0

    return EfficientNetLite0.n_features if extractor == "efficientnet_lite0" else 256


@dataclass(frozen=True)
class FeaturizeStatus:
    """Where a feature set's computation stands (numbers read from the store, so they are true).

    Attributes
    ----------
    extractor : str
    stored : int
        Items the set holds features for.
    total : int
        Items in the project.
    running : bool
        A job is working on it now.
    complete : bool
        The set holds every item.
    in_use : bool
        The store returns this set's features now.
    failed : list of (int, str)
        Items whose picture could not be read, with the reason (they hold zeros).
    error : str or None
        Why the job stopped, if it failed.
    images_per_second : float or None
        This job's rate so far (None before its first chunk).
    """

    extractor: str
    stored: int
    total: int
    running: bool
    complete: bool
    in_use: bool
    failed: list[tuple[int, str]] = field(default_factory=list)
    error: str | None = None
    images_per_second: float | None = None

    @property
    def fraction(self) -> float:
        return self.stored / self.total if self.total else 1.0


class FeaturizeJob:
    """Compute ``extractor``'s features for every item of ``store`` not yet in its set (see the module docstring).

    Parameters
    ----------
    store : LabelStore
    extractor : str
        A name of :data:`superintendent_core.features.EXTRACTORS`; also the set's name.
    chunk_size : int, default=32
        Items per durable write.
    mode : {"process", "thread"}, default="process"
        Where the network runs: a niced subprocess, or a thread of this process.
    niceness : int, default=10
        ``os.nice`` increment of the subprocess.
    on_complete : callable, optional
        Called (no arguments) once the project switched to the completed set.
    """

    def __init__(
        self,
        store: LabelStore,
        extractor: str,
        *,
        chunk_size: int = 32,
        mode: str = "process",
        niceness: int = 10,
        on_complete: Callable[[], Any] | None = None,
    ) -> None:
        if mode not in ("process", "thread"):
            raise ValueError(f"mode must be 'process' or 'thread', not {mode!r}.")
        from ..features import EXTRACTORS

        if extractor not in EXTRACTORS:
            raise ValueError(f"Unknown image feature extractor {extractor!r}; choose one of {sorted(EXTRACTORS)}.")
        self.store = store
        self.extractor = extractor
        self.chunk_size = int(chunk_size)
        self.mode = mode
        self.niceness = int(niceness)
        self.on_complete = on_complete
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pool: _Worker | None = None
        self._done_here = 0
        self._seconds = 0.0

    # ------------------------------------------------------------------ control

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> bool:
        """Start (or resume) in a daemon thread; False when it is running already."""
        with self._lock:
            if self.running:
                return False
            self._stop.clear()
            self.error = None
            self._thread = threading.Thread(target=self._main, name=f"superintendent-featurize-{self.extractor}",
                                            daemon=True)
            self._thread.start()
            return True

    def stop(self, timeout: float | None = 30.0) -> None:
        """Ask the job to stop after its current chunk and wait up to ``timeout`` seconds."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        self._close_pool()

    def join(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def status(self) -> FeaturizeStatus:
        """Progress from the store (one cheap read) and this job's state."""
        sets = self.store.feature_sets()
        total = len(self.store)
        stored = sets.get(self.extractor, (0, 0))[1]
        rate = self._done_here / self._seconds if self._done_here and self._seconds > 0 else None
        return FeaturizeStatus(
            extractor=self.extractor, stored=stored, total=total, running=self.running,
            complete=stored >= total, in_use=self.store.features_in_use() == self.extractor,
            failed=failures(self.store.settings, self.extractor), error=self.error, images_per_second=rate,
        )

    # ------------------------------------------------------------------ work

    def _compute(self, payloads: list[Any]) -> tuple[np.ndarray, list[tuple[int, str]]]:
        if self.mode == "thread":
            return featurize_payloads(self.extractor, payloads)
        if self._pool is None:
            self._pool = _Worker(self.extractor, self.niceness)
        return self._pool.compute(payloads)

    def _close_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def _record_failures(self, new: list[tuple[int, str]]) -> None:
        settings = self.store.settings
        extra = dict(settings.extra)
        try:
            data = json.loads(extra.get(FAILED_KEY, "{}"))
        except ValueError:
            data = {}
        kept = data.get(self.extractor, [])
        kept.extend([int(i), r[:300]] for i, r in new)
        data[self.extractor] = kept[:MAX_FAILURES_KEPT]
        extra[FAILED_KEY] = json.dumps(data)
        self.store.update_settings(extra=extra)

    def _main(self) -> None:
        try:
            while not self._stop.is_set():
                missing = self.store.missing_feature_ids(self.extractor)
                if len(missing) == 0:
                    self._finish()
                    return
                ids = missing[: self.chunk_size]
                payloads = [self.store.item(int(i)).payload for i in ids]
                start = time.perf_counter()
                matrix, failed = self._compute(payloads)
                if failed:
                    self._record_failures([(int(ids[k]), reason) for k, reason in failed])
                self.store.write_feature_set(self.extractor, ids, matrix)
                self._seconds += time.perf_counter() - start
                self._done_here += len(ids)
        except Exception as exc:  # the job stops; the status says why; labelling goes on
            log.exception("Computing %s features failed", self.extractor)
            self.error = f"Computing {self.extractor} features stopped: {exc}"
        finally:
            self._close_pool()

    def _finish(self) -> None:
        settings = self.store.settings
        if wanted_feature_set(settings) == self.extractor and settings.feature_set != self.extractor:
            self.store.update_settings(feature_set=self.extractor)
            if self.on_complete is not None:
                self.on_complete()


def apply_feature_choice(store: LabelStore, on_change: Callable[[], Any] | None = None) -> str | None:
    """Bring ``settings.feature_set`` in line with the chosen extractor, as far as the stored sets allow.

    Switches to the import features (``""``) or to a complete set at once
    (calling ``on_change``: retrain); returns the extractor whose set still
    needs computing (start a :class:`FeaturizeJob` for it), or None.
    """
    from ..features import EXTRACTORS

    settings = store.settings
    wanted = wanted_feature_set(settings)
    if wanted and len(store.missing_feature_ids(wanted)):
        # an extractor computes what is missing; vectors someone brought cannot be computed here: until
        # they are completed, the store reads the import features (features_in_use) and the setting stays
        return wanted if wanted in EXTRACTORS else None
    if settings.feature_set != wanted:
        store.update_settings(feature_set=wanted)
        if on_change is not None:
            on_change()
    return None


def extractor_for_batch(batch: Any, sample: int = 16) -> str:
    """The rule's extractor for an image batch (:func:`~superintendent_core.features.choose_image_extractor`
    over its first ``sample`` pictures); ``"pixels"`` when it has none to look at (drawn from features, the
    digits demo); ``""`` for text and table items."""
    if getattr(batch, "kind", None) != "image":
        return ""
    payloads = [p for p in list(batch.payloads or [])[:sample] if isinstance(p, bytes | bytearray)]
    if not payloads:
        return "pixels"
    from ..features import choose_image_extractor

    try:
        return choose_image_extractor(payloads)
    except (StoreError, ValueError):
        return "efficientnet_lite0"  # pictures the rule cannot read are not tiny grey digits
