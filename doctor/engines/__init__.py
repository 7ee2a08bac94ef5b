"""Engines room: what the Docker CLI and daemon and the buildx plugin say, read once per run."""
