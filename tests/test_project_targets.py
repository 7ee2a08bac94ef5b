"""The run's targets come from the project's build files unless --platform or MAB_PLATFORMS chose them."""

from __future__ import annotations

import json

import pytest

from helpers import write_tree
from mab_doctor.cli import main

COMPOSE = "services:\n  web:\n    build:\n      context: .\n      platforms: [linux/amd64, linux/arm64]\n"


@pytest.fixture
def tree(tmp_path, base_host):
    return write_tree(tmp_path / "host", base_host)


def run_json(capsys, *argv):
    code = main(["--format", "json", "--no-plugins", *argv])
    data = json.loads(capsys.readouterr().out)
    assert data["exit_code"] == code
    return data


def test_a_compose_file_in_the_current_directory_sets_the_targets(tmp_path, tree, capsys, monkeypatch):
    project = tmp_path / "app"
    project.mkdir()
    (project / "compose.yaml").write_text(COMPOSE)
    monkeypatch.chdir(project)
    monkeypatch.delenv("MAB_PLATFORMS", raising=False)
    data = run_json(capsys, "--root", str(tree))
    assert data["targets"] == ["linux/amd64", "linux/arm64"]
    # compose.yaml line 5: `      platforms: [linux/amd64, linux/arm64]`, the items at columns 19 and 32
    assert [(t["platform"], t["source"]) for t in data["target_details"]] == [
        ("linux/amd64", "compose.yaml:5:19"), ("linux/arm64", "compose.yaml:5:32")]
    files, missing = [r for r in data["results"] if r["name"] == "project-files"]
    assert files["status"] == "ok" and files["data"]["files"] == ["compose.yaml"]
    # the service builds context `.`, whose Dockerfile is not there: one WARN naming where it was asked for
    assert missing["status"] == "warn" and missing["summary"] == ("Dockerfile: not found (the Dockerfile of "
                                                                  "compose 'web' at compose.yaml:3:5)")


def test_platform_and_mab_platforms_win_over_the_project(tmp_path, tree, capsys, monkeypatch):
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    monkeypatch.delenv("MAB_PLATFORMS", raising=False)
    data = run_json(capsys, "--root", str(tree), "--project", str(tmp_path), "--platform", "linux/s390x")
    assert [(t["platform"], t["source"]) for t in data["target_details"]] == [("linux/s390x", "--platform")]
    monkeypatch.setenv("MAB_PLATFORMS", "linux/ppc64le")
    data = run_json(capsys, "--root", str(tree), "--project", str(tmp_path))
    assert [(t["platform"], t["source"]) for t in data["target_details"]] == [("linux/ppc64le", "MAB_PLATFORMS")]


def test_without_build_files_the_default_three_remain(tmp_path, tree, capsys, monkeypatch):
    monkeypatch.delenv("MAB_PLATFORMS", raising=False)
    data = run_json(capsys, "--root", str(tree), "--project", str(tmp_path))
    assert [(t["platform"], t["source"]) for t in data["target_details"]] == [
        ("linux/amd64", "default"), ("linux/arm64", "default"), ("linux/arm/v7", "default")]


def test_a_bad_project_directory_is_a_usage_error(tmp_path, capsys):
    code = main(["--project", str(tmp_path / "missing")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.strip().endswith("not a readable directory") and len(err.strip().splitlines()) == 1
