"""The 32-bit ARM userland's ABI, read once: its own attributes and e_flags, else its loader's, else a name."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from mab_doctor.host.armabi import ArmAbi, read_arm_abi
from mab_doctor.host.elf import ElfError, ElfHeader

if TYPE_CHECKING:
    from mab_doctor.core.context import Context

WHOLE_FILE = 4 << 20  # section headers and .ARM.attributes sit at the end of the file


def userland_arm_abi(ctx: "Context", path: str | None, elf: ElfHeader) -> tuple[ArmAbi | None, str | None]:
    """(the ABI, None), or (None, why the userland file could not be read whole).

    Old Raspbian links its programs against a hard-float loader installed as
    /lib/arm-linux-gnueabihf/ld-linux.so.3, the soft-float loader's name, and its toolchain set no
    float bit in e_flags: only the attributes (the program's, else the loader's own, read where the
    PT_INTERP symlink really leads inside the root) tell the truth. The name is the last hint."""
    if path is None:
        return None, "no userland file"
    data = ctx.read_bytes(path, WHOLE_FILE) or b""
    try:
        own = read_arm_abi(data, loader_name=False)
    except ElfError as exc:
        return None, f"{path} is not a readable ELF file: {exc}"
    if own.float_abi is not None or not elf.interpreter:
        return own, None
    where = ctx.resolve(elf.interpreter)
    loader = ctx.read_bytes(elf.interpreter, WHOLE_FILE)
    if loader:
        try:
            theirs = read_arm_abi(loader, loader_name=False)
        except ElfError:
            theirs = None
        if theirs is not None and theirs.float_abi is not None:
            shown = f"{elf.interpreter} ({where.name})" if where.name != elf.interpreter.rsplit("/", 1)[-1] \
                else elf.interpreter
            level = {} if own.cpu_arch else {"cpu_arch": theirs.cpu_arch, "oci_variant": theirs.oci_variant}
            return replace(own, float_abi=theirs.float_abi, **level, evidence=own.evidence[:-1] + (
                f"float ABI {theirs.float_abi}: its loader {shown} says so ({theirs.evidence[-1]})",)
                + ((f"CPU {theirs.cpu_arch}: its loader's .ARM.attributes (the program has none)",)
                   if level and theirs.cpu_arch else ())), None
    try:
        return read_arm_abi(data), None  # with the loader's name as the last hint
    except ElfError as exc:  # read above already: cannot happen, but never raise out of a reader
        return None, str(exc)
