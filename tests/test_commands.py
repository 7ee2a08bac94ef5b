"""Command layer: per-command help, options each command accepts, the usage fixes, `report FILE`."""

from __future__ import annotations

import json

import pytest

from helpers import HOSTS
from mab_doctor.cli import main, parse
from mab_doctor.commands import COMMANDS

DEBIAN = str(HOSTS / "debian-12-amd64-qemu")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, usage", [
    (["explain", "--help"], "usage: mab-doctor explain"),
    (["inspect", "--help"], "usage: mab-doctor inspect"),
    (["help", "fix"], "usage: mab-doctor fix"),
    (["help", "report"], "usage: mab-doctor report"),
    (["help"], "usage: mab-doctor [-h]"),
    (["--help"], "usage: mab-doctor [-h]"),
])
def test_each_command_has_its_own_help(capsys, argv, usage):
    code, out, err = run(capsys, *argv)
    assert code == 0 and out.startswith(usage) and err == ""


def test_top_help_lists_every_command_and_command_help_only_its_options(capsys):
    _, top, _ = run(capsys, "help")
    assert all(f"  {c.name}" in top for c in COMMANDS)
    _, explain, _ = run(capsys, "help", "explain")
    assert "--format" in explain and "--platform" not in explain and "--fix" not in explain
    _, fix, _ = run(capsys, "help", "fix")
    assert "--dry-run" in fix and "--persist" in fix and "--output" not in fix


def test_help_of_an_unknown_command_is_a_usage_error(capsys):
    code, out, err = run(capsys, "help", "frobnicate")
    assert code == 2 and out == "" and err.count("\n") == 1 and "unknown command 'frobnicate'" in err


def test_platforms_are_only_read_by_commands_that_judge_targets(capsys, monkeypatch):
    monkeypatch.setenv("MAB_PLATFORMS", "garbage")
    code, out, _ = run(capsys, "list", "--no-plugins")
    assert code == 0 and "binfmt-handlers" in out
    code, _, err = run(capsys, "--root", DEBIAN, "--no-plugins")
    assert code == 2 and err.startswith("mab-doctor: error: MAB_PLATFORMS: ")


@pytest.mark.parametrize("argv, phrase", [
    (["--platform", ""], "--platform: empty list"),
    (["--output", ""], "--output: empty file name"),
    (["--root", ""], "--root: empty path"),
    (["list", "binfmt-handlers"], "list takes no arguments"),
    (["platform", "extra"], "platform takes no arguments"),
    (["--timeout", "nan"], "--timeout must be positive and finite"),
    (["--timeout", "inf"], "--timeout must be positive and finite"),
    (["--timeout", "1e9"], "at most 3600 seconds"),
    (["report"], "report: the following arguments are required: FILE"),
    (["report", "a.json", "b.json"], "report: unrecognized arguments: b.json"),
    (["inspect", ""], "an empty argument"),
    (["explain", "a", "b"], "explain: unrecognized arguments: b"),
    (["--platform", ",,"], "--platform: empty list"),
    (["help", "fix", "undo"], "help takes at most one command name"),
])
def test_usage_errors_are_one_line(capsys, argv, phrase):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and phrase in err


def test_a_huge_platform_list_is_not_echoed_back(capsys):
    code, _, err = run(capsys, "--platform", "x" * 100_000)
    assert code == 2 and err.count("\n") == 1 and len(err) < 400


def test_undo_accepts_yes(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("MAB_DOCTOR_STATE_DIR", str(tmp_path / "state"))
    code, out, _ = run(capsys, "undo", "--yes")
    assert code == 0 and "Nothing to undo" in out


def test_the_command_word_may_follow_options():
    opts = parse(["--format", "json", "list"])
    assert opts.command == "list" and opts.format == "json"
    opts = parse(["--platform", "linux/arm64", "inspect", "some/file"])
    assert opts.command == "inspect" and opts.args == ("some/file",) and str(opts.targets[0]) == "linux/arm64"


def test_options_are_frozen_and_fix_is_its_own_command():
    opts = parse(["--fix", "--dry-run", "binfmt-handlers"])
    assert opts.command == "fix" and opts.dry_run and opts.names == ("binfmt-handlers",)
    assert parse(["fix", "--dry-run"]).command == "fix"
    with pytest.raises(Exception):
        opts.yes = True  # type: ignore[misc]
    assert parse(["--root", DEBIAN]).target_source == "default"
    assert parse(["--platform", "linux/arm64", "--root", DEBIAN]).target_source == "--platform"


def test_report_re_renders_a_saved_json_report(capsys, tmp_path, validate_report):
    saved = tmp_path / "run.json"
    code, _, _ = run(capsys, "--root", DEBIAN, "--no-plugins", "--format", "json", "--output", str(saved))
    data = validate_report(saved.read_text())
    assert data["exit_code"] == code and data["target_details"][0]["source"] == "default"
    again, out, _ = run(capsys, "report", str(saved), "--format", "json")
    assert again == code and json.loads(out)["results"] == data["results"]
    again, out, _ = run(capsys, "report", str(saved), "--format", "markdown")
    assert again == code and "| status | check | target | summary | remediation |" in out
    again, out, _ = run(capsys, "report", str(saved), "--format", "junit", "--output", str(tmp_path / "r.xml"))
    assert again == code and out == "" and "<testsuite" in (tmp_path / "r.xml").read_text()
    code, text, _ = run(capsys, "report", str(saved))
    assert "binfmt_misc mount" in text and text.rstrip().endswith(f"exit {data['exit_code']}")


@pytest.mark.parametrize("content, phrase", [
    (b"[1, 2]", "report"), (b"{\"schema\": \"other/v9\"}", "schema"), (b"\xff\xfe", "report"),
    (b"[" * 100_000, "report"),
])
def test_report_refuses_what_is_not_a_report(capsys, tmp_path, content, phrase):
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    code, out, err = run(capsys, "report", str(bad))
    assert code == 2 and out == "" and err.count("\n") == 1 and phrase in err
    code, _, err = run(capsys, "report", str(tmp_path / "missing.json"))
    assert code == 2 and "No such file" in err


# Every command line the README showed before the command layer was rebuilt, with what it must mean.
README_LINES = [
    ("mab-doctor", "run", {}),
    ("mab-doctor --fix", "fix", {}),
    ("mab-doctor --fix --yes", "fix", {"yes": True}),
    ("mab-doctor --fix --dry-run --platform linux/arm64,linux/riscv64", "fix", {"dry_run": True}),
    ("mab-doctor --fix --yes --platform linux/arm64,linux/riscv64", "fix", {"yes": True}),
    ("mab-doctor --fix binfmt-handlers --dry-run --yes --persist", "fix", {"names": ("binfmt-handlers",),
                                                                        "persist": True}),
    ("mab-doctor --format json", "run", {"format": "json"}),
    ("mab-doctor --platform linux/arm64,linux/riscv64 -q", "run", {"quiet": True}),
    (f"mab-doctor --root {DEBIAN} --platform linux/arm/v6,linux/arm/v7,linux/arm64", "run", {"root": DEBIAN}),
    ("mab-doctor --ci -q --platform linux/amd64,linux/arm64", "run", {"ci": True, "quiet": True}),
    ("mab-doctor --ci --platform linux/amd64,linux/arm64 --format github --format junit --output mab-doctor.xml "
     "--format text --output mab-doctor.txt", "run", {"ci": True}),
    ("mab-doctor undo", "undo", {}),
    ("mab-doctor list", "list", {}),
    ("mab-doctor explain binfmt-mount", "explain", {"args": ("binfmt-mount",)}),
    ("mab-doctor platform", "platform", {}),
    ("mab-doctor matrix", "matrix", {}),
    ("mab-doctor inspect rootfs --platform linux/arm64", "inspect", {"args": ("rootfs",)}),
    ("mab-doctor inspect IMAGE --deep", "inspect", {"args": ("IMAGE",), "deep": True}),
]


@pytest.mark.parametrize("line, command, expected", README_LINES)
def test_every_earlier_readme_command_line_keeps_its_meaning(line, command, expected, monkeypatch):
    monkeypatch.delenv("MAB_PLATFORMS", raising=False)
    opts = parse(line.split()[1:], env={})
    assert opts.command == command
    for name, value in expected.items():
        assert getattr(opts, name) == value, name
    if "--platform" in line:
        given = line.split("--platform ")[1].split()[0]
        assert ",".join(str(t) for t in opts.targets) == given


def test_text_fits_the_terminal_width_columns_asks_for(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, err = run(capsys, "--root", str(HOSTS / "armel-nas"), "--no-plugins", "-v")
    # Only a command may be wider: a `fix:` line, or a quoted command alone on its line (never split).
    wide = [line for line in out.splitlines() if len(line) > 80]
    assert err == "" and all(line.lstrip().startswith("fix: ") or
                             (line.strip().startswith("`") and line.strip().count("`") == 2) for line in wide), wide
    prose = [line for line in out.splitlines() if line not in wide]
    assert any(line.startswith("        ") and len(line) > 60 for line in prose)  # wrapped, indented


def test_a_quoted_command_after_a_bracket_is_never_split():
    from mab_doctor.report.text import wrap

    text = "Install it (`sudo apt-get install podman`) and run it again, please, today."
    for width in range(20, 70):
        assert any("`sudo apt-get install podman`)" in line for line in wrap(text, width)), width


def test_a_held_lock_or_a_bad_state_dir_is_one_line(capsys, monkeypatch, tmp_path):
    from mab_doctor.fix.journal import fix_lock

    monkeypatch.setenv("MAB_DOCTOR_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr("mab_doctor.fix.journal.fix_lock", lambda timeout=0.2: fix_lock(timeout=0.2))
    with fix_lock():
        code, out, err = run(capsys, "undo")
    assert code == 1 and "another mab-doctor --fix holds" in out and out.count("\n") == 1 and err == ""
    monkeypatch.setenv("MAB_DOCTOR_STATE_DIR", "/etc/passwd/x")
    code, out, err = run(capsys, "undo")
    assert code == 1 and out.startswith("mab-doctor: undo: ") and out.count("\n") == 1 and err == ""


@pytest.mark.parametrize("change, phrase", [
    ({"exit_code": 300}, "300 is not an exit code of mab-doctor"),
    ({"exit_code": True}, "not an exit code"),
    ({"results": None}, "broken mab-doctor report: results: "),
])
def test_report_refuses_broken_fields(capsys, tmp_path, change, phrase):
    saved = tmp_path / "run.json"
    run(capsys, "--root", DEBIAN, "--no-plugins", "--format", "json", "--output", str(saved))
    data = {**json.loads(saved.read_text()), **change}
    saved.write_text(json.dumps(data))
    code, out, err = run(capsys, "report", str(saved))
    assert code == 2 and out == "" and phrase in err and err.count("\n") == 1


def test_report_takes_verbosity_and_help_takes_help(capsys, tmp_path):
    saved = tmp_path / "run.json"
    code, _, _ = run(capsys, "--root", DEBIAN, "--no-plugins", "--format", "json", "--output", str(saved))
    again, quiet, _ = run(capsys, "report", str(saved), "-q")
    assert again == code and "✔ OK" not in quiet and "FAIL" in quiet
    for argv in (["help", "--help"], ["help", "-h"]):
        code, out, _ = run(capsys, *argv)
        assert code == 0 and out.startswith("usage: mab-doctor help")


@pytest.mark.parametrize("value", ["1e-300", "0.05"])
def test_a_timeout_too_small_for_any_command_is_a_usage_error(capsys, value):
    code, out, err = run(capsys, "--timeout", value)
    assert code == 2 and out == "" and err.count("\n") == 1 and "at least 0.1 seconds" in err
    assert parse(["--timeout", "0.1"]).timeout == 0.1


def test_output_to_a_device_keeps_the_device_and_the_reports_exit_code(capsys, tmp_path):
    import os
    import stat

    saved = tmp_path / "run.json"
    code, _, _ = run(capsys, "--root", DEBIAN, "--no-plugins", "--format", "json", "--output", str(saved))
    again, out, err = run(capsys, "--root", DEBIAN, "--no-plugins", "--format", "json", "--output", "/dev/null")
    assert again == code == json.loads(saved.read_text())["exit_code"] and out == err == ""
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
