"""Atomic file replacement: the one way mab-doctor writes reports, journals and config files."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomically(path: str | Path, text: str) -> None:
    """Write a hidden sibling, fsync it, keep the old file's mode, and rename it over ``path``:
    readers see the old content or the new, never half of it."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o7777)  # config.json may hold credentials: 0600 stays
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
