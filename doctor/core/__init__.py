"""Core room: checks, results, the registry, the runner and the one door to the host (Context)."""
