"""Upstream QEMU's binfmt_misc magic and mask per CPU, for hosts whose distribution ships no definition."""

from __future__ import annotations

# Upstream QEMU scripts/qemu-binfmt-conf.sh magic and mask per qemu cpu; used only
# when neither the distro's binfmt.d file nor binfmt-support provides a definition.
_ELF64LE = "\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00"
_ELF32LE = "\\x7fELF\\x01\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00"
_ELF64BE = "\\x7fELF\\x02\\x02\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02"
_MASK_LE = "\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff"
_MASK_BE = "\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff"
_MASK_X86 = "\\xff\\xff\\xff\\xff\\xff\\xfe\\xfe\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff"
_MASK_MIPS_LE = "\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff"
_MASK_MIPS_BE = "\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff"
UPSTREAM = {
    "aarch64": (_ELF64LE + "\\xb7\\x00", _MASK_LE),
    "arm": (_ELF32LE + "\\x28\\x00", _MASK_LE),
    "riscv64": (_ELF64LE + "\\xf3\\x00", _MASK_LE),
    "ppc64le": (_ELF64LE + "\\x15\\x00", _MASK_LE[:-4] + "\\x00"),
    "s390x": (_ELF64BE + "\\x00\\x16", _MASK_BE),
    "mips64el": (_ELF64LE + "\\x08\\x00", _MASK_MIPS_LE),
    "mips64": (_ELF64BE + "\\x00\\x08", _MASK_MIPS_BE),
    "i386": (_ELF32LE + "\\x03\\x00", _MASK_X86),
    "x86_64": (_ELF64LE + "\\x3e\\x00", _MASK_X86),
    "loongarch64": (_ELF64LE + "\\x02\\x01",
                    "\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfc\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff"),
}


def upstream_line(qemu_cpu: str, interpreter: str, flags: str = "F") -> str:
    """A register line with upstream QEMU's magic/mask for ``qemu_cpu`` (always with F)."""
    magic, mask = UPSTREAM[qemu_cpu]
    return f":qemu-{qemu_cpu}:M::{magic}:{mask}:{interpreter}:{flags}"
