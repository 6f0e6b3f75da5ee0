"""Helpers shared by the test directories (see tests/README.md)."""
