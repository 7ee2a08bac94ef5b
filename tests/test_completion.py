"""`mab-doctor completion`: the bash script really completes in bash; zsh and fish scripts parse."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys

import pytest

from mab_doctor.cli import main

BINFMT_CHECKS = {"binfmt-kernel", "binfmt-mount", "binfmt-handlers", "binfmt-exec", "binfmt-persist"}

# Source the script, find the function `complete` registered for mab-doctor, call it the way bash
# does (COMP_WORDS split as readline splits them, '=' apart), print what it offers, one per line.
_DRIVER = r"""
source "$1"; shift
spec=$(complete -p mab-doctor) || exit 3
fn=${spec#*-F }; fn=${fn%% *}
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()
"$fn" mab-doctor "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"""


def _script(shell: str, tmp_path_factory) -> str:
    got = subprocess.run([sys.executable, "-m", "mab_doctor", "completion", shell], capture_output=True,
                         text=True, timeout=60)
    assert got.returncode == 0 and got.stderr == "", got.stderr
    path = tmp_path_factory.mktemp("completion") / f"mab-doctor.{shell}"
    path.write_text(got.stdout)
    return str(path)


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory) -> str:
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    return _script("bash", tmp_path_factory)


def offered(script: str, *words: str) -> list[str]:
    got = subprocess.run(["bash", "--norc", "--noprofile", "-c", _DRIVER, "bash", script, "mab-doctor", *words],
                         capture_output=True, text=True, timeout=30)
    assert got.returncode == 0 and got.stderr == "", got.stderr
    return [w for w in got.stdout.split("\n") if w]


def test_command_words(bash_script):
    assert offered(bash_script, "ex") == ["explain"]
    assert set(offered(bash_script, "help", "ins")) == {"inspect", "install-docker-plugin"}
    assert offered(bash_script, "--ci", "--output", "r.json", "pla") == ["platform", "plan"]


def test_check_names(bash_script):
    assert set(offered(bash_script, "explain", "bin")) == BINFMT_CHECKS
    assert set(offered(bash_script, "fix", "binfmt-")) == BINFMT_CHECKS
    assert offered(bash_script, "explain", "binfmt-mount", "") == []   # explain takes one name
    # the default run: a first word that is a check makes the rest check names, not commands
    assert offered(bash_script, "host-platform", "ex") == []
    assert offered(bash_script, "host-platform", "kernel-v") == ["kernel-version"]


def test_option_values(bash_script):
    assert offered(bash_script, "--format", "") == ["text", "json", "junit", "github", "markdown"]
    assert offered(bash_script, "list", "--format", "") == ["text", "json"]
    assert offered(bash_script, "--format", "=", "j") == ["json", "junit"]   # --format=j, split by bash
    assert offered(bash_script, "--color", "a") == ["auto", "always"]
    assert offered(bash_script, "completion", "") == ["bash", "zsh", "fish"]
    assert offered(bash_script, "--timeout", "") == []


def test_platform_lists_complete_the_last_item(bash_script):
    got = offered(bash_script, "--platform", "linux/arm64,linux/ar")
    assert got == ["linux/arm64,linux/arm/v8", "linux/arm64,linux/arm/v7", "linux/arm64,linux/arm/v6",
                   "linux/arm64,linux/arm/v5"]   # arm64 is already in the list
    assert offered(bash_script, "--platform", "linux/ri") == ["linux/riscv64"]
    assert offered(bash_script, "--platform", "=", "linux/amd64,linux/s3") == ["linux/amd64,linux/s390x"]


def test_options_per_command(bash_script):
    assert set(offered(bash_script, "undo", "--")) == {"--help", "--yes", "--force", "--ci", "--color"}
    assert offered(bash_script, "--ci", "list", "--f") == ["--format"]
    assert offered(bash_script, "--add") == ["--add-c-flag"]
    assert "--jobs" not in offered(bash_script, "--")   # hidden from --help, hidden here


def test_files_for_file_operands(bash_script, tmp_path):
    (tmp_path / "build.log").write_text("x")
    assert offered(bash_script, "why", str(tmp_path / "bu")) == [str(tmp_path / "build.log")]


def test_every_command_and_option_is_offered(bash_script):
    # Drift guard: what the table and the parsers hold, the script offers.
    from mab_doctor.checks import BUILTIN
    from mab_doctor.commands import COMMANDS, RUN
    from mab_doctor.commands.arguments import build_parser

    first = offered(bash_script, "")
    assert set(first) == {c.name for c in COMMANDS} | {c.name for c in BUILTIN}
    for command in (RUN, *COMMANDS):
        words = [] if command is RUN else [command.name]
        want = {s for a in build_parser(command)._actions if a.help != argparse.SUPPRESS for s in a.option_strings}
        assert set(offered(bash_script, *words, "-")) == want, command.name


@pytest.mark.parametrize("shell, check", [("zsh", ["zsh", "-n"]), ("fish", ["fish", "--no-execute"])])
def test_zsh_and_fish_scripts_parse(shell, check, tmp_path_factory):
    if shutil.which(check[0]) is None:
        pytest.skip(f"{shell} is not installed, so its script's syntax cannot be checked here")
    script = _script(shell, tmp_path_factory)
    got = subprocess.run([*check, script], capture_output=True, text=True, timeout=30)
    assert got.returncode == 0 and got.stderr == "", got.stderr


def test_fish_completes_like_bash(tmp_path_factory):
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed, so its completions cannot be run here")
    script = _script("fish", tmp_path_factory)

    def fish(line: str) -> list[str]:
        got = subprocess.run(["fish", "--no-config", "-c", f"source {script}; complete -C '{line}'"],
                             capture_output=True, text=True, timeout=30)
        return [row.split("\t")[0] for row in got.stdout.splitlines()]

    assert fish("mab-doctor ex") == ["explain"]
    assert set(fish("mab-doctor explain binfmt-")) == BINFMT_CHECKS
    assert "linux/arm64,linux/arm/v7" in fish("mab-doctor --platform linux/arm64,linux/arm/")


def test_an_unknown_shell_is_a_usage_error(capsys):
    assert main(["completion", "tcsh"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == "mab-doctor: error: completion: unknown shell 'tcsh' (known: bash, zsh, fish)\n"
    assert main(["completion"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
