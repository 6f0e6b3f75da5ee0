"""Control state in the admin: loops, agents and playbooks; experiments; merge trains."""
