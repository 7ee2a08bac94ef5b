"""The GitHub Action (action.yml): its composite steps run as written, in bash, with the inputs' environment."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[1]
ACTION = yaml.safe_load((PROJECT / "action.yml").read_text())
EXPRESSION = re.compile(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}")
# What `uses:` steps would give (this test runs no marketplace action): setup-python's interpreter.
STEP_OUTPUTS = {"${{ steps.python.outputs.python-path }}": sys.executable}


def inputs(**given) -> dict:
    """Every input with its default, overridden by ``given`` (as the runner does)."""
    return {name: str(given.get(name, spec.get("default", ""))) for name, spec in ACTION["inputs"].items()}


def runs(step: dict, values: dict) -> bool:
    """The step's `if:` (only the `inputs.X == 'true'` form is used in action.yml)."""
    condition = step.get("if")
    if condition is None:
        return True
    m = re.fullmatch(r"inputs\.([\w-]+) == '(\w+)'", condition.strip())
    assert m, f"an `if:` this test cannot evaluate: {condition}"
    return values[m.group(1)] == m.group(2)


def run_steps(tmp_path: Path, names: list[str], path: str, **given) -> dict:
    """Run the named steps; returns outputs, stdout, exit code, summary and the files' paths."""
    values = inputs(**given)
    files = {k: tmp_path / k for k in ("output", "summary", "github_path")}
    for f in files.values():
        f.write_text("")
    runner_temp = tmp_path / "runner"
    runner_temp.mkdir(exist_ok=True)
    base = {**{k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MAB_", "CI"))},
            "PATH": path, "GITHUB_ACTION_PATH": str(PROJECT), "GITHUB_OUTPUT": str(files["output"]),
            "GITHUB_STEP_SUMMARY": str(files["summary"]), "GITHUB_PATH": str(files["github_path"]),
            "RUNNER_TEMP": str(runner_temp), "CI": "true", "GITHUB_ACTIONS": "true"}
    done = {}
    for step in ACTION["runs"]["steps"]:
        if step["name"] not in names or not runs(step, values) or "uses" in step:
            continue
        env = {**base, **{k: EXPRESSION.sub(lambda m: values[m.group(1)], STEP_OUTPUTS.get(str(v), str(v)))
                          for k, v in step.get("env", {}).items()}}
        added = [line for line in files["github_path"].read_text().splitlines() if line]
        env["PATH"] = ":".join(added[::-1] + [env["PATH"]])
        assert step["shell"] == "bash"
        # As the runner runs `shell: bash`: `bash --noprofile --norc -eo pipefail`.
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], env=env,
                              cwd=PROJECT, capture_output=True,
                              text=True, timeout=600)
        done[step["name"]] = proc
    outputs = dict(line.split("=", 1) for line in files["output"].read_text().splitlines() if "=" in line)
    return {"outputs": outputs, "steps": done, "summary": files["summary"].read_text()}


def check_reports(result: dict) -> None:
    """The annotations, the summary and a JUnit file whose counts equal the JSON report's."""
    proc = result["steps"]["Run mab-doctor"]
    out = result["outputs"]
    report = json.loads(Path(out["json-report"]).read_text())
    assert proc.returncode == int(out["exit-code"]) == report["exit_code"]
    annotations = [line for line in proc.stdout.splitlines() if line.startswith(("::error", "::warning", "::notice"))]
    counts = report["counts"]
    assert len(annotations) >= counts["fail"] + counts["error"] + counts["warn"] and annotations
    assert "mab-doctor" in result["summary"] and "|" in result["summary"]  # a Markdown table
    suite = ET.parse(out["junit-report"]).getroot().find("testsuite")
    assert (int(suite.get("tests")), int(suite.get("failures")), int(suite.get("errors")), int(suite.get("skipped"))) \
        == (len(report["results"]), counts["fail"], counts["error"], counts["skip"])
    assert Path(out["text-report"]).read_text().startswith("mab-doctor ")


def test_the_run_step_as_written_gives_annotations_a_summary_and_junit_counts_equal_to_json(tmp_path):
    venv_bin = str(Path(sys.executable).parent)
    result = run_steps(tmp_path, ["Fix what can be fixed", "Run mab-doctor"], f"{venv_bin}:/usr/bin:/bin",
                       platforms="linux/arm64", args="--root tests/hosts/debian-12-amd64-qemu --no-plugins")
    assert "Fix what can be fixed" not in result["steps"]  # fix: false by default
    check_reports(result)
    report = json.loads(Path(result["outputs"]["json-report"]).read_text())
    errors = [ln for ln in result["steps"]["Run mab-doctor"].stdout.splitlines() if ln.startswith("::error")]
    assert len(errors) == report["counts"]["fail"] + report["counts"]["error"]


def test_strict_and_extra_arguments_reach_the_doctor(tmp_path):
    venv_bin = str(Path(sys.executable).parent)
    result = run_steps(tmp_path, ["Run mab-doctor"], f"{venv_bin}:/usr/bin:/bin", platforms="linux/arm64",
                       strict="true", args="--root tests/hosts/pi-zero-raspbian --no-plugins")
    check_reports(result)
    report = json.loads(Path(result["outputs"]["json-report"]).read_text())
    assert report["counts"]["warn"] > 0 and result["outputs"]["exit-code"] == "1"  # WARN fails under strict


def test_the_action_declares_its_inputs_and_outputs():
    assert set(ACTION["inputs"]) == {"platforms", "fix", "strict", "build", "args", "package"}
    assert set(ACTION["outputs"]) == {"exit-code", "json-report", "junit-report", "text-report"}
    assert ACTION["runs"]["using"] == "composite"
    assert [s["name"] for s in ACTION["runs"]["steps"]] == ["Python for mab-doctor", "Install mab-doctor",
                                                             "Fix what can be fixed", "Run mab-doctor"]
    setup = ACTION["runs"]["steps"][0]
    assert setup["uses"].startswith("actions/setup-python@") and setup["with"]["update-environment"] is False
    unknown = {v for s in ACTION["runs"]["steps"] for v in s.get("env", {}).values()
               if "steps." in str(v) and str(v) not in STEP_OUTPUTS}
    assert not unknown  # every step output the test must stand in for is known to it


@pytest.mark.skipif(os.environ.get("MAB_HOST_TESTS") != "1", reason="installs the action's package into a fresh "
                    "virtual environment (network to PyPI) and runs on the live host: host tests only")
def test_every_step_on_this_machine_installs_and_runs_for_linux_arm64(tmp_path):
    result = run_steps(tmp_path, ["Install mab-doctor", "Fix what can be fixed", "Run mab-doctor"], "/usr/bin:/bin",
                       platforms="linux/arm64")
    install = result["steps"]["Install mab-doctor"]
    assert install.returncode == 0, install.stderr[-2000:]
    check_reports(result)
