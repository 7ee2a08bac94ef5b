"""Host facts shared by checks and the report header: kernel, userland, ARM variant, distro."""

from __future__ import annotations

import re
from dataclasses import field, replace
from typing import TYPE_CHECKING

from mab_doctor.core.facts import Fact
from mab_doctor.core.record import record
from mab_doctor.host import platforms
from mab_doctor.host.cpu import CpuFacts, cpu_facts
from mab_doctor.host.elf import ElfError, ElfHeader, TruncatedElf, parse_header
from mab_doctor.host.packages import DPKG_STATUS, installed_fields
from mab_doctor.host.placement import EMULATED, NATIVE, Placement, place
from mab_doctor.host.platforms import Platform, Target

if TYPE_CHECKING:
    from mab_doctor.core.context import Context
    from mab_doctor.host.armabi import ArmAbi

# The userland is whatever these files are; the first readable ELF wins.
USERLAND_HEAD = 8192  # the ELF header and program headers of a real /bin/sh are in its first few KiB
USERLAND_PROBES = ("/bin/sh", "/usr/bin/sh", "/bin/busybox", "/usr/bin/env")

# containerd/platforms cpuinfo_linux.go: the "CPU architecture" value -> OCI variant.
_CPU_ARCH_VARIANT = {
    "8": "v8", "aarch64": "v8",
    "7": "v7", "7m": "v7", "?(12)": "v7", "?(13)": "v7", "?(14)": "v7", "?(15)": "v7",
    "?(16)": "v7", "?(17)": "v7",
    "6": "v6", "6tej": "v6",
    "5": "v5", "5t": "v5", "5te": "v5", "5tej": "v5",
    "4": "v4", "4t": "v4", "3": "v3",
}


def cpuinfo_field(cpuinfo: str, key: str) -> str | None:
    """First value of ``key`` in /proc/cpuinfo (key compared case-insensitively, value trimmed)."""
    wanted = key.lower()
    for line in cpuinfo.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() == wanted:
            return value.strip()
    return None


def arm_cpu_variant(cpuinfo: str, machine: str, goarch: str) -> str | None:
    """The ARM variant containerd would compute for a process of ``goarch`` (None = unknown)."""
    value = cpuinfo_field(cpuinfo, "CPU architecture")
    if not value:
        # Absent under QEMU user emulation: containerd derives it from uname -m instead.
        if machine == "aarch64":
            value = "8"
        else:
            m = re.match(r"armv(\d)", machine)
            value = m.group(1) if m and 3 <= int(m.group(1)) <= 8 else ""
    # Raspberry Pi Zero/1 (ARM1176) kernels print "CPU architecture: 7" for an ARMv6 core;
    # containerd (#4530, Docker 20.10.0+) downgrades to v6 when the model name says ARMv6.
    if goarch == "arm" and value == "7":
        model = (cpuinfo_field(cpuinfo, "model name") or "").lower()
        if model.startswith("armv6-compatible"):
            value = "6"
    return _CPU_ARCH_VARIANT.get(value.lower())


def dpkg_architecture(ctx: "Context", notes: list[str]) -> str | None:
    """Native Debian architecture: the Architecture of the installed dpkg package itself (why the database
    could not be read goes to ``notes``; a host without one needs no note)."""
    status, unread = ctx.fact(DPKG_STATUS)
    if unread:
        notes.append(unread)
    return installed_fields(status, "dpkg").get("Architecture") if status else None


@record
class HostFacts:
    """What the host is, in the vocabulary's terms, with the evidence."""

    kernel_release: str
    kernel_machine: str
    kernel_platform: Platform | None
    platform: Platform | None           # native platform of the userland (what Docker calls host)
    userland_path: str | None
    userland_elf: ElfHeader | None
    dpkg_arch: str | None
    cpu_architecture: str | None
    model_name: str | None
    arm_variant: str | None
    distro_id: str
    distro_version: str
    distro_name: str
    evidence: tuple[str, ...] = field(default=())
    cpu: CpuFacts = field(default_factory=CpuFacts)
    arm_abi: ArmAbi | None = None        # a 32-bit ARM userland's ABI: attributes, e_flags, its loader
    arm_abi_problem: str | None = None   # why the userland's ABI could not be read whole

    @property
    def kernel_bits(self) -> int | None:
        """64 or 32 from the kernel machine."""
        return self.kernel_platform.elf_class if self.kernel_platform else None

    @property
    def userland_bits(self) -> int | None:
        """64 or 32 from the userland ELF (or the native platform)."""
        if self.userland_elf:
            return self.userland_elf.elf_class
        return self.platform.elf_class if self.platform else None

    @property
    def float_abi(self) -> str | None:
        """The ARM userland's float ABI (None elsewhere), by the one rule `float-abi` shows: its
        .ARM.attributes, then e_flags, then its loader's own, the loader's name only as a last hint;
        an AArch64 userland is always hard-float (AAPCS64)."""
        elf = self.userland_elf
        if elf is None or elf.machine not in (platforms.EM_ARM, platforms.EM_AARCH64):
            return None
        if elf.machine == platforms.EM_AARCH64:
            return "hard"
        return self.arm_abi.float_abi if self.arm_abi is not None else elf.arm_float_abi


def host_facts(ctx: "Context") -> HostFacts:
    """The host's platform facts (computed once per run: ``ctx.fact(HOST_FACTS)``)."""
    return ctx.fact(HOST_FACTS)


def _read_userland(ctx: "Context") -> tuple[str | None, ElfHeader | None, list[str]]:
    notes = []
    for path in USERLAND_PROBES:
        data, why = ctx.try_read_bytes(path, USERLAND_HEAD)
        if data is None:
            if why and not why.endswith(": not found"):
                notes.append(why)
            continue
        try:  # fewer bytes than asked for is the whole file: anything beyond it is truncation
            return path, parse_header(data, len(data) if len(data) < USERLAND_HEAD else None), notes
        except TruncatedElf as exc:  # a cut-off copy is not the userland
            notes.append(f"{path}: {exc}")
            continue
        except ElfError as exc:
            notes.append(f"{path}: {exc}")
        try:  # a damaged part past the headers (sections, attributes) still leaves a usable header
            return path, parse_header(data), notes
        except ElfError:
            continue
    return None, None, notes


def _read_noted(ctx: "Context", path: str, notes: list[str]) -> str:
    """A file's text, or '' with the reason added to ``notes`` (a missing file needs no note)."""
    text, why = ctx.try_read(path)
    if text is None and why and not why.endswith(": not found"):
        notes.append(why)
    return text or ""


def _compute(ctx: "Context") -> HostFacts:
    uname = ctx.uname
    path, elf, evidence = _read_userland(ctx)
    cpuinfo = _read_noted(ctx, "/proc/cpuinfo", evidence)
    dpkg_arch = dpkg_architecture(ctx, evidence)
    kernel_platform = platforms.from_uname(uname.machine)
    native = None
    if elf is not None:
        native = platforms.from_elf(elf.machine, elf.elf_class, elf.endian)
        label = native.elf_machine_name if native else f"e_machine {elf.machine}"
        evidence.append(f"userland {path}: ELF{elf.elf_class} {elf.endian}-endian {label}"
                        + (", loader unknown (beyond the bytes read)" if not elf.interpreter_known
                           else f", loader {elf.interpreter}" if elf.interpreter else ", static"))
    if native is None and dpkg_arch:
        native = platforms.from_debian_arch(dpkg_arch)
    if native is None:
        native = kernel_platform
    variant = None
    if native is not None and native.arch in ("arm", "arm64"):
        variant = arm_cpu_variant(cpuinfo, uname.machine, native.goarch)
        if native.arch == "arm" and variant:
            native = platforms.arm_variant_platform(int(variant[1:])) or native
    dist = ctx.distro()
    evidence.extend(dist.notes)
    arm_abi, abi_problem = None, None
    if elf is not None and elf.machine == platforms.EM_ARM:
        from mab_doctor.host.userland import userland_arm_abi  # the ARM ABI readers: for 32-bit ARM userlands only

        arm_abi, abi_problem = userland_arm_abi(ctx, path, elf)
    return HostFacts(
        kernel_release=uname.release, kernel_machine=uname.machine, kernel_platform=kernel_platform,
        platform=native, userland_path=path, userland_elf=elf, dpkg_arch=dpkg_arch,
        cpu_architecture=cpuinfo_field(cpuinfo, "CPU architecture"),
        model_name=cpuinfo_field(cpuinfo, "model name"), arm_variant=variant,
        distro_id=dist.id(), distro_version=dist.version(), distro_name=dist.name(pretty=True),
        evidence=tuple(evidence), cpu=replace(cpu_facts(cpuinfo, kernel_machine=uname.machine,
                                                        kernel_release=uname.release, personality=_personality(ctx)),
                                              arm_level=int(variant[1:]) if variant else None),
        arm_abi=arm_abi, arm_abi_problem=abi_problem)


def _personality(ctx: "Context") -> bool | None:
    """On a live arm64 kernel: whether it accepts the 32-bit personality (it refuses it, EINVAL,
    when the CPU has no AArch32 or the kernel has no 32-bit support); None when not asked."""
    setarch = ctx.which("setarch") if ctx.is_live and ctx.uname.machine == "aarch64" else None
    if setarch is None:
        return None
    res = ctx.run(setarch, "linux32", "true")
    if res.ok:
        return True
    return False if "Invalid argument" in res.stderr else None


HOST_FACTS: Fact[HostFacts] = Fact("host facts", _compute)


def placement(ctx: "Context", target: Target) -> Placement:
    """How this host runs ``target``: natively, emulated, or not at all; the one place that decides,
    so every check, the header and `platform` agree."""
    f = host_facts(ctx)
    return place(target, host=f.platform, kernel=f.kernel_platform, cpu=f.cpu)


def is_native(ctx: "Context", target: Target) -> bool:
    """Whether this host runs ``target`` without emulation (an unknown host platform runs nothing natively)."""
    return placement(ctx, target).how == NATIVE


def native_map(ctx: "Context") -> dict[str, bool]:
    """Each run target -> runs natively here; never raises (a report header must not crash)."""
    return {name: where.how == NATIVE for name, where in placement_map(ctx).items()}


def placement_map(ctx: "Context") -> dict[str, Placement]:
    """Each run target -> how this host runs it; never raises (a report header must not crash)."""
    try:
        return {str(t): placement(ctx, t) for t in ctx.targets}
    except Exception as exc:
        return {str(t): Placement(EMULATED, f"host facts unavailable: {exc}") for t in ctx.targets}


def emulated_targets(ctx: "Context") -> list[Target]:
    """The run's targets that need binfmt_misc + QEMU here (not those that cannot run here at all)."""
    return [t for t in ctx.targets if placement(ctx, t).how == EMULATED]


def host_summary(ctx: "Context") -> dict:
    """Host facts for report headers and JSON `host` (never raises: errors become a field)."""
    from mab_doctor.host.matrix import known_environment

    base = {"root": str(ctx.root), "hostname": ctx.uname.nodename, "kernel_release": ctx.uname.release,
            "uname_machine": ctx.uname.machine, "oci_platform": None, "debian_arch": None,
            "distro": {"id": "", "version": "", "name": ""}, "known_environment": None}
    try:
        f = host_facts(ctx)
    except Exception as exc:  # the header must not hide the results
        return {**base, "error": f"host facts unavailable: {exc}"}
    env = known_environment(f.distro_id, f.distro_version)
    return {**base, "oci_platform": f.platform.oci if f.platform else None,
            "debian_arch": f.dpkg_arch or (f.platform.debian_arch if f.platform else None),
            "distro": {"id": f.distro_id, "version": f.distro_version, "name": f.distro_name},
            "known_environment": env["id"] if env else None,
            "known_environment_name": env["name"] if env else None}


def platform_vocabulary(f: HostFacts) -> dict:
    """The host in every vocabulary (the `platform` command's fields, without the schema key)."""
    p = f.platform
    return {
        "uname_machine": f.kernel_machine, "kernel_release": f.kernel_release,
        "debian_arch": f.dpkg_arch or (p.debian_arch if p else None),
        "oci_platform": p.oci if p else None, "docker_hub_prefix": p.hub_prefix if p else None,
        "goarch": p.goarch if p else None, "goarm": p.goarm if p else None,
        "qemu": p.qemu_binary if p else None, "float_abi": f.float_abi,
        "arm_arch": f.arm_variant if p and p.arch in ("arm", "arm64") else None,
        "userland_bits": f.userland_bits, "kernel_bits": f.kernel_bits,
        "aarch32": f.cpu.aarch32 if f.kernel_machine == "aarch64" else None,
        "vfp": f.cpu.vfp, "cpu_cores": ", ".join(f.cpu.cores) or None,
    }
