"""build-path: buildx's refusals (docker driver, --load of several platforms), node routing, project builds."""

import json

import pytest

from elfbuild import build_elf
from helpers import DOCKER, INFO, VERSION, docker_data
from make_plugin import store_files
from mab_doctor.api import Check
from mab_doctor.checks.build_path import build_path
from mab_doctor.core.context import CommandResult
from mab_doctor.core.model import Status
from mab_doctor.project.model import Build, Intent, Platform, Where

# The CLI runs `docker buildx ls` as `<plugin> buildx ls`; the doctor starts the plugin the same way.
PLUGIN = "/usr/libexec/docker/cli-plugins/docker-buildx"
LS_JSON = (PLUGIN, "buildx", "ls", "--format", "json")
LS = (PLUGIN, "buildx", "ls")
REFUSED = ('buildx refuses it: "Multi-platform build is not supported for the docker driver. Switch to a different '
           'driver, or turn on the containerd image store, and try again."')


def node(name, *platforms):
    return {"Name": name, "Endpoint": f"ssh://{name}", "Status": "running", "Version": "v0.12.5",
            "Platforms": list(platforms)}


def builder(name, *nodes, driver="docker-container", current=True):
    return json.dumps({"Name": name, "Driver": driver, "Nodes": list(nodes), "Current": current})


DEFAULT = builder("default", node("default", "linux/amd64", "linux/arm64", "linux/arm/v7"), driver="docker")


@pytest.fixture
def host(make_host, base_host):
    def make(*lines, targets="linux/amd64,linux/arm64", containerd=False, store=None, project=None, sources=None,
             env=None):
        tree = {**base_host, DOCKER: "#!/bin/sh\n",
                "/usr/libexec/docker/cli-plugins/docker-buildx": build_elf("x86_64"), **(store or {})}
        info = json.loads(docker_data("info-20.10.json"))
        if containerd:  # what `docker info` says of a daemon with the containerd image store
            info["DriverStatus"] = [["driver-type", "io.containerd.snapshotter.v1"]]
        cmds = {VERSION: CommandResult(VERSION, 0, docker_data("version-28-client-20.10-server.json")),
                INFO: CommandResult(INFO, 0, json.dumps(info)),
                LS_JSON: CommandResult(LS_JSON, 0, "\n".join(lines) + "\n"),
                LS: CommandResult(LS, 1, "", "ERROR: no table\n")}
        ctx = make_host(tree, commands=cmds, targets=targets, env={"PATH": "/usr/bin", "HOME": "/root", **(env or {})})
        ctx.path(DOCKER).chmod(0o755)
        ctx.path("/usr/libexec/docker/cli-plugins/docker-buildx").chmod(0o755)
        ctx.live = True
        ctx.project = project
        ctx.target_sources = sources or {str(t): "--platform" for t in ctx.targets}
        return ctx
    return make


def by_status(results):
    return [(r.status, r.target) for r in results]


def test_two_platforms_through_the_docker_driver_with_the_classic_store_fail_with_buildx_words(host):
    (res,) = build_path(host(DEFAULT))
    assert res.status is Status.FAIL
    assert res.summary == ("`docker buildx build --platform linux/amd64,linux/arm64` (linux/amd64, linux/arm64) "
                           "through builder default (docker driver, classic image store): " + REFUSED)
    assert "docker-container" in res.remediation and "containerd-snapshotter" in res.remediation
    assert "--platform linux/amd64, --platform linux/arm64" in res.remediation
    assert res.data["error"].startswith("Multi-platform build is not supported for the docker driver.\n")
    assert any("buildx 0.11 and older say: multiple platforms feature" in d for d in res.details)


def test_one_platform_through_the_docker_driver_is_fine(host):
    (res,) = build_path(host(DEFAULT, targets="linux/arm64"))
    assert res.status is Status.OK
    assert res.summary == ("`docker buildx build --platform linux/arm64` (linux/arm64): builder default "
                           "(docker driver, classic image store)")


def test_the_containerd_image_store_takes_several_platforms_through_the_docker_driver(host):
    (res,) = build_path(host(DEFAULT, containerd=True))
    assert res.status is Status.OK and res.data["image_store"] == "containerd image store"


def test_a_docker_container_builder_builds_several_platforms_but_cannot_load_them_into_a_classic_store(host):
    multi = builder("multi", node("multi0", "linux/amd64", "linux/arm64"))
    intent = Intent("/p", ("compose.yaml",), builds=(
        Build("compose", "web", Where("compose.yaml", 3), (Platform("linux/amd64", Where("compose.yaml", 6)),
                                                          Platform("linux/arm64", Where("compose.yaml", 7))),
              load=True),
        Build("bake", "push", Where("docker-bake.hcl", 1), (Platform("linux/arm64", Where("docker-bake.hcl", 2)),
                                                            Platform("linux/amd64", Where("docker-bake.hcl", 2))),
              outputs=("type=registry",))))
    sources = {"linux/amd64": "compose.yaml:6", "linux/arm64": "compose.yaml:7"}
    web, push = build_path(host(multi, project=intent, sources=sources))
    assert web.status is Status.FAIL and web.summary.startswith(
        "compose.yaml:3: compose service web (linux/amd64, linux/arm64) through builder multi (docker-container "
        "driver, classic image store): buildx refuses it: \"docker exporter does not currently support exporting "
        "manifest lists\"")
    assert "--push" in web.remediation and "type=oci" in web.remediation
    assert push.status is Status.OK and push.summary == ("docker-bake.hcl:1: bake target push (linux/arm64, "
                                                         "linux/amd64): builder multi (docker-container driver, "
                                                         "classic image store)")


def test_project_builds_of_one_platform_each_pass_the_docker_driver(host):
    intent = Intent("/p", ("docker-bake.hcl",), builds=tuple(
        Build("bake", name, Where("docker-bake.hcl", line), (Platform(p, Where("docker-bake.hcl", line + 1)),))
        for name, line, p in (("amd", 1, "linux/amd64"), ("arm", 5, "linux/arm64"))))
    sources = {"linux/amd64": "docker-bake.hcl:2", "linux/arm64": "docker-bake.hcl:6"}
    results = build_path(host(DEFAULT, project=intent, sources=sources))
    assert by_status(results) == [(Status.OK, None), (Status.OK, None)]
    # --platform wins over the project: then the one command of both targets is what is judged.
    (res,) = build_path(host(DEFAULT, project=intent))
    assert res.status is Status.FAIL


def test_ci_builds_count_only_inside_that_ci(host):
    intent = Intent("/p", (".github/workflows/ci.yml",), builds=(
        Build("github", "build step 3", Where(".github/workflows/ci.yml", 20),
              (Platform("linux/amd64", Where(".github/workflows/ci.yml", 22)),
               Platform("linux/arm64", Where(".github/workflows/ci.yml", 22)))),))
    sources = {"linux/amd64": ".github/workflows/ci.yml:22", "linux/arm64": ".github/workflows/ci.yml:22"}
    (here,) = build_path(host(DEFAULT, project=intent, sources=sources))
    assert here.summary.startswith("`docker buildx build --platform linux/amd64,linux/arm64`")
    (inside,) = build_path(host(DEFAULT, project=intent, sources=sources, env={"GITHUB_ACTIONS": "true"}))
    assert inside.status is Status.FAIL and inside.summary.startswith(".github/workflows/ci.yml:20: github build")


def test_a_build_naming_a_missing_builder_warns(host):
    intent = Intent("/p", ("docker-bake.hcl",), builds=(
        Build("bake", "app", Where("docker-bake.hcl", 4), (Platform("linux/arm64", Where("docker-bake.hcl", 5)),),
              builder="ghost"),))
    (res,) = build_path(host(DEFAULT, project=intent, sources={"linux/arm64": "docker-bake.hcl:5"},
                             targets="linux/arm64"))
    assert res.status is Status.WARN and res.summary == ("docker-bake.hcl:4: bake target app names builder ghost, "
                                                         "which `docker buildx ls` does not list")


def podman_build(*platforms, outputs=()):
    return Intent("/p", (".gitlab-ci.yml",), builds=(
        Build("gitlab", "job", Where(".gitlab-ci.yml", 3),
              tuple(Platform(p, Where(".gitlab-ci.yml", 4)) for p in platforms), engine="podman", outputs=outputs),))


def test_podman_builds_one_platform_after_the_other(host):
    ctx = host(DEFAULT, project=podman_build("linux/arm64"), sources={"linux/arm64": ".gitlab-ci.yml:4"},
               targets="linux/arm64", env={"GITLAB_CI": "true"})
    (res,) = build_path(ctx)
    assert res.status is Status.FAIL and res.summary == (".gitlab-ci.yml:3: gitlab build job builds with podman, "
                                                        "which is not installed")
    ctx.path("/usr/bin/podman").write_text("#!/bin/sh\n")
    ctx.path("/usr/bin/podman").chmod(0o755)
    (res,) = build_path(ctx)
    assert res.status is Status.OK and res.summary == (".gitlab-ci.yml:3: gitlab build job builds linux/arm64 with "
                                                      "podman, one platform after the other (its handlers: see "
                                                      "binfmt-handlers)")


def test_podman_several_platforms_without_a_manifest_keep_only_the_last(host):
    sources = {"linux/amd64": ".gitlab-ci.yml:4", "linux/arm64": ".gitlab-ci.yml:4"}
    ctx = host(DEFAULT, project=podman_build("linux/amd64", "linux/arm64"), sources=sources,
               env={"GITLAB_CI": "true"})
    ctx.path("/usr/bin/podman").write_text("#!/bin/sh\n")
    ctx.path("/usr/bin/podman").chmod(0o755)
    (res,) = build_path(ctx)
    assert res.status is Status.WARN and res.summary.endswith("without --manifest: the tag keeps only the last "
                                                              "platform built (linux/arm64)")
    ctx.project = podman_build("linux/amd64", "linux/arm64", outputs=("manifest=app:1",))
    (res,) = build_path(ctx)
    assert res.status is Status.OK and "into manifest list app:1" in res.summary


# Laid out as buildx v0.13+ prints it (tabwriter, three spaces between columns).
# What `buildx create --platform` saved: amd64 configured on multi0, arm64 on multi1.
MULTI_STORE = store_files("multi", [{"name": "multi", "driver": "docker-container", "nodes": [
    {"name": "multi0", "endpoint": "unix:///var/run/docker.sock", "platforms": ["linux/amd64*"]},
    {"name": "multi1", "endpoint": "ssh://arm64-box", "platforms": ["linux/arm64*"]}]}])
MULTI = builder("multi", node("multi0", "linux/amd64", "linux/arm64", "linux/arm/v7"),
                node("multi1", "linux/arm64", "linux/arm/v7"))


def test_a_target_sent_to_an_emulating_node_while_a_native_one_exists_warns(host):
    results = build_path(host(MULTI, store=MULTI_STORE, targets="linux/amd64,linux/arm64,linux/arm/v7"))
    assert by_status(results) == [(Status.OK, None), (Status.WARN, "linux/arm64"), (Status.WARN, "linux/arm/v7")]
    warn = results[1]
    assert warn.summary == ("buildx sends linux/arm64 to node multi0 of multi, which emulates it, although node "
                            "multi1 runs it natively")
    assert "--append --name multi --node multi1 --platform linux/arm64" in warn.remediation


def test_configured_platforms_covering_every_target_route_to_the_native_node(host):
    results = build_path(host(MULTI, store=MULTI_STORE))  # amd64* on multi0, arm64* on multi1
    assert by_status(results) == [(Status.OK, None)]


def test_no_daemon_or_no_plugin_skips(host, make_host, base_host):
    ctx = host(DEFAULT)
    ctx.path("/usr/libexec/docker/cli-plugins/docker-buildx").unlink()
    (res,) = build_path(ctx)
    assert res.status is Status.SKIP and "no docker-buildx plugin" in res.summary


CURRENT_MULTI = "current builder multi, driver docker-container, daemon's classic image store"
CONTAINERD_WORDS = ("turn on the containerd image store (Docker 24 or newer: `{\"features\": "
                    "{\"containerd-snapshotter\": true}}` in /etc/docker/daemon.json, then restart dockerd; images "
                    "stored before are not migrated)")


def test_it_is_a_registered_style_check_of_the_docker_category_needing_buildx():
    assert isinstance(build_path, Check)
    assert (build_path.name, build_path.category, build_path.requires, build_path.per_target) == (
        "build-path", "docker", ("buildx",), False)


def test_a_daemon_that_is_down_while_the_cli_exists_skips_with_the_start_remedy(host):
    ctx = host(DEFAULT)
    ctx.runner.commands[VERSION] = CommandResult(VERSION, 1, docker_data("version-down.json"),
                                                 docker_data("version-down.stderr"))
    (res,) = build_path(ctx)
    assert res.status is Status.SKIP and res.summary == "the Docker daemon is not running: no builder to judge"
    assert res.remediation == ("Start the Docker daemon: `sudo systemctl start docker` (no systemd: `sudo dockerd &`)."
                               " Then run again.")


def test_no_current_builder_names_what_buildx_ls_said(host):
    ctx = host(DEFAULT)  # neither `ls` form works: nothing is listed, and the table's error is the reason
    ctx.runner.commands[LS_JSON] = CommandResult(LS_JSON, 1, "", "ERROR: unknown flag: --format\n")
    (res,) = build_path(ctx)
    assert res.status is Status.SKIP
    assert res.summary == "no current buildx builder: ERROR: no table (see buildx-builder)"
    assert res.remediation == "Select a builder with `docker buildx use NAME`."


def test_no_current_builder_without_a_problem_says_only_that(host):
    # A listed builder that is neither marked current nor called `default`: nothing is current.
    (res,) = build_path(host(builder("multi", node("multi0", "linux/amd64"), current=False)))
    assert res.status is Status.SKIP and res.summary == "no current buildx builder (see buildx-builder)"
    assert res.remediation == "Select a builder with `docker buildx use NAME`."


def bake(name, line, *platforms, builder=None):
    return Build("bake", name, Where("docker-bake.hcl", line),
                 tuple(Platform(p, Where("docker-bake.hcl", line + 1)) for p in platforms), builder=builder)


def test_a_build_naming_an_existing_builder_is_judged_through_that_builder(host):
    # `multi` (current) is listed first and sorts after `default`, the builder the build names.
    lines = (builder("multi", node("multi0", "linux/amd64", "linux/arm64")),
             builder("default", node("default", "linux/amd64"), driver="docker", current=False))
    intent = Intent("/p", ("docker-bake.hcl",), builds=(bake("app", 4, "linux/amd64", "linux/arm64",
                                                             builder="default"),))
    sources = {"linux/amd64": "docker-bake.hcl:5", "linux/arm64": "docker-bake.hcl:5"}
    (res,) = build_path(host(*lines, project=intent, sources=sources))
    assert res.status is Status.FAIL
    assert res.summary == ("docker-bake.hcl:4: bake target app (linux/amd64, linux/arm64) through builder default "
                           "(docker driver, classic image store): " + REFUSED)
    assert res.details == (CURRENT_MULTI, "buildx 0.11 and older say: multiple platforms feature is currently not "
                                          "supported for docker driver. Please switch to a different driver (eg. "
                                          "\"docker buildx create --use\")")
    assert dict(res.data) == {
        "build": "bake target app", "where": "docker-bake.hcl:4", "platforms": ("linux/amd64", "linux/arm64"),
        "builder": "default", "driver": "docker", "image_store": "classic image store", "load": False,
        "error": "Multi-platform build is not supported for the docker driver.\nSwitch to a different driver, or "
                 "turn on the containerd image store, and try again."}
    assert res.remediation == (
        "Either use a builder of the docker-container driver (`docker buildx create --use --driver docker-container "
        "--bootstrap`; it pulls moby/buildkit from a registry once), or " + CONTAINERD_WORDS
        + ", or build one platform per invocation (--platform linux/amd64, --platform linux/arm64).")


def test_a_refused_load_has_no_docker_driver_words_and_the_push_remedy(host):
    multi = builder("multi", node("multi0", "linux/amd64", "linux/arm64"))
    (res,) = build_path(host(multi, project=Intent("/p", ("compose.yaml",), builds=(
        Build("compose", "web", Where("compose.yaml", 3), (Platform("linux/amd64", Where("compose.yaml", 6)),
                                                          Platform("linux/arm64", Where("compose.yaml", 7))),
              load=True),)), sources={"linux/amd64": "compose.yaml:6", "linux/arm64": "compose.yaml:7"}))
    assert res.status is Status.FAIL
    assert res.details == (CURRENT_MULTI,)
    assert res.data["error"] == "docker exporter does not currently support exporting manifest lists"
    assert res.data["load"] is True and res.data["driver"] == "docker-container"
    assert res.remediation == ("Push instead of loading (`--push`, or `--output type=registry`), export an OCI archive "
                               "(`--output type=oci,dest=image.tar`), or " + CONTAINERD_WORDS + ", or build one "
                               "platform per invocation (--platform linux/amd64, --platform linux/arm64).")


def test_every_build_after_a_podman_one_is_still_judged(host):
    intent = Intent("/p", (".gitlab-ci.yml", "docker-bake.hcl"), builds=(
        Build("gitlab", "job", Where(".gitlab-ci.yml", 3), (Platform("linux/arm64", Where(".gitlab-ci.yml", 4)),),
              engine="podman"),
        bake("app", 8, "linux/arm64")))
    ctx = host(DEFAULT, project=intent, sources={"linux/arm64": ".gitlab-ci.yml:4"}, targets="linux/arm64",
               env={"GITLAB_CI": "true"})
    first, second = build_path(ctx)  # podman is not installed
    assert first.status is Status.FAIL and first.remediation == "Install podman (`apt-get install podman`)."
    assert dict(first.data) == {"build": "gitlab build job", "engine": "podman", "platforms": ("linux/arm64",),
                                "manifest": None}
    assert second.status is Status.OK and second.summary == ("docker-bake.hcl:8: bake target app (linux/arm64): "
                                                             "builder default (docker driver, classic image store)")


def test_every_build_after_one_naming_a_missing_builder_is_still_judged(host):
    intent = Intent("/p", ("docker-bake.hcl",), builds=(bake("app", 4, "linux/arm64", builder="ghost"),
                                                        bake("api", 8, "linux/arm64")))
    first, second = build_path(host(DEFAULT, project=intent, sources={"linux/arm64": "docker-bake.hcl:5"},
                                    targets="linux/arm64"))
    assert first.status is Status.WARN
    assert first.remediation == "Create it (`docker buildx create --name ghost ...`) or remove the builder setting."
    assert first.details == ("current builder default, driver docker, daemon's classic image store",)
    assert second.status is Status.OK and second.summary.startswith("docker-bake.hcl:8: bake target api (linux/arm64)")


@pytest.mark.parametrize("engine", ["podman", "buildah"])
def test_three_platforms_without_a_manifest_name_the_last_one_built(host, engine):
    platforms = ("linux/amd64", "linux/arm64", "linux/arm/v7")
    intent = Intent("/p", (".gitlab-ci.yml",), builds=(Build(
        "gitlab", "job", Where(".gitlab-ci.yml", 3), tuple(Platform(p, Where(".gitlab-ci.yml", 4)) for p in platforms),
        engine=engine),))
    ctx = host(DEFAULT, project=intent, sources={p: ".gitlab-ci.yml:4" for p in platforms}, targets=",".join(platforms),
               env={"GITLAB_CI": "true"})
    ctx.path(f"/usr/bin/{engine}").write_text("#!/bin/sh\n")
    ctx.path(f"/usr/bin/{engine}").chmod(0o755)
    (res,) = build_path(ctx)
    assert res.status is Status.WARN
    assert res.summary == (f".gitlab-ci.yml:3: gitlab build job builds linux/amd64, linux/arm64, linux/arm/v7 with "
                           f"{engine} without --manifest: the tag keeps only the last platform built (linux/arm/v7)")
    assert res.remediation == (f"Add `--manifest NAME` so {engine} collects every platform in one manifest list, "
                               f"then push that list.")
    assert dict(res.data) == {"build": "gitlab build job", "engine": engine, "platforms": platforms, "manifest": None}


# Three nodes: big0 (amd64) lists arm64 first, big1 and big2 both run arm64 natively.
BIG = builder("big", node("big0", "linux/amd64", "linux/arm64"), node("big1", "linux/arm64"),
              node("big2", "linux/arm64"))


def test_on_a_three_node_builder_the_first_native_node_is_named(host):
    ok, warn = build_path(host(BIG))
    assert ok.status is Status.OK and ok.summary == ("`docker buildx build --platform linux/amd64,linux/arm64` "
                                                     "(linux/amd64, linux/arm64): builder big (docker-container "
                                                     "driver, classic image store)")
    assert ok.details == ("current builder big, driver docker-container, daemon's classic image store",)
    assert warn.status is Status.WARN and warn.target == "linux/arm64"
    assert warn.summary == ("buildx sends linux/arm64 to node big0 of big, which emulates it, although node big1 runs "
                            "it natively")
    assert dict(warn.data) == {"builder": "big", "node": "big0", "native_node": "big1"}
    assert warn.remediation == ("Make big1's platform a configured one so buildx prefers it: `docker buildx create "
                                "--append --name big --node big1 --platform linux/arm64 <endpoint>`; buildx takes "
                                "configured (`*`) platforms first when they cover every target.")
    assert warn.details == ("current builder big, driver docker-container, daemon's classic image store",)


def test_a_target_no_node_lists_does_not_stop_the_routing_of_the_next(host):
    # linux/386 is on no node of multi; linux/arm64 after it still goes to the emulating multi0.
    results = build_path(host(MULTI, targets="linux/386,linux/arm64"))
    assert by_status(results) == [(Status.OK, None), (Status.WARN, "linux/arm64")]
    assert results[1].data["native_node"] == "multi1"
