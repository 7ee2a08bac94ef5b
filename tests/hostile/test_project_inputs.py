"""The verdicts a few hostile projects must get, beyond what every input must do."""

from __future__ import annotations

import json

from hostile.harness import check_input
from hostile.project_cases import PROJECT, _files, _hostile_file, _project


def _warns(out: str) -> list[dict]:
    return [r for r in json.loads(out)["results"] if r["name"] == "project-files" and r["status"] == "warn"]


def test_a_compose_syntax_error_is_a_warn_at_its_line_and_column(tmp_path, capsys):
    # A tab cannot start a YAML token: the scanner stops on it, line 3, column 3.
    item = _project("tab", _files({"compose.yaml": "services:\n  web:\n  \tbuild: .\n"}), seed=1)
    code, out, _ = check_input(item, tmp_path, capsys)
    (warn,) = _warns(out)
    assert warn["summary"].startswith("compose.yaml:3:3: YAML error: ")
    assert warn["data"] == {"file": "compose.yaml", "line": 3, "column": 3}
    assert code == 1  # the test tree lacks a linux/arm/v7 handler: that FAIL, not the project, sets the code


def test_a_dockerfile_linked_to_the_marker_is_named_and_not_read(tmp_path, capsys):
    item = _project("link", _hostile_file("Dockerfile", "abs_out"), seed=1)
    _, out, _ = check_input(item, tmp_path, capsys)  # asserts the secret is nowhere in the output
    (warn,) = _warns(out)
    assert warn["data"]["file"] == "Dockerfile" and warn["summary"].startswith("Dockerfile: ")
    assert "MARKER-" not in out


def test_a_target_inheriting_itself_is_one_cycle_problem(tmp_path, capsys):
    item = _project("self", _files({"docker-bake.hcl": 'target "a" {\n  inherits = ["a"]\n}\n',
                                        "Dockerfile": "FROM x\n"}), seed=1, plan=True)
    code, out, _ = check_input(item, tmp_path, capsys)
    plan = json.loads(out)
    assert plan["problems"] == [{"where": "docker-bake.hcl:1", "message": "target 'a': inheritance cycle through 'a'"}]
    assert [b["name"] for b in plan["builds"]] == ["a"] and code == 0


def test_controls_in_a_service_name_come_out_escaped_in_plan_text(tmp_path, capsys):
    lay = _files({"compose.yaml": json.dumps({"services": {"s\x1b[31m\x07\r": {"build": "."}}})})
    _, out, _ = check_input(_project("controls", lay, plan=True), tmp_path, capsys)
    assert "  compose s\\x1b[31m\\x07\\x0d  (compose.yaml:1:" in out


def test_a_missing_project_is_a_usage_error_naming_the_option(tmp_path, capsys):
    (item,) = [i for i in PROJECT if i.name == "--project missing"]
    code, _, err = check_input(item, tmp_path, capsys)
    assert code == 2 and err.startswith("mab-doctor: error: --project ") and err.endswith(": not a readable directory\n")


def test_enough_project_inputs():
    assert len(PROJECT) >= 40 and len({i.id for i in PROJECT}) == len(PROJECT)
