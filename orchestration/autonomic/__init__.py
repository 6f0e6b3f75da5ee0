"""Autonomic loops (DESIGN §7.2); built on a branch of its own."""
