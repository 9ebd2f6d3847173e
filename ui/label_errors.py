"""The Review page's label-error finder: one per open project, shared by every session of the process.

The finder (:class:`superintendent_core.learning.label_errors.LabelErrorFinder`)
computes in a background thread, once per store revision, and keeps the
reviewers' "label is right" dismissals; it lives in the process registry
(:mod:`ui.runtime`), like the project itself, keyed by the project's location
and its store object (a project replaced by a restore gets a new finder).

Nothing here imports scikit-learn (the finder imports it when it runs).
"""

from __future__ import annotations

from superintendent_core.learning.label_errors import LabelErrorFinder

from . import runtime
from .project import Project

__all__ = ["finder_for"]

_KEY = "ui.label_errors.finder"


def finder_for(project: Project) -> LabelErrorFinder:
    """The project's finder (created on first use)."""
    store = project.store
    return runtime.registry().get((_KEY, project.path, id(store)), lambda: LabelErrorFinder(store))
