"""The project's build intent: what its bake, compose, CI and Dockerfiles say will be built, and where."""
