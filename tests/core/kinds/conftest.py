"""Tests of the data-kind registry; the shared helpers of ``tests/core`` (``fresh_python``) import from here too."""

from __future__ import annotations

import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[1]  # tests/core: fresh_python, sql_helpers …
ROOT = Path(__file__).resolve().parents[3]  # the repository: ui/ for the drawing test
for _path in (CORE, ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
