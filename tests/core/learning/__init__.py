"""Tests of superintendent_core.learning (a package, so that tests/core, with its helpers, is on sys.path)."""
