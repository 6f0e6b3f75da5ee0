"""The kernel: errors, request context, actors, wire formats, roles. Imports nothing of Maestro."""
