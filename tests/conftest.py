"""Shared test helpers.

Tests that need an outside resource (a browser, PostgreSQL) call :func:`require`:
on a developer's laptop a missing resource skips the test; under ``CI=true`` it
fails it, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

import pytest

# Test helpers are imported by plain module name (``from fresh_python import run_fresh``,
# ``from sql_helpers import ...``, ``from store_contract import ...``) from any test folder,
# whichever subset of the tests runs: their folders go on the path here.
_HERE = Path(__file__).resolve().parent
for _helpers in (_HERE / "core", _HERE / "core" / "store"):
    if str(_helpers) not in sys.path:
        sys.path.insert(0, str(_helpers))

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
POSTGRES_URL = os.environ.get(
    "SUPERINTENDENT_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def require(available: bool, what: str) -> None:
    """Skip (laptop) or fail (CI) when ``what`` is not available."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true but is not available", pytrace=False)
    pytest.skip(f"{what} not available")


def chromium_available() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return shutil.which(CHROMIUM) is not None or os.path.exists(CHROMIUM)


def postgres_available(host: str = "127.0.0.1", port: int = 5432) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def _project_dir(tmp_path, monkeypatch):
    """Every test gets its own project folder, never ./labelling-project."""
    monkeypatch.setenv("SUPERINTENDENT_PROJECT_DIR", str(tmp_path / "labelling-project"))
