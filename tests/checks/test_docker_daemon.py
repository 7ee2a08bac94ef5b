"""docker-daemon: up, down, denied, hung and unreachable endpoints, with captured `docker version`/`docker info`;
a daemon in a VM or on another machine."""

import json

import pytest

from elfbuild import build_elf
from helpers import DOCKER, INFO, VERSION, DockerHosts, docker_data
from mab_doctor.checks.docker_cli import docker_cli
from mab_doctor.checks.docker_daemon import docker_daemon
from mab_doctor.core.context import Uname
from mab_doctor.core.model import Status

# The VM that captured info-20.10.json, as its own uname saw it: that daemon ran on this kernel.
CAPTURE_KERNEL = "6.18.44-fc-v657"
CAPTURE_UNAME = Uname(CAPTURE_KERNEL, "x86_64", "Linux", "vm")


class KnownHosts(DockerHosts):
    """DockerHosts whose kernel is the capture VM's unless a test says otherwise: the forced-live
    contexts would otherwise read the uname of whatever machine runs the tests."""

    def __call__(self, *args, **kw):
        kw.setdefault("uname_override", CAPTURE_UNAME)
        return super().__call__(*args, **kw)


@pytest.fixture
def docker_host(make_host, base_host) -> KnownHosts:
    return KnownHosts(make_host, base_host)


def test_daemon_up_shares_one_docker_version_with_the_cli(docker_host):
    ctx = docker_host.up()
    cli = docker_cli(ctx)
    assert cli.status is Status.OK and cli.summary.startswith("docker 28.2.2 (/usr/bin/docker), context default")
    daemon = docker_daemon(ctx)
    assert daemon.status is Status.OK
    assert daemon.summary == "dockerd 20.10.24+dfsg1 (linux/amd64, overlay2, classic image store)"
    assert daemon.data["rootless"] is False and daemon.data["storage_driver"] == "overlay2"
    assert [c[0] for c in ctx.runner.calls] == [VERSION, INFO]  # once per run, shared by both checks


def test_daemon_down_and_denied_have_different_remedies(docker_host):
    down = docker_daemon(docker_host.down())
    assert down.status is Status.FAIL and down.summary.startswith("the Docker daemon is not running: ")
    assert "systemctl start docker" in down.remediation and down.data["state"] == "down"
    denied = docker_daemon(docker_host(docker_data("version-denied.json"), rc=1,
                                       stderr=docker_data("version-denied.stderr")))
    assert denied.status is Status.FAIL and denied.summary.startswith("permission to the Docker daemon's socket is denied: ")
    assert "docker group" in denied.remediation


def test_hung_daemon_costs_one_timeout_and_client_version_still_known(docker_host):
    ctx = docker_host("", timed_out=True, env={"DOCKER_HOST": "unix:///tmp/hung.sock"})
    daemon = docker_daemon(ctx)
    assert daemon.status is Status.FAIL and "timed out" in daemon.summary
    assert "DOCKER_HOST=unix:///tmp/hung.sock" in daemon.details[0]
    assert docker_cli(ctx).status is Status.OK
    assert [c[0] for c in ctx.runner.calls] == [VERSION, (DOCKER, "--version")]  # no `docker info` after a hang


@pytest.mark.parametrize("docker_host_env, stderr", [
    ("tcp://127.0.0.1:1", "Cannot connect to the Docker daemon at tcp://127.0.0.1:1. Is the docker daemon running?\n"),
    ("nonsense", "unable to parse docker host `nonsense`\n"),  # derived: the CLI's words for garbage vary
])
def test_a_bad_docker_host_is_named_not_sent_to_start_the_daemon(docker_host, docker_host_env, stderr):
    ctx = docker_host(docker_data("version-down.json"), rc=1, stderr=stderr, env={"DOCKER_HOST": docker_host_env})
    res = docker_daemon(ctx)
    assert res.status is Status.FAIL and res.data["state"] == "unreachable"
    assert res.summary.startswith(f"the Docker endpoint DOCKER_HOST={docker_host_env} cannot be reached: ")
    assert f"DOCKER_HOST={docker_host_env} is wrong or unreachable" in res.remediation
    assert "unset DOCKER_HOST" in res.remediation and "Start" not in res.remediation


def test_a_missing_docker_context_is_named(docker_host):
    stderr = "Current context \"gone\" is not found on the file system, please check your config file\n"
    res = docker_daemon(docker_host(docker_data("version-down.json"), rc=1, stderr=stderr,
                                    env={"DOCKER_CONTEXT": "gone"}))
    assert res.data["state"] == "unreachable" and "DOCKER_CONTEXT=gone is wrong or unreachable" in res.remediation
    assert "docker context ls" in res.remediation and "unset DOCKER_CONTEXT" in res.remediation


def test_containerd_image_store_is_recognised(docker_host):
    info = json.loads(docker_data("info-20.10.json"))
    info["DriverStatus"] = [["driver-type", "io.containerd.snapshotter.v1"]]  # derived: a containerd-store daemon
    res = docker_daemon(docker_host(docker_data("version-28-client-20.10-server.json"), info=json.dumps(info)))
    assert res.status is Status.OK and res.data["image_store"] == "containerd image store"


def _server(version="20.10.24+dfsg1", arch="amd64"):
    """The 28-client/20.10-server capture with the server's version and architecture changed."""
    data = json.loads(docker_data("version-28-client-20.10-server.json"))
    data["Server"]["Version"], data["Server"]["Arch"] = version, arch
    return json.dumps(data)


ARMHF_SHELL = {"/usr/bin/sh": build_elf("arm", flags=0x05000400, interp="/lib/ld-linux-armhf.so.3")}
PI_ZERO = ("armv6l", {**ARMHF_SHELL, "/proc/cpuinfo": "model name\t: ARMv6-compatible processor rev 7 (v6l)\n"
                                                    "CPU architecture: 7\n"})
PI_3_ARMHF = ("armv7l", {**ARMHF_SHELL, "/proc/cpuinfo": "CPU architecture: 7\n"})
PI_4_ARMHF_ON_64BIT_KERNEL = ("aarch64", {**ARMHF_SHELL, "/proc/cpuinfo": "CPU architecture: 8\n"})
PI_4_ARM64 = ("aarch64", {"/usr/bin/sh": build_elf("aarch64"), "/proc/cpuinfo": "CPU architecture: 8\n"})
AMD64 = ("x86_64", {})


def daemon_on(docker_host, machine_files, version="20.10.24+dfsg1", arch="amd64"):
    """docker-daemon on a host whose kernel is ``machine`` (uname -m), talking to a daemon of ``arch``."""
    machine, files = machine_files
    return docker_daemon(docker_host(_server(version, arch), info=docker_data("info-20.10.json"), files=files,
                                     uname_override=Uname(CAPTURE_KERNEL, machine, "Linux", "vm")))


def test_a_foreign_root_without_docker_is_skipped_not_failed(make_host, base_host):
    res = docker_daemon(make_host(base_host))
    assert res.status is Status.SKIP
    assert res.summary == "the daemon is not contacted on a foreign --root"
    assert res.data == {"state": "refused"}


def test_rootless_daemon_says_so(docker_host):
    info = json.loads(docker_data("info-20.10.json"))
    info["SecurityOptions"] = ["name=seccomp,profile=default", "name=rootless"]
    res = docker_daemon(docker_host(docker_data("version-28-client-20.10-server.json"), info=json.dumps(info)))
    assert res.status is Status.OK
    assert res.summary == "dockerd 20.10.24+dfsg1 (linux/amd64, overlay2, classic image store, rootless)"
    assert res.data["rootless"] is True
    assert list(res.details) == ["server 20.10.24+dfsg1, API 1.41, linux/amd64, storage overlay2 "
                                 "(classic image store), rootless True", "endpoint: context default",
                                 "`/usr/bin/docker version --format '{{json .}}'`: up"]


@pytest.mark.parametrize("files, arch", [(PI_4_ARMHF_ON_64BIT_KERNEL, "arm"), (AMD64, "386")])
def test_a_32bit_daemon_on_a_64bit_kernel_warns(docker_host, files, arch):
    res = daemon_on(docker_host, files, arch=arch)
    assert res.status is Status.WARN
    assert res.summary == f"32-bit daemon ({arch}) on a 64-bit kernel: it pulls and runs 32-bit images by default"
    assert res.remediation == "Pass --platform explicitly, or install a 64-bit Docker and userland."
    assert res.data["arch"] == arch


@pytest.mark.parametrize("files, arch", [(PI_3_ARMHF, "arm"), (AMD64, "amd64"), (PI_4_ARM64, "arm64")])
def test_a_daemon_matching_its_kernel_width_is_ok(docker_host, files, arch):
    res = daemon_on(docker_host, files, "19.03.15", arch)
    assert res.status is Status.OK
    assert res.summary == f"dockerd 19.03.15 (linux/{arch}, overlay2, classic image store)"


@pytest.mark.parametrize("version", ["19.03.15", "20.9.99"])
def test_an_old_docker_on_an_armv6_host_warns_about_v7_images(docker_host, version):
    res = daemon_on(docker_host, PI_ZERO, version, "arm")
    assert res.status is Status.WARN
    assert res.summary == f"Docker {version} on an ARMv6 host picks linux/arm/v7 images, which crash here"
    assert res.remediation == "Upgrade Docker to >= 20.10.0, or pull with `--platform linux/arm/v6`."


@pytest.mark.parametrize("version", ["20.10.0", "20.10.1"])
def test_docker_20_10_on_an_armv6_host_is_ok(docker_host, version):
    res = daemon_on(docker_host, PI_ZERO, version, "arm")
    assert res.status is Status.OK and res.summary == f"dockerd {version} (linux/arm, overlay2, classic image store)"


def test_an_unknown_kernel_width_judges_no_daemon_width(docker_host):
    res = daemon_on(docker_host, ("pdp11", {}), "19.03.15", "386")
    assert res.status is Status.OK and res.summary == "dockerd 19.03.15 (linux/386, overlay2, classic image store)"


def test_the_check_is_declared_after_docker_cli():
    assert (docker_daemon.name, docker_daemon.category, docker_daemon.requires) == (
        "docker-daemon", "docker", ("docker-cli",))


ELSEWHERE_REMEDY = ("Register QEMU inside that VM or machine: `docker run --privileged --rm tonistiigi/binfmt "
                    "--install all` runs there, through the same daemon (Docker Desktop and OrbStack ship "
                    "their own emulation); judge the host checks' binfmt_misc findings on that machine.")
NOT_HERE = "the Docker daemon does not run on this machine: "
NOT_THESE_HANDLERS = "; this host's binfmt_misc handlers are not the ones its builds use"


def test_a_daemon_on_this_kernel_is_not_elsewhere(docker_host):
    res = docker_daemon(docker_host.up())
    assert res.status is Status.OK and res.data["elsewhere"] is None


def test_docker_desktop_is_named_with_its_vm_kernel(docker_host):
    ctx = docker_host(docker_data("version-28-client-20.10-server.json"), info=docker_data("info-docker-desktop.json"))
    res = docker_daemon(ctx)
    reason = "Docker Desktop runs the daemon in its own VM (kernel 6.10.14-linuxkit)"
    assert res.status is Status.WARN
    assert res.summary == NOT_HERE + reason + NOT_THESE_HANDLERS
    assert res.remediation == ELSEWHERE_REMEDY
    assert res.data["elsewhere"] == reason
    assert res.details[1] == ("daemon: docker-desktop, Docker Desktop, kernel 6.10.14-linuxkit; "
                              "this machine: vm, kernel 6.18.44-fc-v657")


def test_orbstack_is_named(docker_host):
    res = docker_daemon(docker_host(docker_data("version-28-client-20.10-server.json"),
                                    info=docker_data("info-orbstack.json")))
    assert res.status is Status.WARN
    assert res.data["elsewhere"] == "OrbStack runs the daemon in its own VM (kernel 6.12.5-orbstack-00287-gf8da5d508983)"


def test_a_daemon_elsewhere_is_not_judged_against_this_hosts_width(docker_host):
    # A 32-bit daemon on a 64-bit kernel would warn if it ran here; over ssh it does not run here.
    ctx = docker_host(_server(arch="arm"), info=docker_data("info-20.10.json"), files=PI_4_ARMHF_ON_64BIT_KERNEL[1],
                      env={"DOCKER_HOST": "ssh://builder@arm-box"},
                      uname_override=Uname(CAPTURE_KERNEL, "aarch64", "Linux", "vm"))
    res = docker_daemon(ctx)
    assert res.status is Status.WARN
    assert res.summary == NOT_HERE + "DOCKER_HOST=ssh://builder@arm-box: the daemon is on another machine" + \
        NOT_THESE_HANDLERS


def test_a_local_socket_to_another_kernel_is_found_by_the_kernel_rule(docker_host):
    # The captured daemon's kernel against a host whose uname -r is 6.1.0 (a daemon inside a VM or
    # a container runtime VM that forwards its socket to a local path).
    res = docker_daemon(docker_host.up(uname_override=Uname("6.1.0", "x86_64", "Linux", "vm")))
    assert res.status is Status.WARN
    assert res.data["elsewhere"] == "the daemon's kernel is 6.18.44-fc-v657, this machine's is 6.1.0"


def test_a_colima_context_is_read_from_the_clis_context_store(docker_host):
    import hashlib
    version = json.loads(docker_data("version-28-client-20.10-server.json"))
    version["Client"]["Context"] = "colima"
    meta = f"/root/.docker/contexts/meta/{hashlib.sha256(b'colima').hexdigest()}/meta.json"
    files = {meta: json.dumps({"Name": "colima", "Metadata": {"Description": "colima"},
                               "Endpoints": {"docker": {"Host": "unix:///root/.colima/default/docker.sock",
                                                        "SkipTLSVerify": False}}})}
    res = docker_daemon(docker_host(json.dumps(version), info=docker_data("info-20.10.json"), files=files))
    assert res.status is Status.WARN
    assert res.data["elsewhere"] == "Colima runs the daemon in its Lima VM (kernel 6.18.44-fc-v657)"


def test_an_unreadable_context_store_leaves_the_kernel_rule(docker_host):
    version = json.loads(docker_data("version-28-client-20.10-server.json"))
    version["Client"]["Context"] = "gone"
    res = docker_daemon(docker_host(json.dumps(version), info=docker_data("info-20.10.json")))
    assert res.status is Status.OK and res.data["elsewhere"] is None


def test_a_config_json_that_is_not_an_object_names_no_context(docker_host):
    version = json.loads(docker_data("version-28-client-20.10-server.json"))
    version["Client"].pop("Context", None)  # the CLI did not say: config.json's currentContext would
    res = docker_daemon(docker_host(json.dumps(version), info=docker_data("info-20.10.json"),
                                    files={"/root/.docker/config.json": "[1, 2]"}))
    assert res.status is Status.OK and res.data["elsewhere"] is None
