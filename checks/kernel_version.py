"""Check the kernel is new enough for binfmt_misc's F (fix-binary) flag when emulation is needed."""

from __future__ import annotations

from mab_doctor.api import Context, Result, check
from mab_doctor.host.hostinfo import emulated_targets
from mab_doctor.host.matrix import parse_version, requirement, version_lt


@check(name="kernel-version", title="Kernel version", category="kernel")
def kernel_version(ctx: Context) -> Result:
    """What it checks: the kernel release (`uname -r`) against the matrix minimum for the binfmt_misc
    `F` (fix-binary) flag, 4.8, whenever a target platform needs emulation.

    Why it matters: without `F` the kernel looks the QEMU interpreter up inside each container's own
    filesystem, where it does not exist, so every foreign RUN step fails with "no such file or
    directory". Kernels before 4.8 cannot set `F` at all.

    How to fix: boot a newer kernel (Ubuntu: the HWE kernel, `apt-get install
    linux-generic-hwe-<release>`; Debian: a backports kernel), or build only native targets.
    """
    req = requirement("kernel-binfmt-fix-binary")
    release = ctx.uname.release
    emulated = [str(t) for t in emulated_targets(ctx)]
    data = {"release": release, "minimum": req.minimum, "emulated_targets": emulated}
    details = [f"uname -r: {release}", f"minimum for the F flag: {req.minimum} ({req.source})"]
    if parse_version(release) is None:
        return Result.warn(f"cannot parse kernel release {release!r}", details=details, data=data,
                           remediation="Check `uname -r`; mab-doctor expects a release like 6.1.0.")
    if not version_lt(release, req.minimum):
        return Result.ok(f"kernel {release} (>= {req.minimum})", details=details, data=data)
    if not emulated:
        return Result.ok(f"kernel {release} is older than {req.minimum}, but every target runs natively",
                         details=details, data=data)
    details.append("targets that need emulation: " + ", ".join(emulated))
    return Result.fail(f"kernel {release} is older than {req.minimum}: binfmt_misc has no F flag, "
                       f"so emulated builds fail inside containers", details=details, data=data,
                       remediation=req.remediation)
