"""superintendent_core: the engine of superintendent for Streamlit.

Active-learning data labelling as a library, in layers (each imports only those
above it in this list; nothing here imports Streamlit):

- :mod:`~superintendent_core.labels`: how a multi-label value is written and read;
- :mod:`~superintendent_core.store`: where a project lives (a folder, SQLite, PostgreSQL);
- :mod:`~superintendent_core.strategies`: which item to ask about next
  (public path for the orderings: :mod:`~superintendent_core.acquisition`);
- :mod:`~superintendent_core.learning`: fitting the user's model, retraining a
  project, simulating active learning;
- :mod:`~superintendent_core.data`: importers and exporters;
- :mod:`~superintendent_core.service`: a project's lifecycle (open, demo, warm-up,
  background retrains), callable without the app.

Every public name is listed in ``__all__`` below, with the module that defines it
in ``_EXPORTS``. Names are imported when first used (PEP 562), so
``import superintendent_core`` stays cheap: the app shows its first item before
scikit-learn is loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

__version__ = "0.1.0"

#: public name -> module that defines it (relative to this package)
_EXPORTS: dict[str, str] = {
    # strategies: which item next
    "STRATEGIES": "strategies.registry",
    "rank": "strategies.registry",
    "register_strategy": "strategies.registry",
    "strategy_names": "strategies.registry",
    "certainty": "strategies.uncertainty",
    "entropy": "strategies.uncertainty",
    "margin": "strategies.uncertainty",
    "random": "strategies.uncertainty",
    "DEFAULT_STRATEGY": "strategies.neighbourhood",
    "PoolContext": "strategies.base",
    "Strategy": "strategies.base",
    "NeighbourhoodMargin": "strategies.neighbourhood",
    # learning: the user's model
    "Learner": "learning.learner",
    "RetrainResult": "learning.learner",
    "Suggestion": "learning.learner",
    "TrainingError": "learning.learner",
    "default_estimator": "learning.learner",
    "MultiLabelModel": "learning.multilabel",
    "CalibratedSVC": "learning.svm",
    "simulate": "learning.simulation",
    "SimulationResult": "learning.simulation",
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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


if TYPE_CHECKING:  # pragma: no cover
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
    from .learning.learner import (
        Learner,
        RetrainResult,
        Suggestion,
        TrainingError,
        default_estimator,
    )
    from .learning.multilabel import MultiLabelModel
    from .learning.simulation import SimulationResult, simulate
    from .learning.svm import CalibratedSVC
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
    from .strategies.base import PoolContext, Strategy
    from .strategies.neighbourhood import DEFAULT_STRATEGY, NeighbourhoodMargin
    from .strategies.registry import STRATEGIES, rank, register_strategy, strategy_names
    from .strategies.uncertainty import certainty, entropy, margin, random
