"""One focused test per bug the hostile suite and the fault injection found, next to the fix's module."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import captured, docker_data, executable
from mab_doctor.checks.docker_cli import docker_cli
from mab_doctor.checks.docker_experimental import docker_experimental
from mab_doctor.checks.podman import podman
from mab_doctor.core.context import CommandResult
from mab_doctor.core.hostfs import HostFS
from mab_doctor.core.jsonout import json_documents
from mab_doctor.core.model import Status
from mab_doctor.engines.buildx import parse_ls_json, validate_metadata
from mab_doctor.engines.docker import read_json
from mab_doctor.report.escape import xml_text
from mab_doctor.report.model import Report, Row, fix_lines

DEEP = "[" * 100_000 + "]" * 100_000


# ----- core/hostfs.py: a path built from host data may hold a NUL ---------------------------------
@pytest.mark.parametrize("live", [False, True])
def test_a_path_with_a_nul_is_missing_not_a_crash(tmp_path, live):
    fs = HostFS(Path("/") if live else tmp_path)
    found = fs.lookup("/boot/config-6.1\0garbage")
    assert found.kind == "missing" and not found.exists and "NUL" in found.reason
    assert fs.read("/proc/\0").data is None
    assert fs.listdir("/etc\0")[0] == []
    assert "\0" not in str(fs.where("/a\0b"))


def test_a_kernel_release_with_a_nul_reaches_no_check_crash(make_host, base_host):
    from mab_doctor.checks.binfmt_kernel import binfmt_kernel

    ctx = make_host({**base_host, "/proc/sys/kernel/osrelease": "6.1\0\xff\n"})
    assert all(r.status is not Status.ERROR for r in [binfmt_kernel(ctx)])


# ----- core/jsonout.py, engines/buildx.py: nesting deeper than Python's parser --------------------
def test_json_nested_too_deeply_is_no_json_not_a_recursion_error():
    assert json_documents(DEEP) is None
    assert validate_metadata(DEEP) == (None, "metadata is not JSON (nested too deeply, or not text)")
    with pytest.raises(ValueError, match="nested too deeply"):
        parse_ls_json('{"Name": "x", "Nodes": ' + DEEP + "}")


def test_buildx_ls_json_fields_of_the_wrong_type_are_dropped():
    (builder,) = parse_ls_json(json.dumps({"Name": "b", "Driver": 5, "Err": [], "Nodes": [
        {"Name": None, "Endpoint": 3, "Status": "running", "Platforms": ["linux/amd64", 5, None]}, "junk"]}))
    assert builder.driver == "" and builder.error == ""
    (node,) = builder.nodes
    assert node.name == "" and node.endpoint == "" and node.platforms == ["linux/amd64"]
    assert parse_ls_json('{"Name": "b", "Nodes": {"x": 1}}')[0].nodes == []


# ----- engines/docker.py: `docker version` and config files of the wrong JSON shape ---------------
@pytest.mark.parametrize("printed", ['{"Client": 5}', "[]", '{"Client": {"Version": ["28"]}, "Server": 7}', "5"])
def test_docker_version_json_of_the_wrong_shape_is_a_failed_cli_not_a_crash(docker_host, printed):
    ctx = docker_host(printed, files={})
    ctx.runner.commands[("/usr/bin/docker", "--version")] = CommandResult(("/usr/bin/docker", "--version"), 0, "")
    res = docker_cli(ctx)
    assert res.status in (Status.FAIL, Status.WARN) and not res.summary.startswith("check crashed")


@pytest.mark.parametrize("content, kind", [("[1, 2]", "list"), ("5", "int"), ('"on"', "str"),
                                           ('{"a":' * 5000 + "1" + "}" * 5000, "nested")])
def test_a_config_json_that_is_not_an_object_is_corrupt(make_host, base_host, content, kind):
    ctx = make_host({**base_host, "/etc/docker/daemon.json": content})
    got = read_json(ctx, "/etc/docker/daemon.json")
    assert got.data is None and got.error and got.error.startswith("/etc/docker/daemon.json: ")


def test_docker_experimental_with_a_list_config_and_odd_components(docker_host):
    data = json.loads(docker_data("version-20.10.json"))
    data["Server"]["Components"] = [5, {"Name": "Engine", "Details": "x"}, None]
    res = docker_experimental(docker_host(json.dumps(data), info=docker_data("info-20.10.json"),
                                          files={"/root/.docker/config.json": "[]"}))
    assert res.status is Status.FAIL and res.summary.startswith("corrupt JSON: /root/.docker/config.json")
    ok = docker_experimental(docker_host(json.dumps(data), info=docker_data("info-20.10.json")))
    assert ok.status is Status.OK


# ----- checks/podman.py: answers of the wrong JSON types ------------------------------------------
PODMAN, BUILDAH = "/usr/bin/podman", "/usr/bin/buildah"


def _podman_host(make_host, base_host, version_out, info_out, buildah_out=None):
    commands = {(PODMAN, "version", "--format", "json"): version_out, (PODMAN, "info", "--format", "json"): info_out,
                (PODMAN, "--version"): ""}
    if buildah_out is not None:
        commands[(BUILDAH, "version", "--json")] = buildah_out
        commands[(BUILDAH, "--version")] = ""
    tools = ("podman", "buildah") if buildah_out is not None else ("podman",)
    ctx = make_host({**base_host, **{f"/usr/bin/{t}": "#!/bin/sh\n" for t in tools}},
                    commands={argv: CommandResult(argv, 0, out) for argv, out in commands.items()},
                    env={"PATH": "/usr/bin", "HOME": "/root"})
    ctx.live, ctx.thorough = True, True  # `podman info` is read (as with -v or `mab-doctor podman`)
    return executable(ctx, *(f"/usr/bin/{t}" for t in tools))


@pytest.mark.parametrize("version_out, info_out", [
    ('{"Client": 5}', "[]"), ("[1]", '{"host": 5}'), ('{"Client": {"Version": []}}', '{"host": {"arch": {}, '
                                                                                      '"security": []}}')])
def test_podman_json_of_the_wrong_types_never_crashes(make_host, base_host, version_out, info_out):
    res = podman(_podman_host(make_host, base_host, version_out, info_out))
    assert not res.summary.startswith("check crashed") and res.summary


def test_podman_answering_without_versions_has_a_summary(make_host, base_host):
    info = json.loads(captured("podman-info.json"))
    info["host"].pop("buildahVersion", None)
    res = podman(_podman_host(make_host, base_host, "{}", json.dumps(info)))
    assert res.status is Status.OK and res.summary.startswith("podman answers")


# ----- report/escape.py: C1 controls and CR in XML-ish formats ------------------------------------
def test_xml_text_makes_terminal_controls_visible():
    assert xml_text("a\x9b31m\rb\x7fc\x85\td\ne") == "a\\x9b31m\\x0db\\x7fc\\x85\td\ne"
    assert xml_text("ünïcode ✓") == "ünïcode ✓"


# ----- report/model.py: saved rows with fields of the wrong type ----------------------------------
def test_a_saved_row_with_odd_types_loads_as_text():
    row = Row.from_json({"name": "n", "status": "warn", "summary": "s", "details": "one line", "target": 5,
                         "remediation": ["do", "this"], "fix": {"commands": [["echo", 1], "x", 5]}})
    assert row.details == ("one line",) and row.target == "5" and row.remediation == "['do', 'this']"
    assert row.fix_lines() == ["fix: echo 1"]
    assert fix_lines({"commands": 7}) == []


def test_a_report_whose_row_remediation_is_a_list_renders(capsys, tmp_path):
    from mab_doctor.cli import main
    from hostile.cases import VALID

    saved = json.loads(json.dumps(VALID))
    saved["results"][0]["remediation"] = ["x"]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(saved))
    assert main(["report", str(path)]) == 0
    assert "['x']" in capsys.readouterr().out
    assert Report.from_json(saved).rows[0].remediation == "['x']"
