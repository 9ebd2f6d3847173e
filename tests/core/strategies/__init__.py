"""Tests of superintendent_core.strategies (a package, so that tests/core, with its helpers, is on sys.path)."""
