"""Stopping a daemon the host tests started: SIGTERM, SIGKILL after 30 s, then its whole process group."""

from __future__ import annotations

import os
import signal
import subprocess


# A daemon of the tests' own, in network and mount namespaces of its own (its bridge never touches the
# host's). The namespace's copy of the host's binfmt_misc mount is dropped first: while any namespace
# holds that mount, unmounting binfmt_misc on the host leaves its handlers working, which the tests
# that unmount it must not see. Handlers still apply inside: they belong to the user namespace.
PRIVATE_NAMESPACES = ("unshare", "--net", "--mount", "--propagation", "private", "--",
                      "sh", "-c", 'umount -l /proc/sys/fs/binfmt_misc 2>/dev/null; exec "$@"', "sh")


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
