"""Every page runs without an exception, fresh and after some labels and a retrain."""

from __future__ import annotations

import pytest

from .conftest import PAGES, label_correctly, ok


@pytest.mark.parametrize("page", PAGES)
def test_page_opens_without_exception(app, page):
    app.switch_page(page).run()
    ok(app)


def test_every_page_after_labels_and_a_retrain(app, project):
    label_correctly(app, project, 25)
    project.scheduler.run()
    for page in PAGES:
        app.switch_page(page).run()
        ok(app)
