"""build-probe: the probe build through a strict fake builder that runs the steps the way a real one would."""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
from pathlib import Path

import pytest

from helpers import DEBIAN_AARCH64, DOCKER, INFO, VERSION, docker_data, entry_text
from mab_doctor.checks.build_probe import build_probe
from mab_doctor.core.context import CommandResult
from mab_doctor.core.model import Status
from mab_doctor.emulation.probes import MARKER
from mab_doctor.project.model import Build, Intent, Platform, Where

# The CLI runs `docker buildx ls` as `<plugin> buildx ls`; the doctor starts the plugin the same way.
PLUGIN = "/usr/libexec/docker/cli-plugins/docker-buildx"
LS_JSON = (PLUGIN, "buildx", "ls", "--format", "json")
LS = (PLUGIN, "buildx", "ls")
PODMAN = "/usr/bin/podman"
DEFAULT = json.dumps({"Name": "default", "Driver": "docker", "Current": True, "Nodes": [
    {"Name": "default", "Endpoint": "default", "Status": "running", "Version": "v0.8",
     "Platforms": ["linux/amd64", "linux/arm64", "linux/arm/v7"]}]})
ENDPOINT_LOG = ("#6 [3/8] RUN [\"/mab-probe-static\", \"x\"]\n#6 ERROR: executor failed running [/mab-probe-static x]: "
                "failed to create endpoint abc on network bridge: adding interface veth1 to bridge docker0 failed: "
                "could not find bridge docker0: route ip+net: no such network interface\n")
REFUSAL_LOG = ("ERROR: Multi-platform build is not supported for the docker driver.\nSwitch to a different driver, "
               "or turn on the containerd image store, and try again.\n")
EXEC_LOG = ('#7 [linux/arm64 3/8] RUN ["/mab-probe-static", "x"]\n#7 0.1 exec /mab-probe-static: exec format error\n'
            '#7 ERROR: process "/mab-probe-static x" did not complete successfully: exit code: 1\n')


class FakeBuilder:
    """A strict runner: docker/podman facts as given; `du`/`images` list a cache; `build` checks the
    context it gets, "runs" each step by writing its marker into the local export, and adds cache
    records; `prune`/`rmi` remove what their filter names. Any other command fails the test."""

    def __init__(self, commands, *, engine="buildx", denied=(), log="", rc=0, timed_out=False, stubborn=(),
                 list_rc=0):
        self.commands, self.engine, self.denied, self.log, self.rc = dict(commands), engine, set(denied), log, rc
        self.timed_out, self.stubborn, self.list_rc = timed_out, set(stubborn), list_rc
        # The user's own records and images (hex like real image IDs: a careless clean-up would take them).
        self.cache = {"userrecord0000000000000001", "userrecord0000000000000002", "ab" * 32, "cd" * 32}
        self.labelled: dict[str, set[str]] = {}
        self.builds: list[tuple[str, ...]] = []
        self.listings: list[tuple[str, ...]] = []
        self.contexts: list[dict] = []

    def __call__(self, argv, *, timeout, env=None):
        argv = tuple(argv)
        if argv in self.commands:
            return self.commands[argv]
        tool, words = argv[0], argv[1:]
        if words[:2] == ("buildx", "du") or words[:1] == ("images",):
            self.listings.append(argv)
            ids = sorted(self.cache)
            if "--filter" in argv:  # `label=mab-doctor-probe=NONCE`: only the images of that build
                nonce = argv[argv.index("--filter") + 1].rsplit("=", 1)[1]
                ids = sorted(self.labelled.get(nonce, set()) & self.cache)
            text = "".join(f"ID:\t\t{i}\nDescription:\tx\n\n" for i in ids) if words[0] == "buildx" else \
                "".join(f"{i}\n" for i in ids)
            return CommandResult(argv, self.list_rc, text if self.list_rc == 0 else "", "ERROR: cannot list\n")
        if words[:2] == ("buildx", "prune"):
            pattern = re.compile(argv[argv.index("--filter") + 1].removeprefix("id="))
            gone = {i for i in self.cache if pattern.fullmatch(i) and i not in self.stubborn}
            self.cache -= gone
            return CommandResult(argv, 0, "ID\tRECLAIMABLE\n" + "".join(f"{i}\ttrue\n" for i in sorted(gone)))
        if words[:1] == ("rmi",):
            self.cache -= set(words) - self.stubborn
            return CommandResult(argv, 0)
        if "build" in words[:2]:
            return self._build(argv, timeout)
        pytest.fail(f"unexpected command: {' '.join(argv)}")

    def _build(self, argv, timeout):
        self.builds.append(argv)
        platforms = argv[argv.index("--platform") + 1].split(",")
        out = Path(argv[argv.index("--output") + 1].removeprefix("type=local,dest="))
        context = Path(argv[-1])
        self.contexts.append(_describe(context))
        made = {secrets.token_hex(13)[:25] if self.engine == "buildx" else secrets.token_hex(32) for _ in platforms}
        self.cache |= made
        nonce = re.search(r'LABEL mab-doctor-probe="(\w+)"', self.contexts[-1]["dockerfile"]).group(1)
        self.labelled[nonce] = made
        if self.timed_out:
            return CommandResult(argv, None, "", "", timed_out=True, timeout=timeout)
        if self.rc:
            return CommandResult(argv, self.rc, "", self.log)
        for platform in platforms:
            label = platform.removeprefix("linux/").replace("/", "")
            home = (out / platform.replace("/", "_") if len(platforms) > 1 else out) / f"mab-probe-{label}"
            for step in ("static", "pie", "setuid"):
                if (platform, step) not in self.denied:
                    (home / step / MARKER).mkdir(parents=True)
        return CommandResult(argv, 0, "", "#1 DONE\n")


def _describe(context: Path) -> dict:
    """What a builder would see: the Dockerfile and each file's mode."""
    files = {str(p.relative_to(context)): stat.S_IMODE(p.stat().st_mode) for p in context.rglob("*") if p.is_file()}
    return {"dockerfile": (context / "Dockerfile").read_text(), "modes": files}


@pytest.fixture
def probe_host(make_host, base_host, binfmt_tree):
    def make(targets="linux/arm64", *, entries=None, project=None, env=None, sources=None, **builder):
        files = binfmt_tree(entries or {}) if entries is not None else dict(base_host)
        files.update({DOCKER: "#!/bin/sh\n", PODMAN: "#!/bin/sh\n",
                      "/usr/libexec/docker/cli-plugins/docker-buildx": "#!/bin/sh\n"})
        ctx = make_host(files, targets=targets, env={"PATH": "/usr/bin", "HOME": "/root", **(env or {})})
        for path in (DOCKER, PODMAN):
            ctx.path(path).chmod(0o755)
        commands = {VERSION: CommandResult(VERSION, 0, docker_data("version-28-client-20.10-server.json")),
                    INFO: CommandResult(INFO, 0, docker_data("info-20.10.json")),
                    LS_JSON: CommandResult(LS_JSON, 0, DEFAULT + "\n"),
                    LS: CommandResult(LS, 1, "", "ERROR: no table\n")}
        ctx.runner = FakeBuilder(commands, **builder)
        ctx.live, ctx.project = True, project
        ctx.target_sources = sources or {str(t): "--platform" for t in ctx.targets}
        return ctx
    return make


def test_every_step_ran_is_ok_and_the_cache_is_as_before(probe_host):
    ctx = probe_host("linux/arm64")
    before = set(ctx.runner.cache)
    (res,) = build_probe(ctx)
    assert res.status is Status.OK and res.target == "linux/arm64"
    assert res.summary == "static, PIE and setuid-as-non-root steps ran (emulated) through builder default"
    assert res.data["steps"] == {"static": True, "pie": True, "setuid": True} and res.data["removed"] == 1
    assert ctx.runner.cache == before  # the user's two records stay, the probe's one is gone
    assert "linux/arm64: builder default (docker driver), node default, emulated" in res.details
    (argv,) = ctx.runner.builds
    assert argv[:8] == (DOCKER, "buildx", "build", "--builder", "default", "--progress", "plain", "--platform")
    assert argv[8] == "linux/arm64" and argv[9] == "--output" and argv[10].startswith("type=local,dest=")


def test_the_context_holds_a_setuid_root_probe_per_target_and_runs_the_last_step_as_a_non_root_user(probe_host):
    ctx = probe_host("linux/arm64,linux/arm/v7")
    build_probe(ctx)
    (seen,) = ctx.runner.contexts
    assert seen["modes"]["setuid-arm64"] == 0o4755 and seen["modes"]["setuid-armv7"] == 0o4755
    assert seen["modes"]["arm64/mab-probe-static"] == 0o755 and seen["modes"]["armv7/mab-probe-pie"] == 0o755
    lines = seen["dockerfile"].splitlines()
    assert "FROM scratch" in lines and "COPY --chmod=4755 setuid-${TARGETARCH}${TARGETVARIANT} /mab-probe-setuid" in lines
    assert lines.index("USER 1000:1000") < next(i for i, ln in enumerate(lines) if "/mab-probe-setuid\"" in ln)
    assert not any(line.startswith("USER") for line in lines[:lines.index("USER 1000:1000")])


def test_several_platforms_go_through_one_invocation_and_each_target_gets_its_row(probe_host):
    ctx = probe_host("linux/amd64,linux/arm64", denied={("linux/arm64", "setuid")})
    results = build_probe(ctx)
    assert len(ctx.runner.builds) == 1 and ctx.runner.builds[0][8] == "linux/amd64,linux/arm64"
    assert [(r.target, r.status) for r in results] == [("linux/amd64", Status.OK), ("linux/arm64", Status.WARN)]
    assert results[0].data["how"] == "native" and results[1].data["how"] == "emulated"


def test_setuid_without_root_under_emulation_warns_naming_the_c_flag_with_the_opt_in_fix(probe_host):
    ctx = probe_host(entries={"qemu-aarch64": entry_text(DEBIAN_AARCH64)}, denied={("linux/arm64", "setuid")})
    (res,) = build_probe(ctx)
    assert res.status is Status.WARN
    assert "the setuid step did not get root" in res.summary and "no C flag" in res.summary
    assert res.fix is not None and res.fix.opt_in == "--add-c-flag"
    assert [a.kind for a in res.fix.actions] == ["unregister", "register"] and res.fix.actions[1].line.endswith(":POCF")
    assert "--fix --add-c-flag" in res.remediation


def test_setuid_without_root_fails_when_the_project_runs_setuid_programs_as_a_non_root_user(probe_host):
    from mab_doctor.project.dockerfile import parse_dockerfile

    dockerfile, _ = parse_dockerfile("Dockerfile", "FROM debian\nUSER app\nRUN sudo true\n")
    project = Intent("/p", ("Dockerfile",), dockerfiles=(dockerfile,))
    ctx = probe_host(project=project, denied={("linux/arm64", "setuid")})
    (res,) = build_probe(ctx)
    assert res.status is Status.FAIL and "(and Dockerfile:3:5 runs sudo as USER app)" in res.summary


def test_setuid_without_root_natively_is_the_builders_doing_not_the_handlers(probe_host):
    ctx = probe_host("linux/amd64", denied={("linux/amd64", "setuid")})
    (res,) = build_probe(ctx)
    assert res.status is Status.WARN and "even natively" in res.summary and res.fix is None


def test_a_broken_bridge_fails_every_target_naming_the_endpoint_error(probe_host):
    ctx = probe_host("linux/arm64", rc=1, log=ENDPOINT_LOG)
    before = set(ctx.runner.cache)
    (res,) = build_probe(ctx)
    assert res.status is Status.FAIL and res.data["cause"] == "network-endpoint"
    assert res.summary.startswith("the probe build fails: ") and "network" in res.summary
    assert any("failed to create endpoint" in d for d in res.details)
    assert ctx.runner.cache == before  # a failed build's records go too


def test_the_docker_driver_refusal_is_the_verdict_for_every_target_of_the_invocation(probe_host):
    ctx = probe_host("linux/amd64,linux/arm64", rc=1, log=REFUSAL_LOG)
    results = build_probe(ctx)
    assert [r.status for r in results] == [Status.FAIL, Status.FAIL]
    assert {r.data["cause"] for r in results} == {"docker-driver-multiplatform"}


def test_exec_format_error_of_an_emulated_target_offers_the_handler_fix(probe_host):
    ctx = probe_host(entries={}, rc=1, log=EXEC_LOG)
    (res,) = build_probe(ctx)
    assert res.status is Status.FAIL and res.data["cause"] == "exec-format"
    assert res.summary == ("the probe build fails: exec format error: no binfmt_misc handler runs linux/arm64 "
                           "programs for this builder")
    assert res.remediation == "Register a QEMU handler with F: `sudo mab-doctor --fix`"
    assert res.fix is not None and any(a.kind == "register" for a in res.fix.actions)


def test_an_unknown_failure_says_so_and_shows_the_last_error_lines(probe_host):
    ctx = probe_host(rc=1, log="step 1\nsomething failed: disk quota exceeded\n")
    (res,) = build_probe(ctx)
    assert res.status is Status.FAIL and res.summary == "the probe build failed (exit code 1), no known cause"
    assert "log: something failed: disk quota exceeded" in res.details


def test_a_build_that_times_out_proves_nothing_either_way(probe_host):
    ctx = probe_host(timed_out=True)
    (res,) = build_probe(ctx)
    assert res.status is Status.WARN and "not proven either way" in res.summary and "--timeout" in res.remediation


def test_no_build_at_all_when_the_cache_cannot_be_listed_first(probe_host):
    ctx = probe_host(list_rc=1)
    (res,) = build_probe(ctx)
    assert res.status is Status.WARN and res.summary.startswith("not probed: could not list the cache")
    assert ctx.runner.builds == []


def test_records_that_cannot_be_removed_are_named(probe_host):
    ctx = probe_host()
    real_build = ctx.runner._build

    def build_then_pin(argv, timeout):
        done = real_build(argv, timeout)
        ctx.runner.stubborn |= ctx.runner.cache
        return done
    ctx.runner._build = build_then_pin
    (res,) = build_probe(ctx)
    assert res.status is Status.WARN and "could not remove all it created: 1 build cache record(s) left" in res.summary


def test_podman_builds_of_the_project_are_probed_with_podman_and_their_images_removed(probe_host):
    where = Where("ci.yml", 3, 1)
    build = Build("github", "job", where, (Platform("linux/arm64", where), Platform("linux/arm/v7", where)),
                  engine="podman", outputs=("manifest=app",))
    project = Intent("/p", ("ci.yml",), ci=(), builds=(build,))
    ctx = probe_host("linux/arm64,linux/arm/v7", project=project, engine="podman", env={"GITHUB_ACTIONS": "true"},
                     sources={"linux/arm64": "ci.yml:3", "linux/arm/v7": "ci.yml:3"})
    before = set(ctx.runner.cache)
    results = build_probe(ctx)
    (argv,) = ctx.runner.builds
    assert argv[:6] == (PODMAN, "build", "--network", "none", "--platform", "linux/arm64,linux/arm/v7")
    assert [r.status for r in results] == [Status.OK, Status.OK] and results[0].data["engine"] == "podman"
    assert ctx.runner.cache == before


def test_a_daemon_elsewhere_makes_the_build_the_verdict_and_no_local_fix_is_offered(probe_host):
    ctx = probe_host(entries={"qemu-aarch64": entry_text(DEBIAN_AARCH64)}, denied={("linux/arm64", "setuid")},
                     env={"DOCKER_HOST": "ssh://builder.example"})
    (res,) = build_probe(ctx)
    assert res.status is Status.WARN and res.fix is None
    assert any("this build, not this machine's binfmt_misc, is the verdict" in d for d in res.details)
    assert "where the daemon runs" in res.remediation


def test_without_a_daemon_or_on_a_foreign_root_nothing_is_built(probe_host, make_host, base_host):
    ctx = probe_host()
    ctx.runner.commands[VERSION] = CommandResult(VERSION, 1, "", "Cannot connect to the Docker daemon at "
                                                 "unix:///var/run/docker.sock. Is the docker daemon running?")
    ctx.runner.commands[(DOCKER, "--version")] = CommandResult((DOCKER, "--version"), 0, "Docker version 20.10.24\n")
    (res,) = build_probe(ctx)
    assert res.status is Status.SKIP and "does not answer" in res.summary and ctx.runner.builds == []
    foreign = make_host(base_host, targets="linux/arm64")
    assert [r.status for r in build_probe(foreign)] == [Status.SKIP]


def test_the_probe_folder_is_gone_afterwards(probe_host, tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    ctx = probe_host(env={"TMPDIR": str(scratch)})
    (res,) = build_probe(ctx)
    assert res.status is Status.OK and str(scratch) in " ".join(res.details)
    assert os.listdir(scratch) == []


def test_the_daemons_own_build_cache_is_listed_and_pruned_through_its_api(probe_host):
    from urllib.parse import parse_qs, urlsplit

    from mab_doctor.core.unixhttp import HttpAnswer

    ctx = probe_host()
    builder, asked = ctx.runner, []

    def api(sock, method, path, *, timeout):
        if path == "/info":  # docker facts: the CLI's `docker info` of this fake host answers instead
            return HttpAnswer("GET /info", 404)
        asked.append((sock, method, urlsplit(path).path))
        if method == "GET":
            return HttpAnswer("GET", 200, json.dumps({"BuildCache": [{"ID": i} for i in builder.cache]}).encode())
        (pattern,) = json.loads(parse_qs(urlsplit(path).query)["filters"][0])["id"]
        gone = {i for i in builder.cache if re.fullmatch(pattern, i)}
        builder.cache -= gone
        return HttpAnswer("POST", 200, json.dumps({"CachesDeleted": sorted(gone)}).encode())
    ctx.requester = api
    before = set(builder.cache)
    (res,) = build_probe(ctx)
    assert res.status is Status.OK and res.data["removed"] == 1 and builder.cache == before
    assert [a for a in asked if a[1] == "POST"] == [("/var/run/docker.sock", "POST", "/build/prune")]
    assert asked[0] == ("/var/run/docker.sock", "GET", "/system/df")


def test_a_builder_of_another_driver_is_cleaned_through_its_own_commands(probe_host):
    ctx = probe_host()
    ctx.runner.commands[LS_JSON] = CommandResult(LS_JSON, 0, DEFAULT.replace('"docker"', '"docker-container"', 1))
    from mab_doctor.core.unixhttp import HttpAnswer

    def api(sock, method, path, *, timeout):  # asked before the builder is known; never used to remove
        assert method == "GET", "the daemon's API holds no docker-container builder's cache"
        return HttpAnswer("GET", 200, b'{"BuildCache": []}') if path != "/info" else HttpAnswer("GET /info", 404)
    ctx.requester = api
    (res,) = build_probe(ctx)
    assert res.status is Status.OK and res.data["removed"] == 1


def test_only_the_platform_whose_step_failed_fails_the_others_are_not_proven(probe_host):
    ctx = probe_host("linux/amd64,linux/arm64", rc=1, log=EXEC_LOG)
    amd64, arm64 = build_probe(ctx)
    assert arm64.status is Status.FAIL and arm64.data["cause"] == "exec-format"
    assert amd64.status is Status.WARN and amd64.summary.startswith("not proven: the build stopped when linux/arm64 failed")


def test_podman_failures_are_attributed_by_their_step_label():
    from mab_doctor.engines.failures import classify

    log = ("[linux/amd64] STEP 5/12: RUN [\"/mab-probe-static\", \"n\"]\n[linux/arm64] STEP 5/12: RUN "
           "[\"/mab-probe-static\", \"n\"]\nexec container process `/mab-probe-static`: Exec format error\n"
           "Error: building at STEP \"RUN ...\": exit status 1\n")
    assert classify(log).failed == {"linux/arm64"}
    assert classify(REFUSAL_LOG).failed == set()  # refused before any step
    assert classify(EXEC_LOG).failed == {"linux/arm64"}


def test_amd64_variants_get_folders_of_their_own():
    from mab_doctor.engines.probebuild import label
    from mab_doctor.host.platforms import parse_platform

    assert [label(parse_platform(p)) for p in ("linux/amd64", "linux/amd64/v2", "linux/arm/v7", "linux/arm64")] == \
        ["amd64", "amd64v2", "armv7", "arm64"]


def test_podman_images_are_found_by_the_runs_label_only(probe_host):
    where = Where("ci.yml", 3, 1)
    build = Build("github", "job", where, (Platform("linux/arm64", where),), engine="podman")
    ctx = probe_host("linux/arm64", project=Intent("/p", ("ci.yml",), builds=(build,)), engine="podman",
                     env={"GITHUB_ACTIONS": "true"}, sources={"linux/arm64": "ci.yml:3"})
    build_probe(ctx)
    (argv,) = ctx.runner.builds
    dockerfile = ctx.runner.contexts[0]["dockerfile"]
    nonce = dockerfile.split('LABEL mab-doctor-probe="', 1)[1].split('"', 1)[0]
    assert f'RUN ["/mab-probe-static", "{nonce}"]' in dockerfile
    assert ctx.runner.listings[-1][-2:] == ("--filter", f"label=mab-doctor-probe={nonce}")


def test_a_builder_the_build_names_but_buildx_does_not_list_is_not_replaced_by_the_current_one(probe_host):
    where = Where("docker-bake.hcl", 1, 1)
    build = Build("bake", "app", where, (Platform("linux/arm64", where),), builder="remote-arm")
    ctx = probe_host(project=Intent("/p", ("docker-bake.hcl",), builds=(build,)),
                     sources={"linux/arm64": "docker-bake.hcl:1"})
    (res,) = build_probe(ctx)
    assert res.status is Status.WARN and "names builder remote-arm, which `docker buildx ls` does not list" in res.summary
    assert ctx.runner.builds == []


def test_a_target_no_build_of_this_run_builds_gets_a_row_saying_so(probe_host):
    bake, ci = Where("docker-bake.hcl", 1, 1), Where(".github/workflows/ci.yml", 9, 1)
    builds = (Build("bake", "app", bake, (Platform("linux/arm64", bake),)),
              Build("github", "job", ci, (Platform("linux/riscv64", ci),)))  # runs only inside GitHub Actions
    ctx = probe_host("linux/arm64,linux/riscv64", project=Intent("/p", ("docker-bake.hcl",), builds=builds),
                     sources={"linux/arm64": "docker-bake.hcl:1", "linux/riscv64": ".github/workflows/ci.yml:9"})
    rows = {r.target: r for r in build_probe(ctx)}
    assert rows["linux/arm64"].status is Status.OK
    assert rows["linux/riscv64"].status is Status.SKIP
    assert rows["linux/riscv64"].summary == "not probed: no build this run judges builds linux/riscv64"
