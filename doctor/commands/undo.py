"""`mab-doctor undo`: revert the newest --fix exactly from its journal (a half-applied one too)."""

from __future__ import annotations

from mab_doctor.commands.options import Options, UsageError
from mab_doctor.commands.output import console as make_console


def main(opts: Options) -> int:
    """Exit 0 when reverted or nothing was pending, 1 when a step could not be undone."""
    from mab_doctor.fix.journal import FixError, Journal, fix_lock, undo

    if opts.args:
        raise UsageError("undo takes no arguments")
    console = make_console(opts)
    try:
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
    except PermissionError as exc:
        console.print(f"mab-doctor: undo needs the rights of the user who ran --fix ({exc.filename}: "
                      f"{exc.strerror}); try `sudo mab-doctor undo`", markup=False)
        return 1
    except (FixError, OSError) as exc:  # the lock is held, or the state directory cannot be used
        console.print(f"mab-doctor: undo: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}"
                      + (f" ({exc.filename})" if isinstance(exc, OSError) and exc.filename else ""), markup=False)
        return 1
    for note in notes:
        console.print(note, markup=False)
    console.print(f"Undone: {journal.path}", markup=False)
    return 0
