"""buildx: the CLI's plugin search order, shadowing, executability, architecture, metadata protocol."""

import json

import pytest

from elfbuild import build_elf
from make_plugin import run_output
from mab_doctor.checks.buildx import buildx
from mab_doctor.core.context import CommandResult
from mab_doctor.core.model import Status
from mab_doctor.engines.buildx import SYSTEM_PLUGIN_DIRS, validate_metadata

HOME_PLUGINS = "/home/u/.docker/cli-plugins"


def meta(version="v0.12.1"):
    """What the fixture plugin (and real buildx) print for `docker-cli-plugin-metadata`."""
    return run_output(version, "docker-cli-plugin-metadata")


def answer(path, out="", rc=0, stderr=""):
    argv = (path, "docker-cli-plugin-metadata")
    return {argv: CommandResult(argv, rc, out, stderr)}


def _host(make_host, base_host, plugins: dict, files=None, env=None, live=True, commands=None, mode=0o755):
    """plugins: {path: version or bytes}; each version gets an x86_64 ELF and a metadata answer."""
    tree, cmds = dict(base_host), dict(commands or {})
    for path, what in plugins.items():
        tree[path] = what if isinstance(what, (bytes, str)) and not str(what).startswith("v") else build_elf("x86_64")
        if isinstance(what, str) and what.startswith("v"):
            cmds.update(answer(path, meta(what)))
    tree.update(files or {})
    ctx = make_host(tree, commands=cmds, env={"PATH": "/usr/bin:/bin", "HOME": "/home/u", **(env or {})})
    for path in plugins:
        if not ctx.path(path).is_symlink():
            ctx.path(path).chmod(mode)
    if live:
        ctx.live = True  # let the plugin "run" through the FakeRunner
    return ctx


@pytest.fixture
def host(make_host, base_host):
    """host(...) over base_host (see _host)."""
    return lambda *args, **kw: _host(make_host, base_host, *args, **kw)


def test_metadata_of_the_fixture_is_what_real_buildx_prints():
    data, problem = validate_metadata(meta("v0.12.1"))
    assert problem is None
    assert list(data) == ["SchemaVersion", "Vendor", "Version", "ShortDescription", "URL"]
    assert data["SchemaVersion"] == "0.1.0" and data["Vendor"] == "Docker Inc."


def test_single_plugin_in_a_system_dir(host):
    path = "/usr/libexec/docker/cli-plugins/docker-buildx"
    res = buildx(host({path: "v0.12.1"}))
    assert res.status is Status.OK and res.summary == f"buildx v0.12.1 ({path})"
    assert res.data["plugin"] == path and res.data["version"] == "v0.12.1" and res.data["shadowed"] == ()
    assert res.data["search_order"] == (HOME_PLUGINS, *SYSTEM_PLUGIN_DIRS)
    assert any("directory 5 of 5" in d for d in res.details)


def test_extra_dirs_come_before_the_config_dir_and_an_old_copy_there_warns(host):
    old, new = "/opt/stale/docker-buildx", f"{HOME_PLUGINS}/docker-buildx"
    config = {"/home/u/.docker/config.json": json.dumps({"cliPluginsExtraDirs": ["/opt/stale", "/opt/empty"]})}
    res = buildx(host({old: "v0.10.4", new: "v0.12.1"}, files=config))
    assert res.data["search_order"][:3] == ("/opt/stale", "/opt/empty", HOME_PLUGINS)
    assert res.status is Status.WARN and res.data["plugin"] == old
    assert "old plugin earlier in the search order hides a newer one" in res.summary
    assert old in res.remediation and new in res.remediation
    assert res.data["shadowed"] == ({"path": new, "version": "v0.12.1"},)


def test_newer_copy_first_shadows_an_older_one_quietly(host):
    first, second = f"{HOME_PLUGINS}/docker-buildx", "/usr/lib/docker/cli-plugins/docker-buildx"
    res = buildx(host({first: "v0.12.1", second: "v0.10.4"}))
    assert res.status is Status.OK and res.data["plugin"] == first
    assert f"shadowed: {second} (version v0.10.4)" in res.details


def test_docker_config_moves_the_config_dir(host):
    moved, ignored = "/srv/dc/cli-plugins/docker-buildx", f"{HOME_PLUGINS}/docker-buildx"
    res = buildx(host({moved: "v0.11.2"}, files={ignored: build_elf("x86_64")},
                      env={"DOCKER_CONFIG": "/srv/dc"}))
    assert res.status is Status.OK and res.data["plugin"] == moved
    assert res.data["search_order"][0] == "/srv/dc/cli-plugins" and HOME_PLUGINS not in res.data["search_order"]


def test_broken_symlink_is_skipped(host):
    broken, real = "/usr/local/lib/docker/cli-plugins/docker-buildx", "/usr/lib/docker/cli-plugins/docker-buildx"
    res = buildx(host({real: "v0.12.1"}, files={broken: "-> ../../../nowhere/docker-buildx"}))
    assert res.status is Status.OK and res.data["plugin"] == real
    assert any(d.startswith(f"{broken}: broken symlink, skipped") for d in res.details)


def test_not_executable_fails_without_running_it(host):
    path = f"{HOME_PLUGINS}/docker-buildx"
    ctx = host({path: build_elf("x86_64")}, mode=0o644)
    res = buildx(ctx)
    assert res.status is Status.FAIL and res.summary == f"{path} is not executable"
    assert f"chmod +x {path}" in res.remediation and ctx.runner.calls == []


def test_wrong_architecture_fails(host):
    path = f"{HOME_PLUGINS}/docker-buildx"
    res = buildx(host({path: build_elf("aarch64")}))
    assert res.status is Status.FAIL and "is an ELF for linux/arm64, not for this host (linux/amd64)" in res.summary
    assert "release binary for linux/amd64" in res.remediation


def test_a_script_passes_the_architecture_test(host):
    path = f"{HOME_PLUGINS}/docker-buildx"
    res = buildx(host({path: "#!/bin/sh\nexec true\n"}, commands=answer(path, meta("v0.13.1"))))
    assert res.status is Status.OK and res.data["version"] == "v0.13.1"


@pytest.mark.parametrize("out, rc, problem", [
    ("not json", 0, "metadata is not JSON"),
    ('{"SchemaVersion": "2.0.0", "Vendor": "x", "Version": "v1"}', 0, "unsupported major version"),
    ('{"Vendor": "Docker Inc.", "Version": "v0.12.1"}', 0, "metadata has no SchemaVersion"),
    ('{"SchemaVersion": "0.1.0", "Vendor": "", "Version": "v0.12.1"}', 0, "does not name a Vendor"),
    ('{"SchemaVersion": "0.1.0", "Vendor": "Docker Inc.", "Version": 12}', 0, "no Version string"),
    ("", 1, "fails the metadata protocol: `{path} docker-cli-plugin-metadata`: exit code 1: boom"),
])
def test_bad_metadata_fails_naming_the_problem(host, out, rc, problem):
    path = f"{HOME_PLUGINS}/docker-buildx"
    ctx = host({path: "#!/bin/sh\n"}, commands=answer(path, out, rc, "boom\n" if rc else ""))
    res = buildx(ctx)
    assert res.status is Status.FAIL and problem.format(path=path) in res.summary
    assert res.remediation


def test_none_found_fails_and_a_standalone_binary_only_warns(host):
    res = buildx(host({}))
    assert res.status is Status.FAIL and "~/.docker/cli-plugins/docker-buildx" in res.remediation
    assert "Debian 12" in res.remediation
    ctx = host({}, files={"/usr/local/bin/buildx": build_elf("x86_64")},
               env={"PATH": "/usr/local/bin:/usr/bin"})
    ctx.path("/usr/local/bin/buildx").chmod(0o755)
    res = buildx(ctx)
    assert res.status is Status.WARN and res.data["standalone"] == ("/usr/local/bin/buildx",)


def test_none_found_only_warns_when_podman_can_build_instead(host):
    ctx = host({}, files={"/usr/bin/podman": build_elf("x86_64")})
    ctx.path("/usr/bin/podman").chmod(0o755)
    res = buildx(ctx)
    assert res.status is Status.WARN and "Podman can (see podman)" in res.summary


def test_corrupt_config_json_does_not_crash(host):
    path = f"{HOME_PLUGINS}/docker-buildx"
    res = buildx(host({path: "v0.12.1"}, files={"/home/u/.docker/config.json": '{"cliPluginsExtraDirs": ['}))
    assert res.status is Status.OK and res.data["plugin"] == path
    assert any("cliPluginsExtraDirs could not be read" in d and "config.json: line 1" in d for d in res.details)


def test_foreign_root_judges_presence_only(host):
    path = f"{HOME_PLUGINS}/docker-buildx"
    ctx = host({path: build_elf("x86_64")}, live=False)
    res = buildx(ctx)
    assert res.status is Status.OK and "not checked on a foreign --root" in res.summary
    assert ctx.runner.calls == []


def test_cli_older_than_19_03_cannot_run_plugins(host):
    path = f"{HOME_PLUGINS}/docker-buildx"
    version = ("/usr/bin/docker", "version", "--format", "{{json .}}")
    out = json.dumps({"Client": {"Version": "18.09.1"}, "Server": None})  # derived: Debian 10's CLI version
    ctx = host({path: "v0.12.1"}, files={"/usr/bin/docker": "#!/bin/sh\n"},
               commands={version: CommandResult(version, 1, out, "Cannot connect to the Docker daemon")})
    ctx.path("/usr/bin/docker").chmod(0o755)
    res = buildx(ctx)
    assert res.status is Status.FAIL and "docker 18.09.1 is older than 19.03.0" in res.summary


def test_a_fifo_or_a_link_loop_where_the_plugin_belongs_is_skipped(host):
    import os

    fifo, loop = "/usr/local/lib/docker/cli-plugins/docker-buildx", "/usr/local/libexec/docker/cli-plugins/docker-buildx"
    real = "/usr/lib/docker/cli-plugins/docker-buildx"
    ctx = host({real: "v0.12.1"}, files={loop: f"-> {loop}"})
    ctx.path(fifo).parent.mkdir(parents=True)
    os.mkfifo(ctx.path(fifo))
    res = buildx(ctx)
    assert res.status is Status.OK and res.data["plugin"] == real
    assert f"{fifo}: a FIFO, skipped" in res.details
    assert f"{loop}: too many levels of symbolic links, skipped" in res.details


DISCOVERY = ("Copy the release binary to ~/.docker/cli-plugins/docker-buildx and `chmod +x` it, or install the "
             "distribution package (docker-buildx / docker-buildx-plugin); remove shadowing stale copies.")
INSTALL = ("Install the buildx plugin: copy the release binary for this architecture from "
           "https://github.com/docker/buildx/releases to ~/.docker/cli-plugins/docker-buildx and `chmod +x` it, "
           "or install Docker's `docker-buildx-plugin` (Debian 12 packages no buildx; later Debian and Ubuntu "
           "have `docker-buildx`).")
HOME_BUILDX = f"{HOME_PLUGINS}/docker-buildx"
SYSTEM_BUILDX = "/usr/lib/docker/cli-plugins/docker-buildx"


def test_nothing_found_fails_with_the_install_advice(host):
    res = buildx(host({}))
    assert res.status is Status.FAIL and res.summary == "no docker-buildx plugin in any CLI plugin directory"
    assert res.remediation == INSTALL
    assert res.details[0] == ("search order: /home/u/.docker/cli-plugins, /usr/local/lib/docker/cli-plugins, "
                              "/usr/local/libexec/docker/cli-plugins, /usr/lib/docker/cli-plugins, "
                              "/usr/libexec/docker/cli-plugins")


def test_podman_instead_of_buildx_only_warns(host):
    ctx = host({}, files={"/usr/bin/podman": build_elf("x86_64")})
    ctx.path("/usr/bin/podman").chmod(0o755)
    res = buildx(ctx)
    assert res.summary == ("no docker-buildx plugin: Docker cannot build multi-platform images here; Podman can "
                           "(see podman)")
    assert res.remediation == INSTALL


def test_standalone_binaries_are_named_first_docker_buildx(host):
    files = {"/usr/local/bin/buildx": build_elf("x86_64"), "/usr/local/bin/docker-buildx": build_elf("x86_64"),
             "/usr/bin/podman": build_elf("x86_64")}
    ctx = host({}, files=files, env={"PATH": "/usr/local/bin:/usr/bin"})
    for path in files:
        ctx.path(path).chmod(0o755)
    res = buildx(ctx)
    assert res.status is Status.WARN
    assert res.summary == "no docker-buildx plugin; only a standalone binary (/usr/local/bin/docker-buildx)"
    assert res.data["standalone"] == ("/usr/local/bin/docker-buildx", "/usr/local/bin/buildx")
    assert res.remediation == ("`docker buildx` needs the plugin: copy /usr/local/bin/docker-buildx to "
                               "~/.docker/cli-plugins/docker-buildx (chmod +x). " + INSTALL)
    assert res.details[-2:] == ("standalone binary on PATH (not a plugin): /usr/local/bin/docker-buildx",
                                "standalone binary on PATH (not a plugin): /usr/local/bin/buildx")


def test_not_executable_remedy_in_full(host):
    res = buildx(host({HOME_BUILDX: build_elf("x86_64")}, mode=0o644))
    assert res.remediation == f"`chmod +x {HOME_BUILDX}` {DISCOVERY}"


def test_not_a_program_fails(host):
    res = buildx(host({HOME_BUILDX: b"MZ\x90\x00 a windows exe"}))
    assert res.status is Status.FAIL and res.summary.startswith(f"{HOME_BUILDX} is not a program (")
    assert res.remediation == f"Replace it with the buildx release binary. {DISCOVERY}"


@pytest.mark.parametrize("arch, what", [("i386", "linux/386"), ("aarch64", "linux/arm64"),
                                        ("s390x", "linux/s390x")])
def test_an_elf_for_another_machine_or_width_fails(host, arch, what):
    res = buildx(host({HOME_BUILDX: build_elf(arch)}))
    assert res.status is Status.FAIL
    assert res.summary == f"{HOME_BUILDX} is an ELF for {what}, not for this host (linux/amd64): \"exec format error\""
    assert res.remediation == f"Replace {HOME_BUILDX} with the buildx release binary for linux/amd64. {DISCOVERY}"


def test_an_elf_for_an_unknown_machine_names_its_number(host):
    elf = bytearray(build_elf("x86_64"))
    elf[18:20] = (0x1234).to_bytes(2, "little")  # e_machine: no such architecture
    res = buildx(host({HOME_BUILDX: bytes(elf)}))
    assert res.summary == (f"{HOME_BUILDX} is an ELF for e_machine 4660, not for this host (linux/amd64): "
                           "\"exec format error\"")


def test_metadata_failures_have_the_reinstall_remedy(host):
    res = buildx(host({HOME_BUILDX: "#!/bin/sh\n"}, commands=answer(HOME_BUILDX, "", 1, "boom\n")))
    assert res.summary == (f"{HOME_BUILDX} fails the metadata protocol: `{HOME_BUILDX} docker-cli-plugin-metadata`: "
                           "exit code 1: boom")
    assert res.remediation == f"Reinstall the plugin (the CLI ignores it as invalid). {DISCOVERY}"
    wrong = buildx(host({HOME_BUILDX: "#!/bin/sh\n"}, commands=answer(HOME_BUILDX, "[]")))
    assert wrong.summary == (f"{HOME_BUILDX} answers `docker-cli-plugin-metadata` wrongly: metadata is not a JSON "
                             "object")
    assert wrong.data["version"] is None


def test_a_refused_run_leaves_the_version_unknown(host):
    refused = {(HOME_BUILDX, "docker-cli-plugin-metadata"): CommandResult((HOME_BUILDX, "docker-cli-plugin-metadata"),
                                                                          refused=True)}
    res = buildx(host({HOME_BUILDX: "#!/bin/sh\n"}, commands=refused))
    assert res.status is Status.OK and res.summary == f"{HOME_BUILDX} (version not checked on a foreign --root)"


def test_details_describe_the_winner_and_each_shadowed_copy(host):
    ctx = host({HOME_BUILDX: "v0.12.1", SYSTEM_BUILDX: build_elf("x86_64")})
    ctx.path(SYSTEM_BUILDX).chmod(0o644)
    res = buildx(ctx)
    assert res.status is Status.OK and res.summary == f"buildx v0.12.1 ({HOME_BUILDX})"
    assert res.details[-2:] == (f"plugin: {HOME_BUILDX} (directory 1 of 5), version v0.12.1",
                                f"shadowed: {SYSTEM_BUILDX} (version unknown; is not executable)")
    assert res.data["shadowed"] == ({"path": SYSTEM_BUILDX, "version": None},)


@pytest.mark.parametrize("first, second, status", [
    ("v0.10.4", "v0.10.5", Status.WARN), ("v0.10.4", "v0.10.4", Status.OK), ("v0.11.0", "v0.10.9", Status.OK),
])
def test_only_a_newer_shadowed_copy_warns(host, first, second, status):
    res = buildx(host({HOME_BUILDX: first, SYSTEM_BUILDX: second}))
    assert res.status is status
    if status is Status.WARN:
        assert res.summary == (f"an old plugin earlier in the search order hides a newer one: {HOME_BUILDX} "
                               f"({first}) shadows {SYSTEM_BUILDX} ({second})")
        assert res.remediation == (f"Remove or update the stale {HOME_BUILDX}, so that {SYSTEM_BUILDX} is used "
                                   f"(or list the directories in the intended order). {DISCOVERY}")
    else:
        assert res.summary == f"buildx {first} ({HOME_BUILDX})"


def test_versions_that_do_not_parse_are_not_compared(host):
    dev = '{"SchemaVersion": "0.1.0", "Vendor": "Docker Inc.", "Version": "dev"}'
    cmds = {**answer(HOME_BUILDX, dev), **answer(SYSTEM_BUILDX, meta("v0.12.1"))}
    res = buildx(host({HOME_BUILDX: "#!/bin/sh\n", SYSTEM_BUILDX: "#!/bin/sh\n"}, commands=cmds))
    assert res.status is Status.OK and res.summary == f"buildx dev ({HOME_BUILDX})"
    cmds = {**answer(HOME_BUILDX, meta("v0.12.1")), **answer(SYSTEM_BUILDX, dev)}
    res = buildx(host({HOME_BUILDX: "#!/bin/sh\n", SYSTEM_BUILDX: "#!/bin/sh\n"}, commands=cmds))
    assert res.status is Status.OK


def cli(host, version):
    argv = ("/usr/bin/docker", "version", "--format", "{{json .}}")
    out = json.dumps({"Client": {"Version": version}, "Server": None})
    ctx = host({HOME_BUILDX: "v0.12.1"}, files={"/usr/bin/docker": "#!/bin/sh\n"},
               commands={argv: CommandResult(argv, 1, out, "Cannot connect to the Docker daemon")})
    ctx.path("/usr/bin/docker").chmod(0o755)
    return buildx(ctx)


@pytest.mark.parametrize("version", ["18.09.1", "19.02.99"])
def test_a_cli_before_19_03_fails_in_full(host, version):
    res = cli(host, version)
    assert res.status is Status.FAIL
    assert res.summary == f"docker {version} is older than 19.03.0: it cannot run CLI plugins such as buildx"
    assert res.remediation == ("Upgrade Docker (>= 20.10 avoids the experimental opt-in too); older engines can run "
                               "the buildx binary directly with reduced features.")


@pytest.mark.parametrize("version", ["19.03.0", "dev"])
def test_a_19_03_or_unparsable_cli_is_not_blamed(host, version):
    res = cli(host, version)
    assert res.status is Status.OK and res.summary == f"buildx v0.12.1 ({HOME_BUILDX})"


def test_the_check_is_declared_after_docker_cli():
    assert (buildx.name, buildx.category, buildx.requires) == ("buildx", "docker", ("docker-cli",))


def test_the_winner_names_its_directory_by_position(host):
    path = "/usr/local/lib/docker/cli-plugins/docker-buildx"
    res = buildx(host({path: "v0.12.1"}))
    assert res.details[-1] == f"plugin: {path} (directory 2 of 5), version v0.12.1"


def test_the_metadata_question_runs_the_plugin_as_a_quick_go_program(host):
    path = "/usr/libexec/docker/cli-plugins/docker-buildx"
    ctx = host({path: "v0.12.1"})
    assert buildx(ctx).status is Status.OK
    (env,) = [e for (argv, _), e in zip(ctx.runner.calls, ctx.runner.envs) if argv == (path, "docker-cli-plugin-metadata")]
    assert env == {**ctx.env, "GOMAXPROCS": "1", "GOGC": "off", "GOMEMLIMIT": "256MiB"}
