"""Check the binfmt_misc filesystem is mounted and globally enabled, in the instance this process uses."""

from __future__ import annotations

from mab_doctor.api import Context, Fix, Result, check
from mab_doctor.emulation.binfmt import MOUNT_POINT, SPECIAL_FILES, is_qemu, listing
from mab_doctor.emulation.instance import OWN, Instance, binfmt_instance, mounts_at
from mab_doctor.fix import actions
from mab_doctor.host.hostinfo import emulated_targets

MOUNT = Fix.of("Mount binfmt_misc", actions.mount())
ENABLE = Fix.of("Enable binfmt_misc", actions.enable())
UNSEEN_REMEDY = ("Check the handlers from the host (run mab-doctor outside this user namespace or container), or "
                 "prove them with `mab-doctor --build`. Do not mount binfmt_misc here: on Linux 6.7 and newer that "
                 "gives this namespace its own empty instance, which hides the host's handlers from it for good.")
OWN_REMEDY = ("Register the handlers in this namespace's instance (`mab-doctor --fix` run here does), or build from "
              "a user namespace that never mounted binfmt_misc: a namespace that mounted its own instance keeps "
              "using it, even after `umount`, and no longer falls back to the host's handlers.")
WSL_REMEDY = ("Have them registered again at every start of the distro you build from: `sudo mab-doctor --fix "
              "--persist` writes /etc/binfmt.d files, which systemd-binfmt replays when /etc/wsl.conf has "
              "`systemd=true` under `[boot]`; without systemd, put `command = update-binfmts --enable` "
              "(binfmt-support) under `[boot]` in /etc/wsl.conf.")


def mount_types(mountinfo: str) -> list[str]:
    """Filesystem types mounted at the binfmt_misc mount point, per /proc/self/mountinfo."""
    return [m.fstype for m in mounts_at(mountinfo)]


def instance_details(ctx: Context, inst: Instance) -> list[str]:
    """The instance this process uses, what rootless Podman builds use, and WSL 2, as detail lines."""
    lines = [f"binfmt_misc instance: {inst.sees}"]
    if inst.userns.initial is False or ctx.which("podman") or ctx.which("buildah"):
        lines.append(f"rootless Podman/Buildah builds use: {inst.rootless}")
    if inst.wsl2:
        kept = f"; WSL's own entries ({', '.join(inst.interop)}) are fine, and --fix never touches them" \
            if inst.interop else ""
        lines.append(f"WSL 2 ({'; '.join(inst.wsl2)}): this table is shared by every distro in the WSL VM and "
                     f"emptied when the VM stops (`wsl --shutdown`, idle timeout){kept}")
    return lines


@check(name="binfmt-mount", title="binfmt_misc mount", category="kernel", requires=("binfmt-kernel",),
       fixable=True)
def binfmt_mount(ctx: Context) -> Result:
    """What it checks: that binfmt_misc is mounted at /proc/sys/fs/binfmt_misc (its `status` file
    exists; /proc/self/mountinfo shows the mount, or systemd's automount) and that its global
    `status` reads `enabled`. It also says which binfmt_misc instance this process uses: from Linux
    6.7 each user namespace may mount its own, empty one (this process is in the initial namespace
    when /proc/self/uid_map is the identity map), what rootless Podman and Buildah builds use, and
    whether this is WSL 2.

    Why it matters: handlers are registered through that filesystem, and a `disabled` status
    silently turns every registered QEMU handler off: foreign binaries then fail with "exec format
    error" although the handler files are all there. A user namespace that mounted its own instance
    no longer sees the host's handlers, and a rootless `podman run --privileged` of a binfmt installer
    registers into such an instance, whose handlers vanish with its container. On WSL 2 the table is shared
    by every distro and emptied whenever the WSL VM stops.

    How to fix: `sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc` (systemd hosts:
    `systemctl start proc-sys-fs-binfmt_misc.mount`), then `echo 1 | sudo tee
    /proc/sys/fs/binfmt_misc/status` if it is disabled. `mab-doctor --fix` does both, but never mounts
    from another user namespace: there a mount would hide the host's handlers. In a namespace with
    its own instance, register the handlers there or build from one that never mounted binfmt_misc. On
    WSL 2, persist the handlers (`sudo mab-doctor --fix --persist` with systemd, or a `command =`
    under `[boot]` in /etc/wsl.conf) so each start registers them again.
    """
    needed = [str(t) for t in emulated_targets(ctx)]
    types = mount_types(ctx.read_text("/proc/self/mountinfo") or "")
    status, why = ctx.try_read(f"{MOUNT_POINT}/status")
    entries = [n for n in ctx.listdir(MOUNT_POINT) if n not in SPECIAL_FILES]
    inst = binfmt_instance(ctx)
    data = {"mounted": status is not None, "mount_types": types, "status": (status or "").strip() or None,
            "entries": entries, "needed_for": needed, "instance": inst.to_data()}
    details = [f"mountinfo at {MOUNT_POINT}: {', '.join(types) or 'nothing'}"]
    about = instance_details(ctx, inst)
    if status is None:
        details.append(why)
        details.extend(about)
        if ctx.exists(f"{MOUNT_POINT}/status"):  # something is there, but not a status we can read
            result = Result.fail if needed else Result.warn
            return result(f"cannot read {why}", details=details, data=data,
                          remediation=f"Check what {MOUNT_POINT} holds (`ls -l {MOUNT_POINT}`); the kernel's "
                                      f"binfmt_misc status is a readable regular file.")
        if not needed:
            return Result.ok("not mounted, and not needed: every target runs natively",
                             details=details, data=data)
        if inst.userns.initial is False:  # exec still reaches an ancestor's table; a mount here would hide it
            return Result.warn("binfmt_misc is not visible from this user namespace: builds started here use "
                               "the initial namespace's handlers, which cannot be listed from here",
                               details=details, data=data, remediation=UNSEEN_REMEDY)
        if "autofs" in types and "binfmt_misc" not in types and not ctx.is_live:
            return Result.warn("systemd automount is set up; binfmt_misc mounts on first access",
                               details=details, data=data, fix=MOUNT,
                               remediation=f"Mount it now: `sudo {' '.join(MOUNT.commands[0])}`")
        return Result.fail("binfmt_misc is not mounted", details=details, data=data, fix=MOUNT,
                           remediation=f"Mount it: `sudo {' '.join(MOUNT.commands[0])}` "
                                       f"(needed for {', '.join(needed)})")
    details.append(f"{MOUNT_POINT}/status: {status.strip()}")
    details.append(f"registered entries: {', '.join(entries) or 'none'}")
    details.extend(about)
    if status.strip() != "enabled":
        result = Result.fail if needed else Result.warn
        return result("binfmt_misc is mounted but globally disabled: no handler runs",
                      details=details, data=data, fix=ENABLE,
                      remediation=f"Enable it: `echo 1 | sudo tee {MOUNT_POINT}/status`")
    if inst.kind == OWN and needed and not any(is_qemu(e) for e in listing(ctx).entries):
        return Result.warn("this user namespace has its own binfmt_misc instance, without QEMU handlers: "
                           "emulated steps started here fail with 'exec format error'",
                           details=details, data=data, remediation=OWN_REMEDY)
    summary = f"mounted and enabled ({len(entries)} entries registered)"
    if inst.wsl2 and needed:
        return Result.warn(f"{summary}, but on WSL 2 this table is emptied whenever the WSL VM stops",
                           details=details, data=data, remediation=WSL_REMEDY)
    return Result.ok(summary, details=details, data=data)
