"""The data-kind registry: what each kind of item is and how the app handles it.

A :class:`DataKind` states, for one kind of item (``"image"``, ``"text"``,
``"table"`` …), how it is imported, featurised and shown, and which model a new
project of that kind starts with. The app asks this registry instead of testing
``item.kind`` itself, so a new kind is one module here plus one line in
:mod:`superintendent_core.kinds`' ``__init__``.

Nothing here imports Streamlit or scikit-learn.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from ..learning.models import DEFAULT_MODEL
from ..store.protocol import FEATURE_KINDS, Item
from .views import View

__all__ = [
    "FEATURE_DEFAULT_MODELS",
    "KINDS",
    "PREVIEW_FORMATS",
    "DataKind",
    "Featuriser",
    "Importer",
    "default_model",
    "display_of",
    "get_kind",
    "kind_names",
    "preview_of",
    "register_kind",
]

#: The model a new project starts with for each feature kind, unless its data kind says otherwise.
FEATURE_DEFAULT_MODELS: Mapping[str, str] = MappingProxyType(
    {"array": DEFAULT_MODEL, "table": DEFAULT_MODEL, "text": "text_logistic_regression"}
)
#: What a kind's ``preview`` returns: a ``data:`` URL of a small image, or a line of text.
PREVIEW_FORMATS = ("image", "text")


@dataclass(frozen=True)
class Featuriser:
    """A way of turning one item's source into the model's features.

    Attributes
    ----------
    name : str
        Key in the kind's featurisers.
    label : str
        What the app shows.
    function : callable
        One item's source (for images a ``PIL.Image``) -> 1-D float array; every
        item must give the same length.
    """

    name: str
    label: str
    function: Callable[[Any], Any]


@dataclass(frozen=True)
class Importer:
    """A function that produces items of a kind (an ``ItemBatch`` or an ``ImportResult``).

    Attributes
    ----------
    name : str
        Key in the kind's importers (``"zip"``, ``"folder"`` …).
    label : str
        What the app shows.
    function : callable
        The importer in :mod:`superintendent_core.data`.
    featurises : bool, default=False
        The function takes ``featurize=`` (a :class:`Featuriser`'s function).
    """

    name: str
    label: str
    function: Callable[..., Any]
    featurises: bool = False


def _names(values: Any) -> str:
    return ", ".join(repr(v) for v in values) or "none"


@dataclass(frozen=True)
class DataKind:
    """One kind of item: how it is shown, featurised, imported, and its default model.

    Attributes
    ----------
    name : str
        What ``ProjectSettings.kind`` and ``Item.kind`` hold.
    label : str
        What the app shows ("Images").
    display : callable (Item, size=None) -> Picture, Text or Rows
        The item large and readable (``size``: longest side of a picture in
        pixels; None for the kind's default; kinds without pictures ignore it).
        Raises ``ValueError`` for an item that cannot be shown.
    preview : callable (Item) -> str
        A short preview for lists: a ``data:`` URL of a thumbnail
        (``preview_format="image"``) or one line of text; ``""`` when there is none.
    preview_format : {"image", "text"}
    default_models : mapping of str to str
        Feature kind -> name of the model a new project starts with; feature kinds
        not listed use :data:`FEATURE_DEFAULT_MODELS`.
    featurisers : tuple of Featuriser
        The ways this kind's importers can compute features (empty: the features
        come with the data, or the model featurises, e.g. TF-IDF on text).
    default_featuriser : str or None
        The featuriser importers use unless told otherwise.
    importers : tuple of Importer
        The data importers that produce items of this kind.
    """

    name: str
    label: str
    display: Callable[..., View]
    preview: Callable[[Item], str]
    preview_format: str = "text"
    default_models: Mapping[str, str] = field(default_factory=dict)
    featurisers: tuple[Featuriser, ...] = ()
    default_featuriser: str | None = None
    importers: tuple[Importer, ...] = ()

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError(f"A data kind's name must be non-empty text, got {self.name!r}.")
        for attribute in ("display", "preview"):
            if not callable(getattr(self, attribute)):
                raise ValueError(f"Data kind {self.name!r}: {attribute} must be callable.")
        if self.preview_format not in PREVIEW_FORMATS:
            raise ValueError(
                f"Data kind {self.name!r}: preview_format must be one of {_names(PREVIEW_FORMATS)}, "
                f"got {self.preview_format!r}."
            )
        unknown = [k for k in self.default_models if k not in FEATURE_KINDS]
        if unknown:
            raise ValueError(
                f"Data kind {self.name!r}: default_models has unknown feature kind(s) {_names(unknown)}; "
                f"valid ones are {_names(FEATURE_KINDS)}."
            )
        object.__setattr__(self, "default_models", MappingProxyType(dict(self.default_models)))
        object.__setattr__(self, "featurisers", tuple(self.featurisers))
        object.__setattr__(self, "importers", tuple(self.importers))
        names = [f.name for f in self.featurisers]
        if self.default_featuriser is not None and self.default_featuriser not in names:
            raise ValueError(
                f"Data kind {self.name!r}: default_featuriser {self.default_featuriser!r} is not one of its "
                f"featurisers ({_names(names)})."
            )

    def default_model(self, feature_kind: str) -> str:
        """Name of the model a new project of this kind starts with, for its feature kind.

        Raises
        ------
        ValueError
            ``feature_kind`` is not one of ``FEATURE_KINDS``.
        """
        if feature_kind not in FEATURE_KINDS:
            raise ValueError(f"Unknown feature kind {feature_kind!r}; valid ones are {_names(FEATURE_KINDS)}.")
        return self.default_models.get(feature_kind, FEATURE_DEFAULT_MODELS[feature_kind])

    def featuriser(self, name: str | None = None) -> Featuriser | None:
        """A featuriser by name (None: the default one, or None when the kind has none).

        Raises
        ------
        ValueError
            Unknown name; the message lists this kind's featurisers.
        """
        if name is None:
            if self.default_featuriser is None:
                return None
            name = self.default_featuriser
        for featuriser in self.featurisers:
            if featuriser.name == name:
                return featuriser
        raise ValueError(
            f"Data kind {self.name!r} has no featuriser {name!r}; valid ones are "
            f"{_names(f.name for f in self.featurisers)}."
        )

    def importer(self, name: str, *, featuriser: str | None = None) -> Callable[..., Any]:
        """An importer of this kind, with the chosen (default: the kind's default) featuriser bound.

        Raises
        ------
        ValueError
            Unknown importer or featuriser name; the message lists the valid ones.
        """
        for importer in self.importers:
            if importer.name == name:
                break
        else:
            raise ValueError(
                f"Data kind {self.name!r} has no importer {name!r}; valid ones are "
                f"{_names(i.name for i in self.importers)}."
            )
        if not importer.featurises:
            if featuriser is not None:
                raise ValueError(f"Importer {name!r} of data kind {self.name!r} does not take a featuriser.")
            return importer.function
        chosen = self.featuriser(featuriser)
        return importer.function if chosen is None else functools.partial(importer.function, featurize=chosen.function)

    def with_featuriser(self, featuriser: Featuriser, *, default: bool = False) -> DataKind:
        """A copy of this kind with ``featuriser`` added (replacing one of the same name).

        Register the copy with :func:`register_kind` to make it the app's.
        """
        others = tuple(f for f in self.featurisers if f.name != featuriser.name)
        return replace(
            self,
            featurisers=(*others, featuriser),
            default_featuriser=featuriser.name if default else self.default_featuriser,
        )


#: name -> DataKind, in the order the app lists them.
KINDS: dict[str, DataKind] = {}


def register_kind(kind: DataKind) -> DataKind:
    """Add (or replace) a data kind in the registry; returns it."""
    if not isinstance(kind, DataKind):
        raise ValueError(f"register_kind takes a DataKind, got {type(kind).__name__}.")
    KINDS[kind.name] = kind
    return kind


def kind_names() -> list[str]:
    """Names of the registered data kinds, in registration order."""
    return list(KINDS)


def get_kind(name: str) -> DataKind:
    """The registered data kind called ``name``.

    Raises
    ------
    ValueError
        Unknown name; the message lists the valid ones.
    """
    kind = KINDS.get(name)
    if kind is None:
        raise ValueError(f"Unknown data kind {name!r}; valid kinds are {_names(KINDS)}.")
    return kind


def display_of(item: Item, size: int | None = None) -> View:
    """What the app draws for ``item`` (a :class:`~.views.Picture`, :class:`~.views.Text` or :class:`~.views.Rows`).

    Raises
    ------
    ValueError
        Unknown data kind, or an item that cannot be shown (e.g. unreadable image bytes).
    """
    kind = get_kind(item.kind)
    return kind.display(item) if size is None else kind.display(item, size)


def preview_of(item: Item) -> str:
    """A short preview of ``item`` for lists (see :attr:`DataKind.preview`)."""
    return get_kind(item.kind).preview(item)


def default_model(kind: str, feature_kind: str) -> str:
    """Name of the model a new project of data kind ``kind`` with ``feature_kind`` features starts with."""
    return get_kind(kind).default_model(feature_kind)
