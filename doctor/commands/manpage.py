"""The mab-doctor(1) manual page, rendered as roff from the command table and the real parsers."""

from __future__ import annotations

import re
import textwrap

from mab_doctor.commands import COMMANDS, RUN, Command
from mab_doctor.commands.arguments import EXIT_CODES, PROG, build_parser, visible_actions

SHIPPED = "data/mab-doctor.1"   # inside the package; scripts/manpage writes it, a test keeps it equal to render()
# The page carries no date: render() must give the same page on any day, or the shipped one would go stale daily.

ENVIRONMENT = (
    ("MAB_PLATFORMS", "The target platforms when --platform is not given, in the same comma-separated syntax; "
                      "it wins over the platforms the project's build files name."),
    ("DOCKER_HOST", "The Docker daemon the checks ask. When it runs elsewhere (ssh://, a remote tcp://, Docker "
                    "Desktop, Colima), this host's binfmt_misc says nothing about its builds, and the report "
                    "says so."),
    ("DOCKER_CONFIG", "The Docker CLI's configuration folder (default ~/.docker): buildx is looked up in its "
                      "cli-plugins folder, and the experimental switch that --fix may turn on is in its "
                      "config.json."),
    ("CI", "true (also 1 or yes) turns CI mode on, as --ci does."),
    ("NO_COLOR", "When set, no colour, unless --color always."),
    ("MAB_DOCTOR_STATE_DIR", "Where --fix keeps its journals and its lock, and undo looks for them; without it, "
                             "/var/lib/mab-doctor for root, else $XDG_STATE_HOME/mab-doctor "
                             "(~/.local/state/mab-doctor)."),
    ("GITHUB_STEP_SUMMARY", "With --format github, the file the step summary is appended to."),
)
FILES = (
    ("/var/lib/mab-doctor", "The journals of --fix (folder 0700, journals 0600) and the lock that keeps two fixes "
                            "apart, when run as root; undo reverts from the newest journal that changed something."),
    ("/etc/binfmt.d", "Where --fix --persist writes one file per QEMU handler, so systemd registers the handlers "
                      "again at boot."),
    ("/proc/sys/fs/binfmt_misc", "The kernel's handler table that the checks read and --fix changes."),
)
SEE_ALSO = ("docker(1)", "podman(1)", "buildah(1)", "binfmt.d(5)", "systemd-binfmt.service(8)", "update-binfmts(8)")


def esc(text: str) -> str:
    """Plain text as roff: backslashes and hyphens escaped, `code` in bold, anything beyond ASCII named."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    text = re.sub(r"`([^`]+)`", r"\\fB\1\\fR", text).replace("`", "\\(ga")
    text = "".join(c if ord(c) < 128 else f"\\[u{ord(c):04X}]" for c in text)
    # A line that starts with a dot or a quote would be read as a request.
    return "\n".join("\\&" + line if line[:1] in (".", "'") else line for line in text.split("\n"))


def _usage(command: Command) -> str:
    words = "" if command is RUN else f" \\fB{esc(command.name)}\\fR"
    if command.operand:
        name, nargs, _ = command.operand
        shown = f"\\fI{esc(name)}\\fR"
        words += {None: f" {shown}", "?": f" [{shown}]", "*": f" [{shown} ...]", "+": f" {shown} ..."}[nargs]
    return words + (" [\\fIoptions\\fR]" if len(visible_actions(command)) > 1 else "")  # more than --help alone


def _shown_name(command: Command) -> str:
    return "the default run" if command is RUN else command.name


def _options_by_string() -> dict[tuple[str, ...], dict[tuple, list[str]]]:
    # Every visible option of every command's real parser, in order of first appearance; one entry per
    # distinct (help, choices, metavar), naming the commands that take the option that way.
    found: dict[tuple[str, ...], dict[tuple, list[str]]] = {}
    for command in (RUN, *COMMANDS):
        for a in visible_actions(command):
            key = (" ".join(a.help.split()), tuple(a.choices or ()), a.metavar if a.nargs != 0 else None)
            found.setdefault(tuple(a.option_strings), {}).setdefault(key, []).append(_shown_name(command))
    return found


def _option_head(strings: tuple[str, ...], variants) -> str:
    names = ", ".join(f"\\fB{esc(s)}\\fR" for s in strings)
    choices = list(dict.fromkeys(c for _, cs, _ in variants for c in cs))
    metavar = next((m for _, _, m in variants if m), None)
    if choices:
        return f"{names} {{{'|'.join(esc(c) for c in choices)}}}"
    return f"{names} \\fI{esc(metavar)}\\fR" if metavar else names


def _options() -> list[str]:
    lines = []
    for strings, variants in _options_by_string().items():
        lines += [".TP", _option_head(strings, variants)]
        for i, ((text, choices, _), commands) in enumerate(variants.items()):
            values = f" One of: {', '.join(choices)}." if choices and len(variants) > 1 else ""
            takers = "every command" if len(commands) == len(COMMANDS) + 1 else ", ".join(commands)
            lines += ([".IP"] if i else []) + [esc(f"{text[:1].upper()}{text[1:]}.{values} Taken by {takers}.")]
    return lines


def command_exits(command: Command) -> str:
    """What a command's own details say about its exit code, sentence by sentence."""
    said = []
    for sentence in re.split(r"(?<=\.)\s+(?=[A-Z`])", command.details):
        for clause in sentence.split("; "):
            if re.search(r"\bexit", clause, re.I):
                said.append(clause[:1].upper() + clause[1:] + ("" if clause.endswith(".") else "."))
    return " ".join(said)


def _commands() -> list[str]:
    lines = []
    for command in (RUN, *COMMANDS):
        head = f"\\fB{esc(PROG)}\\fR{_usage(command)}" if command is RUN else _usage(command).lstrip()
        text = command.summary[:1].upper() + command.summary[1:] + "."
        lines += [".TP", head, esc(f"{text} {command.details}".strip())]
        accepted = [s for a in visible_actions(command) for s in a.option_strings if s not in ("-h", "--help")]
        if accepted:
            lines += [".IP", esc("Options: " + ", ".join(accepted) + ".")]
    return lines


def _filled(line: str) -> str:
    # Text lines wrapped under 80 columns (they read better in the source, and linters ask for it); a
    # wrapped line that starts with a dot or a quote is escaped like any other.
    if line.startswith("."):
        return line
    pieces = textwrap.wrap(line, 79, break_long_words=False, break_on_hyphens=False) or [line]
    return "\n".join(p if i == 0 or p[:1] not in (".", "'") else "\\&" + p for i, p in enumerate(pieces))


def _pairs(items) -> list[str]:
    return [line for name, text in items for line in (".TP", f"\\fB{esc(name)}\\fR", esc(text))]


def render() -> str:
    """The whole page, in roff (man macros)."""
    from mab_doctor import __version__

    run = build_parser(RUN)
    synopsis = []
    for command in (RUN, *COMMANDS):
        synopsis += [".br"] if synopsis else []
        synopsis += [f".B {esc(PROG)}", _usage(command).lstrip() or "\\&"]
    exits = [(c.name, said) for c in COMMANDS if (said := command_exits(c))]
    lines = [
        f'.\\" Generated from {PROG}\'s own command table and parsers by scripts/manpage; do not edit.',
        f'.TH {esc(PROG.upper())} 1 "" "{esc(PROG)} {esc(__version__)}" "User Commands"',
        ".nh", ".ad l",  # option names must never be hyphenated, and ragged right reads better with them
        ".SH NAME", f"{esc(PROG)} \\- preflight doctor for Linux hosts that build multi\\-architecture container images",
        ".SH SYNOPSIS", *synopsis,
        ".SH DESCRIPTION", esc(" ".join((run.description or "").split())),
        ".PP", esc(f"Each finding is OK, WARN, FAIL, SKIP or ERROR, with the evidence that was read and a "
                   f"remedy; what a machine can repair, --fix repairs, through a journal that `{PROG} undo` "
                   f"reverts. The host is read through files and commands bounded by --timeout, so --root "
                   f"also judges a mounted image or a captured tree. `{PROG} list` names the checks and "
                   f"`{PROG} explain NAME` explains one."),
        ".SH COMMANDS", *_commands(),
        ".SH OPTIONS", *_options(),
        ".SH EXIT STATUS", *_pairs(EXIT_CODES),
        ".PP", "Some commands say more:", *_pairs(exits),
        ".SH ENVIRONMENT", *_pairs(ENVIRONMENT),
        ".SH FILES", *_pairs(FILES),
        ".SH SEE ALSO", ",\n".join(f"\\fB{esc(n.partition('(')[0])}\\fR({n.partition('(')[2]}" for n in SEE_ALSO),
    ]
    return "\n".join(_filled(line) for part in lines for line in part.split("\n")) + "\n"
