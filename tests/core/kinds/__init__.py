"""Tests of the data-kind registry.

A package (like ``tests/app``), so pytest puts ``tests/core`` on ``sys.path`` for
these modules and ``from fresh_python import run_fresh`` resolves as it does in
``tests/core``; a ``conftest.py`` here would shadow ``tests/conftest.py``, which
``tests/core/sql_helpers.py`` imports as ``conftest``.
"""
