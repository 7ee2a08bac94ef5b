"""Check the handlers that work now come back after a reboot (systemd binfmt.d, binfmt-support)."""

from __future__ import annotations

from mab_doctor.api import Context, Result, check
from mab_doctor.emulation.binfmt import find_handling, listing
from mab_doctor.emulation.qemu import stored_for
from mab_doctor.fix.plan import persist_fix
from mab_doctor.host.hostinfo import is_native


def boot_replayers(ctx: Context) -> tuple[list[str], str]:
    """(what re-registers handlers at boot here: systemd-binfmt / binfmt-support, why)."""
    if ctx.is_live:
        init = (ctx.read_text("/proc/1/comm") or "?").strip()
        systemd = ctx.exists("/run/systemd/system")  # sd_booted(): systemd is PID 1
    else:  # a captured tree: judge by the init it ships
        init = "systemd" if ctx.exists("/usr/lib/systemd/systemd") or ctx.exists("/lib/systemd/systemd") else "?"
        systemd = init == "systemd"
    found = []
    if systemd and (ctx.exists("/usr/lib/systemd/systemd-binfmt") or ctx.exists("/lib/systemd/systemd-binfmt")):
        found.append("systemd-binfmt")
    wants = [f"/etc/systemd/system/{t}.target.wants/binfmt-support.service" for t in ("multi-user", "sysinit")]
    sysv = init == "init" and any(n.startswith("S") and "binfmt-support" in n for n in ctx.listdir("/etc/rcS.d")
                                  + ctx.listdir("/etc/rc2.d"))
    if (systemd and any(ctx.exists(w) for w in wants)) or sysv:
        found.append("binfmt-support")
    return found, f"PID 1 is {init}"


@check(name="binfmt-persist", title="Handler survives reboot", category="emulation", per_target=True,
       requires=("binfmt-handlers",), fixable=True)
def binfmt_persist(ctx: Context) -> list[Result]:
    """What it checks: for every emulated target whose handler is registered now, whether a boot-time
    definition brings it back: systemd's binfmt.d directories (/etc, /run, /usr/local/lib, /usr/lib;
    an earlier directory masks the same file name), or binfmt-support's /var/lib/binfmts and
    /usr/share/binfmts, and whether that stored definition has the `F` flag too. It also says when
    nothing on this host replays them at boot (no systemd running, binfmt-support not enabled).

    Why it matters: `docker run --privileged tonistiigi/binfmt --install` and hand registrations live
    only in the running kernel; after a reboot builds fail again with "exec format error", or work
    on the host but not in containers when the stored definition lacks `F`.

    How to fix: `sudo mab-doctor --fix --persist` writes /etc/binfmt.d/<name>.conf with `F`.
    """
    replayers, init = boot_replayers(ctx)
    results = []
    for target in ctx.targets:
        name = str(target)
        if is_native(ctx, target):
            results.append(Result.ok("native: nothing to persist", target=name))
            continue
        winner = find_handling(listing(ctx), target.platform).winner
        if winner is None:
            results.append(Result.skip("no handler registered now (see binfmt-handlers)", target=name))
            continue
        results.append(_judge(name, winner, stored_for(ctx, target.platform), replayers, init))
    return results


def _judge(name, winner, stored, replayers, init) -> Result:
    # What comes back is whatever stored definition matches this architecture, not only one with
    # the live entry's name (tonistiigi's entries vanish; Debian's binfmt.d file brings its own).
    details = [f"{s.origin}: {s.entry.name}, flags '{s.entry.flags}' (replayed by {s.replayer})" for s in stored]
    details.append(f"boot-time replay on this host: {', '.join(replayers) or 'none'} ({init})")
    data = {"handler": winner.name, "stored": [s.origin for s in stored], "replayers": replayers,
            "grid": {"persists": "status"}}
    say = {"target": name, "details": details, "data": data}
    # --persist manages binfmt.d: offer it whenever binfmt.d holds no F definition for this target.
    binfmt_d_f = any("F" in s.entry.flags for s in stored if s.replayer == "systemd-binfmt")
    fix = None if binfmt_d_f else persist_fix(winner)
    effective = [s for s in stored if s.replayer in replayers]
    no_f = [s for s in effective if "F" not in s.entry.flags]
    if not replayers:
        where = ("binfmt.d has it with F" if binfmt_d_f else
                 "and the binfmt.d definition comes back without the F flag" if any(
                     s.replayer == "systemd-binfmt" for s in stored) else "and binfmt.d has no definition")
        return Result.warn(f"nothing replays handlers at boot here ({init}); {where}", fix=fix,
                           remediation="Boot with systemd (systemd-binfmt) or enable binfmt-support; otherwise run "
                                       "`mab-doctor --fix --yes` from your boot or CI set-up.", **say)
    if not effective:
        return Result.warn(f"{winner.name} is registered only in the running kernel: gone after reboot",
                           fix=fix, remediation="Persist it: `sudo mab-doctor --fix --persist`.", **say)
    if no_f:
        return Result.warn(f"{name} comes back after reboot without the F flag ({no_f[0].origin}): "
                           f"containers will fail", fix=fix,
                           remediation="Persist it with F: `sudo mab-doctor --fix --persist`.", **say)
    return Result.ok(f"comes back at boot with F ({effective[0].origin}, by {effective[0].replayer})", **say)
