"""Shared pieces of the control-state models (loops, agents, experiments, playbooks, merge
trains): the slug ids the old system used, kept unique per tenant."""

from django.core.validators import RegexValidator

# The old ids are slugs such as ``cost-optimization``, ``exp-001``, ``pb-restart-pods``.
SLUG_RE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
slug_validator = RegexValidator(
    SLUG_RE, "An id is 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit.")
