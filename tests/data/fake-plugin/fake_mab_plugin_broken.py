"""A plugin module that fails at import time."""

raise ImportError("fake plugin is broken on purpose")
