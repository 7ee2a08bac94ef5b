"""Run the examples' mab-doctor commands for real on this host, in the order a pipeline would."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import binfmt_state
from junitparser import JUnitXml

from examples_support import EXAMPLES, github_steps, gitlab_scripts

# One emulated platform: this host's builder is Docker 20.10's default (docker driver, classic image store),
# which refuses several platforms in one build, a true build-path FAIL here. On a hosted runner the
# examples' setup-buildx-action gives a docker-container builder, which takes all of them.
PLATFORMS = "linux/arm64"
# GitHub's runner has passwordless sudo; here we are root already.
SUDO_SHIM = 'sudo() { [ "$1" = -E ] && shift; "$@"; }\n'


def run_script(script: str, cwd, env) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-ec", SUDO_SHIM + script], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


def pipeline_env(tmp_path) -> dict:
    bindir = os.path.dirname(sys.executable)
    return {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "PLATFORMS": PLATFORMS, "CI": "true",
            "MAB_DOCTOR_STATE_DIR": str(tmp_path / "state")}


def junit_counts(path) -> dict:
    suite = next(iter(JUnitXml.fromfile(str(path))))
    return {"tests": suite.tests, "failures": suite.failures, "errors": suite.errors, "skipped": suite.skipped}


def test_github_workflow_steps_run_here(binfmt_guard, dockerd, tmp_path):
    env = {**pipeline_env(tmp_path), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}
    binfmt_state.unmount()
    ran = []
    for script in github_steps():
        if "pip install" in script:
            print("not run here (needs the package index; the suite's venv has mab-doctor):", script)
            continue
        if "docker buildx build" in script:
            print("not run here (needs a buildx plugin and a Dockerfile):", script)
            continue
        proc = run_script(script, tmp_path, env)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        ran.append(proc)
    fix, preflight = ran
    assert "Changed by --fix:" in fix.stdout or "Nothing to change: " in fix.stdout
    assert "\x1b" not in fix.stdout + preflight.stdout + preflight.stderr
    assert preflight.stderr.strip().splitlines()[-1].startswith("mab-doctor: ")  # the one-line verdict
    assert all(line.startswith("::") for line in preflight.stdout.splitlines())
    counts = junit_counts(tmp_path / "mab-doctor.xml")
    assert counts["failures"] == counts["errors"] == 0 and counts["tests"] > 10
    assert "| status | check | target | summary | remediation |" in (tmp_path / "summary.md").read_text()
    assert "HOST" in (tmp_path / "mab-doctor.txt").read_text()


def test_gitlab_jobs_and_makefile_hook_run_here(binfmt_guard, dockerd, tmp_path):
    env = pipeline_env(tmp_path)
    binfmt_state.unmount()  # a host nobody prepared: the plain job must fail, the fixing job must pass
    codes, outputs = [], []
    for script in gitlab_scripts():
        if "pip install" in script:
            print("not run here (needs the package index):", script)
            continue
        proc = run_script(script, tmp_path, env)
        codes.append(proc.returncode)
        outputs.append(f"$ {script}\n{proc.stdout[-1500:]}{proc.stderr[-1500:]}")
        assert proc.stderr.strip().splitlines()[-1].endswith(f"(exit {proc.returncode})")
    assert codes == [1, 0, 0], "\n".join(outputs)
    assert junit_counts(tmp_path / "mab-doctor.xml")["failures"] > 0
    assert junit_counts(tmp_path / "mab-doctor-fixed.xml")["failures"] == 0
    make = subprocess.run(["make", "-f", str(EXAMPLES / "Makefile"), "preflight",
                           f"MAB_DOCTOR={os.path.dirname(sys.executable)}/mab-doctor"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert make.returncode == 0, make.stdout + make.stderr


def test_junit_counts_equal_the_json_report_of_the_same_run(dockerd, tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "mab-doctor")
    proc = subprocess.run([exe, "--format", "junit", "--output", str(tmp_path / "r.xml"), "--format", "json",
                           "--output", str(tmp_path / "r.json")], capture_output=True, text=True, timeout=300)
    report = json.loads((tmp_path / "r.json").read_text())
    assert proc.returncode == report["exit_code"]
    c = report["counts"]
    assert junit_counts(tmp_path / "r.xml") == {"tests": sum(c.values()), "failures": c["fail"],
                                                "errors": c["error"], "skipped": c["skip"]}
