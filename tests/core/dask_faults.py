"""Feature sources that fail on a Dask worker, for tests/core/test_distributed.py.

Pickled by value (``cloudpickle.register_pickle_by_value``), so the workers need
not import this module from the tests folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DiesOnce:
    """The first task to read kills its worker process (as an OOM kill would); later reads work."""

    source: Any
    marker: str

    def read(self, ids):
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return self.source.read(ids)
        os.close(fd)
        os._exit(1)


@dataclass(frozen=True)
class AlwaysDies:
    """Every read kills its worker process, counting the deaths in a folder."""

    folder: str

    def read(self, ids):
        with open(os.path.join(self.folder, f"death-{os.getpid()}"), "w"):
            pass
        os._exit(1)


@dataclass(frozen=True)
class WrongWidth:
    """Features one column short (the model then refuses them)."""

    source: Any

    def read(self, ids):
        return self.source.read(ids)[:, :-1]
