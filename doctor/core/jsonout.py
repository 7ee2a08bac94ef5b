"""JSON read from a command's output: docker, podman and buildah print it in different shapes."""

from __future__ import annotations

import json
from typing import Any


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
        return None


def json_documents(text: str) -> list[dict] | None:
    """The objects in a command's output: one JSON document (an object, or an array of objects, as
    podman prints), else one object per line (docker's `--format '{{json .}}'`, where warnings may
    share stdout). [] for empty output; None when nothing in it parses."""
    if not text.strip():
        return []
    whole = _loads(text)
    if isinstance(whole, dict):
        return [whole]
    if isinstance(whole, list):
        return [d for d in whole if isinstance(d, dict)]
    lines = [d for d in map(_loads, text.splitlines()) if isinstance(d, dict)]
    return lines or None
