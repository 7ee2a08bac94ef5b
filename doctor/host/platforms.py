"""Platform vocabulary: uname -m, Debian arch, OCI platform, Docker Hub prefix, GOARCH, QEMU, ELF.

Sources: dpkg's cputable, containerd/platforms database.go and cpuinfo_linux.go, tonistiigi/binfmt
config.go, Linux COMPAT_UTS_MACHINE.
"""

from __future__ import annotations

import re

from mab_doctor.core.record import record


class PlatformError(ValueError):
    """A --platform string that names no platform this tool knows."""


@record
class Platform:
    """One row of the vocabulary table."""

    oci: str                      # "linux/arm/v7"
    uname: tuple[str, ...]        # kernel machine names that mean this platform
    debian_arch: str | None
    hub_prefix: str | None        # Docker Hub official-image namespace
    goarch: str
    goarm: str | None
    qemu: str                     # qemu-user cpu name: binary qemu-<cpu>, binfmt entry qemu-<cpu>
    qemu_family: str              # qemu-binfmt-conf.sh family: a host never registers its own family
    elf_machine: int
    elf_machine_name: str
    elf_class: int                # 32 or 64
    endian: str                   # "little" or "big"
    float_abi: str | None = None  # ARM only: the ABI a Debian-style userland of this variant uses

    @property
    def arch(self) -> str:
        """OCI architecture without OS and variant."""
        return self.oci.split("/")[1]

    @property
    def variant(self) -> str | None:
        """OCI variant ("v7") or None."""
        parts = self.oci.split("/")
        return parts[2] if len(parts) > 2 else None

    @property
    def arm_level(self) -> int | None:
        """ARM architecture level for arm/vN (and 8 for arm64), else None."""
        if self.arch == "arm64":
            return 8
        if self.arch == "arm" and self.variant:
            return int(self.variant[1:])
        return None

    @property
    def qemu_binary(self) -> str:
        """Name of the static user-mode emulator binary (Debian: qemu-<cpu>-static)."""
        return f"qemu-{self.qemu}"


EM_386, EM_MIPS, EM_PPC64, EM_S390, EM_ARM, EM_X86_64, EM_AARCH64, EM_RISCV, EM_LOONGARCH = (
    3, 8, 21, 22, 40, 62, 183, 243, 258)

_P = Platform
PLATFORMS: tuple[Platform, ...] = (
    _P("linux/amd64", ("x86_64",), "amd64", "amd64", "amd64", None, "x86_64", "i386",
       EM_X86_64, "EM_X86_64", 64, "little"),
    _P("linux/386", ("i386", "i486", "i586", "i686"), "i386", "i386", "386", None, "i386", "i386",
       EM_386, "EM_386", 32, "little"),
    _P("linux/arm64", ("aarch64", "arm64"), "arm64", "arm64v8", "arm64", None, "aarch64", "arm",
       EM_AARCH64, "EM_AARCH64", 64, "little"),
    # armv8l: a 32-bit personality on an arm64 kernel (COMPAT_UTS_MACHINE); runs v7/v6/v5 images.
    _P("linux/arm/v8", ("armv8l",), "armhf", "arm32v7", "arm", "7", "arm", "arm",
       EM_ARM, "EM_ARM", 32, "little", "hard"),
    _P("linux/arm/v7", ("armv7l",), "armhf", "arm32v7", "arm", "7", "arm", "arm",
       EM_ARM, "EM_ARM", 32, "little", "hard"),
    # Raspbian calls its ARMv6 hard-float userland "armhf"; Debian's armhf needs v7.
    _P("linux/arm/v6", ("armv6l",), "armhf", "arm32v6", "arm", "6", "arm", "arm",
       EM_ARM, "EM_ARM", 32, "little", "hard"),
    _P("linux/arm/v5", ("armv5tel", "armv5tejl", "armv5l"), "armel", "arm32v5", "arm", "5", "arm",
       "arm", EM_ARM, "EM_ARM", 32, "little", "soft"),
    _P("linux/riscv64", ("riscv64",), "riscv64", "riscv64", "riscv64", None, "riscv64", "riscv64",
       EM_RISCV, "EM_RISCV", 64, "little"),
    _P("linux/ppc64le", ("ppc64le",), "ppc64el", "ppc64le", "ppc64le", None, "ppc64le", "ppcle",
       EM_PPC64, "EM_PPC64", 64, "little"),
    _P("linux/s390x", ("s390x",), "s390x", "s390x", "s390x", None, "s390x", "s390x",
       EM_S390, "EM_S390", 64, "big"),
    # The kernel says "mips64" for both byte orders; only the ELF or dpkg tells them apart.
    _P("linux/mips64le", ("mips64",), "mips64el", "mips64le", "mips64le", None, "mips64el", "mips",
       EM_MIPS, "EM_MIPS", 64, "little"),
    _P("linux/mips64", (), "mips64", None, "mips64", None, "mips64", "mips",
       EM_MIPS, "EM_MIPS", 64, "big"),
    _P("linux/loong64", ("loongarch64",), "loong64", None, "loong64", None, "loongarch64",
       "loongarch", EM_LOONGARCH, "EM_LOONGARCH", 64, "little"),
)
BY_OCI = {p.oci: p for p in PLATFORMS}
DEFAULT_TARGETS = ("linux/amd64", "linux/arm64", "linux/arm/v7")

# Architecture spellings accepted in --platform, mapped to OCI arch (and default variant).
# containerd's normalizeArch plus Debian and uname names; "armel" -> arm/v6 is containerd's
# choice (Debian's own armel baseline is v5).
_ARCH_ALIASES = {
    "amd64": ("amd64", None), "x86_64": ("amd64", None), "x86-64": ("amd64", None),
    "386": ("386", None), "i386": ("386", None), "i686": ("386", None),
    "arm64": ("arm64", None), "aarch64": ("arm64", None),
    "arm": ("arm", "v7"), "armhf": ("arm", "v7"), "armel": ("arm", "v6"),
    "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"), "armv5tel": ("arm", "v5"), "armv8l": ("arm", "v8"),
    "riscv64": ("riscv64", None), "ppc64le": ("ppc64le", None), "ppc64el": ("ppc64le", None),
    "s390x": ("s390x", None), "mips64le": ("mips64le", None), "mips64el": ("mips64le", None),
    "mips64": ("mips64", None), "loong64": ("loong64", None), "loongarch64": ("loong64", None),
}
_AMD64_VARIANTS = ("v2", "v3", "v4")


@record
class Target:
    """A normalised target: its vocabulary row plus any variant the row does not carry (amd64/v3)."""

    platform: Platform
    extra_variant: str | None = None

    def __str__(self) -> str:
        return f"{self.platform.oci}/{self.extra_variant}" if self.extra_variant else self.platform.oci


def parse_platform(text: str) -> Target:
    """Normalise one Docker-syntax platform string; raise PlatformError for nonsense."""
    raw = text.strip()
    parts = [p.lower() for p in raw.split("/")]
    if not raw or any(not p for p in parts) or len(parts) > 3:
        raise PlatformError(f"bad platform string {text!r}: expected os/arch[/variant], e.g. linux/arm64")
    if parts[0] in ("windows", "darwin", "freebsd", "wasip1", "js"):
        raise PlatformError(f"platform {text!r}: mab-doctor checks linux/* targets only")
    if parts[0] == "linux":
        parts = parts[1:]
    if not parts or len(parts) > 2:
        raise PlatformError(f"bad platform string {text!r}: expected os/arch[/variant], e.g. linux/arm64")
    alias = _ARCH_ALIASES.get(parts[0])
    if alias is None:
        known = ", ".join(p.oci for p in PLATFORMS)
        raise PlatformError(f"unknown architecture {parts[0]!r} in platform {text!r} (known: {known})")
    arch, variant = alias
    given = parts[1] if len(parts) == 2 else None
    if given is not None and re.fullmatch(r"\d+", given):
        given = "v" + given  # containerd accepts arm/7 for arm/v7
    return _with_variant(text, arch, variant, given)


def _with_variant(text: str, arch: str, default: str | None, given: str | None) -> Target:
    if arch == "arm64":
        if given not in (None, "v8"):
            raise PlatformError(f"platform {text!r}: arm64 has no variant {given!r} (only v8)")
        return Target(BY_OCI["linux/arm64"])
    if arch == "amd64":
        if given in (None, "v1"):
            return Target(BY_OCI["linux/amd64"])
        if given in _AMD64_VARIANTS:
            return Target(BY_OCI["linux/amd64"], given)
        raise PlatformError(f"platform {text!r}: amd64 variants are v1..v4, not {given!r}")
    if arch == "arm":
        oci = f"linux/arm/{given or default}"
        if oci not in BY_OCI:
            raise PlatformError(f"platform {text!r}: arm variants are v5, v6, v7, v8, not {given!r}")
        return Target(BY_OCI[oci])
    if given is not None:
        raise PlatformError(f"platform {text!r}: {arch} takes no variant")
    return Target(BY_OCI[f"linux/{arch}"])


def parse_platform_list(text: str) -> tuple[Target, ...]:
    """Parse a comma-separated --platform list, dropping duplicates but keeping order."""
    seen: dict[str, Target] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        target = parse_platform(item)
        seen.setdefault(str(target), target)
    if not seen:
        raise PlatformError("empty list (give platforms such as linux/arm64,linux/arm/v7)")
    return tuple(seen.values())


def from_uname(machine: str) -> Platform | None:
    """The platform a kernel machine name stands for (first match; mips64 is ambiguous)."""
    for platform in PLATFORMS:
        if machine in platform.uname:
            return platform
    return None


def from_debian_arch(debian_arch: str) -> Platform | None:
    """The platform of a Debian architecture: armel -> linux/arm/v5. Where several rows share one (armhf:
    Raspbian's v6, Debian's v7, an arm64 kernel's v8), the one `--platform armhf` means."""
    rows = [p for p in PLATFORMS if p.debian_arch == debian_arch]
    if len(rows) > 1:
        try:
            meant = parse_platform(debian_arch).platform
        except PlatformError:
            return None
        return meant if meant in rows else None
    return rows[0] if rows else None


def from_elf(machine: int, elf_class: int, endian: str) -> Platform | None:
    """The generic platform of an ELF (for EM_ARM the v7 row: the variant needs more evidence)."""
    for platform in PLATFORMS:
        if (platform.elf_machine, platform.elf_class, platform.endian) == (machine, elf_class, endian):
            return BY_OCI["linux/arm/v7"] if platform.arch == "arm" else platform
    return None


def arm_variant_platform(level: int) -> Platform | None:
    """The linux/arm/vN row for an ARM level (levels above 8 run as v8, below 5 have no row)."""
    return BY_OCI.get(f"linux/arm/v{min(level, 8)}")


def runs_natively(host: Platform, target: Target, kernel: Platform | None = None) -> bool:
    """Whether a host of this platform runs the target without emulation (containerd compare.go).

    arm/vN also runs arm/v(N-1)..v5; arm64 also runs arm/v8 and below (only if the CPU has
    AArch32, which binfmt-exec proves); amd64 also runs 386. amd64/vN variants need CPU features
    this table does not know, so they count as native to amd64 hosts. ``kernel`` is the platform
    of `uname -m`: a 64-bit arm64 or amd64 kernel under a 32-bit userland still runs its own
    64-bit binaries itself (a Pi with a 64-bit kernel and Raspberry Pi OS armhf runs arm64).
    """
    want = target.platform
    if want == host or (kernel is not None and want == kernel and kernel.arch in ("arm64", "amd64")):
        return True
    if want.arch == "arm" and host.arch in ("arm", "arm64"):
        return want.arm_level is not None and host.arm_level is not None and want.arm_level <= host.arm_level
    return host.arch == "amd64" and want.arch == "386"
