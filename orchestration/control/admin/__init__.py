"""Control state in the admin: one module per kind (loops, agents, experiments, playbooks, merge trains)."""
