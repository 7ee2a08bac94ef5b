"""`mab-doctor undo`: revert the newest --fix exactly from its journal (a half-applied one too), and only
while the host still holds what that fix left."""

from __future__ import annotations

from mab_doctor.commands.options import Options, UsageError
from mab_doctor.commands.output import console as make_console


def main(opts: Options) -> int:
    """Exit 0 when reverted or nothing was pending, 1 when refused or a step could not be undone."""
    from mab_doctor.fix.journal import FixError, HostChanged, Journal, fix_lock, undo

    if opts.args:
        raise UsageError("undo takes no arguments")
    console = make_console(opts)

    def say(text: str) -> None:
        console.print(text, markup=False, highlight=False)
    try:
        with fix_lock():
            chosen = Journal.pick(force=opts.force)
            for note in chosen.notes:
                say(note)
            journal = chosen.journal
            if journal is None:
                say("Nothing to undo: no --fix journal is pending.")
                return 0
            say(f"Reverting the {journal.describe()}")
            try:
                notes = undo(journal, lambda msg: say(f"  {msg}"), force=opts.force)
            except HostChanged as exc:
                say("mab-doctor: undo refused: the host changed since that --fix, and undo would overwrite it:")
                for difference in exc.differences:
                    say(f"  {difference}")
                say("Nothing was reverted. `sudo mab-doctor undo --force` reverts it anyway.")
                return 1
            except (FixError, OSError) as exc:
                say(f"mab-doctor: undo failed: {exc}; run `sudo mab-doctor undo` again after fixing the cause "
                    f"(journal {journal.path})")
                return 1
    except PermissionError as exc:
        say(f"mab-doctor: undo needs the rights of the user who ran --fix ({exc.filename}: {exc.strerror}); "
            f"try `sudo mab-doctor undo`")
        return 1
    except (FixError, OSError) as exc:  # the lock is held, or the state directory cannot be used
        say(f"mab-doctor: undo: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}"
            + (f" ({exc.filename})" if isinstance(exc, OSError) and exc.filename else ""))
        return 1
    for note in notes:
        say(note)
    say(f"Undone: {journal.path}")
    return 0
