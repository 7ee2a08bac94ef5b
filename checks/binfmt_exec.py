"""Check each target's probe program really runs: directly, and inside an empty chroot."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

from mab_doctor.api import CommandResult, Context, Result, check
from mab_doctor.emulation.binfmt import find_handling, listing
from mab_doctor.emulation.probes import EXIT_CODE, build_probe, has_probe
from mab_doctor.fix.plan import register_fix
from mab_doctor.host.hostinfo import host_facts, placement
from mab_doctor.host.placement import IMPOSSIBLE, NATIVE

# What each failure means, in the words a build log would show.
MEANING = {
    "ENOEXEC": "exec format error: no enabled handler matches this architecture",
    "ENOENT": "no such file or directory: the handler's interpreter is not reachable (no F flag, "
              "a dynamically linked interpreter, or the interpreter is missing)",
    "EACCES": "permission denied: the probe's directory may be mounted noexec",
}


def classify(res: CommandResult) -> str:
    """'ran' or a failure label: ENOEXEC, ENOENT, EACCES, signal N, exit N, timeout, not run."""
    if res.timed_out:
        return "timeout"
    if res.errno is not None:
        return errno.errorcode.get(res.errno, str(res.errno))
    if res.returncode is None:
        return "not run"
    if res.returncode == EXIT_CODE:
        return "ran"
    if res.returncode < 0:
        return f"signal {-res.returncode}"
    # chroot(1) reports its own exec failure: 126 found but not runnable, 127 not found. It uses
    # execvp, which retries an ENOEXEC file through /bin/sh, so in an empty chroot "exec format
    # error" also ends as 127; that is why the chroot run only follows a direct run that worked.
    if res.returncode in (126, 127) and "failed to run command" in res.stderr:
        for text, label in (("No such file", "ENOENT"), ("Exec format", "ENOEXEC"), ("Permission", "EACCES"),
                            ("Text file busy", "ETXTBSY")):  # the fork race below, met inside chroot(1)
            if text in res.stderr:
                return label
    return f"exit {res.returncode}"


@check(name="binfmt-exec", title="Execution probe", category="emulation", per_target=True, fixable=True)
def binfmt_exec(ctx: Context) -> list[Result]:
    """What it checks: runs a tiny static probe program for each target (hand-assembled machine
    code in a minimal ELF that only exits with code 61): once directly, proving the kernel and
    interpreter path, and once inside an empty temporary chroot when run as root, proving it also
    works in a container, where only the binfmt_misc `F` flag makes the interpreter reachable.
    Native targets are probed too: 32-bit ARM on an arm64 CPU without AArch32, or i386 on a kernel
    without IA32 emulation, needs a handler after all.

    Why it matters: this is the ground truth the other checks predict. "exec format error" means no
    handler; "no such file or directory" means the handler cannot reach its interpreter (inside
    containers: no `F`); a signal means the emulator crashed.

    How to fix: `sudo mab-doctor --fix` (registers or replaces the QEMU handler with `F`).
    """
    if not ctx.is_live:
        return [Result.skip("probes only run on the live host, not on a --root tree", target=str(t))
                for t in ctx.targets]
    host = host_facts(ctx).platform
    chroot = ctx.which("chroot") if ctx.is_root else None
    with ctx.scratch_dir() as scratch:
        # Every probe file is written and closed before any of them runs (see _run_probe).
        files = {str(t): _write_probes(scratch, t.platform) for t in ctx.targets if has_probe(t.platform)}
        # Probes wait on processes (QEMU start-up): run the targets side by side, keep their order.
        return ctx.map(lambda t: _probe(ctx, t, host, files.get(str(t)), chroot), ctx.targets)


def _write_probes(scratch: Path, platform) -> tuple[Path, Path]:
    """(probe to run directly, empty chroot holding only it, as /probe) for one platform: one file serves
    both runs (each file and folder made costs a journaled write)."""
    jail = scratch / platform.oci.replace("/", "_")
    jail.mkdir(parents=True, exist_ok=True)
    (jail / "probe").write_bytes(build_probe(platform))
    os.chmod(jail / "probe", 0o755)
    return jail / "probe", jail


def _run_probe(ctx: Context, *argv: str) -> str:
    # Another thread's fork can briefly hold a copy of a file descriptor we just closed; exec then
    # fails with ETXTBSY ("text file busy"). That says nothing about emulation: try again.
    for delay in (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 0.5):  # the window is a fork's, well under a millisecond
        label = classify(ctx.run(*argv))
        if label != "ETXTBSY":
            return label
        time.sleep(delay)
    return label


def _probe(ctx: Context, target, host, files: tuple[Path, Path] | None, chroot: str | None) -> Result:
    name, platform = str(target), target.platform
    where = placement(ctx, target)
    if where.how == IMPOSSIBLE:  # its probe would run natively and prove nothing about the real images
        return Result.fail(f"cannot run here: {where.why}", target=name, data={"placement": where.how},
                           remediation="Build this target on a machine that runs it (see float-abi for the variant "
                                       "this host runs).")
    if files is None:
        return Result.skip(f"no probe program for {name} yet", target=name)
    native = where.how == NATIVE
    winner = None if native else find_handling(listing(ctx), platform).winner
    via = "native" if native else (winner.name if winner else "no handler")
    implied = False
    if chroot and not native:
        # The chroot run first: a probe that ran in an empty chroot went through the handler and its F
        # flag, so a direct run would too (one process per target on a healthy host, not two).
        inside = _run_probe(ctx, chroot, str(files[1]), "/probe")
        implied = inside == "ran"
        direct = "ran" if implied else _run_probe(ctx, str(files[0]))
        if direct != "ran":
            inside = "not run"  # chroot's answer means something only after a direct run that worked (see classify)
    else:
        direct = _run_probe(ctx, str(files[0]))
        # A native binary involves no binfmt handler: in a container it runs exactly as it does here.
        inside = direct if native else "not run"
    facts = {"direct": direct, "chroot": inside, "via": via,
             "grid": {"runs": direct == "ran", "in container": inside == "ran" if native or (chroot and
                      direct == "ran") else None}}
    tested = (f"{inside} (native: no handler involved)" if native else inside if chroot
              else "not tested (needs root and chroot(1))")
    details = [f"direct run: {direct}" + (" (implied: it ran in the empty chroot)" if implied else ""),
               f"in an empty chroot: {tested}", f"path: {via}"]
    say = {"target": name, "details": details, "data": facts}
    fix = None if native and direct == "ran" else register_fix(ctx, platform, winner)
    if direct != "ran":
        meaning = MEANING.get(direct, "the emulator crashed or misbehaved" if direct.startswith(("signal", "exit"))
                              else direct)
        native_note = " (a target this CPU was expected to run natively)" if native else ""
        return Result.fail(f"probe does not run{native_note}: {direct}, {meaning}", fix=fix,
                           remediation="Register a QEMU handler with F: `sudo mab-doctor --fix`"
                           if direct in ("ENOEXEC", "ENOENT") else "Upgrade QEMU (qemu-user-static).", **say)
    if chroot and not native and inside != "ran":
        return Result.fail(f"runs on the host but not in a container: {inside}, {MEANING.get(inside, inside)}",
                           fix=fix, remediation="Re-register the handler with F and a static interpreter: "
                                                "`sudo mab-doctor --fix`", **say)
    # Without root there is no chroot: the F flag is then judged statically by binfmt-handlers.
    where = "directly and in an empty chroot" if chroot else "directly (in-container run needs root to test)"
    return Result.ok("runs natively" if native else f"runs {where} ({via})", **say)
