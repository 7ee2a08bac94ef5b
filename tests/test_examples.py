"""The CI examples parse, and every mab-doctor command in them is one the CLI accepts."""

import subprocess

import yaml

from mab_doctor.cli import parse as parse_args
from mab_doctor.commands.options import Sink
from examples_support import EXAMPLES, doctor_argv, github_steps, gitlab_scripts

PLATFORMS = "linux/amd64,linux/arm64,linux/arm/v7"


def test_github_workflow_parses_and_its_commands_are_valid():
    doc = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())
    assert doc["jobs"]["build"]["needs"] == "preflight" and doc["env"]["PLATFORMS"] == PLATFORMS
    commands = [doctor_argv(s, PLATFORMS) for s in github_steps()]
    commands = [c for c in commands if c is not None]
    assert len(commands) == 2
    fix, preflight = (parse_args(c) for c in commands)
    assert fix.command == "fix" and fix.yes and fix.ci
    assert preflight.sinks == (Sink("github"), Sink("junit", "mab-doctor.xml"), Sink("text", "mab-doctor.txt"))
    reporter = [s for s in doc["jobs"]["preflight"]["steps"] if "junit" in str(s.get("uses", ""))]
    assert reporter and reporter[0]["with"]["report_paths"] == "mab-doctor.xml"


def test_gitlab_job_parses_and_publishes_junit():
    doc = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text())
    assert doc["mab-doctor"]["artifacts"]["reports"]["junit"] == "mab-doctor.xml"
    parsed = [parse_args(c) for c in (doctor_argv(s, PLATFORMS) for s in gitlab_scripts()) if c is not None]
    assert [p.command == "fix" for p in parsed] == [False, True, False]
    assert Sink("junit", "mab-doctor.xml") in parsed[0].sinks


def test_makefile_runs_the_doctor_before_the_build():
    out = subprocess.run(["make", "-n", "-f", str(EXAMPLES / "Makefile"), "image"], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    assert out[0].startswith("mab-doctor --ci -q --platform") and out[1].startswith("docker buildx build")
    assert parse_args(out[0].split()[1:]).ci
