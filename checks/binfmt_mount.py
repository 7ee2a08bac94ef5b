"""Check the binfmt_misc filesystem is mounted and globally enabled."""

from __future__ import annotations

from mab_doctor.api import Context, Fix, Result, check
from mab_doctor.emulation.binfmt import MOUNT_POINT, SPECIAL_FILES
from mab_doctor.fix import actions
from mab_doctor.host.hostinfo import emulated_targets

MOUNT = Fix.of("Mount binfmt_misc", actions.mount())
ENABLE = Fix.of("Enable binfmt_misc", actions.enable())


def mount_types(mountinfo: str) -> list[str]:
    """Filesystem types mounted at the binfmt_misc mount point, per /proc/self/mountinfo."""
    found = []
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        fields = left.split()
        if sep and len(fields) >= 5 and fields[4] == MOUNT_POINT and right.split():
            found.append(right.split()[0])
    return found


@check(name="binfmt-mount", title="binfmt_misc mount", category="kernel", requires=("binfmt-kernel",),
       fixable=True)
def binfmt_mount(ctx: Context) -> Result:
    """What it checks: that binfmt_misc is mounted at /proc/sys/fs/binfmt_misc (its `status` file
    exists; /proc/self/mountinfo shows the mount, or systemd's automount) and that its global
    `status` reads `enabled`.

    Why it matters: handlers are registered through that filesystem, and a `disabled` status
    silently turns every registered QEMU handler off: foreign binaries then fail with "exec format
    error" although the handler files are all there.

    How to fix: `sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc` (systemd hosts:
    `systemctl start proc-sys-fs-binfmt_misc.mount`), then `echo 1 | sudo tee
    /proc/sys/fs/binfmt_misc/status` if it is disabled. `mab-doctor --fix` does both.
    """
    needed = [str(t) for t in emulated_targets(ctx)]
    types = mount_types(ctx.read_text("/proc/self/mountinfo") or "")
    status, why = ctx.try_read(f"{MOUNT_POINT}/status")
    entries = [n for n in ctx.listdir(MOUNT_POINT) if n not in SPECIAL_FILES]
    data = {"mounted": status is not None, "mount_types": types, "status": (status or "").strip() or None,
            "entries": entries, "needed_for": needed}
    details = [f"mountinfo at {MOUNT_POINT}: {', '.join(types) or 'nothing'}"]
    if status is None:
        details.append(why)
        if ctx.exists(f"{MOUNT_POINT}/status"):  # something is there, but not a status we can read
            result = Result.fail if needed else Result.warn
            return result(f"cannot read {why}", details=details, data=data,
                          remediation=f"Check what {MOUNT_POINT} holds (`ls -l {MOUNT_POINT}`); the kernel's "
                                      f"binfmt_misc status is a readable regular file.")
        if not needed:
            return Result.ok("not mounted, and not needed: every target runs natively",
                             details=details, data=data)
        if "autofs" in types and "binfmt_misc" not in types and not ctx.is_live:
            return Result.warn("systemd automount is set up; binfmt_misc mounts on first access",
                               details=details, data=data, fix=MOUNT,
                               remediation=f"Mount it now: `sudo {' '.join(MOUNT.commands[0])}`")
        return Result.fail("binfmt_misc is not mounted", details=details, data=data, fix=MOUNT,
                           remediation=f"Mount it: `sudo {' '.join(MOUNT.commands[0])}` "
                                       f"(needed for {', '.join(needed)})")
    details.append(f"{MOUNT_POINT}/status: {status.strip()}")
    details.append(f"registered entries: {', '.join(entries) or 'none'}")
    if status.strip() != "enabled":
        result = Result.fail if needed else Result.warn
        return result("binfmt_misc is mounted but globally disabled: no handler runs",
                      details=details, data=data, fix=ENABLE,
                      remediation=f"Enable it: `echo 1 | sudo tee {MOUNT_POINT}/status`")
    return Result.ok(f"mounted and enabled ({len(entries)} entries registered)", details=details, data=data)
