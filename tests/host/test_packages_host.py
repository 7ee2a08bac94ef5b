"""dpkg's records of Podman, Buildah and QEMU on this machine against what the programs themselves print."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from mab_doctor.checks.podman import podman
from mab_doctor.core.context import Context
from mab_doctor.host.packages import package_answer

DPKG = "/var/lib/dpkg"


def printed(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{' '.join(argv)}: exit {done.returncode}: {done.stderr[-400:]}"
    return done.stdout


def packaged(program: str, package: str):
    """(path on PATH, dpkg's answer) for an installed program, or skip saying why there is none."""
    path = shutil.which(program)
    if path is None:
        print(f"{program} is not installed: skipped")
        pytest.skip(f"{program} is not installed")
    got, why = package_answer(Context(), path, [package])
    if got is None:
        print(f"{path}: dpkg does not vouch for it ({why}): skipped")
        pytest.skip(f"{path}: {why}")
    return path, got


def test_podman_s_package_says_what_podman_version_says():
    path, got = packaged("podman", "podman")
    client = json.loads(printed(path, "version", "--format", "json"))["Client"]
    assert got.upstream == client["Version"]
    assert f"linux/{got.goarch}" == client["OsArch"]
    assert got.package == "podman" and got.version.startswith(client["Version"] + "+")  # "4.3.1+ds1-8+deb12u1+b3"


def test_buildah_s_package_says_what_buildah_version_says():
    path, got = packaged("buildah", "buildah")
    said = json.loads(printed(path, "version", "--json"))
    assert got.upstream == said["version"]
    assert f"linux/{got.goarch}" == said["osArch"]


def test_qemu_s_package_names_the_release_the_emulator_prints():
    path, got = packaged("qemu-aarch64-static", "qemu-user-static")
    m = re.match(r"qemu-aarch64 version (\S+) \(Debian (\S+)\)", printed(path, "--version"))
    assert m, "qemu-aarch64-static --version printed no version line"
    # Debian's stable updates patch point releases into the package: 7.2+dfsg-7+deb12u18 prints 7.2.22.
    assert m.group(2) == got.version
    assert m.group(1) == got.upstream or m.group(1).startswith(got.upstream + ".")


def test_the_check_on_this_machine_runs_no_version_command_and_says_the_same(monkeypatch):
    path, got = packaged("podman", "podman")
    ran = []
    ctx = Context()
    real = ctx.runner
    ctx.runner = lambda argv, **kw: ran.append(tuple(argv)) or real(argv, **kw)
    r = podman(ctx)
    assert not [argv for argv in ran if argv[1:2] == ("version",)], ran
    client = json.loads(printed(path, "version", "--format", "json"))["Client"]
    assert r.data["versions"]["podman"] == client["Version"]
    assert r.data["arch"] == client["OsArch"].partition("/")[2]
    assert r.details[0] == (f"podman {got.upstream} from the Debian package podman {got.version} ({got.path} as the "
                            f"package installed it; {got.architecture}: {got.platform})")


def test_a_copied_binary_is_not_trusted_until_its_list_is_newer(tmp_path):
    path, got = packaged("podman", "podman")
    listing = f"{DPKG}/info/podman.list"
    assert os.stat(path).st_ctime <= os.stat(listing).st_mtime + 1.0  # as dpkg left them: binary first, then list
    root = tmp_path / "root"
    for name in (f"{DPKG}/status", listing, got.path):
        (root / name.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(name, root / name.lstrip("/"))  # copy2 keeps the list's modification time; the copy's ctime is now
    copy = Context(root=root)
    answer, why = package_answer(copy, got.path, ["podman"])
    assert answer is None
    assert why == f"{got.path} was changed after the Debian package podman {got.version} installed it"
    fresh = os.stat(root / got.path.lstrip("/")).st_ctime + 0.004  # as if dpkg had just installed this copy
    os.utime(root / listing.lstrip("/"), (fresh, fresh))
    assert package_answer(Context(root=root), got.path, ["podman"])[0] == got
