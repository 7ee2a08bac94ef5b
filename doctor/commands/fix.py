"""`mab-doctor --fix` (or `fix`): plan from a fresh run, confirm, apply through a journal, check again."""

from __future__ import annotations

import dataclasses
import os
import shlex
import sys
from contextlib import nullcontext

from mab_doctor.commands.checking import run_once
from mab_doctor.commands.output import console as make_console
from mab_doctor.commands.options import Options, Sink, UsageError
from mab_doctor.commands.reporting import build_report, finish, render

NEEDS_ROOT = ("mab-doctor: --fix changes the kernel's binfmt_misc and needs root: run it with sudo "
              "(or add --dry-run to only see the plan)")


def main(opts: Options) -> int:
    """Plan, confirm, apply and verify; exit 0 only if every selected check passes afterwards."""
    from mab_doctor.fix.journal import FixError

    if not os.path.samefile(opts.root, "/"):
        raise UsageError("--fix works on the live host only, not with --root")
    console = make_console(opts)
    try:
        return _fix(opts, console)
    except (FixError, OSError) as exc:  # the lock is held, or the state directory cannot be used
        where = f" ({exc.filename})" if isinstance(exc, OSError) and exc.filename else ""
        print(f"mab-doctor: --fix: {getattr(exc, 'strerror', None) or exc}{where}", file=sys.stderr)
        return 1


def _fix(opts: Options, console) -> int:
    from mab_doctor.fix.journal import FixError, Journal, apply, fix_lock
    from mab_doctor.fix.plan import make_plan, resolver

    with nullcontext() if opts.dry_run else fix_lock():
        before = _checked(opts)
        # add_c_flag only when asked: make_plan stand-ins that predate the option keep working.
        plan = make_plan(before.outcomes, persist=opts.persist, **({"add_c_flag": True} if opts.add_c_flag else {}))
        if not opts.dry_run and os.geteuid() != 0 and plan.needs_root:
            print(NEEDS_ROOT, file=sys.stderr)  # one line, nothing changed
            return 1
        _show(console, opts, before, "before --fix")
        _show_plan(console, plan, before.report, opts)
        if not plan.actions or opts.dry_run:
            return finish(opts, before.report)
        if not _confirm(opts, console):
            return finish(opts, before.report, 1)
        journal = Journal.for_fix()
        if journal.continued:  # one undo then reverts the killed run's steps and this run's together
            console.print(f"Continuing the {journal.continued}", markup=False)
        failure = None
        try:
            apply(list(plan.actions), journal, resolver(lambda: _context(opts)),
                  lambda msg: console.print(f"  applying: {msg}", markup=False))
        except (FixError, OSError) as exc:
            failure = str(exc)
            console.print(f"mab-doctor: fix failed: {exc}. `sudo mab-doctor undo` reverts what was applied "
                          f"(journal {journal.path}).", markup=False)
        journal.finish(failure)
        console.print(f"Journal: {journal.path} (`sudo mab-doctor undo` reverts it)", markup=False)
        # The build probe verifies a whole fix (the kernel's answer is not yet the builder's); a fix of
        # named checks is verified by those checks, and by the probe when --build or its name asks.
        after = _checked(dataclasses.replace(opts, build=opts.build or not opts.names))
        _show(console, opts, after, "after --fix")
    _before_after(console, before.outcomes, after.outcomes)
    return finish(opts, after.report)


class _Run:
    """One run's outcomes and its Report."""

    def __init__(self, outcomes, report):
        self.outcomes, self.report = outcomes, report


def _context(opts: Options):
    from mab_doctor.commands.checking import make_context

    return make_context(opts)


def _checked(opts: Options) -> _Run:
    outcomes, ctx, wall = run_once(opts)
    return _Run(outcomes, build_report(opts, outcomes, ctx, wall))


def _show(console, opts: Options, run: _Run, title: str) -> None:
    console.rule(title)
    sys.stdout.write(render(run.report, Sink("text"), opts))
    sys.stdout.flush()


def _show_plan(console, plan, report, opts: Options) -> None:
    """The plan as commands (never wrapped: each must paste whole), or why there is nothing to do."""
    hints = _held_hints(plan)
    if plan.actions:
        steps = len(plan.actions)
        console.print(f"\nPlan ({steps} step{'s' if steps > 1 else ''}):")
        for i, action in enumerate(plan.actions, 1):
            root = "sudo " if action.needs_root else ""
            console.print(f"  {i}. {root}{shlex.join(action.argv)}", markup=False, highlight=False,
                          soft_wrap=True)
        if hints:
            console.print(f"Not in this plan: {' '.join(hints)}", markup=False)
        if opts.dry_run:
            console.print("Dry run: nothing was changed.")
        return
    # Every empty plan starts with the same words; what follows says why.
    reasons = list(hints)
    if plan.unfixable:
        reasons.append("no automatic fix for " + ", ".join(plan.unfixable)
                       + ": follow the remediation under each row above.")
    console.print("\nNothing to change: " + (" ".join(reasons) if reasons
                                              else "no selected check reported a problem."), markup=False)


# Why each option's steps are held back until it is given: what they would do, and its price.
_HELD = {
    "--persist": ("would also make the handlers survive a reboot", ""),
    "--add-c-flag": ("would add the C flag, so setuid programs keep their privileges under emulation",
                     " (opt-in: QEMU then runs with the setuid program's credentials, so a flaw in QEMU "
                     "becomes a privilege escalation)"),
}


def _held_hints(plan) -> list[str]:
    """One sentence per option whose steps the plan held back."""
    options = plan.held_for
    hints = []
    for option in dict.fromkeys(options):
        count = options.count(option)
        what, price = _HELD.get(option, ("are held back", ""))
        hints.append(f"{count} step{'s' if count != 1 else ''} {what}: add {option} to include "
                     f"{'them' if count != 1 else 'it'}{price}.")
    return hints


def _confirm(opts: Options, console) -> bool:
    if opts.yes:
        return True
    if opts.ci:
        console.print("Not applied: in CI mode --fix needs --yes.")
        return False
    if not sys.stdin.isatty():
        console.print("Not applied: stdin is not a terminal; pass --yes to apply without a prompt.")
        return False
    return console.input("Apply these changes? [y/N] ", markup=False).strip().lower() in ("y", "yes")


def _before_after(console, before: list, after: list) -> None:
    was = {(o.check.name, o.result.target): o.status for o in before}

    def before_status(key):  # a blocked per-target check had one untargeted SKIP row before
        return was.get(key, was.get((key[0], None)))
    changed = [(k, before_status(k), o.status) for o in after
               if before_status(k := (o.check.name, o.result.target)) != o.status]
    if changed:
        console.print("\nChanged by --fix:")
    for (name, target), old, new in changed:
        label = name + (f" [{target}]" if target else "")
        console.print(f"  {label}: {old.name if old else 'new'} -> {new.name}", markup=False)
