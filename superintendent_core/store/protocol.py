"""The project store's interface: what the app and the engine may ask of any backend.

A *store* holds one labelling project: the pool of items (stable int64 ids
``0 .. n-1`` in insertion order, a ``name`` each), the label events, the order
in which items are served, the settings and the retrain history. Two backends
implement :class:`LabelStore`: a project folder of parquet files
(:mod:`superintendent_core.store.folder`) and a SQL database, SQLite or PostgreSQL
(:mod:`superintendent_core.store.sql`). One contract test suite
(``tests/core/store/store_contract.py``) runs against every backend.

Conventions
-----------
- A **label** is a ``str`` (one of the project's classes). In a multi-label
  project an item's label is a set of classes: methods accept a sequence of
  class names, :meth:`LabelStore.training_data` returns ``tuple[str, ...]`` in
  class order and :meth:`LabelStore.labels` returns them joined by ``"|"`` in
  class order (so class names may not contain ``"|"``). The empty tuple / empty
  string means "none of the classes".
- A labeller holds at most one active label per item: submitting again, or
  :meth:`~LabelStore.relabel`, replaces it. Labels by different labellers on one
  item are kept side by side. The label an item is *trained on* is the most
  recent label still in force, whoever made it.
- ``next_item`` **leases** an item to a labeller; while the lease is valid no one
  else is served it. Calling ``next_item`` again before submitting returns the
  same item (a Streamlit rerun does not burn items). Leases live in memory only
  and expire after ``ProjectSettings.lease_seconds`` (default 600 s).
- Every method is thread-safe; every write that returns has been fsync'd.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np

from .._lazy import lazy_module
from .audit import AuditDraws
from .suggestions import Suggestions

if TYPE_CHECKING:
    import pandas as pd
else:  # imported on first use (superintendent_core/_lazy.py): not on the first item's path
    pd = lazy_module("pandas")

__all__ = [
    "DATA_KINDS",
    "FEATURE_KINDS",
    "Item",
    "ItemBatch",
    "LabelStore",
    "Label",
    "Progress",
    "ProjectSettings",
    "Revision",
    "Suggestions",
]

DataKind = Literal["image", "text", "table"]
FeatureKind = Literal["array", "text", "table"]
DATA_KINDS: tuple[str, ...] = ("image", "text", "table")
FEATURE_KINDS: tuple[str, ...] = ("array", "text", "table")

#: What ``submit`` accepts: one class name, or several in a multi-label project.
Label = str | Sequence[str]


@dataclass(frozen=True)
class ProjectSettings:
    """A project's settings (stored with the project; change them with ``update_settings``).

    Attributes
    ----------
    name : str
        Human-readable project name.
    kind : {"image", "text", "table"}
        What the items are; decides how an :class:`Item` is displayed.
    classes : tuple of str
        The allowed labels, in display order. May be empty until defined.
    multi_label : bool
        Whether an item may carry several classes at once.
    model : str
        Name of the model in the engine's registry (``"logistic_regression"``).
    strategy : str or None
        Acquisition strategy name; None means the engine's default.
    shuffle_prop : float
        Proportion of the order shuffled after each retrain (0..1).
    retrain_every : int or None
        Retrain automatically every this many new labels; None = only on request.
    feature_kind : {"array", "text", "table"}
        What :meth:`LabelStore.features` returns: float32 ``ndarray (n, d)``,
        ``list[str]`` or ``DataFrame``.
    lease_seconds : float
        How long a served item stays reserved for its labeller (superintendent's
        ``pop(timeout=600)``).
    overlap : int
        How many different labellers should label each item before it stops
        being served (1 = each item once).
    random_state : int or None
        Seed the engine uses for this project.
    extra : tuple of (str, str) pairs
        Free-form settings other parts of the app keep with the project
        (e.g. ``("model_params", "<json>")``); read it with ``dict(settings.extra)``.
    audit_share : float
        Share of served positions drawn at random for the accuracy estimate
        (0 to 0.5; 0 turns the estimate off). Projects saved before it existed
        read the default.
    feature_set : str
        The feature set (:meth:`LabelStore.write_feature_set`) the model uses;
        ``""`` (the default) means the features given when the items were
        imported. While the named set does not hold every item (items added
        since), :meth:`LabelStore.features` returns the import features
        (:meth:`LabelStore.features_in_use` says which).
    feature_extractor : str
        Which image feature extractor the project uses
        (:data:`superintendent_core.features.EXTRACTORS`; ``""``: none chosen,
        the import's features). Its features are computed into the feature set
        of the same name in the background (:mod:`superintendent_core.service.featurize`).
    feature_dtype : {"float32", "float16"}
        How feature sets created from now on store their rows (the background
        extractor's, a feature file's): float16 halves their disk and memory,
        refuses values beyond ±65504 and keeps about 3 significant digits; the
        model always reads float32. A set keeps the dtype it was created with.
    """

    name: str = "project"
    kind: DataKind = "image"
    classes: tuple[str, ...] = ()
    multi_label: bool = False
    model: str = "logistic_regression"
    strategy: str | None = None
    shuffle_prop: float = 0.0
    retrain_every: int | None = None
    feature_kind: FeatureKind = "array"
    lease_seconds: float = 600.0
    overlap: int = 1
    random_state: int | None = 0
    extra: tuple[tuple[str, str], ...] = ()
    audit_share: float = 0.2  # = learning.estimate.DEFAULT_AUDIT_SHARE (a test keeps them equal)
    feature_set: str = ""
    feature_extractor: str = ""
    feature_dtype: str = "float32"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "classes": list(self.classes),
            "multi_label": self.multi_label,
            "model": self.model,
            "strategy": self.strategy,
            "shuffle_prop": self.shuffle_prop,
            "retrain_every": self.retrain_every,
            "feature_kind": self.feature_kind,
            "lease_seconds": self.lease_seconds,
            "overlap": self.overlap,
            "random_state": self.random_state,
            "extra": [list(kv) for kv in self.extra],
            "audit_share": self.audit_share,
            "feature_set": self.feature_set,
            "feature_extractor": self.feature_extractor,
            "feature_dtype": self.feature_dtype,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProjectSettings:
        """Inverse of :meth:`to_dict`; unknown keys are ignored (forward compatible)."""
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in data.items() if k in known}
        if "classes" in kwargs:
            kwargs["classes"] = tuple(kwargs["classes"])
        if "extra" in kwargs:
            kwargs["extra"] = tuple(tuple(kv) for kv in kwargs["extra"])
        share = kwargs.get("audit_share", cls.audit_share)  # absent in projects of earlier versions
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 0.5:
            kwargs.pop("audit_share", None)  # not a share it could have saved: the default
        else:
            kwargs["audit_share"] = float(share)
        # a dtype this version does not know: new sets get the default
        if kwargs.get("feature_dtype", "float32") not in ("float32", "float16"):
            kwargs.pop("feature_dtype")
        return cls(**kwargs)


@dataclass(frozen=True)
class Item:
    """One item, ready to display.

    Attributes
    ----------
    id : int
        Stable id (0-based, insertion order).
    name : str
        Source file name, path or row key; used in exports.
    kind : {"image", "text", "table"}
    payload : bytes, str or dict
        PNG/JPEG bytes for images (a downscaled copy for huge images), the text,
        or ``{column: value}`` for a table row.
    mime : str or None
        ``"image/png"`` / ``"image/jpeg"`` for images, else None.
    """

    id: int
    name: str
    kind: DataKind
    payload: bytes | str | dict[str, Any]
    mime: str | None = None


@dataclass(frozen=True)
class Progress:
    """How far labelling has got.

    Attributes
    ----------
    labelled : int
        Items with at least one label in force.
    total : int
        Items in the pool.
    per_class : dict of str to int
        Items whose training label is (or, multi-label, contains) each class;
        every class of the project appears, with 0 when unused.
    per_labeller : dict of str to int
        Labels in force made by each labeller.
    leased : int
        Items currently reserved by a labeller.
    done : int
        Items no longer served (labelled by ``overlap`` different labellers).
    """

    labelled: int
    total: int
    per_class: dict[str, int] = field(default_factory=dict)
    per_labeller: dict[str, int] = field(default_factory=dict)
    leased: int = 0
    done: int = 0

    @property
    def fraction(self) -> float:
        """``labelled / total`` (0.0 for an empty pool)."""
        return self.labelled / self.total if self.total else 0.0


@dataclass(frozen=True)
class Revision:
    """Counters that change whenever the pool or the labels change (cache keys for the app).

    Attributes
    ----------
    items : int
        Number of items in the pool.
    events : int
        Number of label / undo / skip events ever recorded.
    order : int
        Incremented by every ``set_order``.
    """

    items: int
    events: int
    order: int


@dataclass(frozen=True)
class ItemBatch:
    """Items ready to be added to a store; importers in :mod:`superintendent_core.data` build these.

    Attributes
    ----------
    names : tuple of str, length n
        Unique, non-empty names.
    kind : {"image", "text", "table"}
    features : ndarray (n, d), list of str, or DataFrame (n rows)
        What the model sees; must match the project's feature kind. Arrays may be
        any real dtype (uint8 is kept compact on disk) and must be finite.
    payloads : sequence of bytes / str / dict, length n, or None
        What to display. For images it may be None when ``image_shape`` is given:
        the picture is then drawn from the features (grey pixels).
    image_shape : (height, width) or None
        Shape to draw images from features (e.g. ``(8, 8)`` for digits).
    pixel_max : float
        Feature value drawn as white when drawing from features (16 for digits).
    labels : sequence of (label or None), length n, or None
        Existing labels to resume from (validated against the classes).
    labeller : str
        Recorded as the labeller of ``labels``.
    true_labels : sequence of str, length n, or None
        Hidden ground truth (demo data only); never displayed.
    """

    names: tuple[str, ...]
    kind: DataKind
    features: Any
    payloads: Sequence[Any] | None = None
    image_shape: tuple[int, int] | None = None
    pixel_max: float = 255.0
    labels: Sequence[Any] | None = None
    labeller: str = "import"
    true_labels: Sequence[str] | None = None

    def __len__(self) -> int:
        return len(self.names)


@runtime_checkable
class LabelStore(Protocol):
    """What every project store provides. See the module docstring for conventions."""

    # --- settings -------------------------------------------------------------
    @property
    def settings(self) -> ProjectSettings:
        """The current settings."""
        ...

    def update_settings(self, **changes: Any) -> ProjectSettings:
        """Validate and save changed settings; return the new settings.

        Refuses (``InvalidInput``) removing a class that still has labels, an
        unknown field, or a value of the wrong type/range. Nothing changes on error.
        """
        ...

    # --- pool -----------------------------------------------------------------
    def add_items(self, batch: ItemBatch) -> np.ndarray:
        """Validate and add a batch of items (with optional labels) all-or-nothing.

        Returns
        -------
        ids : ndarray of int64, shape (n,)
            The new items' ids (consecutive, after every existing id).
        """
        ...

    def add_items_stream(self, batches: Iterable[ItemBatch]) -> np.ndarray:
        """Add the rows of every batch of ``batches`` (chunks of one import) as one batch, all-or-nothing.

        Each chunk is validated and written as it comes (memory holds one chunk, the
        names and the labels), and the import is committed after the last chunk: a
        refusal in any chunk (a bad row, a name used twice across chunks) or a failed
        write leaves the project exactly as it was. ``add_items(b)`` is
        ``add_items_stream([b])``.

        Returns
        -------
        ids : ndarray of int64
            The new items' ids (consecutive, after every existing id).
        """
        ...

    def __len__(self) -> int:
        """Number of items in the pool."""
        ...

    def item(self, item_id: int) -> Item:
        """One item for display (``UnknownItem`` if absent)."""
        ...

    def names(self, ids: Sequence[int] | np.ndarray) -> list[str]:
        """Item names for ``ids``."""
        ...

    def features(self, ids: Sequence[int] | np.ndarray) -> Any:
        """Features for ``ids`` in the project's feature kind (row i ↔ ids[i])."""
        ...

    def unlabelled_ids(self) -> np.ndarray:
        """Ids with no label in force, ascending (int64)."""
        ...

    def true_labels(self, ids: Sequence[int] | np.ndarray) -> np.ndarray | None:
        """Hidden ground truth for ``ids`` (object array of str), or None if unknown."""
        ...

    # --- feature sets (:mod:`superintendent_core.store.feature_sets`) --------------
    def write_feature_set(
        self, name: str, ids: Sequence[int] | np.ndarray, matrix: Any, *, dtype: str | None = None
    ) -> int:
        """Store features for some items in the feature set ``name`` (one durable write).

        The set is created by its first write, which fixes its dimension and
        its storage dtype. Ids already stored in the set are ignored (the first
        write wins), so writing a chunk again is harmless.

        Parameters
        ----------
        name : str
            1 to 64 letters, digits, ``_ . -``.
        ids : sequence of int, shape (k,)
            Distinct item ids of the project.
        matrix : array-like of real numbers, shape (k, d)
        dtype : {"float32", "float16"} or None
            How a new set stores its rows; None: ``settings.feature_dtype``. For
            a set that exists, None or its own dtype (another is refused).

        Returns
        -------
        int
            Rows newly stored.

        Raises
        ------
        InvalidInput
            A bad name, an unknown or repeated id, a dimension other than the
            set's, NaN/inf, a value beyond ±65504 in a float16 set, a
            non-numeric dtype, a dtype other than the set's: nothing is written.
        """
        ...

    def feature_set_dtypes(self) -> dict[str, str]:
        """``{name: "float32" | "float16"}``: how each feature set stores its rows (reads are float32)."""
        ...

    def feature_sets(self) -> dict[str, tuple[int, int]]:
        """``{name: (dimension, items stored)}`` for every feature set of the project."""
        ...

    def missing_feature_ids(self, name: str) -> np.ndarray:
        """Ids (int64, ascending) the set ``name`` holds no features for (every id if it does not exist)."""
        ...

    def features_in_use(self) -> str:
        """The feature set :meth:`features` returns now: ``settings.feature_set`` if it holds every item, else ``""``."""
        ...

    # --- labelling --------------------------------------------------------------
    def next_item(self, labeller: str) -> int | None:
        """Lease and return the next item for ``labeller``; None when nothing is left for them."""
        ...

    def submit(
        self, item_id: int, label: Label, labeller: str, seconds: float | None = None
    ) -> None:
        """Record a label durably (fsync'd before returning) and release the lease."""
        ...

    def skip(self, item_id: int, labeller: str) -> None:
        """Release the item; it is served to others first and to ``labeller`` later."""
        ...

    def undo(self, labeller: str) -> int | None:
        """Remove ``labeller``'s most recent label; lease that item back to them. Returns its id.

        When that label is a bulk label, every label of its bulk still in force is
        removed as one step, no item is leased, and the bulk's first item is returned
        (:mod:`superintendent_core.store.bulk`).
        """
        ...

    def bulk_label(self, ids: Sequence[int] | np.ndarray, label: Label, labeller: str) -> int:
        """Give ``label`` to every item of ``ids`` as ``labeller``, in one durable action, marked as bulk.

        Rules (every backend) in :mod:`superintendent_core.store.bulk`: recorded per
        item by that labeller, shown as ``bulk`` in :meth:`labels`, undone as one step
        by :meth:`undo`, no audit record, all or nothing after a crash.

        Returns
        -------
        int
            The number of items labelled (0 for no ids).

        Raises
        ------
        InvalidInput
            A label that is not a class, an item listed twice, too many items, or
            items that already carry this labeller's label (named). Nothing is written.
        UnknownItem
            An id outside the project.
        """
        ...

    def last_bulk(self, labeller: str) -> int:
        """How many labels :meth:`undo` by ``labeller`` would remove now if it undoes a bulk label, else 0."""
        ...

    def relabel(self, item_id: int, label: Label, labeller: str) -> None:
        """Replace ``labeller``'s label on the item (or add one), durably."""
        ...

    def import_labels(
        self,
        ids: Sequence[int] | np.ndarray,
        labels: Sequence[Label],
        labellers: str | Sequence[str],
    ) -> int:
        """Record many labels at once, all or none (an import of a labels file).

        Each row means what ``relabel(ids[k], labels[k], labellers[k])`` means:
        it replaces that labeller's label on the item (or adds one), is recorded
        as a relabel, and releases that labeller's lease on the item. Rows are
        applied in order, so a later row for the same item and labeller wins.

        Parameters
        ----------
        ids : sequence of int, length n
            Item ids.
        labels : sequence, length n
            One label per row, as :meth:`relabel` takes it: a class name, or in a
            multi-label project a sequence of class names (split a joined
            ``"a|b"`` cell with :func:`superintendent_core.labels.cell_value` first).
        labellers : str or sequence of str, length n
            Who made each label; one name labels every row.

        Returns
        -------
        int
            The number of labels recorded (``n``).

        Raises
        ------
        InvalidInput
            Lengths that differ, or rows that cannot be recorded (an unknown item
            id, a label that is not a class, an empty labeller). Every row is
            checked before anything is written; the message names the first
            rows at fault and how many there are. Nothing is recorded.

        Notes
        -----
        One durable write (a snapshot in a folder project, one transaction in a
        database): after a crash either every row is recorded or none is.
        """
        ...

    def set_order(self, ids: Sequence[int] | np.ndarray, audit: AuditDraws | None = None) -> None:
        """Serve ``ids`` first, in that order; every other item after them, by id.

        ``audit``: the order's random draws (:class:`~.audit.AuditDraws`, item ids
        that are in ``ids``). A labeller served one of them who gives the item its
        first label gets an audit record written with the label (see
        :meth:`audit_records`). The order and its draws replace the previous ones
        together. ``InvalidInput`` for draws that are not valid or not in ``ids``.
        """
        ...

    def audit_records(self) -> pd.DataFrame:
        """The audit draws of the items labelled now, one row per item, by item id.

        Columns: ``item_id`` (int64), ``probability`` (float64: the chance it had
        of being drawn at its slot), ``support`` (int64: how many items it was
        drawn from), ``seq`` (int64: labelled items when its order was written),
        ``labeller`` (str: who gave the recorded label), ``time`` (float: epoch
        seconds of that label). How relabels, undos, imports and bulk labels are
        treated is in :mod:`superintendent_core.store.audit`.
        """
        ...

    def progress(self) -> Progress:
        """Counts of labelled items, per class and per labeller."""
        ...

    def revision(self) -> Revision:
        """Cheap counters for cache invalidation."""
        ...

    def damage_report(self) -> list[str]:
        """Sentences about damage found when the project was opened (skipped records, files set aside).

        Empty for a sound project. A database keeps its own integrity, so the SQL
        store reports nothing here.
        """
        ...

    def skip_counts(self) -> dict[str, int]:
        """How many times each labeller skipped an item, ever (a later label or undo does not erase a skip).

        Labellers who never skipped are left out; sorted by name.
        """
        ...

    # --- reading labels ---------------------------------------------------------
    def labels(self) -> pd.DataFrame:
        """Every label in force, oldest first.

        Columns: ``item_id`` (int64), ``name`` (str), ``label`` (str; multi-label
        joined by ``"|"``), ``labeller`` (str), ``time`` (datetime64[ns, UTC]),
        ``seconds`` (float64, NaN when unknown), ``bulk`` (bool: given by
        :meth:`bulk_label`).
        """
        ...

    def training_data(self) -> tuple[np.ndarray, Any, list]:
        """``(ids, X, y)``: one row per labelled item, trained on its most recent label in force.

        ``y`` holds ``str`` (or ``tuple[str, ...]`` in multi-label projects).
        """
        ...

    # --- retrain history --------------------------------------------------------
    def record_retrain(self, entry: Mapping[str, Any]) -> None:
        """Append one retrain to the history (``time`` is added if missing)."""
        ...

    def history(self) -> pd.DataFrame:
        """Every retrain: time, n_labels, score, metric, strategy, model, seconds, and extra keys."""
        ...

    # --- the latest model's suggestions ---------------------------------------------
    def save_suggestions(
        self,
        ids: Sequence[int] | np.ndarray,
        labels: Sequence[str],
        probabilities: Sequence[float] | np.ndarray,
        meta: Mapping[str, Any] | None = None,
    ) -> int:
        """Keep a retrain's suggestions (replacing the previous ones) for every process to show.

        Parameters
        ----------
        ids : sequence of int, shape (n,)
            Distinct item ids (usually the unlabelled ones at the retrain).
        labels : sequence of str, shape (n,)
            The model's label for each (multi-label joined by ``"|"``).
        probabilities : sequence of float, shape (n,)
            The probability of that label, in [0, 1].
        meta : mapping, optional
            JSON-able facts: ``model``, ``by`` (who retrained), ``n_labels`` ...;
            ``time`` is added when missing.

        Returns
        -------
        int
            The new suggestions version (the previous one plus 1).

        Raises
        ------
        InvalidInput
            Lengths that differ, a repeated id, a probability outside [0, 1];
            nothing is saved. ``UnknownItem`` for an id outside the project.
        """
        ...

    def suggestions_version(self) -> int:
        """The version of the saved suggestions (0: none yet); cheap, for cache keys."""
        ...

    def suggestions(self) -> Suggestions | None:
        """The saved suggestions, or None when no retrain saved any (or they are unreadable)."""
        ...

    # --- pre-annotations: labels another model made (never labels) --------------------
    def save_preannotations(
        self,
        ids: Sequence[int] | np.ndarray,
        labels: Sequence[Label],
        scores: Sequence[float | None] | np.ndarray | None = None,
        *,
        source: str = "import",
    ) -> int:
        """Keep labels another model made as suggestions, apart from the labels; all or none.

        Rules (every backend) in :mod:`superintendent_core.store.preannotations`:
        one per item (a save replaces those of the items it names), never in
        :meth:`labels`, :meth:`training_data`, :meth:`progress` or exports.

        Returns
        -------
        int
            How many were saved.

        Raises
        ------
        InvalidInput
            Lengths that differ, an item listed twice, a label that is not a class,
            a score that is not finite, a bad source. ``UnknownItem``: an id outside
            the project. Nothing is saved.
        """
        ...

    def preannotations(self) -> pd.DataFrame:
        """Every pre-annotation, by item id: ``item_id`` (int64), ``label`` (str), ``score`` (float64, NaN
        when not given), ``source`` (str)."""
        ...

    def preannotation(self, item_id: int) -> tuple[str, float] | None:
        """``(label, score)`` of one item's pre-annotation (score NaN when not given), or None."""
        ...

    # --- lifetime ---------------------------------------------------------------
    def close(self) -> None:
        """Flush, compact and release the project (idempotent)."""
        ...

    def __enter__(self) -> LabelStore: ...

    def __exit__(self, *exc: object) -> None: ...
