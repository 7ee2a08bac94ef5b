"""The shipped mab-doctor(1) page: equal to what the parsers render, clean roff, complete; exit codes in --help."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
from importlib import resources

import pytest

from helpers import PROJECT
from mab_doctor.cli import main
from mab_doctor.commands import COMMANDS, RUN
from mab_doctor.commands.arguments import EXIT_CODES, build_parser
from mab_doctor.commands.manpage import command_exits, render

SHIPPED = PROJECT / "doctor" / "data" / "mab-doctor.1"


def roff(text: str) -> str:
    return text.replace("-", "\\-")


def test_the_shipped_page_is_what_the_parsers_render():
    assert SHIPPED.read_text() == render(), "stale: run scripts/manpage"
    installed = resources.files("mab_doctor") / "data" / "mab-doctor.1"
    assert installed.read_text() == SHIPPED.read_text()


def test_the_page_renders_without_warnings():
    page = str(SHIPPED)
    if shutil.which("mandoc"):
        argv, env = ["mandoc", "-T", "lint", "-W", "warning", page], {}
    elif shutil.which("groff"):
        argv, env = ["groff", "-man", "-Tutf8", "-ww", "-z", page], {}
    elif shutil.which("man"):
        argv, env = ["man", "--warnings", "-l", page], {"MANWIDTH": "80", "MANPAGER": "cat", "PAGER": "cat"}
    else:
        pytest.skip("none of mandoc, groff or man is installed, so the page cannot be linted here")
    got = subprocess.run(argv, capture_output=True, text=True, timeout=60, env={**os.environ, **env})
    # mandoc lints to standard output; groff and man warn on standard error (man prints the page on stdout).
    said = (got.stderr + (got.stdout if argv[0] == "mandoc" else "")).splitlines()
    # The page has no date on purpose (render() must give the same page on any day): mandoc notes
    # that, and nothing else may be said.
    others = [line for line in said if "WARNING: missing date" not in line]
    assert others == [], "\n".join(others)
    assert got.returncode == (2 if argv[0] == "mandoc" and said else 0)


def test_the_page_reads_right_through_man():
    if not shutil.which("man"):
        pytest.skip("man is not installed, so the page cannot be formatted here")
    got = subprocess.run(["man", "-l", str(SHIPPED)], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "MANWIDTH": "80", "MANPAGER": "cat", "PAGER": "cat"})
    text = re.sub(r".\x08", "", got.stdout)   # no overstrike bold or underline
    for heading in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", "EXIT STATUS", "ENVIRONMENT",
                    "FILES", "SEE ALSO"):
        assert re.search(rf"^{heading}$", text, re.M), heading
    assert "mab-doctor - preflight doctor for Linux hosts" in " ".join(text.split())
    assert "--platform LIST" in text and "--color {auto|always|never}" in text


def test_every_command_and_option_is_in_the_page():
    page = SHIPPED.read_text()
    for command in COMMANDS:
        assert f"\\fB{roff(command.name)}\\fR" in page, command.name
    for command in (RUN, *COMMANDS):
        for action in build_parser(command)._actions:
            if action.help != argparse.SUPPRESS:
                for option in action.option_strings:
                    assert f"\\fB{roff(option)}\\fR" in page, (command.name, option)
    for name in ("MAB_PLATFORMS", "DOCKER_HOST", "DOCKER_CONFIG", "CI", "NO_COLOR", "MAB_DOCTOR_STATE_DIR",
                 "/var/lib/mab-doctor", "/etc/binfmt.d"):
        assert f".TP\n\\fB{roff(name)}\\fR\n" in page, name


def _readme_exit_codes() -> dict[str, str]:
    # The README's exit code table: the first row of each code, without the Markdown.
    rows: dict[str, str] = {}
    for line in (PROJECT / "README.md").read_text().splitlines():
        match = re.match(r"\| (\d+) \| (.*) \|$", line)
        if match:
            rows.setdefault(match.group(1), match.group(2).replace("`", ""))
    return rows


def test_help_lists_the_exit_codes_in_the_readme_words(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "\nexit codes:\n  0    no FAIL and no ERROR (WARN and SKIP allowed unless --strict)\n" in out
    assert "\n  130  interrupted (Ctrl-C): any run ends within a second, even with a check stuck\n" in out
    readme = _readme_exit_codes()
    assert set(readme) == {"0", "1", "2", "130"}
    assert dict(EXIT_CODES) == readme
    flat = " ".join(out.partition("\nexit codes:\n")[2].split())
    assert flat == " ".join(f"{code} {text}" for code, text in readme.items())


def test_exit_status_names_each_command_s_own_codes():
    by_name = {c.name: c for c in COMMANDS}
    assert command_exits(by_name["why"]) == ("Exit 0 when a cause was found, 1 when none is known (the last error "
                                             "lines are shown), 2 when the log cannot be read.")
    assert command_exits(by_name["report"]) == "Exits with the exit code the report recorded."
    assert command_exits(by_name["inspect"]).startswith("Exit 1 when no input could be read")
    assert command_exits(by_name["matrix"]) == ""
    page = SHIPPED.read_text()
    status = page.partition(".SH EXIT STATUS")[2].partition(".SH ")[0]
    assert ".TP\n\\fB130\\fR\ninterrupted (Ctrl\\-C)" in status
    assert ".TP\n\\fBwhy\\fR\nExit 0 when a cause was found" in status
    assert ".TP\n\\fBinspect\\fR\nExit 1 when no input" in status
