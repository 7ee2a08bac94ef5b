"""Check the kernel can do binfmt_misc at all (built in, or a module that can be loaded)."""

from __future__ import annotations

import re
import zlib

from mab_doctor.api import Context, Fix, Result, check
from mab_doctor.fix import actions
from mab_doctor.host.hostinfo import emulated_targets

CONFIG_TEXT_LIMIT = 16 << 20  # a kernel config is ~300 KiB; a bigger inflation is not one

MODPROBE = Fix.of("Load the binfmt_misc kernel module", actions.run_command(("modprobe", "binfmt_misc")))


def kernel_config_value(ctx: Context, release: str) -> tuple[str | None, str | None]:
    """(value of CONFIG_BINFMT_MISC: 'y'/'m'/'n', file it came from), or (None, None) if unknown."""
    sources = (("/proc/config.gz", True), (f"/boot/config-{release}", False))
    for path, zipped in sources:
        raw = ctx.read_bytes(path, 4 << 20)
        if raw is None:
            continue
        try:  # inflate at most CONFIG_TEXT_LIMIT bytes: a hostile config.gz cannot fill memory
            text = (zlib.decompressobj(wbits=31).decompress(raw, CONFIG_TEXT_LIMIT) if zipped
                    else raw).decode("utf-8", "replace")
        except zlib.error:
            continue  # a damaged config.gz says nothing; try the next source
        m = re.search(r"^CONFIG_BINFMT_MISC=([ym])$|^# CONFIG_BINFMT_MISC is not set$", text, re.M)
        if m:
            return (m.group(1) or "n"), path
    return None, None


@check(name="binfmt-kernel", title="binfmt_misc kernel support", category="kernel", fixable=True)
def binfmt_kernel(ctx: Context) -> Result:
    """What it checks: that the kernel offers the binfmt_misc filesystem (`/proc/filesystems`), or,
    when it does not yet, whether the kernel config (`/proc/config.gz`, `/boot/config-<release>`)
    builds it as a module that can still be loaded.

    Why it matters: binfmt_misc is how the kernel hands a foreign ELF to QEMU. Without it every
    RUN step of a foreign-architecture stage fails with "exec format error".

    How to fix: `sudo modprobe binfmt_misc` when it is a module (mounting binfmt_misc also loads it);
    a kernel built without CONFIG_BINFMT_MISC must be replaced by one with it (every stock distro
    kernel has it).
    """
    release = ctx.uname.release
    filesystems, why = ctx.try_read("/proc/filesystems")
    needed = bool(emulated_targets(ctx))
    data = {"needed": needed}
    if filesystems is None:
        return Result.warn("cannot read /proc/filesystems", details=[why], data=data,
                           remediation="Run mab-doctor where /proc is mounted and readable.")
    if re.search(r"\bbinfmt_misc$", filesystems, re.M):
        return Result.ok("binfmt_misc is available (listed in /proc/filesystems)", data=data)
    value, source = kernel_config_value(ctx, release)
    data["config"] = value
    details = ["/proc/filesystems has no binfmt_misc line",
               f"CONFIG_BINFMT_MISC={value} in {source}" if value else "no kernel config found"]
    module = next((f"/lib/modules/{release}/kernel/fs/{name}" for name in
                   ("binfmt_misc.ko", "binfmt_misc.ko.xz", "binfmt_misc.ko.zst", "binfmt_misc.ko.gz")
                   if ctx.exists(f"/lib/modules/{release}/kernel/fs/{name}")), None)
    if value == "n":
        status = Result.fail if needed else Result.warn
        return status("kernel built without binfmt_misc (CONFIG_BINFMT_MISC is not set)",
                      details=details, data=data,
                      remediation="Boot a kernel built with CONFIG_BINFMT_MISC=y or =m.")
    if module or value == "m":
        details.append(f"module file: {module or 'not found under /lib/modules/' + release}")
        if not needed:
            return Result.ok("binfmt_misc is a module, not loaded, and not needed: every target runs natively",
                             details=details, data=data)
        return Result.warn("binfmt_misc is a module that is not loaded yet", details=details, data=data,
                           remediation="Load it: `sudo modprobe binfmt_misc` (mounting binfmt_misc "
                                       "also loads it).", fix=MODPROBE)
    status = Result.fail if needed else Result.warn
    return status("binfmt_misc is not available in this kernel", details=details, data=data,
                  remediation="Try `sudo modprobe binfmt_misc`; if that fails, boot a kernel with "
                              "CONFIG_BINFMT_MISC.", fix=MODPROBE)
