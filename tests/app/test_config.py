"""What the app reads from its secrets and environment: plain values handed to the engine."""

from __future__ import annotations

import os

import pytest
import streamlit as st

from ui import config, project, shortcuts


class _MissingOrBrokenSecrets(dict):
    """Behaves like ``st.secrets`` without a file (or with one Streamlit cannot parse)."""

    def get(self, key, default=None):
        raise FileNotFoundError("No secrets found. Valid paths for a secrets.toml ...")


@pytest.fixture
def secrets(monkeypatch):
    def use(value):
        monkeypatch.setattr(st, "secrets", value)

    return use


def test_database_url_from_the_secrets(secrets):
    secrets({})
    assert config.secret_database_url() is None
    secrets({"DATABASE_URL": "sqlite:///a.db"})
    assert config.secret_database_url() == "sqlite:///a.db"
    secrets({"database": {"url": "sqlite:///b.db"}})
    assert config.secret_database_url() == "sqlite:///b.db"
    secrets({"database": "not a section"})
    assert config.secret_database_url() is None
    secrets(_MissingOrBrokenSecrets())
    assert config.secret_database_url() is None and config.secret_project_dir() is None


def test_the_default_project_environment_first_then_secrets(secrets, monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("SUPERINTENDENT_PROJECT_DIR", str(tmp_path / "env"))
    secrets({"project_dir": str(tmp_path / "secret")})
    assert project.default_path() == str(tmp_path / "env")
    monkeypatch.delenv("SUPERINTENDENT_PROJECT_DIR")
    assert project.default_path() == str(tmp_path / "secret")
    secrets({})
    assert project.default_path() == os.path.abspath("labelling-project")
    secrets({"DATABASE_URL": "sqlite:///s.db", "project_dir": "x"})
    assert project.default_path() == "sqlite:///s.db"
    monkeypatch.setenv("DATABASE_URL", "sqlite:///e.db")
    assert project.default_path() == "sqlite:///e.db"


def test_the_class_buttons_leave_streamlits_keys_skip_and_accept_free():
    assert shortcuts.RESERVED_SHORTCUTS == {"C", "R", shortcuts.SKIP_KEY, shortcuts.ACCEPT_KEY}
    assert shortcuts.SKIP_KEY == "S" and shortcuts.ACCEPT_KEY == "P"
