"""Engines room: what Docker, buildx and Podman say, read once per run."""
