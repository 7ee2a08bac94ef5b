"""`mab-doctor why [LOGFILE|-]`: the known cause of a failed container build, read from its log."""

from __future__ import annotations

import os
import stat
import sys

from mab_doctor.commands.options import Options, UsageError, shown
from mab_doctor.commands.output import as_json, emit
from mab_doctor.engines.failures import MAX_CHARS as MAX_READ  # the classifier's own bound: read no more

_CHUNK = 1024 * 1024
MAX_TOTAL = 256 * 1024 * 1024  # an endless stream (`yes |`, a device) is cut here: no build log is that long
SCHEMA = "mab-doctor/why/v1"


def main(opts: Options) -> int:
    """Exit 0 when a known cause was found, 1 when none is known, 2 when the log cannot be read."""
    from dataclasses import asdict, replace

    from mab_doctor.engines.failures import classify
    from mab_doctor.report.escape import terminal_text

    if len(opts.args) > 1:
        raise UsageError("why takes one log file (- or none: standard input)")
    path = opts.args[0] if opts.args else "-"
    raw, skipped = _read_log(path)
    diagnosis = classify(raw.decode("utf-8", "replace"))
    # Lines dropped before the last 4 MiB still count: the numbers are those of the whole log.
    causes = [replace(c, line=c.line + skipped) for c in diagnosis.causes]
    if opts.format == "json":
        emit(opts, lambda _f: as_json({"schema": SCHEMA, "causes": [asdict(c) for c in causes],
                                       "tail": list(diagnosis.tail)}))
    else:
        emit(opts, lambda _f: terminal_text(_text(causes, diagnosis.tail)))
    return 0 if causes else 1


def _text(causes, tail) -> str:
    if not causes:
        lines = ["no known cause in this log"]
        if tail:
            lines += ["last error lines:"] + [f"  {line}" for line in tail]
        return "\n".join(lines) + "\n"
    blocks = [f"{c.title}\n  evidence (line {c.line}): {c.evidence}\n  → {c.remedy}" for c in causes]
    return "\n".join(blocks) + "\n"


def _read_log(path: str) -> tuple[bytes, int]:
    """The last MAX_READ bytes of the log and how many lines came before them; standard input for `-`."""
    if path == "-":
        stream = getattr(sys.stdin, "buffer", None)
        if stream is None:  # a text-only stdin (tests, embedding): take its text as UTF-8
            return _tail_of(lambda n: (sys.stdin.read(n) or "").encode("utf-8", "surrogateescape"))
        return _tail_of(stream.read)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOCTTY)
    except (OSError, ValueError) as exc:
        raise UsageError(f"why {shown(path)}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise UsageError(f"why {shown(path)}: a directory, not a log")
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISSOCK(mode):  # /dev/zero never ends
            raise UsageError(f"why {shown(path)}: a device or socket, not a log")
        with os.fdopen(fd, "rb", closefd=False) as fh:  # a FIFO is read like a pipe, to its end
            return _tail_of(fh.read)  # streamed: the lines before the tail are counted, not kept
    except OSError as exc:
        raise UsageError(f"why {shown(path)}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _tail_of(read) -> tuple[bytes, int]:
    """Read to the end in chunks, keeping the last MAX_READ bytes and counting the newlines dropped."""
    kept = bytearray()
    dropped_lines = total = 0
    while total < MAX_TOTAL:
        chunk = read(_CHUNK)
        if not chunk:
            break
        total += len(chunk)
        kept += chunk
        if len(kept) > 2 * MAX_READ:
            cut = len(kept) - MAX_READ
            dropped_lines += kept.count(b"\n", 0, cut)
            del kept[:cut]
    if len(kept) > MAX_READ:
        cut = len(kept) - MAX_READ
        dropped_lines += kept.count(b"\n", 0, cut)
        del kept[:cut]
    return bytes(kept), dropped_lines
