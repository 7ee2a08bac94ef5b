"""The doctor's verdicts on this very machine, compared with what really happens."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys

import psutil

import binfmt_state
from helpers import PROJECT
from mab_doctor.cli import main


def doctor(capsys, *argv):
    code = main(["--format", "json", "--no-plugins", *argv])
    data = json.loads(capsys.readouterr().out)
    assert data["exit_code"] == code
    return {(r["name"], r["target"]): r for r in data["results"]}


def run_foreign(path) -> str:
    """Run the arm64 busybox for real: 'ran', or the errno name the kernel gave."""
    try:
        proc = subprocess.run([str(path), "true"], capture_output=True, timeout=60)
    except OSError as exc:
        return errno.errorcode[exc.errno]
    return "ran" if proc.returncode == 0 else f"exit {proc.returncode}"


def apply_fix(result):
    for argv in result["fix"]["commands"]:
        subprocess.run(argv, check=True, timeout=60)


def test_host_platform_agrees_with_dpkg_and_uname(capsys):
    hp = doctor(capsys, "host-platform")[("host-platform", None)]
    assert hp["status"] == "ok"
    assert hp["data"]["uname_machine"] == os.uname().machine
    dpkg = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip()
    assert hp["data"]["debian_arch"] == dpkg
    assert hp["data"]["oci_platform"] == {"amd64": "linux/amd64", "arm64": "linux/arm64"}[dpkg]


def test_kernel_version_verdict_matches_a_real_f_registration(capsys, binfmt_guard):
    kv = doctor(capsys, "kernel-version")[("kernel-version", None)]
    assert kv["status"] == "ok" and kv["data"]["release"] == os.uname().release
    binfmt_state.mount()
    binfmt_state.register_line(":mab-doctor-f-test:E::mabdoctortest::/bin/true:F")
    entry = open(f"{binfmt_state.MOUNT_POINT}/mab-doctor-f-test").read()
    assert "flags: F" in entry  # the kernel really honours F, as the verdict says


def test_binfmt_mount_verdicts_follow_reality(capsys, binfmt_guard, busybox_arm64, debian_aarch64_line):
    binfmt_state.unmount()
    res = doctor(capsys, "binfmt-mount", "--platform", "linux/arm64")
    mount = res[("binfmt-mount", None)]
    assert mount["status"] == "fail" and mount["summary"] == "binfmt_misc is not mounted"
    assert run_foreign(busybox_arm64) == "ENOEXEC"  # truth: the build's RUN step would fail

    apply_fix(mount)  # exactly the commands the doctor printed
    binfmt_state.register_line(debian_aarch64_line)
    mount = doctor(capsys, "binfmt-mount", "--platform", "linux/arm64")[("binfmt-mount", None)]
    assert mount["status"] == "ok" and "qemu-aarch64" in mount["data"]["entries"]
    assert run_foreign(busybox_arm64) == "ran"

    binfmt_state.write(f"{binfmt_state.MOUNT_POINT}/status", "0")
    mount = doctor(capsys, "binfmt-mount", "--platform", "linux/arm64")[("binfmt-mount", None)]
    assert mount["status"] == "fail" and "globally disabled" in mount["summary"]
    assert run_foreign(busybox_arm64) == "ENOEXEC"  # the disabled switch really stops every handler
    apply_fix(mount)
    assert doctor(capsys, "binfmt-mount", "--platform", "linux/arm64")[("binfmt-mount", None)]["status"] == "ok"
    assert run_foreign(busybox_arm64) == "ran"


def test_binfmt_kernel_verdict_matches_mountability(capsys, binfmt_guard):
    bk = doctor(capsys, "binfmt-kernel")[("binfmt-kernel", None)]
    assert bk["status"] == "ok"
    binfmt_state.mount()
    assert os.path.exists(f"{binfmt_state.MOUNT_POINT}/register")


def test_host_resources_agree_with_psutil_and_df(capsys):
    hr = doctor(capsys, "host-resources")[("host-resources", None)]
    assert abs(hr["data"]["memory_total_gib"] - psutil.virtual_memory().total / 1024 ** 3) < 0.01
    assert hr["data"]["cpus"] == os.cpu_count()
    path = "/var/lib/docker" if os.path.exists("/var/lib/docker") else "/var/lib"
    assert abs(hr["data"]["disk_free_gib"] - shutil.disk_usage(path).free / 1024 ** 3) < 0.5


def test_live_report_from_the_installed_command(binfmt_guard):
    exe = os.path.join(os.path.dirname(sys.executable), "mab-doctor")
    proc = subprocess.run([exe, "--format", "json"], capture_output=True, text=True, timeout=120, cwd=PROJECT)
    data = json.loads(proc.stdout)
    failing = data["counts"]["fail"] + data["counts"]["error"]
    assert proc.returncode == data["exit_code"] == (1 if failing else 0)
    assert proc.stderr == ""
