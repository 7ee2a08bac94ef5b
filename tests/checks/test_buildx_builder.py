"""buildx-builder: `buildx ls` formats (classic table, tree table, JSON Lines), per-target verdicts, driver warning."""

import json

import pytest

from elfbuild import build_elf
from helpers import DOCKER, INFO, VERSION, docker_data
from make_plugin import run_output, store_files
from mab_doctor.checks.buildx_builder import buildx_builder
from mab_doctor.core.context import CommandResult
from mab_doctor.core.model import Status
from mab_doctor.engines.buildx import parse_ls_json, parse_ls_table, platform_names

# The CLI runs `docker buildx ls` as `<plugin> buildx ls`; the doctor starts the plugin the same way.
PLUGIN = "/usr/libexec/docker/cli-plugins/docker-buildx"
LS_JSON = (PLUGIN, "buildx", "ls", "--format", "json")
LS = (PLUGIN, "buildx", "ls")

# docs.docker.com/reference/cli/docker/buildx/ls (buildx v0.13+ tree layout), verbatim.
TREE_DOC = r"""NAME/NODE           DRIVER/ENDPOINT                   STATUS    BUILDKIT   PLATFORMS
elated_tesla*       docker-container
 \_ elated_tesla0    \_ unix:///var/run/docker.sock   running   v0.10.3    linux/amd64
 \_ elated_tesla1    \_ ssh://ubuntu@1.2.3.4          running   v0.10.3    linux/arm64*, linux/arm/v7, linux/arm/v6
default             docker
 \_ default          \_ default                       running   v0.8.2     linux/amd64
"""
# Classic layout (buildx v0.10-v0.12: tabwriter padding 1, `name *`, two-space node indent), from docker/buildx#2055.
CLASSIC = """NAME/NODE       DRIVER/ENDPOINT      STATUS  BUILDKIT             PLATFORMS
dev             remote
  dev0          tcp://localhost:1234 running v0.0.0+unknown       linux/arm64, linux/amd64, linux/amd64/v2, linux/riscv64
desktop-linux * docker
  desktop-linux desktop-linux        running v0.11.6+0a15675913b7 linux/arm64, linux/amd64, linux/arm/v7, linux/arm/v6
"""
# Before BUILDKIT (buildx v0.8/v0.9), from docker/buildx#1026.
NO_BUILDKIT = """NAME/NODE       DRIVER/ENDPOINT STATUS  PLATFORMS
desktop-linux   docker
  desktop-linux desktop-linux   running linux/amd64, linux/arm64, linux/riscv64, linux/ppc64le, linux/s390x, linux/386, linux/arm/v7, linux/arm/v6
default *       docker
  default       default         running linux/amd64, linux/arm64, linux/riscv64, linux/ppc64le, linux/s390x, linux/386, linux/arm/v7, linux/arm/v6
"""


def test_tree_layout_from_the_docs():
    tesla, default = parse_ls_table(TREE_DOC)
    assert (tesla.name, tesla.driver, tesla.current) == ("elated_tesla", "docker-container", True)
    assert [(n.name, n.endpoint, n.status, n.buildkit) for n in tesla.nodes] == [
        ("elated_tesla0", "unix:///var/run/docker.sock", "running", "v0.10.3"),
        ("elated_tesla1", "ssh://ubuntu@1.2.3.4", "running", "v0.10.3")]
    assert tesla.nodes[1].platforms == ["linux/arm64*", "linux/arm/v7", "linux/arm/v6"]
    assert platform_names(tesla.nodes[1]) == ["linux/arm64", "linux/arm/v7", "linux/arm/v6"]
    assert (default.name, default.current, default.nodes[0].endpoint) == ("default", False, "default")


def test_classic_layouts_with_and_without_buildkit_column():
    dev, desktop = parse_ls_table(CLASSIC)
    assert (desktop.name, desktop.current, dev.current, dev.driver) == ("desktop-linux", True, False, "remote")
    assert dev.nodes[0].endpoint == "tcp://localhost:1234" and dev.nodes[0].buildkit == "v0.0.0+unknown"
    assert desktop.nodes[0].platforms[:2] == ["linux/arm64", "linux/amd64"]
    desktop, default = parse_ls_table(NO_BUILDKIT)
    assert default.current and default.nodes[0].status == "running" and default.nodes[0].buildkit == ""
    assert len(default.nodes[0].platforms) == 8


def test_truncated_platform_groups_are_not_guessed():
    (b,) = parse_ls_table("NAME/NODE   DRIVER/ENDPOINT   STATUS    BUILDKIT   PLATFORMS\nx*          docker\n"
                          r" \_ x        \_ x             running   v0.13.2    linux/amd64 (+3), linux/arm64, "
                          "linux/arm (+2), (3 more)\n")
    assert platform_names(b.nodes[0]) == ["linux/arm64"]


def test_json_lines_are_deduplicated():
    text = run_output("v0.14.0", "buildx", "ls", "--format", "json")
    assert len(text.splitlines()) == 3  # buildx < v0.21 repeats a builder once per node (docker/buildx#2969)
    default, multi = parse_ls_json(text)
    assert [n.name for n in multi.nodes] == ["multi0", "multi1"] and not multi.current
    with pytest.raises(ValueError):
        parse_ls_json("NAME/NODE ...")


def _host(make_host, base_host, ls_table, ls_json=None, *, targets="linux/amd64,linux/arm64", info=None,
          version_file=None, env=None, store=None):
    tree = {**base_host, DOCKER: "#!/bin/sh\n", "/usr/libexec/docker/cli-plugins/docker-buildx": build_elf("x86_64"),
            **(store or {})}
    version = docker_data(version_file or "version-28-client-20.10-server.json")
    cmds = {VERSION: CommandResult(VERSION, 1 if version_file else 0, version,
                                   docker_data("version-down.stderr") if version_file else ""),
            INFO: CommandResult(INFO, 0, info or docker_data("info-20.10.json")),
            LS: CommandResult(LS, 0, ls_table)}
    cmds[LS_JSON] = (CommandResult(LS_JSON, 0, ls_json) if ls_json is not None
                     else CommandResult(LS_JSON, 1, "", "ERROR: unknown flag: --format\n"))
    ctx = make_host(tree, commands=cmds, targets=targets, env={"PATH": "/usr/bin", "HOME": "/root", **(env or {})})
    ctx.path(DOCKER).chmod(0o755)
    ctx.path("/usr/libexec/docker/cli-plugins/docker-buildx").chmod(0o755)
    ctx.live = True  # let the plugin "run" through the FakeRunner
    return ctx


@pytest.fixture
def host(make_host, base_host):
    """host(...) over base_host (see _host)."""
    return lambda *args, **kw: _host(make_host, base_host, *args, **kw)


def test_no_plugin_means_no_builder_to_check(host):
    ctx = host("")
    ctx.path("/usr/libexec/docker/cli-plugins/docker-buildx").unlink()
    (res,) = buildx_builder(ctx)
    assert res.status is Status.SKIP and "no docker-buildx plugin" in res.summary


def by_target(results):
    return {r.target: r for r in results}


def test_multi_node_builder_native_and_emulated_per_target(host):
    table = run_output("v0.12.1", "buildx", "ls", current="multi")
    res = by_target(buildx_builder(host(table, targets="linux/amd64,linux/arm64,linux/386,linux/riscv64")))
    assert res["linux/amd64"].status is Status.OK and dict(res["linux/amd64"].data) == {
        "builder": "multi", "driver": "docker-container", "node": "multi0", "how": "native"}
    # linux/386 and riscv64 are nobody's configured (`*`) platform, so buildx takes, for each target,
    # the first node listing it: arm64 goes to multi0 and is emulated there although multi1 is native.
    assert res["linux/arm64"].data["node"] == "multi0" and res["linux/arm64"].data["how"] == "emulated"
    assert res["linux/386"].data["how"] == "native"  # amd64 runs 386 without emulation
    miss = res["linux/riscv64"]
    assert miss.status is Status.FAIL and miss.summary == "no node of builder multi lists linux/riscv64"
    assert "sudo mab-doctor --fix" in miss.remediation and "--append" in miss.remediation
    assert any("multi-node builder: 2 nodes, native platforms linux/amd64, linux/arm64" in d for d in miss.details)
    assert None not in res  # docker-container driver: no export warning


def test_emulated_target_on_a_local_node(host):
    builders = [{"name": "qemu", "driver": "docker-container", "nodes": [
        {"name": "qemu0", "endpoint": "unix:///var/run/docker.sock", "status": "running", "buildkit": "v0.12.5",
         "platforms": ["linux/amd64", "linux/amd64/v2", "linux/arm64", "linux/arm/v7"]}]}]
    table = run_output("v0.11.2", "buildx", "ls", current="qemu", builders=builders)
    res = by_target(buildx_builder(host(table, targets="linux/amd64,linux/arm64,linux/arm/v7")))
    assert [res[t].data["how"] for t in ("linux/amd64", "linux/arm64", "linux/arm/v7")] == [
        "native", "emulated", "emulated"]
    assert res["linux/arm64"].summary == "node qemu0 of qemu (emulated)"


def test_containerd_image_store_has_no_driver_warning(host):
    info = json.loads(docker_data("info-20.10.json"))
    info["DriverStatus"] = [["driver-type", "io.containerd.snapshotter.v1"]]  # derived: a containerd-store daemon
    table = run_output("v0.12.1", "buildx", "ls")
    assert None not in by_target(buildx_builder(host(table, info=json.dumps(info))))


def test_json_format_is_used_when_supported_and_buildx_folder_marks_the_current(host):
    ls_json = run_output("v0.14.0", "buildx", "ls", "--format", "json")
    ctx = host("", ls_json, store=store_files("multi"))
    res = by_target(buildx_builder(ctx))
    # Every target is some node's configured platform (saved at `buildx create --platform`; JSON lacks the
    # mark): those nodes.
    assert res["linux/arm64"].data == {"builder": "multi", "driver": "docker-container", "node": "multi1",
                                       "how": "native"}
    assert "read `docker buildx ls --format json` and buildx's own folder" in res["linux/arm64"].details
    three = by_target(buildx_builder(host("", ls_json, targets="linux/amd64,linux/arm64,linux/arm/v7",
                                          store=store_files("multi"))))
    # linux/arm/v7 is configured nowhere: buildx takes the first node listing each target.
    assert three["linux/arm64"].data["node"] == "multi0" and three["linux/arm64"].data["how"] == "emulated"
    assert [c[0] for c in ctx.runner.calls if c[0][1] == "buildx"] == [LS_JSON]  # one plugin start, no table


def test_a_store_buildx_cannot_read_sends_the_doctor_to_the_table(host):
    ls_json = run_output("v0.14.0", "buildx", "ls", "--format", "json")
    table = run_output("v0.14.0", "buildx", "ls", current="multi")
    ctx = host(table, ls_json, store={"/root/.docker/buildx/current": "{not json"})
    res = by_target(buildx_builder(ctx))
    assert res["linux/arm64"].data["node"] == "multi1" and res["linux/arm64"].data["builder"] == "multi"
    assert res["linux/arm64"].details[0] == ("/root/.docker/buildx/current is not JSON; the current builder is "
                                             "read from the `docker buildx ls` table")
    assert [c[0] for c in ctx.runner.calls if c[0][1] == "buildx"] == [LS_JSON, LS]


def test_stopped_node_lists_no_platforms(host):
    builders = [{"name": "idle", "driver": "docker-container", "nodes": [
        {"name": "idle0", "endpoint": "unix:///var/run/docker.sock", "status": "inactive", "buildkit": "",
         "platforms": []}]}]
    table = run_output("v0.12.1", "buildx", "ls", current="idle", builders=builders)
    res = by_target(buildx_builder(host(table)))
    assert res["linux/amd64"].status is Status.FAIL
    assert any("not running" in d and "idle0" in d for d in res["linux/amd64"].details)
    assert "--bootstrap" in res["linux/amd64"].remediation


def test_daemon_down_skips(host):
    ctx = host("", version_file="version-down.json")
    (res,) = buildx_builder(ctx)
    assert res.status is Status.SKIP and res.summary == "the Docker daemon is not running: builders cannot be listed"
    assert "systemctl start docker" in res.remediation
    assert all(c[0][1] != "buildx" for c in ctx.runner.calls)


def test_unreachable_docker_host_is_said_in_words(host):
    (res,) = buildx_builder(host("", version_file="version-down.json", env={"DOCKER_HOST": "tcp://127.0.0.1:1"}))
    assert res.summary == ("the Docker endpoint DOCKER_HOST=tcp://127.0.0.1:1 cannot be reached: "
                           "builders cannot be listed")
    assert "unset DOCKER_HOST" in res.remediation and "Start" not in res.remediation


def test_the_plugin_is_started_as_the_cli_starts_it(host):
    ctx = host("", run_output("v0.14.0", "buildx", "ls", "--format", "json"))
    buildx_builder(ctx)
    (env,) = [e for c, e in zip(ctx.runner.calls, ctx.runner.envs) if c[0] == LS_JSON]
    # `<plugin> buildx ls` with the CLI's path beside it: the plugin's own sign that the CLI started it
    assert env["DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND"] == DOCKER and env["HOME"] == "/root"


def test_hung_ls_costs_one_timeout(host):
    ctx = host("")
    ctx.runner.commands[LS_JSON] = CommandResult(LS_JSON, None, timed_out=True, timeout=10)
    (res,) = buildx_builder(ctx)
    assert res.status is Status.FAIL and "timed out after 10s" in res.summary and res.remediation
    # A node that does not answer stops the listing: the table would hang the same way, so it is not asked.
    assert [c[0] for c in ctx.runner.calls if c[0][1] == "buildx"] == [LS_JSON]


def node(name, *platforms, status="running", endpoint=None):
    return {"Name": name, "Endpoint": endpoint or f"ssh://{name}", "Status": status, "Version": "v0.12.5",
            "Platforms": list(platforms)}


def builder(name, *nodes, driver="docker-container", current=True, err=None):
    """One line of `buildx ls --format json` (``Current`` as buildx v0.21+ prints it)."""
    b = {"Name": name, "Driver": driver, "Nodes": list(nodes), "Current": current}
    if err:
        b["Err"] = err
    return json.dumps(b)


def judged(host, *lines, targets="linux/amd64,linux/arm64", table=None):
    """buildx-builder with `ls --format json` printing ``lines`` and the table failing (or ``table``)."""
    ctx = host("", "\n".join(lines) + "\n", targets=targets)
    ctx.runner.commands[LS] = (CommandResult(LS, 0, table) if table is not None
                               else CommandResult(LS, 1, "", "ERROR: no table\n"))
    return ctx, buildx_builder(ctx)


READ_JSON = "read `docker buildx ls --format json` and buildx's own folder"
NO_CURRENT_REMEDY = "Run `docker buildx ls`; select a builder with `docker buildx use NAME`."


def test_json_alone_decides_and_the_details_describe_the_builder(host):
    _, results = judged(host, builder("b", node("b0", "linux/amd64*", "linux/arm64"),
                                      node("b1", status="", endpoint="tcp://x:1"), driver="", err="boot failed"))
    res = by_target(results)
    assert list(res["linux/amd64"].details) == [
        READ_JSON, "current builder b (driver unknown): error boot failed",
        "node b0 (ssh://b0, running): linux/amd64*, linux/arm64", "node b1 (tcp://x:1, status unknown): -"]
    assert res["linux/amd64"].summary == "node b0 of b (native)" and res["linux/arm64"].summary == "node b0 of b (emulated)"
    assert None not in res  # an unknown driver is not the docker driver


def test_a_node_without_platforms_counts_as_native_to_this_host(host):
    _, results = judged(host, builder("b", node("b0", "linux/arm64*"), node("b1", status="inactive")))
    res = by_target(results)
    assert "multi-node builder: 2 nodes, native platforms linux/arm64, linux/amd64" in res["linux/arm64"].details
    assert res["linux/arm64"].summary == "node b0 of b (native)"


def test_two_nodes_native_to_one_platform_are_not_called_multi_node(host):
    _, results = judged(host, builder("b", node("b0", "linux/amd64"), node("b1", "linux/amd64", "linux/arm64")))
    res = by_target(results)
    assert not any(d.startswith("multi-node builder") for d in res["linux/amd64"].details)
    assert res["linux/amd64"].summary == "node b0 of b (native)"  # the earlier of two equal nodes
    assert res["linux/arm64"].summary == "node b1 of b (emulated)"


def test_a_native_node_wins_over_an_earlier_emulating_one(host):
    _, results = judged(host, builder("b", node("b0", "linux/amd64*", "linux/arm64"), node("b1", "linux/arm64*")))
    assert by_target(results)["linux/arm64"].summary == "node b1 of b (native)"


def test_a_configured_platform_wins_among_native_nodes(host):
    _, results = judged(host, builder("b", node("b0", "linux/amd64", "linux/386"), node("b1", "linux/386*")),
                        targets="linux/386")
    (res,) = results
    assert res.summary == "node b1 of b (native)" and res.data["node"] == "b1"
    _, results = judged(host, builder("b", node("b0", "linux/amd64", "linux/386*"), node("b1", "linux/386*")),
                        targets="linux/386")
    assert results[0].summary == "node b0 of b (native)"


def test_platforms_outside_the_vocabulary_are_skipped(host):
    _, results = judged(host, builder("b", node("b0", "darwin/arm64", "linux/amd64", "linux/arm64")),
                        targets="linux/amd64")
    assert results[0].summary == "node b0 of b (native)"


def test_a_missing_target_names_idle_nodes_and_how_to_reboot(host):
    _, results = judged(host, builder("b", node("b0", "linux/amd64*"), node("b1", status="inactive"),
                                      node("b2", status=""), node("b3", status="stopped")))
    res = by_target(results)["linux/arm64"]
    assert res.status is Status.FAIL and res.summary == "no node of builder b lists linux/arm64"
    assert res.details[-1] == "nodes not running (they list only configured platforms until booted): b1, b3"
    assert dict(res.data) == {"builder": "b", "driver": "docker-container", "node": None, "how": None}
    assert res.remediation == (
        "Register QEMU handlers (`sudo mab-doctor --fix`), then use a builder created after that: "
        "`docker buildx create --use --driver docker-container --bootstrap` (a builder keeps the platform list "
        "it saw at boot: `docker buildx rm b` and create it again; `docker buildx inspect b --bootstrap` boots "
        "a stopped one); or add a node native to linux/arm64 with `docker buildx create --append --name "
        "<builder> <endpoint>` (docker-container builders).")


def test_a_missing_target_on_the_docker_driver_has_no_rebuild_advice(host):
    _, results = judged(host, builder("default", node("default", "linux/amd64"), driver="docker"))
    res = by_target(results)["linux/arm64"]
    assert res.details[-1] == "node default (ssh://default, running): linux/amd64"
    assert res.remediation == (
        "Register QEMU handlers (`sudo mab-doctor --fix`), then use a builder created after that: "
        "`docker buildx create --use --driver docker-container --bootstrap`; or add a node native to linux/arm64 "
        "with `docker buildx create --append --name <builder> <endpoint>` (docker-container builders).")


def test_without_a_current_mark_the_default_builder_is_used(host):
    _, results = judged(host, builder("builder1", node("o0", "linux/arm64"), current=False),
                        builder("default", node("default", "linux/amd64", "linux/arm64"), current=False))
    assert by_target(results)["linux/amd64"].summary == "node default of default (native)"


def test_no_current_and_no_default_fails(host):
    _, results = judged(host, builder("other", node("o0", "linux/arm64"), current=False))
    (res,) = results
    assert res.status is Status.FAIL and res.summary == "`docker buildx ls` gave no current builder"
    assert res.remediation == NO_CURRENT_REMEDY and list(res.details) == [READ_JSON]


def test_unreadable_json_falls_back_to_the_table(host):
    _, results = judged(host, '"just a string"', table=run_output("v0.12.1", "buildx", "ls", current="multi"))
    res = by_target(results)["linux/arm64"]
    assert res.summary == "node multi1 of multi (native)"
    assert res.details[0] == ("`docker buildx ls --format json` not understood (not a buildx builder object); "
                              "using the table")


def test_neither_form_understood_fails_with_the_table_last_line(host):
    ctx = host("oops, no table\n")
    (res,) = buildx_builder(ctx)
    assert res.status is Status.FAIL and res.summary == "`docker buildx ls` gave no current builder: oops, no table"
    assert list(res.details) == ["`docker buildx ls --format json` is not supported by this buildx (before v0.13); "
                                 "using the table", "`docker buildx ls` table not understood: no NAME/NODE header"]
    assert res.remediation == NO_CURRENT_REMEDY


def test_a_failing_table_names_its_error(host):
    ctx = host("")
    ctx.runner.commands[LS] = CommandResult(LS, 1, "", "ERROR: something broke\n")
    (res,) = buildx_builder(ctx)
    assert res.summary == "`docker buildx ls` gave no current builder: ERROR: something broke"


def test_a_hung_ls_names_the_node_problem(host):
    ctx = host("")
    ctx.runner.commands[LS_JSON] = CommandResult(LS_JSON, None, timed_out=True, timeout=10)
    (res,) = buildx_builder(ctx)
    assert res.summary == ("`docker buildx ls` gave no current builder: `/usr/bin/docker buildx ls --format json`: "
                           "timed out after 10s (a builder node does not answer)")
    assert list(res.details) == []


def test_skips_say_why_and_what_to_do(host):
    (down,) = buildx_builder(host("", version_file="version-down.json"))
    assert list(down.details) == ["Cannot connect to the Docker daemon at unix:///tmp/nope.sock. "
                                  "Is the docker daemon running?"]
    assert down.remediation == ("Start the Docker daemon: `sudo systemctl start docker` (no systemd: "
                                "`sudo dockerd &`). Then run this check again.")
    ctx = host("")
    ctx.path("/usr/libexec/docker/cli-plugins/docker-buildx").unlink()
    (none,) = buildx_builder(ctx)
    assert none.summary == "no docker-buildx plugin: no builder to check (see buildx)"
    assert none.remediation == "Install the buildx plugin (see buildx)."


def test_the_check_is_declared_per_target_after_buildx():
    assert (buildx_builder.name, buildx_builder.category, buildx_builder.requires, buildx_builder.per_target) == (
        "buildx-builder", "docker", ("buildx",), True)


def test_a_starred_platform_counts_only_for_its_own_target(host):
    _, results = judged(host, builder("b", node("b0", "linux/amd64", "linux/arm64"),
                                      node("b1", "linux/amd64*", "linux/arm64", "linux/s390x*")),
                        targets="linux/arm64")
    assert results[0].summary == "node b0 of b (emulated)"


def test_other_platforms_of_a_node_do_not_make_it_list_the_target(host):
    _, results = judged(host, builder("b", node("b0", "linux/amd64", "linux/riscv64")), targets="linux/arm64")
    assert results[0].status is Status.FAIL and results[0].summary == "no node of builder b lists linux/arm64"


def test_a_builder_without_nodes_lists_nothing_and_is_not_multi_node(host):
    _, results = judged(host, builder("empty"), targets="linux/amd64")
    (res,) = results
    assert res.status is Status.FAIL and res.summary == "no node of builder empty lists linux/amd64"
    assert list(res.details) == [READ_JSON,
                                 "current builder empty (driver docker-container)"]


def test_the_cloud_driver_gets_the_rebuild_advice_and_no_export_warning(host):
    _, results = judged(host, builder("c", node("c0", "linux/amd64"), driver="cloud"))
    res = by_target(results)
    assert None not in res
    assert "`docker buildx rm c` and create it again" in res["linux/arm64"].remediation
