"""Check memory, CPUs and free disk at Docker's data root against the matrix guidelines."""

from __future__ import annotations

import os

from mab_doctor.api import Context, Result, check
from mab_doctor.engines.docker import DAEMON_JSON, daemon_config
from mab_doctor.host.matrix import requirement

GIB = 1024 ** 3


def docker_data_root(ctx: Context) -> tuple[str, str]:
    """(Docker's data root, where that came from): daemon.json "data-root", else /var/lib/docker."""
    conf = daemon_config(ctx)
    if conf.error:
        return "/var/lib/docker", f"default ({DAEMON_JSON} is not valid JSON)"
    if conf.unreadable:
        return "/var/lib/docker", f"default ({conf.unreadable})"
    if isinstance(conf.data, dict):
        for key in ("data-root", "graph"):  # "graph" is the pre-17.05 spelling
            if isinstance(conf.data.get(key), str) and conf.data[key].startswith("/"):
                return conf.data[key], f"{DAEMON_JSON} {key!r}"
    return "/var/lib/docker", "default"


def memory_kib(meminfo: str) -> tuple[int, int] | None:
    """(MemTotal, MemAvailable) in KiB from /proc/meminfo text (available estimated as
    MemFree + Buffers + Cached on kernels before 3.14), None without MemTotal."""
    fields = {}
    for line in meminfo.splitlines():
        name, _, value = line.partition(":")
        if value.split() and value.split()[0].isdigit():
            fields[name.strip()] = int(value.split()[0])
    if "MemTotal" not in fields:
        return None
    available = fields.get("MemAvailable",
                           sum(fields.get(k, 0) for k in ("MemFree", "Buffers", "Cached")))
    return fields["MemTotal"], available


def _cpu_count(ctx: Context) -> int | None:
    if ctx.is_live:
        return os.cpu_count()
    cpuinfo = ctx.read_text("/proc/cpuinfo") or ""
    count = sum(1 for line in cpuinfo.splitlines() if line.split(":")[0].strip() == "processor")
    return count or None


def _disk(ctx: Context, data_root: str):
    """(DiskSpace or None, why not): the nearest existing ancestor of the data root, resolved inside
    the root, so a link in the tree never makes us measure some other filesystem of this machine."""
    path = data_root.rstrip("/") or "/"
    while path != "/" and ctx.lookup(path).real is None:
        path = os.path.dirname(path)
    return ctx.disk_space(path)


@check(name="host-resources", title="Memory, CPUs and disk", category="host")
def host_resources(ctx: Context) -> Result:
    """What it checks: total and available memory, logical CPUs, and free disk space on the
    filesystem that holds Docker's data root (`data-root` in /etc/docker/daemon.json, else
    /var/lib/docker), against mab-doctor's guideline minimums in the matrix.

    Why it matters: QEMU-emulated RUN steps are 5-20x slower and compilers under emulation use
    more memory; every target platform stores its own layers, so a multi-platform build needs
    several times the disk of a native one.

    How to fix: free disk space (`docker system prune`, `docker buildx prune`), move Docker's
    data-root to a larger disk, add memory or swap, or build fewer platforms per run.
    """
    mem_req, cpu_req, disk_req = (requirement(i) for i in ("host-memory", "host-cpus", "host-disk"))
    data_root, origin = docker_data_root(ctx)
    meminfo, mem_why = ctx.try_read("/proc/meminfo")
    mem = memory_kib(meminfo or "")
    cpus = _cpu_count(ctx)
    disk, disk_why = _disk(ctx, data_root)
    facts = {"memory_total_gib": round(mem[0] * 1024 / GIB, 2) if mem else None,
             "memory_available_gib": round(mem[1] * 1024 / GIB, 2) if mem else None,
             "cpus": cpus, "data_root": data_root, "disk_free_gib": round(disk.free / GIB, 2) if disk else None}
    details = [f"memory: {facts['memory_total_gib']} GiB total, {facts['memory_available_gib']} GiB available"
               if mem else f"memory: unknown ({mem_why or '/proc/meminfo has no MemTotal'})",
               f"CPUs: {cpus if cpus is not None else 'unknown'}"]
    if disk:
        details.append(f"Docker data root: {data_root} ({origin}); free on its filesystem (measured at "
                       f"{disk.measured_at}, the filesystem mounted at {disk.mount_point} on this machine): "
                       f"{facts['disk_free_gib']} GiB")
    else:
        details.append(f"Docker data root: {data_root} ({origin}); free space unknown ({disk_why})")
    short, fixes = [], []  # fixes: the remediation of each requirement that fell short, in order
    if mem and mem[0] * 1024 / GIB < float(mem_req.minimum):
        short.append(f"{facts['memory_total_gib']} GiB memory < {mem_req.minimum} GiB")
        fixes.append(mem_req.remediation)
    if cpus is not None and cpus < int(cpu_req.minimum):
        short.append(f"{cpus} CPU < {cpu_req.minimum}")
        fixes.append(cpu_req.remediation)
    if disk and disk.free / GIB < float(disk_req.minimum):
        short.append(f"{facts['disk_free_gib']} GiB free < {disk_req.minimum} GiB")
        fixes.append(disk_req.remediation)
    others = (f"{cpus if cpus is not None else 'unknown'} CPUs, "
              + (f"{facts['disk_free_gib']} GiB free at {data_root}" if disk else "free disk unknown"))
    if short:
        details.append(f"guideline minimums: {mem_req.why}")
        return Result.warn("below guideline: " + "; ".join(short), details=details, data=facts,
                           remediation=" ".join(fixes))
    if not mem:
        return Result.skip(f"memory not measured ({mem_why or 'no MemTotal in /proc/meminfo'}: a mounted "
                           f"image has no running kernel); {others}", details=details, data=facts)
    return Result.ok(f"{facts['memory_total_gib']} GiB memory, {others}", details=details, data=facts)
