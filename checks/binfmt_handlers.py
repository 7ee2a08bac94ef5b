"""Check each emulated target has a working binfmt_misc handler: matched by mask, enabled, F, static."""

from __future__ import annotations

from mab_doctor.api import Context, Result, check
from mab_doctor.emulation.binfmt import MOUNT_POINT, Entry, find_handling, listing
from mab_doctor.emulation.instance import binfmt_instance
from mab_doctor.emulation.emulator import emulator_doubts, identify
from mab_doctor.emulation.qemu import inspect_interpreter, qemu_version
from mab_doctor.fix.plan import c_flag_fix, enable_entry_fix, register_fix
from mab_doctor.host.hostinfo import host_facts, placement
from mab_doctor.host.placement import IMPOSSIBLE, NATIVE
from mab_doctor.host.matrix import requirement

NO_F = ("no F flag: inside a container the kernel looks for {interp} in the container's own "
        "filesystem, so every foreign RUN step fails with \"no such file or directory\"")
NO_C = ("Without C the kernel starts QEMU with the caller's credentials, not the setuid program's, so sudo, su "
        "or ping fail in emulated RUN steps. C fixes that, at a price: QEMU then runs with the program's "
        "privileges and any flaw in it is a root exploit (why Debian dropped C). Prefer running such steps "
        "as root (USER root before them) or without setuid programs; or accept the trade-off: "
        "`sudo mab-doctor --fix --add-c-flag` re-registers the handler with C.")


@check(name="binfmt-handlers", title="binfmt_misc handler", category="emulation", per_target=True,
       requires=("binfmt-mount",), fixable=True)
def binfmt_handlers(ctx: Context) -> list[Result]:
    """What it checks: for every target this host cannot run natively, which binfmt_misc entry the kernel
    would really pick: each entry's mask is applied to the target's canonical ELF headers (static executable
    and PIE), newest registration first, as the kernel does, so Debian's, upstream QEMU's and tonistiigi's
    different masks all count. For that entry: enabled, the interpreter exists, is an ELF for this host and
    statically linked, the `F` flag is set, and it emulates this target (its `--version` on a live host, else
    its file name: qemu-aarch64-static, Debian's aarch64-binfmt-P; a WARN when neither tells). A static QEMU
    built without PIE on an x86-64 kernel with the brk randomisation change (5.4.283, 5.10.225, 5.15.166,
    6.1.107, 6.6.48, 6.9+) is a WARN, as is a QEMU version the matrix lists as known bad for this target.
    Shadowed and disabled duplicates are named. The `C` flag is reported, and its absence is a WARN when the
    project's Dockerfiles run a setuid program (sudo, su, ping, ...) in a RUN step as a non-root USER.

    Why it matters: without a handler a foreign RUN step fails with "exec format error"; without
    `F`, or with a dynamically linked interpreter, it works on the host but fails inside every
    container with "no such file or directory"; the emulator of another target fails every program
    with "Invalid ELF image for this architecture"; a non-PIE QEMU on such a kernel crashes at random
    ("Segmentation fault"); without `C`, an emulated setuid program runs with the caller's
    credentials ("effective uid is not 0").

    How to fix: `sudo mab-doctor --fix` registers the distribution's QEMU handler (installing
    qemu-user-static when no static emulator exists) with `F`, or replaces an entry lacking it or
    running another target's emulator; `mab-doctor undo` reverts that exactly. A non-PIE QEMU needs a
    static-PIE build (Debian 12: 1:7.2+dfsg-7+deb12u9 or later). `--fix --add-c-flag` also adds `C`
    (opt-in: QEMU then runs with the setuid program's privileges).
    """
    host = host_facts(ctx).platform
    found = listing(ctx)
    # `qemu --version` waits on a process per target: let them wait side by side.
    return ctx.map(lambda target: _one(ctx, target, host, found), ctx.targets)


def _one(ctx: Context, target, host, found) -> Result:
    name, where, platform = str(target), placement(ctx, target), target.platform
    if where.how == NATIVE:
        return Result.ok("native: no handler needed", target=name)
    if where.how == IMPOSSIBLE:  # a handler would capture the host's own programs too: no fix is offered
        return Result.fail(f"{name} cannot run here: {where.why}", target=name,
                           remediation=f"Build and test {name} on a machine whose CPU runs it (or in a full system "
                                       f"emulator); images for this host: {host.oci if host else 'see float-abi'}.")
    if not found.entries and binfmt_instance(ctx).userns.initial is False and not ctx.exists(f"{MOUNT_POINT}/status"):
        # Another user namespace with nothing mounted still uses the host's handlers (see binfmt-mount).
        return Result.skip("this user namespace shows no binfmt_misc: the host's handlers, which it uses, are not "
                           "visible from here", target=name, remediation="Run mab-doctor on the host itself.")
    handling = find_handling(found, platform)
    details = [f"unparsable entry: {g}" for g in found.garbage]
    if not found.ordered:
        details.append("registration order unknown for a captured tree: listing order assumed")
    details += [f"shadowed (older, never used): {e.name} -> {e.interpreter}" for e in handling.shadowed]
    details += [f"disabled: {e.name}" for e in handling.disabled]
    data = {"handler": None, "shadowed": [e.name for e in handling.shadowed],
            "disabled": [e.name for e in handling.disabled], "garbage": list(found.garbage)}
    winner = handling.winner
    if winner is None:
        if handling.disabled:
            entry = handling.disabled[0]
            return Result.fail(f"handler {entry.name} is registered but disabled", target=name,
                               details=details, data=data, fix=enable_entry_fix(entry),
                               remediation=f"Enable it: `echo 1 | sudo tee /proc/sys/fs/binfmt_misc/{entry.name}`")
        return Result.fail(f"no binfmt_misc handler for {name} ({platform.qemu_binary})", target=name,
                           details=details, data=data, fix=register_fix(ctx, platform),
                           remediation="Run `sudo mab-doctor --fix` (registers the distribution's QEMU handler "
                                       "with F). Other ways: " + requirement("qemu-handler-registered").remediation)
    return _judge(ctx, name, platform, winner, handling, details, data, host)


def _judge(ctx, name, platform, winner: Entry, handling, details, data, host) -> Result:
    interp = inspect_interpreter(ctx, winner.interpreter)
    identity = identify(ctx, winner, interp)  # `--version` runs only for a static ELF of this host
    data["handler"] = {"name": winner.name, "interpreter": winner.interpreter, "flags": winner.flags,
                       "resolved": interp.real, "static": interp.static, "static_pie": interp.static_pie,
                       "emulates": identity.cpu}
    details.insert(0, f"handler {winner.name}: interpreter {winner.interpreter}"
                      f"{' -> ' + interp.real if interp.real and interp.real != winner.interpreter else ''}, "
                      f"flags '{winner.flags}'")
    say = {"target": name, "details": details, "data": data}
    if not interp.exists:
        if "F" in winner.flags:
            return Result.warn(f"{winner.name}: interpreter {winner.interpreter} is gone; F keeps the "
                               f"opened copy working until the next reboot", fix=register_fix(ctx, platform, winner),
                               remediation="Reinstall qemu-user-static and re-register the handler.", **say)
        return Result.fail(f"{winner.name}: interpreter {winner.interpreter} does not exist "
                           f"(\"no such file or directory\" on every exec)", fix=register_fix(ctx, platform, winner),
                           remediation="Install qemu-user-static and re-register the handler.", **say)
    if interp.error or (host and interp.machine != host.elf_machine_name):
        what = interp.error or f"an {interp.machine} binary, not {host.elf_machine_name}"
        return Result.fail(f"{winner.name}: interpreter {interp.real} is {what}", fix=register_fix(ctx, platform, winner),
                           remediation="Install the emulator built for this host (qemu-user-static).", **say)
    if not interp.static:
        return Result.fail(f"{winner.name}: interpreter {interp.real} is dynamically linked "
                           f"({interp.dynamic_loader}): it cannot start inside containers",
                           fix=register_fix(ctx, platform, winner),
                           remediation=requirement("qemu-interpreter-static").remediation, **say)
    if "F" not in winner.flags:
        return Result.fail(f"{winner.name}: " + NO_F.format(interp=winner.interpreter),
                           fix=register_fix(ctx, platform, winner),
                           remediation=requirement("qemu-handler-fix-binary").remediation, **say)
    wrong = identity.mismatch(winner.name, interp.real, platform, name)
    if wrong:
        return Result.fail(wrong, fix=register_fix(ctx, platform, winner), **say,
                           remediation=f"Re-register the handler with qemu-{platform.qemu}: `sudo mab-doctor --fix`.")
    data["qemu_version"] = version = qemu_version(ctx, interp)
    doubts = emulator_doubts(ctx, winner, interp, platform, name, identity, version)
    if doubts:
        details += [d for doubt in doubts for d in doubt.details] + [f"also: {d.summary}" for d in doubts[1:]]
        return Result.warn(doubts[0].summary, remediation=doubts[0].remediation, **say)
    if handling.partial and winner in handling.partial:
        return Result.warn(f"{winner.name} matches only static executables or only PIEs of {name}",
                           fix=register_fix(ctx, platform, winner),
                           remediation="Re-register it with the upstream mask (e_type byte masked with \\xfe).", **say)
    # The project's Dockerfiles decide whether the missing C flag matters to this build.
    setuid = ctx.project.setuid_steps if "C" not in winner.flags and ctx.project is not None else []
    if setuid:
        program, where, user = setuid[0]
        details.append("setuid programs run as a non-root USER in this project: "
                       + ", ".join(f"{p} as {u} ({w})" for p, w, u in setuid))
        return Result.warn(f"{winner.name} has no C flag, and {where} runs the setuid program {program} as USER "
                           f"{user}: emulated, it runs without its privileges (sudo: \"effective uid is not 0\", "
                           f"su: \"must be suid to work properly\")",
                           fix=c_flag_fix(winner), remediation=NO_C, **say)
    extra = f", shadows {', '.join(e.name for e in handling.shadowed)}" if handling.shadowed else ""
    ver = f", QEMU {version}" if version else ""
    result = Result.warn if data["garbage"] else Result.ok
    return result(f"{winner.name} (flags {winner.flags}{ver}{extra})",
                  remediation="Remove or fix the unparsable binfmt_misc entries." if data["garbage"] else None,
                  **say)
