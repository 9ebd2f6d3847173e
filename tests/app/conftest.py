"""AppTest helpers: the app through ``app.py``, storage in ``tmp_path`` (root conftest's env var)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ui import heap  # noqa: E402
from ui import state as S  # noqa: E402
from ui.project import open_project  # noqa: E402

# This process runs hundreds of apps one after another: freezing their objects (ui/heap.py) would
# keep whatever cycles they leave. tests/app/test_heap.py turns it on where it is the subject.
heap.ENABLED = False

PAGES = ["pages/label.py", "pages/model.py", "pages/data.py", "pages/review.py"]


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def exceptions(at: AppTest) -> list[str]:
    return [e.value for e in at.exception]


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def ok(at: AppTest) -> AppTest:
    """Fail with the page's exception or error text, if any."""
    assert exceptions(at) == []
    assert errors(at) == []
    return at


@pytest.fixture
def project_dir() -> str:
    return os.path.abspath(os.environ["SUPERINTENDENT_PROJECT_DIR"])


@pytest.fixture
def app(project_dir):
    """The app, run once (opens the default project, with the digits demo)."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    # The first run starts the new project's cold-start ordering in the background;
    # tests start from the ordered project, not from a race with it.
    open_project(project_dir).scheduler.wait(60)
    yield at
    try:
        project = open_project(project_dir)
        project.scheduler.wait(60)
        project.store.close()
    except Exception:
        pass
    open_project.clear()


@pytest.fixture
def project(app, project_dir):
    """The default project the app opened (the same object every session shares)."""
    return open_project(project_dir)


def label_buttons(at: AppTest) -> list:
    return [b for b in at.button if b.key and b.key.startswith("label_class_")]


def click_class(at: AppTest, index: int) -> AppTest:
    return at.button(key=S.label_class_key(index)).click().run()


def label_correctly(at: AppTest, project, n: int) -> None:
    """Label ``n`` items with their true digit (the demo keeps the truth aside)."""
    for _ in range(n):
        item_id = project.store.next_item(at.query_params[S.QP_LABELLER])
        truth = project.store.true_labels([item_id])[0]
        click_class(at, project.store.settings.classes.index(truth))
