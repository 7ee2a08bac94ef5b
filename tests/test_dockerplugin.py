"""install-docker-plugin: the docker-doctor script, its metadata, its argument handling, install and uninstall."""

from __future__ import annotations

import json
import os
import re
import stat
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import version as dist_version
from pathlib import Path

import pytest

from mab_doctor.cli import main
from mab_doctor.commands import dockerplugin
from mab_doctor.commands.dockerplugin import install, is_ours, plugin_dir, render, uninstall
from mab_doctor.engines.buildx import validate_metadata

PYTHON = sys.executable


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def config(tmp_path, monkeypatch) -> Path:
    """A private DOCKER_CONFIG; the real ~/.docker is never written."""
    folder = tmp_path / "docker-config"
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    return folder


# ----- the script itself ---------------------------------------------------------------------------------------
def test_the_script_is_posix_sh_naming_this_interpreter_and_carrying_its_own_hash():
    text = render("/opt/venv/bin/python")
    lines = text.splitlines()
    assert lines[0] == "#!/bin/sh"
    assert "python=/opt/venv/bin/python" in lines
    assert lines[-1] == 'exec "$python" -E -P -m mab_doctor "$@"'
    assert len(re.findall(r"^# mab-doctor-docker-plugin sha256=[0-9a-f]{64}$", text, re.M)) == 1
    assert subprocess.run(["sh", "-n", "-c", text]).returncode == 0


def test_an_interpreter_path_with_spaces_and_quotes_stays_one_word():
    assert "python='/opt/my venv/it'\"'\"'s/python'" in render("/opt/my venv/it's/python").splitlines()


def test_ours_only_while_unchanged():
    text = render("/opt/venv/bin/python")
    assert is_ours(text) and is_ours(render("/other/python", "9.9.9"))
    assert not is_ours(text.replace("exec ", "exec  "))            # one edited line
    assert not is_ours(text.replace("#!/bin/sh\n", "#!/bin/bash\n"))
    assert not is_ours(text + "rm -rf /\n")                         # an added line
    marker = next(l for l in text.splitlines() if l.startswith("# mab-doctor-docker-plugin"))
    assert not is_ours(text + marker + "\n")                        # two markers
    assert not is_ours("#!/bin/sh\necho hello\n")


@pytest.fixture
def script(tmp_path):
    """script(*args, env=...) runs the rendered plugin with a stand-in interpreter that prints what it got."""
    fake = tmp_path / "fake-python"
    fake.write_text("#!/bin/sh\nfor a in \"$@\"; do printf 'ARG=%s\\n' \"$a\"; done\n"
                    "printf 'CONTEXT=%s\\nHOST=%s\\nCONFIG=%s\\nTLS=%s\\nVERIFY=%s\\n' \"${DOCKER_CONTEXT-unset}\" "
                    "\"${DOCKER_HOST-unset}\" \"${DOCKER_CONFIG-unset}\" \"${DOCKER_TLS-unset}\" "
                    "\"${DOCKER_TLS_VERIFY-unset}\"\n")
    fake.chmod(0o755)
    plugin = tmp_path / "docker-doctor"
    plugin.write_text(render(str(fake)))
    plugin.chmod(0o755)

    def call(*args, env=None):
        base = {"PATH": os.environ["PATH"], **(env or {})}
        done = subprocess.run([str(plugin), *args], capture_output=True, text=True, env=base, timeout=10)
        seen = dict(l.split("=", 1) for l in done.stdout.splitlines() if "=" in l and not l.startswith("ARG="))
        seen["args"] = [l[4:] for l in done.stdout.splitlines() if l.startswith("ARG=")]
        return done.returncode, seen, done.stderr
    return call


def test_metadata_answer(tmp_path):
    plugin = tmp_path / "docker-doctor"
    plugin.write_text(render("/nonexistent/python"))
    plugin.chmod(0o755)
    out = subprocess.run([str(plugin), "docker-cli-plugin-metadata"], capture_output=True, text=True).stdout
    data = json.loads(out)
    assert data == {"SchemaVersion": "0.1.0", "Vendor": "mab-doctor", "Version": dist_version("mab-doctor"),
                    "ShortDescription": "Check that this host can build multi-architecture images"}
    assert validate_metadata(out) == (data, None)
    assert out.count("\n") == 1


def test_the_plugin_word_is_dropped_and_the_rest_passed_on_verbatim(script):
    code, seen, _ = script("doctor", "--format", "json", "a b", "it's", "doctor", "")
    assert code == 0
    assert seen["args"] == ["-E", "-P", "-m", "mab_doctor", "--format", "json", "a b", "it's", "doctor", ""]


@pytest.mark.parametrize("argv", [["--context", "remote", "doctor"], ["--context=remote", "doctor"],
                                  ["-c", "remote", "doctor"], ["-cremote", "doctor"], ["-c=remote", "doctor"]])
def test_the_context_option_beats_docker_host_as_in_the_cli(script, argv):
    code, seen, _ = script(*argv, "plan", env={"DOCKER_HOST": "tcp://elsewhere:2375"})
    assert (code, seen["CONTEXT"], seen["HOST"], seen["args"][4:]) == (0, "remote", "unset", ["plan"])


def test_the_host_option_beats_docker_context(script):
    code, seen, _ = script("-H", "unix:///run/other.sock", "doctor", env={"DOCKER_CONTEXT": "remote"})
    assert (code, seen["HOST"], seen["CONTEXT"], seen["args"][4:]) == (0, "unix:///run/other.sock", "unset", [])


def test_without_options_the_environment_passes_unchanged(script):
    code, seen, _ = script("doctor", env={"DOCKER_CONTEXT": "remote", "DOCKER_CONFIG": "/cfg"})
    assert (code, seen["CONTEXT"], seen["HOST"], seen["CONFIG"]) == (0, "remote", "unset", "/cfg")


def test_config_tls_and_logging_options(script):
    code, seen, _ = script("--config", "/other", "-D", "-l", "debug", "--log-level=warn", "--tlsverify", "--tls=false",
                           "doctor", "-v", env={"DOCKER_TLS": "1"})
    assert (code, seen["CONFIG"], seen["VERIFY"], seen["TLS"], seen["args"][4:]) == (0, "/other", "1", "unset",
                                                                                     ["-v"])


def test_docker_help_doctor_asks_mab_doctor_for_its_help(script):
    code, seen, _ = script("--context", "x", "help", "doctor")
    assert (code, seen["args"][4:], seen["CONTEXT"]) == (0, ["--help"], "x")


def test_shell_completion_requests_get_an_empty_answer(script):
    code, seen, _ = script("__complete", "doctor", "")
    assert (code, seen["args"]) == (0, [])


@pytest.mark.parametrize("argv, words", [
    (["--context", "a", "-H", "unix:///x", "doctor"], "conflicting options: cannot specify both --host and --context"),
    (["-H", "unix:///x", "-H", "unix:///y", "doctor"], "specify only one -H"),
    (["--tlscert", "/c.pem", "doctor"], "--tlscert cannot be passed on"),
    (["--frobnicate", "doctor"], "unexpected '--frobnicate' before 'doctor'"),
    (["--frob=1", "doctor"], "unknown option --frob"),
    (["--context"], "--context needs a value"),
    ([], "this is a Docker CLI plugin"),
    (["-v"], "unexpected '-v' before 'doctor'"),
])
def test_what_cannot_be_passed_on_is_one_line_and_exit_1(script, argv, words):
    code, seen, err = script(*argv)
    assert (code, seen["args"], err.count("\n")) == (1, [], 1)
    assert err.startswith("docker doctor: ") and words in err


def test_a_vanished_interpreter_is_named(tmp_path):
    plugin = tmp_path / "docker-doctor"
    plugin.write_text(render(str(tmp_path / "gone" / "python")))
    plugin.chmod(0o755)
    done = subprocess.run([str(plugin), "doctor"], capture_output=True, text=True)
    assert done.returncode == 1 and f"is gone ({tmp_path}/gone/python)" in done.stderr


# ----- install ---------------------------------------------------------------------------------------------------
def test_install_writes_an_executable_that_runs_this_mab_doctor(config, capsys):
    code, out, err = run(capsys, "install-docker-plugin")
    path = config / "cli-plugins" / "docker-doctor"
    assert (code, err) == (0, "")
    assert out == f"Installed {path}: `docker doctor [ARGS]` runs `{PYTHON} -E -P -m mab_doctor [ARGS]`\n"
    assert stat.S_IMODE(path.lstat().st_mode) == 0o755 and path.read_text() == render(PYTHON)
    done = subprocess.run([str(path), "doctor", "--version"], capture_output=True, text=True, cwd="/")
    assert (done.returncode, done.stdout) == (0, f"mab-doctor {dist_version('mab-doctor')}\n")


def test_a_second_install_changes_nothing(config, capsys):
    assert run(capsys, "install-docker-plugin", "--user")[0] == 0
    path = config / "cli-plugins" / "docker-doctor"
    before = path.stat()
    code, out, _ = run(capsys, "install-docker-plugin", "--user")
    after = path.stat()
    assert (code, out) == (0, f"Already installed: {path} (unchanged)\n")
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert sorted(os.listdir(path.parent)) == ["docker-doctor"]


@pytest.mark.parametrize("mode", [0o755, 0o600])
def test_an_older_plugin_of_ours_is_updated_and_a_lost_executable_bit_restored(config, mode):
    folder = config / "cli-plugins"
    folder.mkdir(parents=True)
    (folder / "docker-doctor").write_text(render("/old/venv/bin/python", "0.0.1"))
    (folder / "docker-doctor").chmod(mode)
    done = install(str(folder))
    assert done.code == 0 and done.lines[0].startswith(f"Updated {folder}/docker-doctor: ")
    assert (folder / "docker-doctor").read_text() == render(PYTHON)
    assert stat.S_IMODE((folder / "docker-doctor").stat().st_mode) == 0o755


def test_install_never_replaces_a_file_that_is_not_ours(config):
    folder = config / "cli-plugins"
    folder.mkdir(parents=True)
    (folder / "docker-doctor").write_text("#!/bin/sh\necho someone else's doctor\n")
    done = install(str(folder))
    assert done.code == 1 and len(done.lines) == 1
    assert "was not written by mab-doctor install-docker-plugin" in done.lines[0]
    assert (folder / "docker-doctor").read_text() == "#!/bin/sh\necho someone else's doctor\n"


@pytest.mark.parametrize("dangling", [False, True])
def test_a_symlink_planted_at_the_path_is_never_followed(config, tmp_path, dangling):
    folder = config / "cli-plugins"
    folder.mkdir(parents=True)
    victim = tmp_path / "victim"
    if not dangling:
        victim.write_text("precious\n")
        victim.chmod(0o600)
    (folder / "docker-doctor").symlink_to(victim)
    for done in (install(str(folder)), uninstall(str(folder))):
        assert done.code == 1 and f"{folder}/docker-doctor is a symlink (to {victim})" in done.lines[0]
    assert (folder / "docker-doctor").is_symlink()
    if dangling:
        assert not victim.exists()
    else:
        assert victim.read_text() == "precious\n" and stat.S_IMODE(victim.stat().st_mode) == 0o600


def test_a_file_swapped_in_before_the_chmod_never_becomes_executable(config, monkeypatch):
    def swapped(path, text):
        Path(path).write_text("#!/bin/sh\necho planted\n")
        os.chmod(path, 0o644)
    monkeypatch.setattr(dockerplugin, "write_atomically", swapped)
    done = install(str(config / "cli-plugins"))
    assert (done.code, done.lines) == (1, (f"mab-doctor: cannot write {config}/cli-plugins/docker-doctor: replaced by "
                                           f"something else while it was written",))
    assert stat.S_IMODE((config / "cli-plugins" / "docker-doctor").stat().st_mode) == 0o644


def test_a_folder_at_the_path_is_refused(config):
    (config / "cli-plugins" / "docker-doctor").mkdir(parents=True)
    done = install(str(config / "cli-plugins"))
    assert (done.code, done.lines) == (1, (f"mab-doctor: {config}/cli-plugins/docker-doctor is not a regular file; "
                                           f"left as it is (remove it yourself to install here)",))


def test_an_interpreter_that_cannot_import_this_mab_doctor_writes_nothing(config, tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'No module named mab_doctor' >&2\nexit 1\n")
    fake.chmod(0o755)
    done = install(str(config / "cli-plugins"), python=str(fake))
    assert done.code == 1 and "cannot import mab_doctor" in done.lines[0] and "nothing written" in done.lines[0]
    assert not (config / "cli-plugins").exists()
    assert install(str(config / "cli-plugins"), python="python3").code == 1


def test_an_earlier_plugin_folder_holding_a_docker_doctor_is_named(config, tmp_path):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "docker-doctor").write_text("#!/bin/sh\n")
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"cliPluginsExtraDirs": [str(extra)]}))
    done = install(str(config / "cli-plugins"))
    assert done.code == 0 and done.lines[1] == (f"note: {extra}/docker-doctor comes first in the Docker CLI's plugin "
                                                f"search: `docker doctor` runs that one")


def test_the_user_folder_follows_docker_config_else_home(tmp_path, monkeypatch):
    assert plugin_dir("user", {"DOCKER_CONFIG": "/cfg/", "HOME": "/home/u"}) == "/cfg/cli-plugins"
    assert plugin_dir("user", {"HOME": "/home/u"}) == "/home/u/.docker/cli-plugins"
    monkeypatch.chdir(tmp_path)
    assert plugin_dir("user", {"DOCKER_CONFIG": "rel"}) == f"{tmp_path}/rel/cli-plugins"
    assert plugin_dir("system", {"DOCKER_CONFIG": "/cfg"}) == "/usr/local/lib/docker/cli-plugins"


# ----- --system --------------------------------------------------------------------------------------------------
def test_system_without_root_is_one_line_and_exit_1(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(dockerplugin, "SYSTEM_DIR", str(tmp_path / "system"))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    for argv in (["install-docker-plugin", "--system"], ["install-docker-plugin", "--system", "--uninstall"]):
        code, out, err = run(capsys, *argv)
        assert (code, out) == (1, "")
        assert err == (f"mab-doctor: install-docker-plugin --system writes {tmp_path}/system: run it as root "
                       f"(sudo), or use --user\n")
    assert not (tmp_path / "system").exists()


def test_system_as_root_installs_and_uninstalls_in_the_system_folder(capsys, monkeypatch, tmp_path, config):
    monkeypatch.setattr(dockerplugin, "SYSTEM_DIR", str(tmp_path / "system"))
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert run(capsys, "install-docker-plugin", "--system")[0] == 0
    assert (tmp_path / "system" / "docker-doctor").read_text() == render(PYTHON)
    assert not config.exists()
    code, out, _ = run(capsys, "install-docker-plugin", "--system", "--uninstall")
    assert (code, out) == (0, f"Removed {tmp_path}/system/docker-doctor\n")


def test_user_and_system_together_are_a_usage_error(capsys):
    code, _, err = run(capsys, "install-docker-plugin", "--user", "--system")
    assert code == 2 and err == "mab-doctor: error: --user and --system cannot be combined\n"


# ----- uninstall ---------------------------------------------------------------------------------------------------
def test_uninstall_removes_exactly_the_installed_file(config, capsys):
    run(capsys, "install-docker-plugin")
    (config / "cli-plugins" / "docker-buildx").write_text("#!/bin/sh\n")
    code, out, _ = run(capsys, "install-docker-plugin", "--uninstall")
    assert (code, out) == (0, f"Removed {config}/cli-plugins/docker-doctor\n")
    assert sorted(os.listdir(config / "cli-plugins")) == ["docker-buildx"]
    code, out, _ = run(capsys, "install-docker-plugin", "--uninstall")
    assert (code, out) == (0, f"Nothing to remove: {config}/cli-plugins/docker-doctor does not exist\n")


@pytest.mark.parametrize("content", ["#!/bin/sh\necho mine\n", render(PYTHON).replace("-m mab_doctor", "-m other"),
                                     render(PYTHON) + "# my addition\n"])
def test_uninstall_refuses_a_file_that_is_not_or_no_longer_ours(config, capsys, content):
    (config / "cli-plugins").mkdir(parents=True)
    (config / "cli-plugins" / "docker-doctor").write_text(content)
    code, out, err = run(capsys, "install-docker-plugin", "--uninstall")
    assert (code, out) == (1, "")
    assert err == (f"mab-doctor: {config}/cli-plugins/docker-doctor was not written by mab-doctor "
                   f"install-docker-plugin (or was edited since); not removed\n")
    assert (config / "cli-plugins" / "docker-doctor").read_text() == content


def test_uninstall_refuses_a_symlink_even_to_a_plugin_of_ours(config, tmp_path):
    ours = tmp_path / "elsewhere"
    ours.write_text(render(PYTHON))
    (config / "cli-plugins").mkdir(parents=True)
    (config / "cli-plugins" / "docker-doctor").symlink_to(ours)
    assert uninstall(str(config / "cli-plugins")).code == 1
    assert ours.read_text() == render(PYTHON) and (config / "cli-plugins" / "docker-doctor").is_symlink()


def test_uninstall_leaves_a_file_that_replaced_ours_after_the_check(config, monkeypatch):
    folder = config / "cli-plugins"
    folder.mkdir(parents=True)
    (folder / "docker-doctor").write_text(render(PYTHON))
    real = dockerplugin._read_ours

    def then_swapped(path):
        found = real(path)
        (folder / "new").write_text(render(PYTHON))
        os.replace(folder / "new", folder / "docker-doctor")  # another inode now holds the name
        return found
    monkeypatch.setattr(dockerplugin, "_read_ours", then_swapped)
    done = uninstall(str(folder))
    assert (done.code, done.lines) == (1, (f"mab-doctor: {folder}/docker-doctor was replaced while it was checked; "
                                           f"not removed",))
    assert (folder / "docker-doctor").read_text() == render(PYTHON)


def test_a_system_install_names_an_interpreter_other_users_cannot_reach(monkeypatch, tmp_path):
    from mab_doctor.core.context import Context

    system = tmp_path / "system"
    monkeypatch.setattr(dockerplugin, "SYSTEM_DIR", str(system))
    base = Path(tempfile.mkdtemp(prefix="mab-dockerplugin-"))  # pytest's own tmp root is closed to others
    try:
        base.chmod(0o755)
        (base / "site" / "mab_doctor").mkdir(parents=True)
        monkeypatch.setattr(dockerplugin.mab_doctor, "__file__", f"{base}/site/mab_doctor/__init__.py")
        closed = base / "root-only"
        (closed / "venv" / "bin").mkdir(parents=True)
        closed.chmod(0o700)
        python = f"{closed}/venv/bin/python"
        ctx = Context(env={"DOCKER_CONFIG": str(tmp_path / "cfg")})
        assert dockerplugin._notes(ctx, str(system), python) == [
            f"note: only root can start {python} ({closed} is closed to other users): `docker doctor` works for "
            f"root only"]
        closed.chmod(0o755)
        assert dockerplugin._notes(ctx, str(system), python) == []
    finally:
        shutil.rmtree(base)
