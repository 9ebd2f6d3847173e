"""``superintendent_core._lazy``: a library named on the first item's path is imported on first use only."""

from __future__ import annotations

from fresh_python import run_fresh


def test_a_lazy_module_imports_on_the_first_attribute_and_then_is_the_module():
    out = run_fresh(
        "import sys\n"
        "from superintendent_core._lazy import lazy_module\n"
        "mod = lazy_module('colorsys')\n"
        "print('colorsys' in sys.modules)\n"
        "import inspect, copy\n"
        "inspect.getmodule(print); hasattr(mod, '__wrapped__')\n"  # dunder probes do not import
        "print('colorsys' in sys.modules)\n"
        "print(mod.rgb_to_hsv(1, 0, 0))\n"
        "print('colorsys' in sys.modules, mod.rgb_to_hsv is sys.modules['colorsys'].rgb_to_hsv)\n"
        "print('rgb_to_hsv' in vars(mod))\n"  # copied in: later reads are plain look-ups
    )
    assert out.split("\n")[:5] == ["False", "False", "(0.0, 1.0, 1)", "True True", "True"]


def test_a_missing_attribute_is_an_attribute_error():
    out = run_fresh(
        "from superintendent_core._lazy import lazy_module\n"
        "mod = lazy_module('colorsys')\n"
        "try:\n"
        "    mod.nope\n"
        "except AttributeError as exc:\n"
        "    print('AttributeError', 'nope' in str(exc))\n"
    )
    assert out.strip() == "AttributeError True"


def test_the_first_item_path_of_the_engine_loads_neither_pandas_nor_pillow():
    """What the app imports to show an item (the store, the kinds, the service) leaves them to first use."""
    out = run_fresh(
        "import sys\n"
        "import superintendent_core.data.demo, superintendent_core.kinds, superintendent_core.service\n"
        "import superintendent_core.service.featurize, superintendent_core.learning.similar\n"
        "import superintendent_core.store.folder, superintendent_core.data\n"
        "print(sorted(m for m in ('pandas', 'PIL', 'pyarrow', 'sklearn', 'scipy') if m in sys.modules))\n"
    )
    assert out.strip() == "[]"
