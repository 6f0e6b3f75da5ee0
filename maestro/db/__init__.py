"""Maestro's PostgreSQL backend: Django's, with a cheaper check of pooled connections (base.py)."""
