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


def test_big_enough_host_is_ok(make_host, base_host, monkeypatch):
    ctx = make_host(files(base_host, 8 * 1024 * 1024, 4))
    with_free_disk(monkeypatch, ctx, 64 * GIB_BYTES)  # not whatever the disk holding the test tree has
    res = host_resources(ctx)
    assert (res.status, res.summary) == (Status.OK, "8.0 GiB memory, 4 CPUs, 64.0 GiB free at /var/lib/docker")
    assert res.data["memory_total_gib"] == 8.0 and res.data["cpus"] == 4
    assert res.data["data_root"] == "/var/lib/docker"


def test_pi_zero_sized_host_warns_on_memory_and_cpus(make_host, base_host):
    res = host_resources(make_host(files(base_host, 444 * 1024, 1)))
    assert res.status is Status.WARN
    assert res.summary.startswith("below guideline: 0.43 GiB memory < 2 GiB; 1 CPU < 2")
    assert res.remediation.startswith(MEMORY_FIX + " " + CPU_FIX)


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


GIB_BYTES = 1024 ** 3
DISK_FIX = "Free space (`docker system prune`, `docker buildx prune`) or move the data root to a larger disk."
MEMORY_FIX = "Add memory or swap, reduce build parallelism, or cross-compile instead of emulating."
CPU_FIX = "Use a larger machine, native builder nodes for heavy platforms, or cross-compilation."


def with_free_disk(monkeypatch, ctx, free_bytes):
    """Measure the data root's filesystem for real, then pretend it has ``free_bytes`` free."""
    from dataclasses import replace

    real = ctx.disk_space
    seen = []

    def fake(path):
        seen.append(path)
        space, why = real(path)
        return (replace(space, free=free_bytes) if space else None), why
    monkeypatch.setattr(ctx, "disk_space", fake)
    return seen


@pytest.mark.parametrize("total_kib, cpus, free, status, summary", [
    # exactly at every minimum (2 GiB, 2 CPUs, 10 GiB): nothing is below the guideline
    (2097152, 2, 10 * GIB_BYTES, Status.OK, "2.0 GiB memory, 2 CPUs, 10.0 GiB free at /var/lib/docker"),
    (4194304, 3, 11 * GIB_BYTES, Status.OK, "4.0 GiB memory, 3 CPUs, 11.0 GiB free at /var/lib/docker"),
    # one unit below each minimum in turn
    (2097151, 2, 10 * GIB_BYTES, Status.WARN, "below guideline: 2.0 GiB memory < 2 GiB"),
    (2097152, 1, 10 * GIB_BYTES, Status.WARN, "below guideline: 1 CPU < 2"),
    (2097152, 2, 10 * GIB_BYTES - 1, Status.WARN, "below guideline: 10.0 GiB free < 10 GiB"),
    (1048576, 2, 5 * GIB_BYTES, Status.WARN, "below guideline: 1.0 GiB memory < 2 GiB; 5.0 GiB free < 10 GiB"),
])
def test_each_minimum_at_and_below_its_threshold(make_host, base_host, monkeypatch, total_kib, cpus, free, status,
                                                 summary):
    ctx = make_host(files(base_host, total_kib, cpus))
    seen = with_free_disk(monkeypatch, ctx, free)
    res = host_resources(ctx)
    assert (res.status, res.summary) == (status, summary)
    assert seen == ["/"]  # /var/lib/docker does not exist in the tree: its nearest ancestor is measured
    assert res.data["disk_free_gib"] == round(free / GIB_BYTES, 2)
    if status is Status.OK:
        assert res.remediation is None and not any(d.startswith("guideline minimums") for d in res.details)
    else:
        assert res.details[-1].startswith("guideline minimums: mab-doctor guideline, not an upstream requirement")


@pytest.mark.parametrize("total_kib, cpus, free, fix", [
    (1048576, 4, 50 * GIB_BYTES, MEMORY_FIX),
    (4194304, 4, 1 * GIB_BYTES, DISK_FIX),
    (1048576, 4, 1 * GIB_BYTES, MEMORY_FIX + " " + DISK_FIX),
    (4194304, 1, 50 * GIB_BYTES, CPU_FIX),
])
def test_the_fix_names_what_is_short(make_host, base_host, monkeypatch, total_kib, cpus, free, fix):
    ctx = make_host(files(base_host, total_kib, cpus))
    with_free_disk(monkeypatch, ctx, free)
    res = host_resources(ctx)
    assert res.status is Status.WARN and res.remediation == fix


def test_low_disk_alone_warns_with_the_disk_fix(make_host, base_host, monkeypatch):
    ctx = make_host(files(base_host, 8 << 20, 4, json.dumps({"data-root": "/srv/docker"})))
    ctx.path("/srv/docker").mkdir(parents=True)
    seen = with_free_disk(monkeypatch, ctx, 3 * GIB_BYTES + GIB_BYTES // 2)
    res = host_resources(ctx)
    assert res.status is Status.WARN and res.summary == "below guideline: 3.5 GiB free < 10 GiB"
    assert res.remediation == DISK_FIX and seen == ["/srv/docker"]
    assert res.data == {"memory_total_gib": 8.0, "memory_available_gib": 4.0, "cpus": 4, "data_root": "/srv/docker",
                        "disk_free_gib": 3.5}
    assert res.details[:2] == ("memory: 8.0 GiB total, 4.0 GiB available", "CPUs: 4")
    assert res.details[2].startswith("Docker data root: /srv/docker (/etc/docker/daemon.json 'data-root'); free on "
                                     "its filesystem (measured at /srv/docker, the filesystem mounted at ")
    assert res.details[2].endswith(": 3.5 GiB")


def test_unknown_disk_is_said_and_not_judged(make_host, base_host, monkeypatch):
    ctx = make_host(files(base_host, 8 << 20, 4))
    monkeypatch.setattr(ctx, "disk_space", lambda path: (None, "statvfs said no"))
    res = host_resources(ctx)
    assert (res.status, res.summary) == (Status.OK, "8.0 GiB memory, 4 CPUs, free disk unknown")
    assert res.details[2] == "Docker data root: /var/lib/docker (default); free space unknown (statvfs said no)"
    assert res.data["disk_free_gib"] is None


def test_no_cpuinfo_means_cpus_unknown_not_short(make_host, base_host, monkeypatch):
    tree = files(base_host, 8 << 20, 0)
    ctx = make_host(tree)
    with_free_disk(monkeypatch, ctx, 20 * GIB_BYTES)
    res = host_resources(ctx)
    assert (res.status, res.summary) == (Status.OK, "8.0 GiB memory, unknown CPUs, 20.0 GiB free at /var/lib/docker")
    assert res.data["cpus"] is None and "CPUs: unknown" in res.details


def test_cpus_count_only_processor_lines(make_host, base_host, monkeypatch):
    cpuinfo = "processor\t: 0\nmodel name\t: processor X\nprocessors: 9\n\nprocessor\t: 1\n"
    ctx = make_host({**files(base_host, 8 << 20, 0), "/proc/cpuinfo": cpuinfo})
    with_free_disk(monkeypatch, ctx, 20 * GIB_BYTES)
    assert host_resources(ctx).data["cpus"] == 2


def test_a_live_host_counts_cpus_with_the_os(make_host, base_host, monkeypatch):
    ctx = make_host(files(base_host, 8 << 20, 1), live=True)
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    with_free_disk(monkeypatch, ctx, 20 * GIB_BYTES)
    res = host_resources(ctx)
    assert (res.status, res.summary) == (Status.OK, "8.0 GiB memory, 6 CPUs, 20.0 GiB free at /var/lib/docker")


def test_no_memory_but_short_cpu_and_disk_still_warns(make_host, base_host, monkeypatch):
    ctx = make_host({**base_host, "/proc/cpuinfo": CPU.format(n=0)})
    with_free_disk(monkeypatch, ctx, 2 * GIB_BYTES)
    res = host_resources(ctx)
    assert (res.status, res.summary) == (Status.WARN, "below guideline: 1 CPU < 2; 2.0 GiB free < 10 GiB")
    assert res.details[0] == "memory: unknown (/proc/meminfo: not found)"


def test_meminfo_without_memtotal_is_a_skip_naming_it(make_host, base_host, monkeypatch):
    ctx = make_host({**files(base_host, 8 << 20, 2), "/proc/meminfo": "MemFree: 100 kB\n"})
    with_free_disk(monkeypatch, ctx, 20 * GIB_BYTES)
    res = host_resources(ctx)
    assert res.status is Status.SKIP
    assert res.summary == ("memory not measured (no MemTotal in /proc/meminfo: a mounted image has no running "
                           "kernel); 2 CPUs, 20.0 GiB free at /var/lib/docker")
    assert res.details[0] == "memory: unknown (/proc/meminfo has no MemTotal)"


@pytest.mark.parametrize("conf, root, origin", [
    ({"graph": "/old/docker"}, "/old/docker", "/etc/docker/daemon.json 'graph'"),
    ({"data-root": "/new", "graph": "/old"}, "/new", "/etc/docker/daemon.json 'data-root'"),
    ({"data-root": "relative/docker"}, "/var/lib/docker", "default"),
    ({"data-root": 7, "graph": "/old"}, "/old", "/etc/docker/daemon.json 'graph'"),
    # not an object: Docker refuses it too
    (["data-root", "/srv"], "/var/lib/docker", "default (/etc/docker/daemon.json is not valid JSON)"),
    ({}, "/var/lib/docker", "default"),
])
def test_data_root_spellings(make_host, base_host, conf, root, origin):
    ctx = make_host(files(base_host, 8 << 20, 2, json.dumps(conf)))
    assert docker_data_root(ctx) == (root, origin)


def test_memory_fields_need_a_leading_number():
    text = "MemTotal: 2048 kB\nMemAvailable: 1024 kB\nMemFree: 1 kB\nBogus: x kB\nCached:\n"
    assert memory_kib(text) == (2048, 1024)
    assert memory_kib("MemTotal: 2048 kB\n") == (2048, 0)
    assert memory_kib(" MemTotal :  64 kB\nMemFree: 8 kB\n") == (64, 8)


def test_registered_as_the_host_resources_check():
    assert (host_resources.name, host_resources.title, host_resources.category, host_resources.requires) == (
        "host-resources", "Memory, CPUs and disk", "host", ())


def test_figures_are_rounded_to_two_decimals(make_host, base_host, monkeypatch):
    tree = {**files(base_host, 0, 4), "/proc/meminfo": "MemTotal: 31000000 kB\nMemAvailable: 10485760 kB\n"}
    ctx = make_host(tree)
    with_free_disk(monkeypatch, ctx, 13255779942)  # 12.3456... GiB
    res = host_resources(ctx)
    assert (res.status, res.summary) == (Status.OK, "29.56 GiB memory, 4 CPUs, 12.35 GiB free at /var/lib/docker")
    assert (res.data["memory_total_gib"], res.data["memory_available_gib"], res.data["disk_free_gib"]) == (
        29.56, 10.0, 12.35)


@pytest.mark.parametrize("data_root, measured", [("/srv/docker/", "/srv/docker"), ("/", "/"),
                                                 ("/srv/docker/deeper/still", "/srv/docker")])
def test_the_nearest_existing_directory_is_measured(make_host, base_host, monkeypatch, data_root, measured):
    ctx = make_host(files(base_host, 8 << 20, 4, json.dumps({"data-root": data_root})))
    ctx.path("/srv/docker").mkdir(parents=True)
    seen = with_free_disk(monkeypatch, ctx, 20 * GIB_BYTES)
    res = host_resources(ctx)
    assert seen == [measured] and res.status is Status.OK
