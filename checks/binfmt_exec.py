"""Check each target's probe program really runs: directly, and inside an empty chroot."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

from doctor.api import CommandResult, Context, Result, check
from doctor.binfmt import find_handling, listing
from doctor.fixes import register_fix
from doctor.hostinfo import host_facts
from doctor.platforms import runs_natively
from doctor.probes import EXIT_CODE, build_probe, has_probe

# What each failure means, in the words a build log would show.
MEANING = {
    "ENOEXEC": "exec format error: no enabled handler matches this architecture",
    "ENOENT": "no such file or directory: the handler's interpreter is not reachable (no F flag, "
              "a dynamically linked interpreter, or the interpreter is missing)",
    "EACCES": "permission denied: the probe's directory may be mounted noexec",
}


# chroot(1) uses execvp, which retries an ENOEXEC file through /bin/sh: in an empty chroot that
# turns "exec format error" into "no such file or directory". A direct execv has no such fallback.
CHROOT_EXEC = ("import errno, os, sys\n"
               "os.chroot(sys.argv[1]); os.chdir('/')\n"
               "try:\n    os.execv(sys.argv[2], [sys.argv[2]])\n"
               "except OSError as exc:\n"
               "    sys.stderr.write('exec-errno ' + errno.errorcode.get(exc.errno, str(exc.errno)))\n"
               "    sys.exit(125)\n")


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
    if res.returncode == 125 and res.stderr.startswith("exec-errno "):
        return res.stderr.split()[1]
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
    with ctx.scratch_dir() as scratch:
        return [_probe(ctx, t, host, scratch, ctx.is_root) for t in ctx.targets]


def _write_probe(folder: Path, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "probe"
    path.write_bytes(data)
    os.chmod(path, 0o755)
    return path


def _probe(ctx: Context, target, host, scratch: Path, chroot: bool) -> Result:
    name, platform = str(target), target.platform
    if not has_probe(platform):
        return Result.skip(f"no probe program for {name} yet", target=name)
    native = host is not None and runs_natively(host, target)
    winner = None if native else find_handling(listing(ctx), platform).winner
    via = "native" if native else (winner.name if winner else "no handler")
    data = build_probe(platform)
    direct = classify(ctx.run(str(_write_probe(scratch / name.replace("/", "_"), data))))
    inside = "not run"
    if chroot:
        jail = scratch / ("jail-" + name.replace("/", "_"))
        _write_probe(jail, data)
        inside = classify(ctx.run(sys.executable, "-c", CHROOT_EXEC, str(jail), "/probe"))
    facts = {"direct": direct, "chroot": inside, "via": via,
             "grid": {"runs": direct == "ran", "in container": inside == "ran" if chroot else None}}
    details = [f"direct run: {direct}", f"in an empty chroot: {inside if chroot else 'not tested (needs root)'}",
               f"path: {via}"]
    say = {"target": name, "details": details, "data": facts}
    fix = None if native and direct == "ran" else register_fix(ctx, platform, winner)
    if direct != "ran":
        meaning = MEANING.get(direct, "the emulator crashed or misbehaved" if direct.startswith(("signal", "exit"))
                              else direct)
        native_note = " (a target this CPU was expected to run natively)" if native else ""
        return Result.fail(f"probe does not run{native_note}: {direct}, {meaning}", fix=fix,
                           remediation="Register a QEMU handler with F: `sudo mab-doctor --fix`"
                           if direct in ("ENOEXEC", "ENOENT") else "Upgrade QEMU (qemu-user-static).", **say)
    if chroot and inside != "ran":
        return Result.fail(f"runs on the host but not in a container: {inside}, {MEANING.get(inside, inside)}",
                           fix=fix, remediation="Re-register the handler with F and a static interpreter: "
                                                "`sudo mab-doctor --fix`", **say)
    # Without root there is no chroot: the F flag is then judged statically by binfmt-handlers.
    where = "directly and in an empty chroot" if chroot else "directly (in-container run needs root to test)"
    return Result.ok(f"runs {where} ({via})", **say)
