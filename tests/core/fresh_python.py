"""Run code in a fresh interpreter: for what an import does (or does not) load or register."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_fresh(code: str) -> str:
    """Run ``code`` with ``python -c`` from the repository root and return its standard output.

    Fails the test with the interpreter's standard error if the code raises.
    """
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, f"fresh interpreter failed:\n{out.stderr}"
    return out.stdout
