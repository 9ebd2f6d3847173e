"""Every name the package exports resolves, as a notebook user would import it."""

import importlib

from fresh_python import run_fresh

import superintendent_core


def test_every_export_resolves():
    for name in superintendent_core.__all__:
        assert getattr(superintendent_core, name) is not None, name


def test_unknown_name_is_an_attribute_error():
    try:
        superintendent_core.nope  # noqa: B018
    except AttributeError as exc:
        assert "nope" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")


def test_importing_the_package_and_the_store_does_not_load_sklearn():
    code = (
        "import sys, superintendent_core\n"
        "from superintendent_core import open_store, ProjectSettings\n"
        "print('sklearn' in sys.modules)\n"
    )
    out = run_fresh(code)
    assert out.strip() == "False"


def test_submodules_are_importable_by_their_public_path():
    for module in ("acquisition", "store", "data", "strategies", "learning.learner", "learning.simulation"):
        importlib.import_module(f"superintendent_core.{module}")


def test_simulation_and_the_default_are_exported():
    from superintendent_core import (
        DEFAULT_STRATEGY,
        NeighbourhoodMargin,
        SimulationResult,
        simulate,
    )
    from superintendent_core import simulate as simulate_module_path  # noqa: F401  (same name, twice)
    from superintendent_core.learning.simulation import SimulationResult as result_class
    from superintendent_core.strategies import DEFAULT_STRATEGY as in_selection

    assert callable(simulate) and simulate.__name__ == "simulate"
    assert SimulationResult is result_class
    assert DEFAULT_STRATEGY == in_selection
    # The default's class, to configure it (e.g. a Learner's strategy=NeighbourhoodMargin(n_neighbours=10)).
    assert isinstance(superintendent_core.STRATEGIES[DEFAULT_STRATEGY], NeighbourhoodMargin)
    assert {"simulate", "SimulationResult", "DEFAULT_STRATEGY", "NeighbourhoodMargin"} <= set(superintendent_core.__all__)


def test_simulate_is_the_function_and_its_module_is_simulation():
    """No double identity: the module is ``learning.simulation``, the function ``simulate``."""
    code = (
        "import superintendent_core.learning.simulation\n"
        "from superintendent_core.learning.simulation import SimulationResult\n"
        "import superintendent_core\n"
        "from superintendent_core import simulate\n"
        "print(callable(simulate), type(superintendent_core.simulate).__name__, SimulationResult.__name__)\n"
    )
    out = run_fresh(code)
    assert out.split() == ["True", "function", "SimulationResult"]


def test_every_strategy_is_listed_in_a_fresh_interpreter():
    """The registry is filled when the package loads, not by the accident of an import order."""
    out = run_fresh("import superintendent_core\nprint(sorted(superintendent_core.STRATEGIES))\n")
    assert "neighbourhood" in out and "margin" in out and "random" in out


#: What users' scripts could import before the restructure (issue 16): each must still resolve.
PROMISED = {
    "superintendent_core": [
        "CalibratedSVC", "DEFAULT_PROJECT_DIR", "DEFAULT_STRATEGY", "FolderStore", "ImportResult", "InvalidInput",
        "Item", "ItemBatch", "LabelStore", "Learner", "LockedError", "MultiLabelModel", "NeighbourhoodMargin",
        "Progress", "ProjectSettings", "RetrainResult", "Revision", "STRATEGIES", "SimulationResult", "StoreError",
        "Suggestion", "TrainingError", "UnknownItem", "VersionError", "add_features", "certainty", "copy_project",
        "default_estimator", "default_project_path", "digits_settings", "entropy", "export_project_zip",
        "images_from_folder", "images_from_zip", "import_project_zip", "labels_csv", "labels_parquet",
        "load_digits_demo", "margin", "open_store", "random", "rank", "read_table", "register_strategy", "simulate",
        "strategy_names", "table_batch", "table_import",
    ],
    "superintendent_core.store": [
        "DEFAULT_PROJECT_DIR", "InvalidInput", "Item", "ItemBatch", "LabelStore", "LockedError", "Progress",
        "ProjectSettings", "Revision", "StoreError", "UnknownItem", "VersionError", "default_project_path",
        "display_location", "is_database_url", "open_store",
    ],
    "superintendent_core.data": [
        "DIGIT_CLASSES", "ImportResult", "add_features", "batch_from_python", "digits_batch", "digits_settings",
        "export_project_zip", "images_from_files", "images_from_folder", "images_from_zip", "import_project_zip",
        "labels_csv", "labels_parquet", "load_digits_demo", "read_table", "table_batch", "table_import",
        "thumbnail_features",
    ],
    "superintendent_core.acquisition": [
        "STRATEGIES", "certainty", "check_probabilities", "entropy", "margin", "random", "rank", "register_strategy",
        "resolve_strategy", "shuffle_positions", "strategy_names",
    ],
    "superintendent_core.store.folder": ["FolderStore"],
    "superintendent_core.store.sql": ["SQLStore"],
}


def test_every_name_promised_before_the_restructure_still_imports():
    code = (
        f"import importlib\npromised = {PROMISED!r}\n"
        "missing = [f'{m}.{n}' for m, names in promised.items() for n in names\n"
        "           if not hasattr(importlib.import_module(m), n)]\n"
        "print(missing)\n"
    )
    assert run_fresh(code).strip() == "[]"
    import superintendent_core

    assert set(PROMISED["superintendent_core"]) <= set(superintendent_core.__all__)
    assert callable(superintendent_core.simulate) and superintendent_core.simulate.__name__ == "simulate"
