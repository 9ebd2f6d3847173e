"""Names and texts are shown as text on every page: a hostile project (its name, classes, item names,
texts and labellers are Markdown, HTML and directives) renders every one of them literally."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from superintendent_core.kinds.formatting import escape_markdown
from superintendent_core.store import ItemBatch, ProjectSettings
from superintendent_core.store.folder import FolderStore
from ui import state as S
from ui.project import open_project

from .conftest import APP, PAGES, exceptions

#: Remote image, javascript link, HTML, emphasis, colour directive, LaTeX, icon.
HOSTILE = [
    "![x](http://127.0.0.1:9/x.png)",
    "[click](javascript:alert(1))",
    "<img src=x onerror=alert(1)>",
    "**bold**",
    ":red[x]",
    "$x^2$",
    ":material/home:",
]
PROJECT_NAME = "**P** ![p](http://127.0.0.1:9/p.png)"
LABELLER = "<b>eve</b> ![e](http://127.0.0.1:9/e.png)"

#: Elements whose strings Streamlit shows as plain text (typed values, select options, code, tables).
PLAIN = {"text_input", "text_area", "selectbox", "multiselect", "code", "text", "arrow_data_frame",
         "data_editor", "dataframe", "number_input", "file_uploader", "download_button", "slider",
         "arrow_vega_lite_chart", "vega_lite_chart", "page_link", "form"}


def make_hostile_project(path) -> None:
    n = len(HOSTILE)
    settings = ProjectSettings(name=PROJECT_NAME, kind="text", classes=tuple(HOSTILE), overlap=2)
    with FolderStore(path, settings=settings) as store:
        store.add_items(ItemBatch(names=tuple(HOSTILE), kind="text", features=np.eye(n, dtype=np.float32),
                                  payloads=[f"{h}\n# heading {h}" for h in HOSTILE]))
        for i in range(n - 1):  # the last item stays unlabelled: the Label page shows it
            store.submit(i, HOSTILE[i], LABELLER)
            store.submit(i, HOSTILE[(i + 1) % n], "ann")


def strings(proto, out: list[str]) -> list[str]:
    for field, value in proto.ListFields():
        values = value if getattr(field, "is_repeated", False) or isinstance(value, list | tuple) \
            or type(value).__name__.startswith("Repeated") else [value]
        for v in values:
            if isinstance(v, str):
                out.append(v)
            elif hasattr(v, "ListFields"):
                strings(v, out)
    return out


def rendered_markdown(at: AppTest) -> list[tuple[str, str]]:
    """(element type, string) of every string of the page that Streamlit renders as Markdown."""
    found = []
    stack = [at._tree]
    while stack:
        node = stack.pop()
        stack.extend(getattr(node, "children", {}).values())
        proto = getattr(node, "proto", None)
        kind = getattr(node, "type", "")
        if proto is None or kind in PLAIN or not hasattr(proto, "ListFields"):
            continue
        found += [(kind, s) for s in strings(proto, [])]
    return found


def unescaped(text: str, shown: str) -> bool:
    """``text`` occurs in ``shown`` as Markdown would read it (not behind an escaping backslash)."""
    start = shown.find(text)
    while start >= 0:
        if start == 0 or shown[start - 1] != "\\":
            return True
        start = shown.find(text, start + 1)
    return False


@pytest.fixture
def hostile_app(project_dir):
    make_hostile_project(project_dir)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params[S.QP_LABELLER] = "ann"
    at.run()
    yield at
    project = open_project(project_dir)
    project.scheduler.wait(60)
    project.store.close()
    open_project.clear()


@pytest.mark.parametrize("page", PAGES)
def test_every_page_shows_hostile_names_literally(hostile_app, page):
    at = hostile_app.switch_page(page).run()
    assert exceptions(at) == []
    shown = rendered_markdown(at)
    assert shown, "nothing rendered"
    for text in [*HOSTILE, PROJECT_NAME, LABELLER]:
        raw = [(kind, s) for kind, s in shown if unescaped(text, s)]
        assert raw == [], f"{text!r} reaches Markdown unescaped on {page}: {raw}"


def test_class_buttons_item_and_project_are_escaped(hostile_app):
    at = hostile_app
    labels = [b.label for b in at.button if b.key and b.key.startswith("label_class_")]
    assert labels == [escape_markdown(h) for h in HOSTILE]
    item = HOSTILE[-1]
    assert any(escape_markdown(item) in c.value for c in at.caption)  # the item's name under its text
    assert any(escape_markdown(f"{item}\n# heading {item}") == m.value for m in at.markdown)  # its text
    assert any(escape_markdown(PROJECT_NAME) in c.value for c in at.sidebar.caption)


def test_review_shows_a_hostile_labeller_literally(hostile_app):
    at = hostile_app
    at.query_params[S.QP_LABELLER] = LABELLER
    at.switch_page("pages/review.py").run()
    assert exceptions(at) == []
    settle = at.button(key=S.REVIEW_SETTLE)
    assert escape_markdown(LABELLER) in settle.help and LABELLER not in settle.help
