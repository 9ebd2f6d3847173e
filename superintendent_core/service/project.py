"""A labelling project's lifecycle, without the app: open, demo, create, add, warm up, retrain, close.

The app (``ui/project.py``) caches the :class:`Project` objects made here, one per
process and location, and reads where the default project lives from its
environment and secrets; a notebook uses them directly::

    from superintendent_core.service import open_project

    with open_project("my-project") as project:
        item_id = project.store.next_item("me")
        project.label(item_id, "cat", "me")
        snapshot = project.retrain()

Nothing here imports scikit-learn (a retrain imports it when it runs) or SQLAlchemy
(unless the location is a database URL).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..data.demo import load_digits_demo
from ..labels import split_labels
from ..learning.training import RetrainScheduler
from ..store import (
    ItemBatch,
    LabelStore,
    ProjectSettings,
    StoreError,
    is_database_url,
    open_store,
)
from .locations import is_project, normalise_location

if TYPE_CHECKING:  # pragma: no cover
    from ..learning.training import ModelSnapshot, ProgressCallback

__all__ = ["DEMO_NAME", "Project", "add_to_project", "create_project", "demo_settings", "import_demo", "open_project"]

#: Name of the digits demo project (a new default project gets the demo's items).
DEMO_NAME = "Digits demo"


# --------------------------------------------------------------------------- the demo


def demo_settings() -> ProjectSettings:
    """Settings of the digits demo project."""
    return ProjectSettings(
        name=DEMO_NAME, kind="image", classes=tuple(str(i) for i in range(10)), feature_kind="array",
        extra=(("import_features", "pixels"),),  # featurize.IMPORT_FEATURES_KEY: its 8x8 pixels are the features
    )


def import_demo(store: LabelStore) -> None:
    """Add the digits demo to an empty project (without importing scikit-learn)."""
    load_digits_demo(store)


# --------------------------------------------------------------------------- an open project


@dataclass(frozen=True)
class Project:
    """One open project: its store and the scheduler of its background retrains.

    The app shares one ``Project`` per location between every session of its
    process (the store and the scheduler are thread-safe).

    Attributes
    ----------
    path : str
        Where it lives: an absolute folder path or a database URL.
    store : LabelStore
    scheduler : RetrainScheduler
        Background retrains for this store; holds the latest model snapshot.
    """

    path: str
    store: LabelStore
    scheduler: RetrainScheduler

    @property
    def location(self) -> str:
        """Same as :attr:`path` (a folder or a database URL)."""
        return self.path

    def label(self, item_id: int, label: Any, labeller: str, *, seconds: float | None = None) -> bool:
        """Record a label, then start an automatic retrain if one is due.

        Parameters
        ----------
        item_id : int
        label : str, or sequence of str (multi-label)
        labeller : str
        seconds : float, optional
            How long the labeller looked at the item.

        Returns
        -------
        bool
            Whether a background retrain was started.

        Raises
        ------
        StoreError
            The store refused the label (unknown class, item taken ...); nothing is retrained.
        """
        self.store.submit(item_id, label, labeller, seconds=seconds)
        return self.labels_changed()

    def labels_changed(self) -> bool:
        """Tell the scheduler the labels changed; start a background retrain when one is due.

        A no-op (no store read) when the project retrains only on request.

        Returns
        -------
        bool
            Whether a background retrain was started.
        """
        if not self.store.settings.retrain_every:  # no automatic retrain: nothing to count
            return False
        return self.scheduler.notify(self.store.progress().labelled)

    def warm_up(self) -> bool:
        """Prepare the project in a background thread, once (see :meth:`RetrainScheduler.warm_up`).

        A never-ordered project gets its strategy's cold-start order; a project
        retrained before (in any process) gets its model back. Later calls return
        False at once, so the app calls it on every rerun.
        """
        return self.scheduler.warm_up()

    def retrain(self, progress: ProgressCallback | None = None) -> ModelSnapshot:
        """Retrain now, in the calling thread (see :meth:`RetrainScheduler.run`)."""
        return self.scheduler.run(progress=progress)

    def close(self, timeout: float | None = 60.0) -> None:
        """Wait (up to ``timeout`` seconds) for background work, then close the store."""
        self.scheduler.wait(timeout)
        buffer = self.scheduler.pool_buffer
        if buffer is not None and not self.scheduler.running:  # a running retrain keeps it until it ends
            buffer.release()
        self.store.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_project(
    location: str | os.PathLike, *, is_default: bool = False, random_state: Any = None
) -> Project:
    """Open the project at ``location``.

    Parameters
    ----------
    location : str or path
        A project folder or a database URL; folders are made absolute.
    is_default : bool, default=False
        The default project (:func:`default_location`) may be new: it is then
        created as the digits demo, with the demo's items. Any other location
        must already hold a project.
    random_state : int or None
        Seed of every retrain of the scheduler (None: the project's setting).

    Returns
    -------
    Project
        Its scheduler has not started anything: call :meth:`Project.warm_up`.

    Raises
    ------
    StoreError
        The folder is not a project, is locked by another process, or is damaged.
    """
    path = normalise_location(location)
    if not is_default and not is_project(path):
        raise StoreError(
            f"No project at {path}: the folder does not exist or is not a project. "
            "Create it on the Data page, or open another one."
        )
    # Only the default project may be made here; any other location must already hold one
    # (a database URL too: opening never creates tables or a schema for it).
    store = open_store(path, settings=demo_settings() if is_default else None, create=is_default)
    try:
        if is_default and len(store) == 0 and store.settings.name == DEMO_NAME:
            import_demo(store)
    except BaseException:
        store.close()
        raise
    return Project(path, store, RetrainScheduler(store, random_state=random_state))


# --------------------------------------------------------------------------- creating and adding


def _batch_labels(batch: ItemBatch, multi_label: bool) -> ItemBatch:
    """Multi-label projects read ``"a|b"`` cells as several classes."""
    if not multi_label or batch.labels is None:
        return batch
    labels = [None if v is None else split_labels(v) for v in batch.labels]
    return dataclasses.replace(batch, labels=labels)


def _add(store: LabelStore, batch: ItemBatch | Iterable[ItemBatch], multi_label: bool) -> np.ndarray:
    """``add_items`` for one batch; ``add_items_stream`` for chunks (``data.stream``), all or nothing."""
    if isinstance(batch, ItemBatch):
        return store.add_items(_batch_labels(batch, multi_label))
    return store.add_items_stream(_batch_labels(b, multi_label) for b in batch)


def create_project(
    path: str | os.PathLike, settings: ProjectSettings, batch: ItemBatch | Iterable[ItemBatch] | None
) -> str:
    """Create a project folder with ``settings`` and add ``batch`` (all-or-nothing for the items).

    ``batch`` may also be chunks of one import (:func:`~superintendent_core.data.stream.table_chunks`,
    :func:`~superintendent_core.data.stream.vector_chunks`): written as they come, memory bounded
    by a chunk.

    ``path`` may also be a PostgreSQL URL with ``?schema=`` (see
    :func:`database_project_location`): the project is then made in that new schema.

    Refuses a folder that already holds a project, or one with files in it; when
    adding the items fails, nothing half-created is left behind. The project is
    closed afterwards: open it with :func:`open_project`.

    Returns
    -------
    str
        The absolute path.

    Raises
    ------
    StoreError
        The folder already holds a project or files, or the items cannot be added.
    """
    if is_database_url(os.fspath(path)):
        return _create_in_database(os.fspath(path), settings, batch)
    path = os.path.abspath(path)
    if is_project(path):
        raise StoreError(f"{path} already holds a project; open it instead, or choose another folder.")
    existed = os.path.exists(path)
    if existed and any(Path(path).iterdir()):
        raise StoreError(f"{path} is a folder with files in it; choose a new or empty folder for the project.")
    store = open_store(path, settings=settings, create=True)
    try:
        if batch is not None:
            _add(store, batch, settings.multi_label)
    except BaseException:
        store.close()
        # nothing half-created is left behind: the folder is removed (or emptied, if it existed)
        shutil.rmtree(path, ignore_errors=True)
        if existed:
            os.makedirs(path, exist_ok=True)
        raise
    store.close()
    return path


def _schema_exists(url: str) -> bool:
    import sqlalchemy as sa

    from ..store.sql.urls import normalise_url

    parsed, schema = normalise_url(url)
    engine = sa.create_engine(parsed, connect_args={"connect_timeout": 10})
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql(
                "SELECT 1 FROM pg_namespace WHERE nspname = %(s)s", {"s": schema}
            ).first() is not None
    except sa.exc.DBAPIError as exc:
        raise StoreError(f"The database cannot be reached ({type(exc.orig).__name__}); nothing was created.") from None
    finally:
        engine.dispose()


def _create_in_database(url: str, settings: ProjectSettings, batch: ItemBatch | Iterable[ItemBatch] | None) -> str:
    """Create a project in its own (new) PostgreSQL schema; on failure the schema is dropped again."""
    if _schema_exists(url):
        raise StoreError("A project (or schema) of that name is already in the database; choose another name.")
    store = open_store(url, settings=settings, create=True)
    try:
        if batch is not None:
            _add(store, batch, settings.multi_label)
    except BaseException:
        try:
            with store.engine.begin() as conn:  # it did not exist before: nothing else is in it
                conn.exec_driver_sql(f'DROP SCHEMA "{store.schema}" CASCADE')
        finally:
            store.close()
        raise
    store.close()
    return url


def add_to_project(store: LabelStore, batch: ItemBatch | Iterable[ItemBatch]) -> int:
    """Add items (and their labels) to an open project; returns how many were added.

    In a multi-label project a label cell ``"a|b"`` is the classes ``a`` and ``b``.
    """
    return len(_add(store, batch, store.settings.multi_label))
