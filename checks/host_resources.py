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
    if isinstance(conf.data, dict):
        for key in ("data-root", "graph"):  # "graph" is the pre-17.05 spelling
            if isinstance(conf.data.get(key), str) and conf.data[key].startswith("/"):
                return conf.data[key], f"{DAEMON_JSON} {key!r}"
    return "/var/lib/docker", "default"


def _existing_ancestor(ctx: Context, absolute: str) -> str:
    path = absolute.rstrip("/") or "/"
    while path != "/" and not ctx.exists(path):
        path = os.path.dirname(path)
    return path


def _cpu_count(ctx: Context, psutil) -> int | None:
    if ctx.is_live:
        return psutil.cpu_count(logical=True)
    cpuinfo = ctx.read_text("/proc/cpuinfo") or ""
    count = sum(1 for line in cpuinfo.splitlines() if line.split(":")[0].strip() == "processor")
    return count or None


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
    measured_at = _existing_ancestor(ctx, data_root)
    with ctx.psutil_procfs() as psutil:
        mem = psutil.virtual_memory()
        cpus = _cpu_count(ctx, psutil)
        disk = psutil.disk_usage(str(ctx.real_path(measured_at)))
    facts = {"memory_total_gib": round(mem.total / GIB, 2), "memory_available_gib": round(mem.available / GIB, 2),
             "cpus": cpus, "data_root": data_root, "disk_free_gib": round(disk.free / GIB, 2)}
    details = [f"memory: {facts['memory_total_gib']} GiB total, {facts['memory_available_gib']} GiB available",
               f"CPUs: {cpus if cpus is not None else 'unknown'}",
               f"Docker data root: {data_root} ({origin}); free on its filesystem "
               f"(measured at {measured_at}): {facts['disk_free_gib']} GiB"]
    if not ctx.is_live:
        details.append("disk space is that of the filesystem holding --root")
    short = []
    if mem.total / GIB < float(mem_req.minimum):
        short.append(f"{facts['memory_total_gib']} GiB memory < {mem_req.minimum} GiB")
    if cpus is not None and cpus < int(cpu_req.minimum):
        short.append(f"{cpus} CPU < {cpu_req.minimum}")
    if disk.free / GIB < float(disk_req.minimum):
        short.append(f"{facts['disk_free_gib']} GiB free < {disk_req.minimum} GiB")
    summary = (f"{facts['memory_total_gib']} GiB memory, {cpus} CPUs, "
               f"{facts['disk_free_gib']} GiB free at {data_root}")
    if short:
        details.append(f"guideline minimums: {mem_req.why}")
        return Result.warn("below guideline: " + "; ".join(short), details=details, data=facts,
                           remediation=disk_req.remediation if any("free" in s for s in short)
                           else mem_req.remediation)
    return Result.ok(summary, details=details, data=facts)
