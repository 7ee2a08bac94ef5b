"""The Ansible example for real: three local hosts run mab-doctor, their reports come home, one fleet matrix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from helpers import HOSTS, PROJECT

BIN = Path(sys.executable).parent
PLAYBOOK = PROJECT / "examples" / "ansible" / "fleet.yml"
# inventory name -> (fixture tree, the host name its report carries, --platform)
HOSTS_RUN = {
    "host1": ("debian-12-amd64-qemu", "vm", "linux/amd64,linux/arm64,linux/arm/v7"),
    "host2": ("pi-zero-raspbian", "pizero", "linux/amd64,linux/arm64,linux/arm/v7"),
    "host3": ("pi3-debian-armhf", "pi3", "linux/arm64,linux/riscv64"),
}
DEFAULT_REMOTE = Path("/tmp/mab-doctor-report.json")  # the playbook's default: this test must not write it


def _inventory(tmp: Path) -> Path:
    (tmp / "remote").mkdir()
    (tmp / "project").mkdir()  # empty: the targets are the --platform ones only
    lines = ["[builders]"]
    for name, (tree, _, platforms) in HOSTS_RUN.items():
        args = (f"binfmt-handlers --no-plugins --root {HOSTS / tree} --project {tmp / 'project'} "
                f"--platform {platforms}")
        lines.append(f'{name} mab_doctor_args="{args}" mab_remote_report={tmp / "remote" / name}.json')
    lines += ["", "[builders:vars]", "ansible_connection=local", f"ansible_python_interpreter={sys.executable}",
              f"mab_doctor={BIN / 'mab-doctor'}", f"mab_fleet_doctor={BIN / 'mab-doctor'}",
              f"mab_fleet_dir={tmp / 'reports'}", f"mab_fleet_json={tmp / 'fleet.json'}"]
    path = tmp / "inventory.ini"
    path.write_text("\n".join(lines) + "\n")
    return path


def _ansible_env(tmp: Path) -> dict[str, str]:
    # Ansible keeps its own state under ~/.ansible by default: here everything goes to the test's folder.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    return env | {"ANSIBLE_HOME": str(tmp / "ansible-home"), "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-local"),
                  "ANSIBLE_REMOTE_TEMP": str(tmp / "ansible-remote"), "ANSIBLE_NOCOLOR": "1",
                  "ANSIBLE_RETRY_FILES_ENABLED": "0", "ANSIBLE_HOST_KEY_CHECKING": "0", "CI": ""}


def _playbook(tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    program = BIN / "ansible-playbook"
    if not program.is_file():
        pytest.skip("ansible-playbook is not in the venv: pip install 'ansible-core>=2.15' (the test extras)")
    return subprocess.run([str(program), "-i", str(_inventory(tmp)), str(PLAYBOOK), *extra], cwd=tmp,
                          env=_ansible_env(tmp), capture_output=True, text=True, timeout=600)


def test_the_playbook_draws_one_matrix_of_three_hosts(tmp_path):
    had_default = DEFAULT_REMOTE.exists()
    done = _playbook(tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]

    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["host1.json", "host2.json", "host3.json"]
    assert sorted(p.name for p in (tmp_path / "remote").iterdir()) == ["host1.json", "host2.json", "host3.json"]
    assert DEFAULT_REMOTE.exists() == had_default

    import jsonschema

    data = json.loads((tmp_path / "fleet.json").read_text())
    schema = json.loads(resources.files("mab_doctor").joinpath("data/fleet-v1.schema.json").read_text())
    assert not list(jsonschema.Draft202012Validator(schema).iter_errors(data))
    assert [h["name"] for h in data["hosts"]] == ["vm", "pizero", "pi3"]
    assert [h["file"] for h in data["hosts"]] == [str(tmp_path / "reports" / f"host{i}.json") for i in (1, 2, 3)]
    assert data["cells"] == {
        "vm": {"host": "ok", "linux/amd64": "ok", "linux/arm64": "ok", "linux/arm/v7": "ok", "linux/riscv64": None},
        "pizero": {"host": "ok", "linux/amd64": "fail", "linux/arm64": "fail", "linux/arm/v7": "fail",
                   "linux/riscv64": None},
        "pi3": {"host": "ok", "linux/amd64": None, "linux/arm64": "fail", "linux/arm/v7": None,
                "linux/riscv64": "fail"},
    }
    assert data["exit_code"] == 1 and data["unreadable"] == []

    # The text matrix Ansible printed: exactly three host rows under the header, in the debug task's lines.
    header = "name    age  host  linux/amd64  linux/arm64  linux/arm/v7  linux/riscv64"
    assert f'"{header}",' in done.stdout
    rows = [line.strip().strip('",') for line in done.stdout.splitlines()
            if line.strip().startswith(('"vm ', '"pizero ', '"pi3 '))]
    assert [r.split()[0] for r in rows] == ["vm", "pizero", "pi3"]
    assert [r.split()[3:] for r in rows] == [["OK", "OK", "OK*", "OK", "-"],
                                             ["OK", "FAIL", "FAIL", "FAIL", "-"],
                                             ["OK", "-", "FAIL", "-", "FAIL"]]
    assert "mab-doctor fleet: 3 hosts, 4 targets" in done.stdout


def test_findings_fail_the_play_only_when_asked(tmp_path):
    done = _playbook(tmp_path, "-e", "mab_fail_on_findings=true")
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr[-2000:]
    assert "mab-doctor fleet: a FAIL or ERROR in the matrix, or an unreadable report (see above)" in done.stdout
    assert (tmp_path / "fleet.json").is_file()  # the matrix was drawn before the play stopped
