"""Operating Maestro: liveness/readiness probes and process-independent metrics."""
