"""What the app reads from its secrets (``st.secrets``), as plain values for the engine.

The engine never sees ``st.secrets``: :func:`superintendent_core.service.default_location`
takes the values read here. Environment variables win over these (the engine
reads ``$DATABASE_URL`` and ``$SUPERINTENDENT_PROJECT_DIR`` itself). The roles
in ``[auth]`` are read by :mod:`ui.auth`.

Secrets layout::

    DATABASE_URL = "postgresql+psycopg://…"   # or: [database] url = "…" — a shared project
    project_dir = "/srv/labelling-project"     # the default project folder
    import_root = "/srv/images"                # the only server folder the Data page may import from
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import streamlit as st

from superintendent_core.service.locations import ENV_IMPORT_ROOT

#: Key in ``st.secrets`` naming a shared project's database.
SECRET_DATABASE_URL = "DATABASE_URL"
#: Section in ``st.secrets`` whose ``url`` names a shared project's database (``[database] url``).
SECRET_DATABASE_SECTION = "database"
#: Key in ``st.secrets`` naming the default project folder.
SECRET_PROJECT_DIR = "project_dir"
#: Key in ``st.secrets`` naming the only server folder images may be imported from.
SECRET_IMPORT_ROOT = "import_root"


def secret_database_url() -> str | None:
    """The secrets' ``DATABASE_URL``, else their ``[database] url``; None without either.

    A missing or unreadable secrets file gives None: the app then uses a project folder.
    """
    try:
        value = st.secrets.get(SECRET_DATABASE_URL)
        if not value:
            section = st.secrets.get(SECRET_DATABASE_SECTION)
            value = section.get("url") if isinstance(section, Mapping) else None
    except Exception:  # no secrets file at all: that is the normal local case
        return None
    return str(value) if value else None


def secret_project_dir() -> str | None:
    """The secrets' ``project_dir`` (the default project folder), or None."""
    try:
        value = st.secrets.get(SECRET_PROJECT_DIR)
    except Exception:  # no secrets file at all: that is the normal local case
        return None
    return str(value) if value else None


def import_root() -> str | None:
    """``$SUPERINTENDENT_IMPORT_ROOT``, else the secrets' ``import_root``; None: no server folder may be read."""
    value = os.environ.get(ENV_IMPORT_ROOT)
    if not value:
        try:
            value = st.secrets.get(SECRET_IMPORT_ROOT)
        except Exception:  # no secrets file at all: that is the normal local case
            return None
    return str(value) if value else None
