"""Docker 26 with the containerd image store, run from the Debian 13 root that scripts/test debootstraps."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from daemons import terminate

CACHE = Path(__file__).resolve().parents[1] / ".cache"
ROOT = CACHE / "trixie-root"
RUN_DIR = "/run/mab-docker26"  # inside ROOT; the socket is ROOT + RUN_DIR + /docker.sock from the host
DATA_ROOT = "/var/lib/mab-docker26"  # inside ROOT; wiped before and after each session
DAEMON_JSON = {"features": {"containerd-snapshotter": True}}
DOCKER = "/usr/bin/docker"

# Every mount happens in the daemon's own mount namespace (unshare --mount, private propagation): when
# its last process exits the kernel drops them, so an interrupted session cannot leave one on the host.
# The root is bound onto itself first so that it is a mount point of its own, then the kernel's views
# go in. `exec` all the way down: the Popen pid is dockerd's pid. The namespace's copy of the host's
# binfmt_misc mount is dropped first: while any namespace holds it, unmounting binfmt_misc on the host
# keeps its handlers working (what the tests that unmount it must not see). Handlers still apply to
# the daemon's processes: binfmt_misc entries belong to the user namespace, not to a mount.
SETUP = ('R="$1"; shift; umount -l /proc/sys/fs/binfmt_misc 2>/dev/null || true; '
         'mount --bind "$R" "$R"; mount --make-private "$R"; '
         'mount --bind /proc "$R/proc"; mount --bind /dev "$R/dev"; mount --bind /dev/pts "$R/dev/pts"; '
         'mount --rbind /sys "$R/sys"; exec chroot "$R" "$@"')


def socket_path() -> str:
    return f"{ROOT}{RUN_DIR}/docker.sock"


def processes_in_root() -> list[int]:
    """Pids whose root directory is ROOT: the daemon, its containerd, shims and build steps."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/root") == str(ROOT):
                    found.append(int(entry))
            except OSError:
                pass
    return found


def mounts_under(base: Path) -> list[str]:
    """Mount points at or below base in the host's mount namespace."""
    with open("/proc/self/mountinfo") as fh:
        points = [line.split()[4] for line in fh]
    return [p for p in points if p == str(base) or p.startswith(f"{base}/")]


def wipe(inside: str) -> None:
    """Remove a folder inside ROOT, never crossing into a mount (there should be none on the host)."""
    path = f"{ROOT}{inside}"
    if os.path.exists(path):
        subprocess.run(["rm", "-rf", "--one-file-system", path], check=True, timeout=300)


def missing_reason() -> str | None:
    """Why Docker 26 cannot run here, or None."""
    if os.geteuid() != 0:
        return "the Docker 26 daemon needs root (mounts, chroot)"
    if not (ROOT / "usr/sbin/dockerd").is_file():
        return (f"{ROOT} is missing: scripts/test debootstraps it (needs root and a Debian mirror); "
                "see its output")
    if shutil.which("unshare") is None or shutil.which("chroot") is None:
        return "unshare or chroot is missing (util-linux, coreutils)"
    if not os.path.exists(DOCKER):
        return f"{DOCKER} is missing: scripts/test installs Debian's docker.io"
    return None


def answers(sock: str) -> bool:
    done = subprocess.run([DOCKER, "-H", f"unix://{sock}", "version"], capture_output=True, timeout=30)
    return done.returncode == 0


def start() -> subprocess.Popen:
    """Start dockerd 26 in ROOT with private network and mount namespaces; wait until it answers."""
    wipe(RUN_DIR)
    wipe(DATA_ROOT)
    os.makedirs(f"{ROOT}{RUN_DIR}")
    (ROOT / "etc/docker").mkdir(parents=True, exist_ok=True)
    (ROOT / "etc/docker/mab-daemon.json").write_text(json.dumps(DAEMON_JSON))
    # Its docker0 lives in the namespace of its own (RUN steps get the default network, as a user's
    # do); no iptables: nothing leaves the namespace.
    daemon = ["/usr/sbin/dockerd", "-H", f"unix://{RUN_DIR}/docker.sock", "--pidfile", f"{RUN_DIR}/docker.pid",
              "--data-root", DATA_ROOT, "--exec-root", f"{RUN_DIR}/exec",
              "--config-file", "/etc/docker/mab-daemon.json", "--iptables=false",
              "--ip-masq=false", "--ip-forward=false"]
    log = open(f"{ROOT}{RUN_DIR}/dockerd.log", "w")
    proc = subprocess.Popen(["unshare", "--mount", "--net", "--propagation", "private", "--",
                             "sh", "-ec", SETUP, "sh", str(ROOT), *daemon],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    log.close()
    for _ in range(120):
        if answers(socket_path()):
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.25)
    text = Path(f"{ROOT}{RUN_DIR}/dockerd.log").read_text()[-800:]
    stop(proc)
    pytest.skip(f"Docker 26 did not start from {ROOT}: {text}")


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM (SIGKILL after 30 s), then kill whatever still runs in ROOT; wipe the daemon's state."""
    terminate(proc)
    for _ in range(40):
        left = processes_in_root()
        if not left:
            break
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.25)
    assert not processes_in_root(), f"processes still run in {ROOT}: {processes_in_root()}"
    leaked = mounts_under(ROOT)
    assert not leaked, f"Docker 26 left mounts in the host's namespace: {leaked}"
    wipe(DATA_ROOT)
    wipe(RUN_DIR)


@pytest.fixture(scope="session")
def docker26():
    """The socket path of Docker 26 (containerd image store) for this session: DOCKER_HOST=unix://<it>."""
    reason = missing_reason()
    if reason:
        print(f"docker26: skipped: {reason}")
        pytest.skip(reason)
    if os.path.exists(socket_path()) and answers(socket_path()):
        pytest.skip(f"a Docker 26 from an earlier run still answers on {socket_path()}: stop it first")
    proc = start()
    try:
        yield socket_path()
    finally:
        stop(proc)
