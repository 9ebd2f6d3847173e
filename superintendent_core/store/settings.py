"""Validating changes to :class:`~.protocol.ProjectSettings` (shared by backends)."""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping
from typing import Any

from ..labels import SEPARATOR
from .errors import InvalidInput
from .feature_sets import check_feature_dtype
from .protocol import DATA_KINDS, FEATURE_KINDS, ProjectSettings

__all__ = ["check_classes", "validate_settings"]


def check_classes(classes: Any) -> tuple[str, ...]:
    """Classes as a tuple of unique, non-empty names without ``"|"``."""
    if isinstance(classes, str) or not hasattr(classes, "__iter__"):
        raise InvalidInput("classes must be a list of class names, e.g. ['cat', 'dog'].")
    out = []
    for c in classes:
        if not isinstance(c, str) or not c.strip():
            raise InvalidInput(f"Class names must be non-empty text; got {c!r}.")
        if SEPARATOR in c:
            raise InvalidInput(f"Class name {c!r} contains {SEPARATOR!r}, which separates labels; rename it.")
        if c != c.strip():
            raise InvalidInput(f"Class name {c!r} starts or ends with spaces; remove them.")
        out.append(c)
    if len(set(out)) != len(out):
        dups = sorted({c for c in out if out.count(c) > 1})
        raise InvalidInput(f"Class {dups[0]!r} is listed twice; class names must be unique.")
    return tuple(out)


def validate_settings(
    old: ProjectSettings,
    changes: Mapping[str, Any],
    *,
    class_usage: Mapping[str, int],
    n_items: int,
    label_strings: list[str] | None = None,
) -> ProjectSettings:
    """The new settings after ``changes``, or ``InvalidInput`` (nothing changes).

    Parameters
    ----------
    old : ProjectSettings
    changes : mapping of field name to new value
    class_usage : mapping of class name to number of labels in force using it
    n_items : int
        Items in the pool (the kind of data is fixed once there are items).
    label_strings : list of str, optional
        Distinct label strings in force (checks a multi-label -> single-label switch).
    """
    fields = {f.name for f in dataclasses.fields(ProjectSettings)}
    unknown = sorted(set(changes) - fields)
    if unknown:
        raise InvalidInput(f"Unknown setting {unknown[0]!r}; valid settings are {sorted(fields)}.")
    new = dict(changes)
    if "name" in new and (not isinstance(new["name"], str) or not new["name"].strip()):
        raise InvalidInput("The project name must be non-empty text.")
    for key, allowed in (("kind", DATA_KINDS), ("feature_kind", FEATURE_KINDS)):
        if key in new and new[key] != getattr(old, key):
            if new[key] not in allowed:
                raise InvalidInput(f"{key} must be one of {list(allowed)}, got {new[key]!r}.")
            if n_items:
                raise InvalidInput(f"The {key} of a project with items cannot change; create a new project.")
    if "classes" in new:
        classes = check_classes(new["classes"])
        removed = [c for c in old.classes if c not in classes and class_usage.get(c, 0)]
        if removed:
            c = removed[0]
            raise InvalidInput(
                f"Class {c!r} still has {class_usage[c]} label(s); relabel or undo them before removing the class."
            )
        new["classes"] = classes
    if "multi_label" in new:
        if not isinstance(new["multi_label"], bool):
            raise InvalidInput("multi_label must be True or False.")
        if old.multi_label and not new["multi_label"] and label_strings:
            bad = [s for s in label_strings if s == "" or SEPARATOR in s]
            if bad:
                raise InvalidInput(
                    f"Some items carry several (or no) classes, e.g. {bad[0]!r}; they cannot become "
                    "single-label. Relabel them first."
                )
    for key in ("model",):
        if key in new and (not isinstance(new[key], str) or not new[key]):
            raise InvalidInput(f"{key} must be a non-empty name.")
    if "strategy" in new and new["strategy"] is not None and not isinstance(new["strategy"], str):
        raise InvalidInput("strategy must be a strategy name or None (the default).")
    if "shuffle_prop" in new:
        v = new["shuffle_prop"]
        if not isinstance(v, numbers.Real) or isinstance(v, bool) or not 0 <= v <= 1:
            raise InvalidInput(f"shuffle_prop must be a number from 0 to 1, got {v!r}.")
        new["shuffle_prop"] = float(v)
    if "retrain_every" in new:
        v = new["retrain_every"]
        if v is not None and (not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1):
            raise InvalidInput(f"retrain_every must be a whole number of labels (1 or more) or None, got {v!r}.")
    if "lease_seconds" in new:
        v = new["lease_seconds"]
        if not isinstance(v, numbers.Real) or isinstance(v, bool) or not v > 0:
            raise InvalidInput(f"lease_seconds must be a positive number of seconds, got {v!r}.")
        new["lease_seconds"] = float(v)
    if "overlap" in new:
        v = new["overlap"]
        if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
            raise InvalidInput(f"overlap must be a whole number of labellers (1 or more), got {v!r}.")
    if "random_state" in new:
        v = new["random_state"]
        if v is not None and (not isinstance(v, numbers.Integral) or isinstance(v, bool)):
            raise InvalidInput(f"random_state must be a whole number or None, got {v!r}.")
    if "audit_share" in new:
        v = new["audit_share"]
        if not isinstance(v, numbers.Real) or isinstance(v, bool) or not 0 <= v <= 0.5:
            raise InvalidInput(f"audit_share must be a number from 0 to 0.5, got {v!r}.")
        new["audit_share"] = float(v)
    for key in ("feature_set", "feature_extractor"):
        if key in new and not isinstance(new[key], str):
            raise InvalidInput(f"{key} must be a name (text); \"\" means the features given at import.")
    if "feature_dtype" in new:
        try:
            new["feature_dtype"] = check_feature_dtype(new["feature_dtype"])
        except InvalidInput:
            raise InvalidInput(f"feature_dtype must be 'float32' or 'float16', got {str(new['feature_dtype'])[:40]!r}; "
                               "it says how feature sets made from now on are stored.") from None
    if new.get("feature_set") and new.get("feature_kind", old.feature_kind) != "array":
        raise InvalidInput("A feature set replaces numeric features; this project's model reads "
                           f"{new.get('feature_kind', old.feature_kind)} features, so it cannot use one.")
    if "extra" in new:
        v = new["extra"]
        pairs = v.items() if isinstance(v, Mapping) else v
        try:
            new["extra"] = tuple((str(k), str(x)) for k, x in pairs)
        except (TypeError, ValueError):
            raise InvalidInput("extra must be a mapping of text keys to text values.") from None
    return dataclasses.replace(old, **new)
