"""Where reports go: devices, FIFOs and descriptors written in place, regular files replaced
atomically, GITHUB_STEP_SUMMARY problems as one warning line, any stdout encoding, a closed pipe."""

from __future__ import annotations

import errno
import json
import os
import select
import socket
import stat
import subprocess
import sys
import threading
import time

import pytest

from helpers import HOSTS
from mab_doctor.cli import main
from mab_doctor.core.files import append_output, write_atomically, write_output

DEBIAN = str(HOSTS / "debian-12-amd64-qemu")
RUN = ["--root", DEBIAN, "--no-plugins"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def report_code(tmp_path_factory):
    """The exit code the fixture host's report records."""
    saved = tmp_path_factory.mktemp("report") / "run.json"
    main([*RUN, "--format", "json", "--output", str(saved)])
    return json.loads(saved.read_text())["exit_code"]


@pytest.fixture(scope="module")
def private_null(tmp_path_factory):
    """A character device like /dev/null (1, 3) in a private directory (root only): the behaviour is
    proven there first, so a regression can never replace the machine's own /dev/null."""
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    node = tmp_path_factory.mktemp("dev") / "null"
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    return node


def test_a_private_null_device_stays_a_device(capsys, report_code, private_null):
    code, out, err = run(capsys, *RUN, "--format", "json", "--output", str(private_null))
    assert stat.S_ISCHR(os.stat(private_null).st_mode) and os.stat(private_null).st_rdev == os.makedev(1, 3)
    assert code == report_code and out == "" and err == ""


def test_dev_null_stays_a_device_and_the_exit_code_is_the_reports(capsys, report_code, private_null):
    if not stat.S_ISCHR(os.stat(private_null).st_mode):  # the private device was replaced: stop here
        pytest.fail("--output replaced a device node; not trying /dev/null")
    code, out, err = run(capsys, *RUN, "--format", "json", "--output", "/dev/null")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert code == report_code and out == "" and err == ""


def test_a_full_device_is_one_usage_error(capsys):
    code, out, err = run(capsys, *RUN, "--format", "json", "--output", "/dev/full")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("mab-doctor: error: --output /dev/full: No space left on device")
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_a_fifo_with_a_reader_receives_the_whole_report(capsys, tmp_path, report_code):
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader from now on: the writer may open
    got = bytearray()

    def drain():
        poller = select.poll()
        poller.register(reader, select.POLLIN)
        while poller.poll(20_000):
            try:
                chunk = os.read(reader, 65536)
            except BlockingIOError:
                continue
            if not chunk:  # the writer closed it
                return
            got.extend(chunk)
    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    try:
        code, out, err = run(capsys, *RUN, "--format", "json", "--output", str(fifo))
        thread.join(10)
    finally:
        os.close(reader)
    assert code == report_code and err == "" and stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert json.loads(got.decode())["exit_code"] == report_code


def test_a_fifo_without_a_reader_is_one_line_at_once(capsys, tmp_path):
    fifo = tmp_path / "nobody.fifo"
    os.mkfifo(fifo)
    t0 = time.monotonic()
    code, out, err = run(capsys, *RUN, "--output", str(fifo))
    assert time.monotonic() - t0 < 5  # the run itself included; the open does not wait
    assert code == 2 and err.count("\n") == 1 and "nothing is reading from it" in err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    t0 = time.monotonic()
    with pytest.raises(OSError) as raised:
        write_output(fifo, "nobody reads this\n")
    assert raised.value.errno == errno.ENXIO and time.monotonic() - t0 < 1.0


def test_a_socket_or_a_directory_is_one_usage_error(capsys, tmp_path):
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "s.sock"))
    try:
        code, _, err = run(capsys, *RUN, "--output", str(tmp_path / "s.sock"))
    finally:
        sock.close()
    assert code == 2 and err.count("\n") == 1 and "a socket, not a file" in err
    code, _, err = run(capsys, *RUN, "--output", str(tmp_path))
    assert code == 2 and err.count("\n") == 1 and "Is a directory" in err


def test_a_planted_symlink_at_the_temporary_name_is_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    target = tmp_path / "report.txt"
    planted = tmp_path / f".report.txt.{os.getpid()}.tmp"
    planted.symlink_to(victim)
    write_output(target, "the report\n")
    assert victim.read_text() == "precious\n" and planted.is_symlink()
    assert target.read_text() == "the report\n" and not target.is_symlink()
    write_atomically(target, "again\n")
    assert victim.read_text() == "precious\n" and target.read_text() == "again\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [planted.name, "report.txt", "victim"]


def test_a_regular_file_is_replaced_with_its_mode_kept(tmp_path):
    target = tmp_path / "report.txt"
    target.write_text("old and longer\n")
    target.chmod(0o640)
    before = target.stat().st_ino
    write_output(target, "new\n")
    assert target.read_text() == "new\n" and stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.stat().st_ino != before  # a new file renamed over the old one


def test_a_symlink_at_the_output_path_is_written_through(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old\n")
    link = tmp_path / "link.txt"
    link.symlink_to(real.name)
    write_output(link, "new\n")
    assert link.is_symlink() and real.read_text() == "new\n"
    dangling = tmp_path / "dangling.txt"
    dangling.symlink_to("made.txt")
    write_output(dangling, "made\n")
    assert dangling.is_symlink() and (tmp_path / "made.txt").read_text() == "made\n"
    chained = tmp_path / "null"
    chained.symlink_to("/dev/null")
    write_output(chained, "gone\n")
    assert chained.is_symlink() and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def mab_doctor(*argv, env=None, **kw):
    """Run mab-doctor as a process; (exit code, stdout bytes, stderr text)."""
    env = {**os.environ, **(env or {})}
    env.pop("CI", None)
    proc = subprocess.run([sys.executable, "-m", "mab_doctor", *argv], env=env, capture_output=True,
                          timeout=120, **kw)
    return proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace")


@pytest.mark.parametrize("redirect", ["/dev/stdout", "/proc/self/fd/1"])
def test_dev_stdout_is_written_in_place(tmp_path, report_code, redirect):
    saved = tmp_path / "out.json"
    saved.write_text("kept\n")
    with open(saved, "ab") as fh:  # like `>> out.json`: what was there stays
        proc = subprocess.run([sys.executable, "-m", "mab_doctor", *RUN, "--format", "json", "--output", redirect],
                              stdout=fh, stderr=subprocess.PIPE, timeout=120)
    assert proc.returncode == report_code and proc.stderr == b""
    kept, report = saved.read_text().split("\n", 1)
    assert kept == "kept" and json.loads(report)["exit_code"] == report_code


def test_a_process_substitution_pipe_receives_the_report(report_code):
    proc = subprocess.run(["bash", "-c", 'exec "$@" --output >(wc -c > /dev/stderr)', "-", sys.executable, "-m",
                           "mab_doctor", *RUN, "--format", "json"], capture_output=True, timeout=120)
    assert proc.returncode == report_code
    time.sleep(0.2)  # wc may finish after bash
    assert int(proc.stderr.split()[-1]) > 1000


@pytest.mark.parametrize("summary", ["dir", "missing/summary.md"])
def test_a_step_summary_that_cannot_be_written_is_one_warning(capsys, tmp_path, monkeypatch, report_code, summary):
    (tmp_path / "dir").mkdir()
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / summary))
    code, out, err = run(capsys, *RUN, "--format", "github")
    assert code == report_code and "::" in out
    assert err.count("\n") == 1 and err.startswith("mab-doctor: warning: GITHUB_STEP_SUMMARY ")
    assert "the step summary was not written" in err


def test_a_step_summary_is_appended(tmp_path, monkeypatch, capsys, report_code):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, _, err = run(capsys, *RUN, "--format", "github")
    assert code == report_code and err == ""
    assert summary.read_text().startswith("earlier step\n") and len(summary.read_text()) > 40
    append_output("/dev/null", "into a device in place\n")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


COMMANDS = [(*RUN,), (*RUN, "-v"), ("list",), ("explain", "binfmt-mount"), ("platform", "--root", DEBIAN),
            ("inspect", str(HOSTS / "debian-12-amd64-qemu" / "bin")), ("matrix",)]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda argv: argv[0])
@pytest.mark.parametrize("env", [{"PYTHONIOENCODING": "ascii"},
                                 {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}],
                         ids=["ascii", "C-locale"])
def test_an_ascii_stdout_gets_no_traceback(argv, env):
    expected, _, _ = mab_doctor(*argv, env={"PYTHONIOENCODING": "utf-8"})
    code, out, err = mab_doctor(*argv, env=env)
    assert code == expected and "Traceback" not in err and out
    out.decode("ascii")  # nothing the encoding cannot say


def test_a_reader_that_left_ends_the_output_quietly(report_code):
    proc = subprocess.Popen([sys.executable, "-m", "mab_doctor", *RUN, "-v"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={k: v for k, v in os.environ.items() if k != "CI"})
    proc.stdout.close()  # `| head -0`: gone before the report is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == report_code and err == ""
