"""daemon_elsewhere: the desktop VMs, remote endpoints, and the kernel and host-name rules."""

import pytest

from mab_doctor.engines.docker import DockerFacts
from mab_doctor.engines.elsewhere import daemon_elsewhere

HERE_KERNEL, HERE_NAME = "6.1.0-28-amd64", "buildhost"


def facts(**info) -> DockerFacts:
    """An up daemon whose `docker info` says ``info`` (this machine's kernel and name by default)."""
    base = {"KernelVersion": HERE_KERNEL, "Name": HERE_NAME, "OperatingSystem": "Debian GNU/Linux 12 (bookworm)"}
    return DockerFacts("/usr/bin/docker", "up", {"Version": "28.2.2"}, {"Version": "28.2.2"}, {**base, **info})


def judge(info=None, env=None, *, release=HERE_KERNEL, hostname=HERE_NAME, context_host=""):
    return daemon_elsewhere(facts(**(info or {})), release, hostname, env or {}, context_host=context_host)


def test_a_daemon_on_this_kernel_is_here():
    assert judge() is None


@pytest.mark.parametrize("info, expected", [
    ({"OperatingSystem": "Docker Desktop", "Name": "docker-desktop", "KernelVersion": "6.10.14-linuxkit"},
     "Docker Desktop runs the daemon in its own VM (kernel 6.10.14-linuxkit)"),
    ({"Name": "docker-desktop", "KernelVersion": "5.15.49-linuxkit"},
     "Docker Desktop runs the daemon in its own VM (kernel 5.15.49-linuxkit)"),
    ({"OperatingSystem": "OrbStack", "Name": "orbstack", "KernelVersion": "6.12.5-orbstack-00287-gf8da5d508983"},
     "OrbStack runs the daemon in its own VM (kernel 6.12.5-orbstack-00287-gf8da5d508983)"),
    ({"Name": "colima", "OperatingSystem": "Ubuntu 24.04 LTS", "KernelVersion": "6.8.0-50-generic"},
     "Colima runs the daemon in its Lima VM (kernel 6.8.0-50-generic)"),
    ({"Name": "colima-arm", "KernelVersion": "6.8.0-50-generic"},
     "Colima runs the daemon in its Lima VM (kernel 6.8.0-50-generic)"),
    ({"Name": "lima-rancher-desktop", "OperatingSystem": "Alpine Linux v3.20", "KernelVersion": "6.6.63-0-virt"},
     "Rancher Desktop runs the daemon in its Lima VM (kernel 6.6.63-0-virt)"),
    ({"Name": "lima-docker", "KernelVersion": "6.8.0-50-generic"},
     "Lima runs the daemon in its VM (kernel 6.8.0-50-generic)"),
    ({"Name": "docker-desktop", "KernelVersion": ""}, "Docker Desktop runs the daemon in its own VM"),
    ({"OperatingSystem": "Podman Machine (Fedora CoreOS 41)", "KernelVersion": "6.11.3-300.fc41.aarch64"},
     "A Podman machine runs the daemon in its VM (kernel 6.11.3-300.fc41.aarch64)"),
])
def test_desktop_vms_are_named_from_docker_info(info, expected):
    assert judge(info) == expected


@pytest.mark.parametrize("host, expected", [
    ("unix:///Users/dev/.colima/default/docker.sock", "Colima runs the daemon in its Lima VM"),
    ("unix:///home/dev/.lima/docker/sock/docker.sock", "Lima runs the daemon in its VM"),
    ("unix:///Users/dev/.rd/docker.sock", "Rancher Desktop runs the daemon in its Lima VM"),
    ("unix:///Users/dev/.orbstack/run/docker.sock", "OrbStack runs the daemon in its own VM"),
    ("unix:///home/dev/.docker/desktop/docker.sock", "Docker Desktop runs the daemon in its own VM"),
    ("unix:///home/dev/.local/share/containers/podman/machine/podman-machine-default/podman.sock",
     "A Podman machine runs the daemon in its VM"),
])
def test_desktop_sockets_are_named_even_when_docker_info_looks_local(host, expected):
    # docker info here is this machine's own (kernel and name): only the socket path tells.
    assert judge(env={"DOCKER_HOST": host}) == f"{expected} (kernel 6.1.0-28-amd64)"
    assert judge(context_host=host) == f"{expected} (kernel 6.1.0-28-amd64)"


@pytest.mark.parametrize("host", ["ssh://builder@arm-box", "SSH://arm-box:2222", "tcp://10.0.0.7:2376",
                                  "tcp://arm-box.lan:2375", "https://[2001:db8::1]:2376"])
def test_remote_docker_host_is_another_machine(host):
    assert judge(env={"DOCKER_HOST": host}) == f"DOCKER_HOST={host}: the daemon is on another machine"


def test_a_remote_context_endpoint_is_named_as_such():
    assert judge(context_host="ssh://me@pi4") == "the docker context's endpoint ssh://me@pi4: the daemon is on another machine"


@pytest.mark.parametrize("host", ["tcp://127.0.0.1:2375", "tcp://localhost:2375", "tcp://[::1]:2375",
                                  "tcp://LOCALHOST:2375", "unix:///var/run/docker.sock", "unix:///run/user/1000/docker.sock",
                                  "tcp://[bad"])
def test_local_endpoints_with_this_kernel_are_here(host):
    assert judge(env={"DOCKER_HOST": host}) is None


def test_another_kernel_behind_a_local_socket_is_elsewhere():
    assert judge({"KernelVersion": "6.10.14-linuxkit", "OperatingSystem": "Ubuntu 24.04 LTS"}) == \
        "the daemon's kernel is 6.10.14-linuxkit, this machine's is 6.1.0-28-amd64"


@pytest.mark.parametrize("release", ["", "unknown"])
def test_an_unknown_uname_applies_no_kernel_rule(release):
    assert judge({"KernelVersion": "6.10.14-linuxkit"}, release=release) is None


def test_a_missing_daemon_kernel_applies_no_kernel_rule():
    assert judge({"KernelVersion": None}) is None


def test_another_name_behind_a_local_socket_is_here():
    # A local socket's daemon with this kernel is this machine, whatever its Name (a renamed host).
    assert judge({"Name": "old-name"}) is None
    assert judge({"Name": "old-name"}, {"DOCKER_HOST": "unix:///run/docker.sock"}) is None


def test_another_name_behind_a_loopback_tcp_port_is_elsewhere():
    # A forwarded port (ssh -L, a VM's port mapping) with an identical kernel string: only the name differs.
    assert judge({"Name": "arm-box"}, {"DOCKER_HOST": "tcp://127.0.0.1:2375"}) == \
        "DOCKER_HOST=tcp://127.0.0.1:2375: the daemon runs on arm-box, not on this machine (buildhost)"


def test_an_unknown_hostname_applies_no_name_rule():
    assert judge({"Name": "arm-box"}, {"DOCKER_HOST": "tcp://127.0.0.1:2375"}, hostname="") is None


def test_docker_host_wins_over_the_context_endpoint():
    assert judge(env={"DOCKER_HOST": "unix:///var/run/docker.sock"}, context_host="ssh://me@pi4") is None


@pytest.mark.parametrize("info", [None, {}, {"KernelVersion": 6}])
def test_odd_info_never_raises(info):
    f = DockerFacts("/usr/bin/docker", "up", {}, {}, info)
    assert daemon_elsewhere(f, HERE_KERNEL, HERE_NAME, {}) == (
        "the daemon's kernel is 6, this machine's is 6.1.0-28-amd64" if info else None)
