"""What a handler's emulator really is: its target, its ELF layout under this kernel, known-bad versions."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from mab_doctor.core.record import record
from mab_doctor.emulation.binfmt import Entry, is_qemu
from mab_doctor.emulation.qemu import Interpreter, qemu_banner
from mab_doctor.emulation.qemunames import cpu_from_name
from mab_doctor.host.matrix import covers, known_bad, range_label, requirement

if TYPE_CHECKING:
    from mab_doctor.core.context import Context
    from mab_doctor.host.platforms import Platform

QEMU_REQ = "qemu-user-static"
KERNEL_REQ = "qemu-static-pie-kernel"
SEGV_SEEN = "\"Segmentation fault\"; kernel log: \"segfault at ... in {name}[401000+...]\""
# Debian's (6.1.0-28-amd64) and Ubuntu's (5.15.0-126-generic) release names end the version at .0 and
# add their ABI: the stable level the kernel is built from is only in /proc/version(_signature).
_ABI_NAME = re.compile(r"^(\d+)\.(\d+)\.0-")
_RELEASE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?")
_LEVEL = re.compile(r"^\d+\.\d+\.\d+$")
_TOP_OF_SERIES = 99999  # a sublevel past every real one: the last release of a series


@record
class Identity:
    """The QEMU target an interpreter emulates (None: unknown), and what says so."""

    cpu: str | None
    evidence: str

    def mismatch(self, name: str, real: str | None, platform: "Platform", target: str) -> str | None:
        """Why handler ``name`` cannot run ``target`` programs when its emulator is for another
        target (what QEMU then prints for every program); None when it is not known to be."""
        if self.cpu is None or self.cpu == platform.qemu:
            return None
        return (f"{name}: interpreter {real} emulates {self.cpu}, not {platform.qemu} ({self.evidence}): every "
                f"{target} program fails with \"Invalid ELF image for this architecture\"")


@record
class KernelLevel:
    """The kernel's upstream level: the full X.Y.Z when known, else only its X.Y series."""

    release: str
    level: str | None
    series: str | None
    evidence: str


@record
class Doubt:
    """One reason to doubt a working handler's emulator."""

    summary: str
    remediation: str
    details: tuple[str, ...] = ()


def identify(ctx: "Context", entry: Entry, interp: Interpreter) -> Identity:
    """Which target the handler's interpreter emulates: `--version` on a live host (the target is
    compiled in), else the resolved file's name, else the name the entry registers."""
    cpu = qemu_banner(ctx, interp)[0]
    if cpu is not None:
        return Identity(cpu, f"`{interp.real} --version` names qemu-{cpu}")
    for path in (interp.real or "", entry.interpreter):
        cpu = cpu_from_name(path)
        if cpu is not None:
            return Identity(cpu, f"file name {path.rsplit('/', 1)[-1]}")
    asked = " nor its `--version`" if ctx.is_live and interp.static else ""
    return Identity(None, f"neither its file name{asked} names a QEMU target")


def kernel_level(ctx: "Context") -> KernelLevel:
    """The running (or captured) kernel's upstream level, from `uname -r` or, where a distribution's
    release name hides it, from /proc/version_signature (Ubuntu) or /proc/version (Debian)."""
    release = ctx.uname.release
    found = _RELEASE.match(release)
    if found is None:
        return KernelLevel(release, None, None, f"kernel release {release!r} is no version")
    series = f"{found[1]}.{found[2]}"
    if not _ABI_NAME.match(release):
        return KernelLevel(release, f"{series}.{found[3] or 0}", series, "uname -r")
    signature = (ctx.read_text("/proc/version_signature", 4096) or "").split()
    candidates = [(signature[-1], "/proc/version_signature")] if signature else []
    banner = ctx.read_text("/proc/version", 4096) or ""
    # The compiler's own "(Debian 12.2.0-14)" is in the same line: only the kernel's series counts.
    # Raspberry Pi OS adds an epoch: "Debian 1:6.1.63-1+rpt1".
    candidates += [(m, "/proc/version") for m in re.findall(r"Debian (?:\d+:)?(\d+\.\d+\.\d+)", banner)]
    for level, where in candidates:
        if _LEVEL.match(level) and level.startswith(series + "."):
            return KernelLevel(release, level, series, f"{where} says {level}")
    return KernelLevel(release, None, series, f"{release} does not show its {series}.y stable level")


def brk_hazard(ctx: "Context", entry: Entry, interp: Interpreter) -> Doubt | None:
    """A static QEMU built without PIE on an x86-64 kernel with the brk randomisation change; None
    when that cannot be the case (other hosts, PIE builds, unknown layouts, unaffected kernels)."""
    if interp.static_pie is not False or interp.machine != "EM_X86_64" or not is_qemu(entry):
        return None
    kernel = kernel_level(ctx)
    req = requirement(KERNEL_REQ)
    base = (interp.real or entry.interpreter).rsplit("/", 1)[-1]
    layout = f"{interp.real} is a static QEMU built without PIE (ELF type EXEC)"
    seen = SEGV_SEEN.format(name=base)
    if kernel.level is not None:
        bad = known_bad(KERNEL_REQ, kernel.level)
        if not bad:
            return None
        since = f"backported to {bad[0]['from']}" if bad[0].get("before") else f"mainline since {bad[0]['from']}"
        return Doubt(f"{entry.name}: {layout}, and kernel {kernel.release} carries the x86-64 brk randomisation "
                     f"change (44c76825d6ee, {since}): emulated programs crash at random ({seen})",
                     req.remediation, (f"kernel level: {kernel.evidence}", f"kernel change: {bad[0]['why']}"))
    if kernel.series is None:
        return None
    entries = req.raw.get("known_bad", [])
    if any(covers(e, f"{kernel.series}.0") for e in entries):
        return Doubt(f"{entry.name}: {layout}, and every {kernel.series} kernel carries the x86-64 brk "
                     f"randomisation change (44c76825d6ee): emulated programs crash at random ({seen})",
                     req.remediation, (f"kernel level: {kernel.evidence}",))
    later = [e for e in entries if covers(e, f"{kernel.series}.{_TOP_OF_SERIES}")]
    if not later:
        return None
    return Doubt(f"{entry.name}: {layout}; kernel {kernel.release} hides its stable level, and {kernel.series} "
                 f"kernels from {later[0]['from']} on carry the x86-64 brk randomisation change (44c76825d6ee), "
                 f"under which emulated programs crash at random ({seen})",
                 req.remediation, (f"kernel level: {kernel.evidence}",))


def version_doubt(entry: Entry, version: str | None, target: str) -> Doubt | None:
    """The known-bad entries of the matrix that cover this QEMU version for this target."""
    bad = known_bad(QEMU_REQ, version, target)
    if not bad:
        return None
    seen = [f" (\"{b['symptom']}\")" if b.get("symptom") else "" for b in bad]
    return Doubt(f"{entry.name}: QEMU {version} is on the known-bad list for {target}{seen[0]}: {bad[0]['why']}",
                 requirement(QEMU_REQ).remediation,
                 tuple(f"known bad {range_label(b)}{s}: {b['source']}" for b, s in zip(bad, seen)))


def emulator_doubts(ctx: "Context", entry: Entry, interp: Interpreter, platform: "Platform", target: str,
                      identity: Identity, version: str | None) -> list[Doubt]:
    """Every doubt about a handler whose emulator exists, is static, has F and does not emulate another
    target: its target unknown, its layout under this kernel, its version on the known-bad list."""
    found: list[Doubt] = []
    if identity.cpu is None:
        found.append(Doubt(
            f"{entry.name}: cannot tell which architecture this interpreter emulates ({identity.evidence}); "
            f"{target} needs qemu-{platform.qemu}",
            f"Register an emulator whose name says its target (qemu-{platform.qemu}, qemu-{platform.qemu}-static "
            f"or Debian's {platform.qemu}-binfmt-P), or make sure {interp.real} runs {target} programs."))
    found += [w for w in (brk_hazard(ctx, entry, interp), version_doubt(entry, version, target)) if w]
    return found
