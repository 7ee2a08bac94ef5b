"""Check each emulated target has a working binfmt_misc handler: matched by mask, enabled, F, static."""

from __future__ import annotations

from mab_doctor.api import Context, Result, check
from mab_doctor.emulation.binfmt import Entry, find_handling, listing
from mab_doctor.emulation.qemu import inspect_interpreter, qemu_version
from mab_doctor.fix.plan import c_flag_fix, enable_entry_fix, register_fix
from mab_doctor.host.hostinfo import host_facts, is_native
from mab_doctor.host.matrix import requirement, version_lt

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
    """What it checks: for every target this host cannot run natively, which binfmt_misc entry the
    kernel would really pick: each entry's mask is applied to the target's canonical ELF headers
    (static executable and PIE), newest registration first, as the kernel does, so Debian's,
    upstream QEMU's and tonistiigi's different masks all count. For that entry: enabled, the
    interpreter exists, is an ELF for this host and statically linked, the `F` flag is set, and the
    QEMU version is not on the matrix's known-bad list. Shadowed and disabled duplicates are named.
    The `C` flag is reported, and its absence is a WARN when the project's Dockerfiles run a setuid
    program (sudo, su, ping, ...) in a RUN step as a non-root USER.

    Why it matters: without a handler a foreign RUN step fails with "exec format error"; without
    `F`, or with a dynamically linked interpreter, it works on the host but fails inside every
    container with "no such file or directory"; without `C`, an emulated setuid program runs with
    the caller's credentials ("effective uid is not 0").

    How to fix: `sudo mab-doctor --fix` registers the distribution's QEMU handler (installing
    qemu-user-static when no static emulator exists) with `F`, or replaces an entry lacking it;
    `mab-doctor undo` reverts that exactly. `--fix --add-c-flag` also adds `C` (opt-in: QEMU then
    runs with the setuid program's privileges).
    """
    host = host_facts(ctx).platform
    found = listing(ctx)
    # `qemu --version` waits on a process per target: let them wait side by side.
    return ctx.map(lambda target: _one(ctx, target, host, found), ctx.targets)


def _one(ctx: Context, target, host, found) -> Result:
    name = str(target)
    if is_native(ctx, target):
        return Result.ok("native: no handler needed", target=name)
    platform = target.platform
    if host is not None and (host.elf_machine, host.elf_class, host.endian) == \
            (platform.elf_machine, platform.elf_class, platform.endian):
        # Same ELF machine as the host's own binaries (arm/v7 on an ARMv6 host): a handler would
        # capture every native program too, so binfmt_misc cannot help; no fix is offered.
        return Result.fail(f"{name} cannot run here: its binaries share {host.oci}'s ELF machine, so "
                           f"binfmt_misc cannot send them to QEMU", target=name,
                           remediation=f"Build and test {name} on a machine whose CPU runs it (or in a full "
                                       f"system emulator); images for this host: {host.oci}.")
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
    data["handler"] = {"name": winner.name, "interpreter": winner.interpreter, "flags": winner.flags,
                       "resolved": interp.real, "static": interp.static}
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
    version = qemu_version(ctx, interp)
    data["qemu_version"] = version
    bad = [b for b in requirement("qemu-user-static").raw.get("known_bad", [])
           if version and not version_lt(version, b["version"]) and not version_lt(b["version"], version)]
    if bad:
        return Result.warn(f"{winner.name}: QEMU {version} is on the known-bad list: {bad[0]['why']}",
                           remediation=requirement("qemu-user-static").remediation, **say)
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
