"""A library module imported on first use: ``pd = lazy_module("pandas")``.

The app's first item needs numpy and the project store, not pandas (~0.3-0.4 s to
import), Pillow or the exporters. Modules on that path keep writing ``pd.DataFrame``
in their functions, but name the library with :func:`lazy_module` instead of an
``import`` at the top (and import it for real under ``if TYPE_CHECKING:``, for
type checkers and readers):

>>> from superintendent_core._lazy import lazy_module
>>> json = lazy_module("json")   # nothing imported yet
>>> json.dumps([1])              # imported here
'[1]'

The first attribute read imports the module and copies its namespace into the
stand-in, so later reads are ordinary module attribute look-ups (no extra cost on
hot paths). Attributes the real module gains later (a submodule imported after,
``pandas.api`` say) are still found, through ``__getattr__``. Nothing here is
specific to one library; importing is thread-safe (Python's import lock).
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports", "lazy_module"]


class _LazyModule(types.ModuleType):
    """Stands in for a module until an attribute is read."""

    def __getattr__(self, attr: str) -> Any:
        # only called for names not (yet) in this object's namespace
        if attr.startswith("__") and attr.endswith("__"):
            # dunder probes (inspect.getmodule, copy, pickle...) must not import the library
            raise AttributeError(attr)
        real = importlib.import_module(self.__name__)
        self.__dict__.update(
            {k: v for k, v in vars(real).items() if k not in ("__name__", "__spec__")}
        )
        return getattr(real, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self.__name__!r}>"


def lazy_module(name: str) -> Any:
    """A stand-in for the module ``name`` that imports it when an attribute is first read."""
    return _LazyModule(name)


def lazy_exports(
    package: str, exports: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's PEP 562 ``__getattr__`` and ``__dir__``: each name imported from its module on first use.

    ``exports`` maps a public name to the submodule (relative to ``package``) that defines it;
    ``namespace`` is the package's ``globals()``, where a name is kept once imported.
    """

    def __getattr__(name: str) -> Any:
        if name in exports:
            value = getattr(importlib.import_module(f".{exports[name]}", package), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(namespace.get("__all__", exports)))

    return __getattr__, __dir__
