"""The engine admin (see below)."""
