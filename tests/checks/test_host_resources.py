"""host-resources: memory and CPUs from the root's /proc, disk at Docker's data root."""

import json
import os

import pytest

from mab_doctor.checks.host_resources import docker_data_root, host_resources, memory_kib
from mab_doctor.core.model import Status
from mab_doctor.engines.docker import DAEMON_JSON, daemon_config, read_json

MEMINFO = """MemTotal:       {total} kB
MemFree:         {free} kB
MemAvailable:    {free} kB
Buffers:           10000 kB
Cached:           100000 kB
SwapCached:            0 kB
Active:           200000 kB
Inactive:         100000 kB
SwapTotal:             0 kB
SwapFree:              0 kB
Shmem:              1000 kB
SReclaimable:      10000 kB
"""
CPU = "processor\t: {n}\nmodel name\t: Test CPU\n\n"


def files(base, total_kib, cpus, daemon_json=None):
    tree = {**base, "/proc/meminfo": MEMINFO.format(total=total_kib, free=total_kib // 2),
            "/proc/cpuinfo": "".join(CPU.format(n=i) for i in range(cpus))}
    if daemon_json is not None:
        tree["/etc/docker/daemon.json"] = daemon_json
    return tree


def test_big_enough_host_is_ok(make_host, base_host):
    res = host_resources(make_host(files(base_host, 8 * 1024 * 1024, 4)))
    assert res.status in (Status.OK, Status.WARN)  # disk depends on the filesystem holding the test tree
    assert res.data["memory_total_gib"] == 8.0 and res.data["cpus"] == 4
    assert res.data["data_root"] == "/var/lib/docker"
    if res.status is Status.WARN:
        assert "free" in res.summary and "memory" not in res.summary


def test_pi_zero_sized_host_warns_on_memory_and_cpus(make_host, base_host):
    res = host_resources(make_host(files(base_host, 444 * 1024, 1)))
    assert res.status is Status.WARN
    assert "0.43 GiB memory < 2 GiB" in res.summary and "1 CPU < 2" in res.summary
    assert res.remediation


def test_data_root_from_daemon_json(make_host, base_host):
    ctx = make_host(files(base_host, 8 << 20, 2, json.dumps({"data-root": "/srv/docker", "experimental": True})))
    assert docker_data_root(ctx) == ("/srv/docker", "/etc/docker/daemon.json 'data-root'")
    # one reader of daemon.json per run: docker-experimental sees the very same parse
    assert daemon_config(ctx) is read_json(ctx, DAEMON_JSON) and daemon_config(ctx).data["experimental"] is True
    res = host_resources(ctx)
    assert any("measured at /" in d for d in res.details)


def test_corrupt_daemon_json_falls_back_and_says_so(make_host, base_host):
    ctx = make_host(files(base_host, 8 << 20, 2, '{"data-root": "/srv/docker",'))
    root, origin = docker_data_root(ctx)
    assert root == "/var/lib/docker" and "not valid JSON" in origin


def test_a_plain_image_without_proc_meminfo_is_a_skip_saying_so(make_host, base_host):
    res = host_resources(make_host(base_host))
    assert res.status is Status.SKIP and res.summary.startswith("memory not measured (/proc/meminfo: not found")
    assert res.data["memory_total_gib"] is None and res.data["cpus"] is None


def test_a_fifo_meminfo_is_refused_not_waited_on(make_host, base_host):
    ctx = make_host(files(base_host, 8 << 20, 2))
    ctx.path("/proc/meminfo").unlink()
    os.mkfifo(ctx.path("/proc/meminfo"))
    res = host_resources(ctx)
    assert res.status is Status.SKIP and "/proc/meminfo: a FIFO, not a regular file: not read" in res.summary


def test_memory_without_memavailable_is_estimated():
    assert memory_kib("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\nCached: 30 kB\n") == (1000, 150)
    assert memory_kib("MemFree: 100 kB\n") is None


@pytest.mark.parametrize("target, measured_at", [("/", "/"), ("/no/such/dir", "/srv"), ("../../..", "/")])
def test_disk_is_measured_inside_the_root_whatever_the_links_say(make_host, base_host, target, measured_at):
    ctx = make_host(files(base_host, 8 << 20, 2, json.dumps({"data-root": "/srv/docker"})))
    ctx.path("/srv").mkdir()
    ctx.path("/srv/docker").symlink_to(target)  # absolute links restart at the root, '..' stops there
    res = host_resources(ctx)
    measured = next(d for d in res.details if d.startswith("Docker data root"))
    assert f"(measured at {measured_at}, the filesystem mounted at /" in measured


def test_an_unreadable_daemon_json_falls_back_and_says_why(make_host, base_host):
    ctx = make_host(files(base_host, 8 << 20, 2, daemon_json=None))
    ctx.path("/etc/docker/daemon.json").mkdir(parents=True)
    root, origin = docker_data_root(ctx)
    assert root == "/var/lib/docker"
    assert origin == "default (/etc/docker/daemon.json: a directory, not a regular file: not read)"
