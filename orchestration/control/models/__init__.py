"""Control state (the old ``MaestroService``): loops, agents, experiments, playbooks, merge trains."""
