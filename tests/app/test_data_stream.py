"""Data page: table files imported chunk by chunk (``data.stream``) under a progress bar; big files by server path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from superintendent_core.data import stream
from ui import state as S
from ui.project import is_project, open_project

from .conftest import errors, ok


@pytest.fixture
def progress_calls(monkeypatch):
    """Every progress(done, total) the page's bar was given, with small chunks so there are several."""
    calls: list[tuple[int, int]] = []
    real_init, real_iter = stream.TableChunks.__init__, stream.TableChunks.__iter__

    def init(self, source, **kwargs):
        kwargs["chunk_rows"] = 40
        real_init(self, source, **kwargs)

    def iterate(self):
        bar = self.progress
        assert bar is not None, "the page draws a progress bar for a chunked import"

        def record(done, total):
            calls.append((done, total))
            bar(done, total)

        self.progress = record
        yield from real_iter(self)

    monkeypatch.setattr(stream.TableChunks, "__init__", init)
    monkeypatch.setattr(stream.TableChunks, "__iter__", iterate)
    return calls


def _table(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "id": [f"row-{i}" for i in range(n)],
            "x": rng.normal(size=n),
            "y": rng.normal(size=n),
            "label": [("a", "b", None)[i % 3] for i in range(n)],
        }
    )


def _new(app, tmp_path, name: str, source: str) -> str:
    app.switch_page("pages/data.py").run()
    ok(app)
    app.text_input(key=S.DATA_NAME).input(name).run()
    app.text_input(key=S.DATA_PATH).input(str(tmp_path / name)).run()
    app.radio(key=S.DATA_SOURCE).set_value(source).run()
    return str(tmp_path / name)


def test_a_server_table_file_is_imported_chunk_by_chunk_with_progress(
    app, tmp_path, monkeypatch, progress_calls
):
    root = tmp_path / "import-root"
    root.mkdir()
    _table(170).to_parquet(root / "big.parquet")
    monkeypatch.setenv("SUPERINTENDENT_IMPORT_ROOT", str(root))
    path = _new(app, tmp_path, "big", "table_path")
    app.text_input(key="new" + S.DATA_TABLE_PATH).input("big.parquet").run()
    app.radio(key="new" + S.DATA_TABLE_KIND).set_value("table").run()
    assert any("170 rows" in c.value for c in app.caption)
    app.multiselect(key="new" + S.DATA_DISPLAY_COLS).set_value(["id", "x"]).run()
    app.selectbox(key="new" + S.DATA_LABEL_COL).select("label").run()
    assert app.text_input(key=S.DATA_CLASSES).value == "a, b"
    app.button(key=S.DATA_CREATE).click().run()
    ok(app)
    assert progress_calls == [(40, 170), (80, 170), (120, 170), (160, 170), (170, 170), (170, 170)]
    store = open_project(path).store
    assert len(store) == 170 and len(store.labels()) == 114
    assert store.names([0, 169]) == ["row-0", "row-169"]


def test_an_uploaded_csv_with_a_bad_late_row_creates_nothing(app, tmp_path, progress_calls):
    df = _table(150)
    df["x"] = df["x"].astype(object)
    df.loc[130, "x"] = "oops"
    path = _new(app, tmp_path, "bad", "table")
    app.file_uploader(key="new" + S.DATA_TABLE).upload(
        "t.csv", df.to_csv(index=False).encode(), "text/csv"
    ).run()
    app.radio(key="new" + S.DATA_TABLE_KIND).set_value("table").run()
    app.multiselect(key="new" + S.DATA_DISPLAY_COLS).set_value(["id"]).run()
    app.multiselect(key="new" + S.DATA_FEATURE_COLS).set_value(["x", "y"]).run()
    app.button(key=S.DATA_CREATE).click().run()
    assert app.exception == []
    assert any("'x'" in e and "row-130" in e and "oops" in e for e in errors(app)), errors(app)
    assert not is_project(path)
    assert progress_calls and progress_calls[-1][0] < 150


@pytest.mark.parametrize("how", ["absolute outside", "dot-dot", "system"])
def test_table_files_outside_the_import_root_are_refused(app, tmp_path, monkeypatch, how):
    root = tmp_path / "import-root"
    root.mkdir()
    _table(5).to_csv(tmp_path / "private.csv", index=False)
    monkeypatch.setenv("SUPERINTENDENT_IMPORT_ROOT", str(root))
    value = {
        "absolute outside": str(tmp_path / "private.csv"),
        "dot-dot": "../private.csv",
        "system": "/etc/passwd",
    }[how]
    _new(app, tmp_path, "outside", "table_path")
    app.text_input(key="new" + S.DATA_TABLE_PATH).input(value).run()
    assert app.exception == []
    assert any("Only files inside" in e for e in errors(app)), errors(app)
    assert app.button(key=S.DATA_CREATE).disabled


def test_without_an_import_root_the_server_file_form_is_off(app, tmp_path, monkeypatch):
    monkeypatch.delenv("SUPERINTENDENT_IMPORT_ROOT", raising=False)
    _new(app, tmp_path, "off", "table_path")
    assert not [t for t in app.text_input if t.key == "new" + S.DATA_TABLE_PATH]
    assert any("off" in i.value for i in app.info)
