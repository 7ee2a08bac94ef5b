"""Docker checks against real daemons: up (with/without --experimental), stopped, hung, denied, corrupt config."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from daemons import PRIVATE_NAMESPACES, terminate

from mab_doctor.cli import main
from helpers import PROJECT


def has_exited(pid: int) -> bool:
    """True once pid is gone or a zombie (the fixture reaps its own child only at teardown)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def mounts_under(base: Path) -> list[str]:
    """Mount points at or below base in this (the host's) mount namespace."""
    with open("/proc/self/mountinfo") as fh:
        points = [line.split()[4] for line in fh]
    return [p for p in points if p == str(base) or p.startswith(f"{base}/")]


def stop_private_dockerd(proc: subprocess.Popen, base: Path) -> None:
    """SIGTERM, then SIGKILL for the daemon and anything it started (its own process group); remove base."""
    terminate(proc)
    leaked = mounts_under(base)
    assert not leaked, f"the private dockerd left mounts in the host's namespace: {leaked}"
    shutil.rmtree(base)


@pytest.fixture
def private_dockerd(dockerd, request):
    """start(*flags) -> the socket of a second, private dockerd; stopped and removed after the test.

    The daemon gets network and mount namespaces of its own (unshare): a second dockerd in the host's
    network namespace deletes the host daemon's docker0 bridge, and its mounts stay out of the host's
    mount table. Socket, pidfile, data root and exec root all live in one temporary folder."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is missing: a private dockerd would share the host's network")

    def start(*flags: str) -> str:
        base = Path(tempfile.mkdtemp(prefix="mab-dockerd-"))
        sock = f"unix://{base}/d.sock"
        with open(base / "log", "w") as log:
            proc = subprocess.Popen([*PRIVATE_NAMESPACES, "/usr/sbin/dockerd", "-H", sock, "--data-root",
                                     f"{base}/root", "--exec-root", f"{base}/exec", "--pidfile", f"{base}/pid", "--bridge=none",
                                     "--iptables=false", "--ip-masq=false", "--ip-forward=false", *flags],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                                    start_new_session=True)
        request.addfinalizer(lambda: stop_private_dockerd(proc, base))
        for _ in range(80):
            if subprocess.run(["/usr/bin/docker", "-H", sock, "version"], capture_output=True).returncode == 0:
                return sock
            if proc.poll() is not None:
                break
            time.sleep(0.25)
        pytest.fail(f"private dockerd did not start: {(base / 'log').read_text()[-500:]}")
    return start


def doctor(capsys, monkeypatch, *argv, **env) -> tuple[int, dict]:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    code = main(["--format", "json", "--no-plugins", *argv])
    data = json.loads(capsys.readouterr().out)
    assert data["exit_code"] == code
    return code, {r["name"]: r for r in data["results"]}


def test_daemon_up_reports_the_real_server_version(capsys, monkeypatch, dockerd):
    server = subprocess.run(["/usr/bin/docker", "version", "--format", "{{.Server.Version}}"],
                            capture_output=True, text=True).stdout.strip()
    _, res = doctor(capsys, monkeypatch, "docker-daemon", "docker-experimental", DOCKER_HOST=f"unix://{dockerd}")
    assert res["docker-daemon"]["status"] == "ok" and res["docker-daemon"]["data"]["version"] == server
    assert server in res["docker-daemon"]["summary"]
    exp = res["docker-experimental"]
    assert exp["status"] == "ok" and exp["summary"].startswith("not needed: Docker CLI")
    assert "always enables experimental features" in exp["summary"]


@pytest.mark.parametrize("flags, experimental", [((), False), (("--experimental",), True)])
def test_private_daemon_with_and_without_experimental_then_stopped(capsys, monkeypatch, private_dockerd,
                                                                   flags, experimental):
    sock = private_dockerd(*flags)
    _, res = doctor(capsys, monkeypatch, "docker-daemon", "docker-experimental", DOCKER_HOST=sock)
    assert res["docker-daemon"]["status"] == "ok"
    assert res["docker-experimental"]["data"]["daemon_experimental"] is experimental
    assert res["docker-experimental"]["status"] == "ok"  # 20.10+: not needed either way
    path = sock.removeprefix("unix://")
    pid = int(Path(path).with_name("pid").read_text())
    os.kill(pid, signal.SIGTERM)
    for _ in range(80):
        if has_exited(pid):
            break
        time.sleep(0.25)
    assert has_exited(pid), "the private dockerd did not stop within 20 s of SIGTERM"
    code, res = doctor(capsys, monkeypatch, "docker-daemon", DOCKER_HOST=sock)
    assert code == 1 and res["docker-daemon"]["status"] == "fail"
    # DOCKER_HOST chose the endpoint: the doctor cannot tell a stopped daemon from a wrong address.
    assert res["docker-daemon"]["summary"].startswith(f"the Docker endpoint DOCKER_HOST={sock} cannot be reached")
    assert "start the daemon that should listen there" in res["docker-daemon"]["remediation"]


def test_hung_socket_costs_one_timeout_per_run(monkeypatch, tmp_path):
    path = str(tmp_path / "hung.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(16)
    held, stop = [], threading.Event()

    def accept_and_never_answer():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                pass
    threading.Thread(target=accept_and_never_answer, daemon=True).start()
    try:
        exe = os.path.join(os.path.dirname(sys.executable), "mab-doctor")
        env = {**os.environ, "DOCKER_HOST": f"unix://{path}"}
        start = time.monotonic()
        proc = subprocess.run([exe, "--format", "json", "--timeout", "3", "--no-plugins"], capture_output=True,
                              text=True, env=env, timeout=60, cwd=PROJECT)
        took = time.monotonic() - start
    finally:
        stop.set()
        for conn in held:
            conn.close()
        server.close()
    assert took < 3 + 1, f"a full run took {took:.1f}s with a 3 s timeout"
    assert "Traceback" not in proc.stderr and proc.returncode == 1
    res = {r["name"]: r for r in json.loads(proc.stdout)["results"]}
    assert res["docker-daemon"]["status"] == "fail" and "timed out" in res["docker-daemon"]["summary"]
    assert held, "the fake daemon never saw a connection"


def test_permission_denied_has_its_own_remedy(dockerd, tmp_path):
    mode = os.stat(dockerd).st_mode
    assert mode & 0o007 == 0, "the socket is world-accessible; cannot test permission denied"
    home = tmp_path / "home"
    home.mkdir()
    os.chown(home, 65534, 65534)
    exe = os.path.join(os.path.dirname(sys.executable), "mab-doctor")
    env = {**os.environ, "HOME": str(home), "DOCKER_HOST": f"unix://{dockerd}"}
    env.pop("DOCKER_CONFIG", None)  # nobody's own ~/.docker: the suite's temp config is root's
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    can_run = subprocess.run([*nobody, exe, "--version"], capture_output=True, text=True, env=env, cwd="/")
    if can_run.returncode != 0:  # e.g. a checkout under a 0700 directory
        pytest.skip(f"user nobody cannot run this checkout's mab-doctor ({can_run.stderr.strip()[-120:]})")
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", exe, "docker-daemon",
                           "--format", "json", "--no-plugins"], capture_output=True, text=True, env=env,
                          timeout=60, cwd="/")
    res = {r["name"]: r for r in json.loads(proc.stdout)["results"]}
    daemon = res["docker-daemon"]
    assert proc.returncode == 1 and daemon["status"] == "fail"
    assert daemon["summary"].startswith("permission to the Docker daemon's socket is denied")
    assert "docker group" in daemon["remediation"]


def test_corrupt_config_json_is_named_and_left_untouched(capsys, monkeypatch, dockerd, tmp_path):
    config = tmp_path / "config.json"
    broken = b'{\n  "auths": {},\n  "experimental": "enabled"\n  "credsStore": "pass"\n}\n'
    config.write_bytes(broken)
    code, res = doctor(capsys, monkeypatch, "docker-experimental", DOCKER_CONFIG=str(tmp_path))
    exp = res["docker-experimental"]
    assert code == 1 and exp["status"] == "fail"
    assert f"{config}: line 4, column 3" in exp["summary"]
    assert config.read_bytes() == broken


def test_full_report_with_a_local_arm64_image(capsys, monkeypatch, dockerd, busybox_arm64, tmp_path, validate_report):
    shutil.copy(busybox_arm64, tmp_path / "busybox")
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY busybox /bin/busybox\n")
    tag = f"mab-doctor-test/full-report:{os.getpid()}"
    env = {**os.environ, "DOCKER_BUILDKIT": "1", "DOCKER_HOST": f"unix://{dockerd}"}
    subprocess.run(["/usr/bin/docker", "build", "-q", "--platform", "linux/arm64", "-t", tag, str(tmp_path)],
                   check=True, env=env, capture_output=True, timeout=300)
    try:
        monkeypatch.setenv("DOCKER_HOST", f"unix://{dockerd}")
        code = main(["--format", "json", "--no-plugins"])
        report = validate_report(capsys.readouterr().out)
        assert code == report["exit_code"]
        res = {r["name"]: r for r in report["results"]}
        server = subprocess.run(["/usr/bin/docker", "version", "--format", "{{.Server.Version}}"], env=env,
                                capture_output=True, text=True).stdout.strip()
        assert res["docker-daemon"]["status"] == "ok" and res["docker-daemon"]["data"]["version"] == server
        cache = res["image-cache"]
        assert cache["status"] == "warn" and tag in cache["summary"] + " ".join(cache["details"])
        assert f"docker pull --platform linux/amd64 {tag}" in cache["remediation"]
    finally:
        subprocess.run(["/usr/bin/docker", "image", "rm", tag], env=env, capture_output=True)
