"""A real ``streamlit run app.py`` and a headless Debian Chromium driven by Playwright.

Skips on a laptop without Chromium; fails under ``CI=true`` (see tests/conftest.py).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import CHROMIUM, chromium_available, require

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 60.0) -> float:
    """Poll ``/_stcore/health`` until it answers; returns the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as response:
                if response.status == 200:
                    return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.05)  # polling interval of a readiness probe, not a wait for a result
    raise TimeoutError(f"streamlit did not become healthy within {timeout} s")


@contextmanager
def streamlit_server(project_dir: str | os.PathLike, app: str = "app.py", cwd: Path = ROOT):
    """Start ``streamlit run`` on a free port; yields ``(url, process)``; stops it afterwards."""
    port = free_port()
    env = dict(os.environ, SUPERINTENDENT_PROJECT_DIR=str(project_dir), PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", app,
            "--server.headless", "true",
            "--server.port", str(port),
            "--server.address", "127.0.0.1",
            "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none",
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@contextmanager
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="package")
def _shared_chromium():
    """One Chromium for the browser tests (starting one costs seconds); each test gets fresh contexts."""
    require(chromium_available(), "chromium")
    with chromium() as b:
        yield b


@pytest.fixture
def browser(_shared_chromium):
    """The shared Chromium; the pages (contexts: cookies, storage) a test opens are closed after it."""
    before = set(_shared_chromium.contexts)
    yield _shared_chromium
    for context in _shared_chromium.contexts:
        if context not in before:
            context.close()


@pytest.fixture
def server(tmp_path):
    require(chromium_available(), "chromium")
    with streamlit_server(tmp_path / "labelling-project") as (url, process):
        yield url
