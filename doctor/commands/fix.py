"""`--fix` and `undo`: plan from the results, confirm, apply with a journal, re-check, show before/after."""

from __future__ import annotations

import os
import shlex
import sys
from argparse import Namespace
from contextlib import nullcontext

from mab_doctor.cli import UsageError, make_console
from mab_doctor.core.model import Outcome, exit_code

NEEDS_ROOT = ("mab-doctor: --fix changes the kernel's binfmt_misc and needs root: run it with sudo "
              "(or add --dry-run to only see the plan)")


def _context(args: Namespace):
    from mab_doctor.core.context import Context

    return Context(root=args.root, targets=args.targets, timeout=args.timeout)


def _check(args: Namespace) -> tuple[list[Outcome], object]:
    from mab_doctor.commands.run import collect, selected_checks

    checks, problems = selected_checks(args)
    ctx = _context(args)
    return collect(checks, ctx, problems, spinner=False, jobs=args.jobs), ctx


def _report(args: Namespace, console, title: str, outcomes: list[Outcome], ctx) -> None:
    from mab_doctor.host.hostinfo import host_summary
    from mab_doctor.report.text import render_text
    from mab_doctor.commands.run import native_map

    console.rule(title)
    render_text(console, outcomes, host=host_summary(ctx), targets=list(ctx.targets), native=native_map(ctx),
                exit_code=exit_code(outcomes, strict=args.strict), verbose=args.verbose, quiet=args.quiet)


def _confirm(args: Namespace, console) -> bool:
    if args.yes:
        return True
    if args.ci:
        console.print("Not applied: in CI mode --fix needs --yes.")
        return False
    if not sys.stdin.isatty():
        console.print("Not applied: stdin is not a terminal; pass --yes to apply without a prompt.")
        return False
    return console.input("Apply these changes? [y/N] ", markup=False).strip().lower() in ("y", "yes")


def _resolver(args: Namespace):
    # A register step deferred until its package is installed: resolve the definition then.
    from mab_doctor.host import platforms
    from mab_doctor.emulation.qemu import best_definition

    def resolve(name: str) -> str | None:
        platform = next((p for p in platforms.PLATFORMS if f"qemu-{p.qemu}" == name), None)
        found = best_definition(_context(args), platform) if platform else None
        return found[0] if found else None
    return resolve


def run_fix(args: Namespace) -> int:
    """Plan, confirm, apply and verify; exit 0 only if every selected check passes afterwards."""
    from mab_doctor.fix.plan import plan
    from mab_doctor.fix.journal import FixError, Journal, apply, fix_lock

    if not os.path.samefile(args.root, "/"):
        raise UsageError("--fix works on the live host only, not with --root")
    console = make_console(args)
    with nullcontext() if args.dry_run else fix_lock():
        before, ctx = _check(args)
        actions = plan(before, persist=args.persist)
        if not args.dry_run and os.geteuid() != 0 and any(a.needs_root for a in actions):
            print(NEEDS_ROOT, file=sys.stderr)  # one line, nothing changed
            return 1
        _report(args, console, "before --fix", before, ctx)
        if not actions:
            console.print("\nNothing --fix can do here" + ("" if args.persist else " (add --persist to also "
                          "persist handlers)") + ".")
            return _verdict(args, before)
        console.print(f"\nPlan ({len(actions)} step{'s' if len(actions) > 1 else ''}, as root):")
        for i, action in enumerate(actions, 1):
            console.print(f"  {i}. {shlex.join(action.command())}", markup=False, highlight=False)
        if args.dry_run:
            console.print("Dry run: nothing was changed.")
            return _verdict(args, before)
        if not _confirm(args, console):
            return _verdict(args, before, 1)
        journal = Journal.begin()
        try:
            apply(actions, journal, _resolver(args), lambda msg: console.print(f"  applying: {msg}"))
        except (FixError, OSError) as exc:
            console.print(f"mab-doctor: fix failed: {exc}. `sudo mab-doctor undo` reverts what was applied "
                          f"(journal {journal.path}).", markup=False)
        console.print(f"Journal: {journal.path} (`sudo mab-doctor undo` reverts it)", markup=False)
        after, ctx = _check(args)
        _report(args, console, "after --fix", after, ctx)
    _before_after(console, before, after)
    return _verdict(args, after)


def _verdict(args: Namespace, outcomes: list[Outcome], code: int | None = None) -> int:
    # CI mode ends every run with the same one-line verdict as a plain run.
    from mab_doctor.commands.run import verdict

    code = exit_code(outcomes, strict=args.strict) if code is None else code
    if args.ci:
        print(verdict(outcomes, code), file=sys.stderr)
    return code


def _before_after(console, before: list[Outcome], after: list[Outcome]) -> None:
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


def run_undo(args: Namespace) -> int:
    """Revert the newest --fix from its journal, exactly; completes a half-applied one too."""
    from mab_doctor.fix.journal import FixError, Journal, fix_lock, undo

    console = make_console(args)
    with fix_lock():
        journal = Journal.latest()
        if journal is None:
            console.print("Nothing to undo: no --fix journal is pending.")
            return 0
        try:
            notes = undo(journal, lambda msg: console.print(f"  {msg}", markup=False))
        except (FixError, OSError) as exc:
            console.print(f"mab-doctor: undo failed: {exc}; run `sudo mab-doctor undo` again after fixing "
                          f"the cause (journal {journal.path})", markup=False)
            return 1
    for note in notes:
        console.print(note, markup=False)
    console.print(f"Undone: {journal.path}", markup=False)
    return 0
