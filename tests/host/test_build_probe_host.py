"""The build probe held against real builds: a daemon whose bridge is gone, the C flag on the real kernel
(fixed, then undone byte for byte), several platforms through the docker driver with either image store,
Podman, and nothing left behind in any store."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import binfmt_state
from daemons import PRIVATE_NAMESPACES, terminate
from test_build_truth_host import (BOTH, REFUSAL_SENTENCES, TWO_ARCH, Daemon, arm64_runs, buildx, context,  # noqa: F401
                                   d26, host20)

from mab_doctor.cli import main

pytestmark = pytest.mark.skipif(os.uname().machine != "x86_64",
                                reason="written for an amd64 host: arm64 is the emulated platform")
# A RUN step with a network: the one thing a daemon without its bridge cannot give.
NETWORK_STEP = 'FROM scratch\nCOPY busybox-amd64 /bin/sh\nRUN ["/bin/sh", "-c", "true"]\n'


def probe(capsys, monkeypatch, *argv, **env) -> tuple[int, dict]:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    code = main(["--format", "json", "--no-plugins", "--build", "build-probe", *argv])
    data = json.loads(capsys.readouterr().out)
    assert data["exit_code"] == code
    return code, {r["target"]: r for r in data["results"] if r["name"] == "build-probe"}


def podman_images() -> set[str]:
    done = subprocess.run(["podman", "images", "-a", "-q", "--no-trunc"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


class BridgedDaemon:
    """Debian's dockerd with its own docker0 bridge, in network and mount namespaces of its own (the host's
    docker0 is never touched); restartable on the same data root."""

    def __init__(self):
        self.base = Path(tempfile.mkdtemp(prefix="mab-bridged-"))
        self.sock, self.proc = f"{self.base}/d.sock", None

    def start(self) -> None:
        log = open(self.base / "log", "a")
        self.proc = subprocess.Popen([*PRIVATE_NAMESPACES, "/usr/sbin/dockerd", "-H", f"unix://{self.sock}",
                                      "--data-root", f"{self.base}/root", "--exec-root", f"{self.base}/exec", "--pidfile",
                                      f"{self.base}/pid", "--iptables=false", "--ip-masq=false"],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        for _ in range(120):
            if subprocess.run(["/usr/bin/docker", "-H", f"unix://{self.sock}", "version"],
                              capture_output=True).returncode == 0:
                return
            time.sleep(0.25)
        pytest.fail(f"bridged dockerd did not start: {(self.base / 'log').read_text()[-500:]}")

    def delete_bridge(self) -> None:
        subprocess.run(["nsenter", "--net", "--target", str(self.proc.pid), "ip", "link", "delete", "docker0"],
                       check=True, timeout=30)

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc)
            self.proc = None


@pytest.fixture
def bridged(buildx):
    if shutil.which("unshare") is None or shutil.which("nsenter") is None:
        pytest.skip("unshare or nsenter (util-linux) is missing")
    daemon = BridgedDaemon()
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()
        shutil.rmtree(daemon.base, ignore_errors=True)


def test_a_daemon_without_its_bridge_fails_naming_the_endpoint_then_passes_after_a_restart(
        capsys, monkeypatch, bridged, arm64_runs, tmp_path):
    env = {"DOCKER_HOST": f"unix://{bridged.sock}"}
    store = Daemon(bridged.sock, "bridged")
    code, rows = probe(capsys, monkeypatch, "--platform", "linux/arm64", **env)
    assert code == 0 and rows["linux/arm64"]["data"]["steps"]["static"] is True, rows
    bridged.delete_bridge()
    code, rows = probe(capsys, monkeypatch, "--platform", "linux/arm64", **env)
    row = rows["linux/arm64"]
    assert code == 1 and row["status"] == "fail" and row["data"]["cause"] == "network-endpoint", row
    assert any("failed to create endpoint" in d and "docker0" in d for d in row["details"])
    # The truth: a real build of a RUN step on that daemon fails the same way.
    real = store.build(context(tmp_path, NETWORK_STEP, "amd64"), "--progress", "plain", "--platform", "linux/amd64")
    assert real.returncode != 0 and "failed to create endpoint" in real.stderr
    capsys.readouterr()  # what the real build printed
    store.forget_new()  # the real build's cache records
    bridged.stop()
    bridged.start()
    code, rows = probe(capsys, monkeypatch, "--platform", "linux/arm64", **env)
    assert code == 0 and rows["linux/arm64"]["status"] in ("ok", "warn"), rows
    assert store.image_lines() == store.images and store.cache_ids() - store.cache == set()


def test_without_the_c_flag_the_setuid_step_fails_the_fix_adds_it_and_undo_restores_the_entry(
        capsys, monkeypatch, debian_host, host20):
    entry = binfmt_state.entries_text()["qemu-aarch64"]
    assert "C" not in entry.split("flags: ")[1].split("\n")[0]  # Debian 12's handler: no C
    code, rows = probe(capsys, monkeypatch, "--platform", "linux/arm64")
    row = rows["linux/arm64"]
    assert code == 0 and row["status"] == "warn" and "no C flag" in row["summary"], row
    assert row["data"]["steps"] == {"static": True, "pie": True, "setuid": False}
    code = main(["--fix", "--yes", "--no-plugins", "--color", "never", "--add-c-flag", "--build", "build-probe",
                 "--platform", "linux/arm64"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "C" in binfmt_state.entries_text()["qemu-aarch64"].split("flags: ")[1].split("\n")[0]
    code, rows = probe(capsys, monkeypatch, "--platform", "linux/arm64")
    assert code == 0 and rows["linux/arm64"]["status"] == "ok", rows
    assert rows["linux/arm64"]["data"]["steps"]["setuid"] is True
    assert main(["undo", "--color", "never"]) == 0
    capsys.readouterr()
    assert binfmt_state.entries_text()["qemu-aarch64"] == entry  # byte for byte
    code, rows = probe(capsys, monkeypatch, "--platform", "linux/arm64")
    assert rows["linux/arm64"]["status"] == "warn"
    assert host20.image_lines() == host20.images and host20.cache_ids() - host20.cache == set()


def test_several_platforms_through_the_docker_driver_and_a_classic_store_fail_like_the_real_build(
        capsys, monkeypatch, host20, arm64_runs, tmp_path):
    code, rows = probe(capsys, monkeypatch, "--platform", BOTH)
    assert code == 1 and [rows[t]["data"]["cause"] for t in BOTH.split(",")] == ["docker-driver-multiplatform"] * 2
    real = host20.build(context(tmp_path, TWO_ARCH, "amd64", "arm64"), "--platform", BOTH)
    assert real.returncode != 0 and all(s in real.stderr for s in REFUSAL_SENTENCES)
    assert host20.image_lines() == host20.images and host20.cache_ids() - host20.cache == set()


def test_several_platforms_through_docker_26_with_the_containerd_store_build_like_the_real_build(
        capsys, monkeypatch, d26, arm64_runs, tmp_path):
    code, rows = probe(capsys, monkeypatch, "--platform", BOTH, DOCKER_HOST=f"unix://{d26.sock}")
    assert code == 0, [(r["summary"], r["details"]) for r in rows.values()]
    assert rows["linux/amd64"]["status"] == "ok" and rows["linux/amd64"]["data"]["how"] == "native"
    assert rows["linux/arm64"]["data"]["steps"]["static"] is True and rows["linux/arm64"]["data"]["how"] == "emulated"
    assert d26.image_lines() == d26.images and d26.cache_ids() - d26.cache == set()
    real = d26.build(context(tmp_path, TWO_ARCH, "amd64", "arm64"), "--platform", BOTH, "--network", "none")
    assert real.returncode == 0, real.stderr[-2000:]


def test_podman_builds_of_the_project_are_probed_with_podman_and_leave_no_image(capsys, monkeypatch, arm64_runs,
                                                                                 tmp_path):
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (scripts/test installs it)")
    workflow = tmp_path / "project" / ".github" / "workflows" / "ci.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text("on: push\njobs:\n  image:\n    runs-on: ubuntu-latest\n    steps:\n"
                        "      - run: podman build --platform linux/arm64,linux/amd64 --manifest app .\n")
    before = podman_images()
    code, rows = probe(capsys, monkeypatch, "--project", str(tmp_path / "project"), GITHUB_ACTIONS="true")
    assert set(rows) == {"linux/arm64", "linux/amd64"}, rows
    assert {r["data"]["engine"] for r in rows.values()} == {"podman"}
    assert rows["linux/amd64"]["status"] == "ok" and rows["linux/arm64"]["data"]["steps"]["pie"] is True
    assert podman_images() == before


@pytest.mark.parametrize("name", ["linux/arm64", "linux/arm/v7", "linux/arm/v5", "linux/riscv64", "linux/ppc64le",
                                  "linux/s390x", "linux/mips64le", "linux/386", "linux/amd64"])
def test_each_marker_probe_marks_as_root_and_only_as_root(debian_host, tmp_path, name):
    """The probe programs, run for real (through QEMU when foreign): static and PIE leave their mark;
    a setuid-root copy run as uid 1000 leaves it only where setuid works (natively; emulated, only
    with C, which Debian's handlers lack)."""
    from mab_doctor.emulation.probes import MARKER, build_marker_probe
    from mab_doctor.host.platforms import parse_platform

    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is missing")
    target = parse_platform(name)
    native = name in ("linux/amd64", "linux/386")
    for kind in ("static", "pie", "setuid"):
        folder = tmp_path / kind
        folder.mkdir(mode=0o755)
        os.chmod(folder, 0o755)
        program = folder / "probe"
        program.write_bytes(build_marker_probe(target.platform, pie=kind == "pie"))
        os.chmod(program, 0o4755 if kind == "setuid" else 0o755)
        user = ["setpriv", "--reuid", "1000", "--regid", "1000", "--clear-groups"] if kind == "setuid" else []
        done = subprocess.run([*user, str(program)], cwd=folder, capture_output=True, timeout=60)
        assert done.returncode == 0, (name, kind, done.stderr)
        marked = (folder / MARKER).is_dir()
        assert marked == (kind != "setuid" or native), (name, kind)
