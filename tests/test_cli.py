"""CLI: subcommands, options, exit codes 0/1/2, one-line usage errors, no external commands for views."""

import json
import os
import subprocess
import sys

import pytest

from helpers import HOSTS, PROJECT
from mab_doctor.cli import main

DEBIAN = str(HOSTS / "debian-12-amd64-qemu")
PI_ZERO = str(HOSTS / "pi-zero-raspbian")


@pytest.fixture
def no_commands(monkeypatch):
    """Fail the test if anything tries to start a process."""
    def refuse(*a, **k):
        raise AssertionError(f"external command started: {a[0] if a else k}")
    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(os, "execv", refuse)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, phrase", [
    (["--platform", "linux/nonsense"], "unknown architecture 'nonsense'"),
    (["no-such-check"], "unknown check no-such-check (known: host-platform"),
    (["--root", "/definitely/not/here"], "--root /definitely/not/here: not a readable directory"),
    (["--format", "yaml"], "invalid choice: 'yaml'"),
    (["--timeout", "0"], "--timeout must be positive"),
    (["explain"], "explain: the following arguments are required: NAME"),
    (["explain", "nope"], "unknown check 'nope'"),
    (["-v", "-q"], "cannot be combined"),
    (["--output", "/no/such/dir/r.json", "--root", DEBIAN], "--output /no/such/dir/r.json"),
])
def test_usage_errors_exit_2_with_one_line(capsys, argv, phrase):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("mab-doctor: error: ") and phrase in err


def test_mab_platforms_env_is_the_default(capsys, monkeypatch):
    monkeypatch.setenv("MAB_PLATFORMS", "linux/arm/v6,linux/nonsense")
    code, _, err = run(capsys, "--root", DEBIAN)
    assert code == 2 and "nonsense" in err
    monkeypatch.setenv("MAB_PLATFORMS", "linux/riscv64")
    code, out, _ = run(capsys, "--root", DEBIAN, "--format", "json", "--no-plugins")
    assert json.loads(out)["targets"] == ["linux/riscv64"]


def test_views_start_no_external_command(capsys, no_commands):
    code, out, _ = run(capsys, "list", "--no-plugins")
    assert code == 0 and "host-platform" in out and "binfmt-mount" in out
    code, out, _ = run(capsys, "explain", "binfmt-mount")
    assert code == 0 and "What it checks:" in out and "How to fix:" in out and "requires binfmt-kernel" in out
    code, out, _ = run(capsys, "matrix")
    assert code == 0 and "kernel-binfmt-fix-binary" in out and "Debian 12 (bookworm)" in out
    code, out, _ = run(capsys, "platform", "--root", PI_ZERO, "--format", "json")
    assert code == 0 and json.loads(out)["oci_platform"] == "linux/arm/v6"


def test_list_json_and_explain_json(capsys):
    code, out, _ = run(capsys, "list", "--format", "json", "--no-plugins")
    rows = json.loads(out)["checks"]
    assert code == 0 and rows[0]["name"] == "host-platform" and rows[0]["source"] == "builtin"
    assert next(r for r in rows if r["name"] == "binfmt-mount")["fixable"] is True
    code, out, _ = run(capsys, "explain", "kernel-version", "--format", "json")
    assert json.loads(out)["category"] == "kernel"


@pytest.fixture(scope="session")
def platform_validator():
    import jsonschema
    from importlib import resources

    schema = json.loads(resources.files("mab_doctor").joinpath("data/platform-v1.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("tree", sorted(p.name for p in HOSTS.iterdir() if p.is_dir()))
def test_platform_json_validates_on_every_fixture_host(capsys, platform_validator, tree):
    code, out, _ = run(capsys, "platform", "--root", str(HOSTS / tree), "--format", "json")
    errors = [e.message for e in platform_validator.iter_errors(json.loads(out))]
    assert code == 0 and not errors


def test_platform_text_and_json_schema(capsys):
    code, out, _ = run(capsys, "platform", "--root", PI_ZERO, "--format", "json")
    data = json.loads(out)
    assert data["schema"] == "mab-doctor/platform/v1"
    assert {k: data[k] for k in ("oci_platform", "docker_hub_prefix", "goarch", "goarm", "qemu", "float_abi",
                                 "arm_arch", "userland_bits")} == {
        "oci_platform": "linux/arm/v6", "docker_hub_prefix": "arm32v6", "goarch": "arm", "goarm": "6",
        "qemu": "qemu-arm", "float_abi": "hard", "arm_arch": "v6", "userland_bits": 32}
    assert data["targets"]["linux/arm/v7"]["placement"] == "impossible"  # the default targets
    assert data["targets"]["linux/arm64"] == {"placement": "emulated",
                                             "why": "a linux/arm/v6 host needs QEMU for linux/arm64"}
    import jsonschema
    from importlib import resources
    schema = json.loads(resources.files("mab_doctor").joinpath("data/platform-v1.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(data)
    code, out, _ = run(capsys, "platform", "--root", PI_ZERO)
    lines = {line.split()[0] if not line.startswith("target ") else " ".join(line.split()[:2]): line.split(None, 2)[-1]
             for line in out.splitlines()}
    assert lines["oci_platform"] == "linux/arm/v6"
    assert out.splitlines()[3].split() == ["oci_platform", "linux/arm/v6"]
    assert any(line.startswith("target linux/arm/v7") and "cannot run here: needs ARMv7" in line
               for line in out.splitlines())


def test_exit_code_matches_report_and_strict(capsys, validate_report):
    code, out, _ = run(capsys, "--root", DEBIAN, "--format", "json", "--no-plugins")
    report = validate_report(out)
    assert code == report["exit_code"] == (1 if report["counts"]["fail"] + report["counts"]["error"] else 0)
    code, out, _ = run(capsys, "--root", PI_ZERO, "--format", "json", "--no-plugins", "--strict")
    report = validate_report(out)
    assert report["counts"]["warn"] > 0 and code == 1 == report["exit_code"]


def test_selecting_a_check_runs_its_prerequisites(capsys, validate_report):
    code, out, _ = run(capsys, "binfmt-mount", "--root", DEBIAN, "--format", "json", "--no-plugins")
    names = [r["name"] for r in validate_report(out)["results"]]
    assert names == ["binfmt-kernel", "binfmt-mount"]


def test_output_file_is_written_atomically(capsys, tmp_path, validate_report):
    target = tmp_path / "report.json"
    target.write_text("old")
    code, out, _ = run(capsys, "--root", DEBIAN, "--format", "json", "--output", str(target), "--no-plugins")
    assert out == "" and validate_report(target.read_text())["exit_code"] == code
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
    text_target = tmp_path / "report.txt"
    run(capsys, "--root", DEBIAN, "--output", str(text_target), "--no-plugins", "--color", "always")
    text = text_target.read_text()
    assert "\x1b[" not in text and "HOST" in text and "== " in text


def test_color_never_and_no_color(capsys, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    _, out, _ = run(capsys, "--root", DEBIAN, "--no-plugins")
    assert "\x1b[" not in out
    _, out, _ = run(capsys, "--root", DEBIAN, "--no-plugins", "--color", "never")
    assert "\x1b[" not in out


def test_version_and_python_dash_m():
    proc = subprocess.run([sys.executable, "-m", "mab_doctor", "--version"], capture_output=True, text=True,
                          cwd=PROJECT, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"mab-doctor {__import__('mab_doctor').__version__}"
    bad = subprocess.run([sys.executable, "-m", "mab_doctor", "--platform", "linux/nonsense"], capture_output=True,
                         text=True, cwd=PROJECT, timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and len(bad.stderr.splitlines()) == 1


def test_the_process_runs_exit_hooks_plugins_registered_and_keeps_its_exit_code(tmp_path):
    # The process leaves with os._exit (no interpreter teardown), after the hooks and the flushes.
    import subprocess
    import sys

    mark = tmp_path / "hook-ran"
    code = ("import atexit, sys; atexit.register(lambda path=sys.argv[1]: open(path, 'w').write('ran')); "
            "sys.argv = ['mab-doctor', 'no-such-command-word', '--bogus']; "
            "from mab_doctor.cli import main; print('before', flush=False); main()")
    done = subprocess.run([sys.executable, "-c", code, str(mark)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == "before\n" and "error" in done.stderr
    assert mark.read_text() == "ran"
