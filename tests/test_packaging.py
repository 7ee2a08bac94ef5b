"""Packaging: one import package of our own (mab_doctor), living beside PyPI's `doctor` and `checks`."""

from __future__ import annotations

import base64
import csv
import hashlib
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from helpers import PROJECT, TESTS

CACHE = TESTS / ".cache" / "pypi"
NEIGHBOURS = ("doctor", "checks")   # unrelated PyPI distributions with the generic names we used to install


def test_every_package_folder_is_listed_in_pyproject():
    conf = tomllib.loads((PROJECT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(conf["packages"])
    mapped = {"mab_doctor": PROJECT / "doctor", "mab_doctor.checks": PROJECT / "checks"}
    assert conf["package-dir"] == {k: v.name for k, v in mapped.items()}
    found = {"mab_doctor.checks"}
    for init in (PROJECT / "doctor").rglob("__init__.py"):
        found.add(".".join(("mab_doctor", *init.parent.relative_to(PROJECT / "doctor").parts)))
    assert listed == found


def _sdists() -> list[Path]:
    CACHE.mkdir(parents=True, exist_ok=True)
    have = [p for p in CACHE.iterdir() if p.suffix in (".gz", ".whl", ".zip")]
    if len(have) < len(NEIGHBOURS):
        got = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary",
                              ":all:", "-d", str(CACHE), *NEIGHBOURS], capture_output=True, text=True, timeout=300)
        if got.returncode:
            pytest.skip(f"PyPI's doctor and checks could not be downloaded: {got.stderr.strip()[-300:]}")
        have = [p for p in CACHE.iterdir() if p.suffix in (".gz", ".whl", ".zip")]
    return sorted(have)


def _record_mismatches(site: Path, dist_info: Path) -> list[str]:
    """Files of an installed distribution whose content no longer matches its RECORD hash."""
    bad = []
    with open(dist_info / "RECORD", newline="") as fh:
        for path, digest, _size in csv.reader(fh):
            if not digest:
                continue
            algo, _, want = digest.partition("=")
            data = (site / path).resolve().read_bytes()
            got = base64.urlsafe_b64encode(hashlib.new(algo, data).digest()).rstrip(b"=").decode()
            if got != want:
                bad.append(path)
    return bad


def tracked_copy(src: Path) -> Path:
    """A clean copy of the tracked (and untracked, not ignored) files: builds leave the checkout alone."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=PROJECT, capture_output=True,
                           text=True, check=True).stdout.split()
    for name in files:
        if (PROJECT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_bytes((PROJECT / name).read_bytes())
    return src


def test_installs_beside_pypi_doctor_and_checks(tmp_path):
    sdists = _sdists()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    pip = [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--no-deps", *map(str, sdists)], check=True, timeout=300)
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    src = tracked_copy(tmp_path / "src")
    subprocess.run([*pip, str(src)], check=True, timeout=600)

    theirs = {d.name.split("-")[0].lower(): d for d in site.glob("*.dist-info")}
    for name in NEIGHBOURS:
        assert _record_mismatches(site, theirs[name]) == [], f"{name}'s files changed"
    ours = theirs["mab_doctor"]
    with open(ours / "RECORD") as fh:
        tops = {row.split(",")[0].split("/")[0] for row in fh}
    assert "mab_doctor" in tops and tops <= {"mab_doctor", ours.name, ".."}, tops  # no top-level doctor/checks
    # PyPI's `checks` ships the module `Checks`; ours is mab_doctor.checks. Both import side by side.
    probe = subprocess.run([str(py), "-c", "import Checks, mab_doctor, mab_doctor.checks, sys; "
                            "print(Checks.__file__); print(mab_doctor.checks.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path)
    assert probe.returncode == 0, probe.stderr
    their_file, our_file = probe.stdout.split()
    assert their_file == str(site / "Checks.py") and our_file == str(site / "mab_doctor" / "checks" / "__init__.py")
    fixture = TESTS / "hosts" / "debian-12-amd64-qemu"
    run = subprocess.run([str(venv / "bin" / "mab-doctor"), "--format", "json", "--no-plugins", "--root",
                          str(fixture)], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                         env={**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"})
    assert run.returncode in (0, 1), run.stderr
    assert '"schema": "mab-doctor/report/v1"' in run.stdout
    module = subprocess.run([str(py), "-m", "mab_doctor", "--version"], capture_output=True, text=True, cwd=tmp_path)
    assert module.returncode == 0 and module.stdout.startswith("mab-doctor ")


def test_sdist_and_wheel_build_pass_twine_check_and_the_wheel_installs_a_working_command(tmp_path):
    """Release-ready: `python -m build` from the tracked files, `twine check`, then the wheel installed the
    way pipx does it (a virtual environment of its own, only the command exposed) runs."""
    src, dist = tracked_copy(tmp_path / "src"), tmp_path / "dist"
    built = subprocess.run([sys.executable, "-m", "build", "--outdir", str(dist), str(src)], capture_output=True,
                           text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    assert "deprecated" not in built.stderr + built.stdout  # no setuptools deprecation left to fix
    wheel, sdist = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    assert len(wheel) == len(sdist) == 1
    checked = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(wheel[0]), str(sdist[0])],
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    import zipfile

    with zipfile.ZipFile(wheel[0]) as zf:
        names = zf.namelist()
        meta = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "mab_doctor/data/report-v1.schema.json" in names and any(n.endswith("/licenses/LICENSE") for n in names)
    assert "License-Expression: MIT" in meta and "Classifier: Operating System :: POSIX :: Linux" in meta
    assert "Project-URL: Source" in meta
    venv = tmp_path / "pipx-like"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    str(wheel[0])], check=True, timeout=600)
    version = subprocess.run([str(venv / "bin" / "mab-doctor"), "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("mab-doctor ")
