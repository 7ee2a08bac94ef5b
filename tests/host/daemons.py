"""Stopping a daemon the host tests started: SIGTERM, SIGKILL after 30 s, then its whole process group."""

from __future__ import annotations

import os
import signal
import subprocess


def terminate(proc: subprocess.Popen) -> None:
    """Stop ``proc`` and anything it started in its process group (a containerd a killed dockerd leaves)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
