"""CI use: several formats in one run, --output per format, --ci / CI=true, and one test per exit-code row."""

import json
import os
import subprocess
import sys

import pytest

from mab_doctor.cli import main
from helpers import HOSTS, PROJECT

PI_ZERO, UBUNTU = str(HOSTS / "pi-zero-raspbian"), str(HOSTS / "ubuntu-18.04-kernel-4.4-no-binfmt")


def test_several_formats_in_one_run(capsys, tmp_path, validate_report):
    report = tmp_path / "r.json"
    code = main(["host-platform", "--root", PI_ZERO, "--format", "json", "--output", str(report),
                 "--format", "text", "--color", "never"])
    out = capsys.readouterr().out
    assert "Host platform — linux/arm/v6" in out  # the text report on stdout
    assert validate_report(report.read_text())["exit_code"] == code


def test_output_before_its_format_and_pairing_errors(capsys, tmp_path):
    report = tmp_path / "r.json"
    assert main(["host-platform", "--root", PI_ZERO, "--output", str(report), "--format", "json"]) == 0
    assert json.loads(report.read_text())["schema"] == "mab-doctor/report/v1" and capsys.readouterr().out == ""
    assert main(["--format", "text", "--format", "json"]) == 2
    assert "only one report can go to stdout" in capsys.readouterr().err
    assert main(["--format", "json", "--output", "a", "--output", "b"]) == 2
    assert "at most one --output" in capsys.readouterr().err
    assert main(["list", "--format", "junit"]) == 2
    assert "invalid choice: 'junit' (choose from 'text', 'json')" in capsys.readouterr().err


def test_ci_true_without_a_tty_has_no_escape_codes_no_spinner_and_a_verdict(tmp_path):
    env = {**os.environ, "CI": "true", "PYTHONPATH": str(PROJECT)}
    proc = subprocess.run([sys.executable, "-m", "mab_doctor", "--root", PI_ZERO, "--no-plugins", "--color", "always"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert "\x1b" not in proc.stdout + proc.stderr  # CI mode wins over --color always
    assert "running checks" not in proc.stderr and "⠋" not in proc.stderr  # no spinner frames
    verdict = proc.stderr.strip().splitlines()[-1]
    assert verdict.startswith("mab-doctor: FAIL: ") and verdict.endswith(f"(exit {proc.returncode})")


def test_ci_mode_never_prompts_for_fix(capsys, monkeypatch, tmp_path):
    from mab_doctor.fix import plan as fixes
    from mab_doctor.fix.actions import mount

    monkeypatch.setenv("MAB_DOCTOR_STATE_DIR", str(tmp_path))
    monkeypatch.setattr(fixes, "make_plan", lambda outcomes, persist=False: fixes.Plan((mount(),), (), ()))
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)  # even on a terminal
    assert main(["--ci", "--fix", "binfmt-kernel"]) == 1
    assert "in CI mode --fix needs --yes" in capsys.readouterr().out
    assert not list(tmp_path.glob("journals/*"))


# One test per row of the README's exit-code table.
@pytest.mark.parametrize("argv, code", [
    (["host-platform", "--root", PI_ZERO], 0),                        # OK only
    (["host-resources", "--root", PI_ZERO], 0),                       # a WARN alone still exits 0
    (["host-resources", "--root", PI_ZERO, "--strict"], 1),           # ... but not with --strict
    (["kernel-version", "--root", UBUNTU], 1),                        # a FAIL
    (["--platform", "linux/nonsense"], 2),                            # usage error
    (["no-such-check"], 2),
    (["--root", "/no/such/dir"], 2),
])
def test_exit_code_rows(capsys, argv, code):
    assert main(argv) == code


def test_exit_code_row_error_is_1(monkeypatch, capsys):
    import mab_doctor.checks
    from mab_doctor.core.check import Check

    def boom(ctx):
        raise RuntimeError("broken check")
    monkeypatch.setattr(mab_doctor.checks, "BUILTIN", (Check("boom", "Boom", "host", boom),))
    assert main(["--no-plugins"]) == 1
    assert "ERROR" in capsys.readouterr().out


@pytest.mark.parametrize("statuses, plain, strict", [
    ((), 0, 0),
    (("OK",), 0, 0), (("SKIP",), 0, 0), (("WARN",), 0, 1), (("FAIL",), 1, 1), (("ERROR",), 1, 1),
    (("OK", "SKIP", "WARN"), 0, 1), (("OK", "FAIL", "OK"), 1, 1), (("SKIP", "ERROR"), 1, 1),
])
def test_exit_code_of_each_status_with_and_without_strict(statuses, plain, strict):
    from mab_doctor.core.model import Outcome, Result, Status, exit_code

    outcomes = [Outcome(None, Result(Status[name], name.lower())) for name in statuses]
    assert exit_code(outcomes) == plain
    assert exit_code(outcomes, strict=False) == plain
    assert exit_code(outcomes, strict=True) == strict


def test_strict_is_keyword_only():
    from mab_doctor.core.model import exit_code

    with pytest.raises(TypeError):
        exit_code([], True)  # type: ignore[misc]
