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
