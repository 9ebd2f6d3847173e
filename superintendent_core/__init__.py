"""superintendent_core: the engine of superintendent for Streamlit.

Active-learning data labelling as a library: orderings of a pool from a model's
probabilities (:mod:`~superintendent_core.acquisition`), retraining a user's
scikit-learn model (:mod:`~superintendent_core.learner`) and simulating active
learning on labelled data (:mod:`~superintendent_core.simulate`). Nothing here
imports Streamlit.

Names are imported lazily (PEP 562), so ``import superintendent_core`` stays
cheap: the app shows its first item before scikit-learn is loaded.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> submodule that defines it
_EXPORTS: dict[str, str] = {
    "STRATEGIES": "acquisition",
    "certainty": "acquisition",
    "entropy": "acquisition",
    "margin": "acquisition",
    "random": "acquisition",
    "rank": "acquisition",
    "register_strategy": "acquisition",
    "strategy_names": "acquisition",
    "Learner": "learner",
    "RetrainResult": "learner",
    "Suggestion": "learner",
    "TrainingError": "learner",
    "default_estimator": "learner",
    "MultiLabelModel": "multilabel",
    "DEFAULT_STRATEGY": "selection",
    "NeighbourhoodMargin": "selection",
    "CalibratedSVC": "svm",
    "simulate": "simulate",
    "SimulationResult": "simulate",
    # the project store
    "open_store": "store",
    "LabelStore": "store",
    "ProjectSettings": "store",
    "Item": "store",
    "ItemBatch": "store",
    "Progress": "store",
    "Revision": "store",
    "StoreError": "store",
    "InvalidInput": "store",
    "UnknownItem": "store",
    "VersionError": "store",
    "LockedError": "store",
    "DEFAULT_PROJECT_DIR": "store",
    "default_project_path": "store",
    "FolderStore": "store.folder",
    # getting data in and out
    "load_digits_demo": "data",
    "digits_settings": "data",
    "images_from_zip": "data",
    "images_from_folder": "data",
    "read_table": "data",
    "table_batch": "data",
    "table_import": "data",
    "add_features": "data",
    "labels_csv": "data",
    "labels_parquet": "data",
    "export_project_zip": "data",
    "import_project_zip": "data",
    "copy_project": "data.export",
    "ImportResult": "data",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """This package's module type: an exported name keeps its value when a submodule shares it.

    Importing ``superintendent_core.simulate`` binds the submodule to the
    package's attribute ``simulate``; without this, ``from superintendent_core
    import simulate`` would then give the module instead of the function (as an
    eager ``from .simulate import simulate`` would).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _EXPORTS.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


if TYPE_CHECKING:  # pragma: no cover
    from .acquisition import (
        STRATEGIES,
        certainty,
        entropy,
        margin,
        random,
        rank,
        register_strategy,
        strategy_names,
    )
    from .data import (
        ImportResult,
        add_features,
        digits_settings,
        export_project_zip,
        images_from_folder,
        images_from_zip,
        import_project_zip,
        labels_csv,
        labels_parquet,
        load_digits_demo,
        read_table,
        table_batch,
        table_import,
    )
    from .data.export import copy_project
    from .learner import Learner, RetrainResult, Suggestion, TrainingError, default_estimator
    from .multilabel import MultiLabelModel
    from .selection import DEFAULT_STRATEGY
    from .simulate import SimulationResult, simulate
    from .store import (
        DEFAULT_PROJECT_DIR,
        InvalidInput,
        Item,
        ItemBatch,
        LabelStore,
        LockedError,
        Progress,
        ProjectSettings,
        Revision,
        StoreError,
        UnknownItem,
        VersionError,
        default_project_path,
        open_store,
    )
    from .store.folder import FolderStore
