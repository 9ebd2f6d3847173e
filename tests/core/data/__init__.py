"""Tests of superintendent_core.data: importers and exporters."""
