"""A check that never returns, in a real process: the run's deadline and Ctrl-C still end it."""

import os
import signal
import subprocess
import sys
import time

# A plugin check that blocks on a FIFO nobody writes to, installed for the process through PYTHONPATH.
BLOCKING_PLUGIN = '''"""A check that blocks for ever reading a FIFO that has no writer."""
import os

from mab_doctor.api import Result, check


@check(name="blocks-forever", title="Blocks for ever", category="plugins")
def blocks_forever(ctx):
    """What it checks: nothing. Why it matters: tests. How to fix: nothing."""
    open(os.environ["MAB_TEST_STARTED"], "w").close()
    with open(os.environ["MAB_TEST_FIFO"]) as fh:
        fh.read()
    return Result.ok("never")
'''


def start_blocking_run(tmp_path, *argv, **popen):
    """A `mab-doctor blocks-forever` process (plus ``argv``) and the file its check creates on start."""
    plugin = tmp_path / "plugin"
    info = plugin / "blocking_mab_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: blocking-mab-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[mab_doctor.checks]\n"
                                           "blocks-forever = blocking_mab_plugin:blocks_forever\n")
    (plugin / "blocking_mab_plugin.py").write_text(BLOCKING_PLUGIN)
    os.mkfifo(tmp_path / "fifo")
    started = tmp_path / "started"
    env = {**os.environ, "PYTHONPATH": str(plugin), "MAB_TEST_FIFO": str(tmp_path / "fifo"),
           "MAB_TEST_STARTED": str(started)}
    env.pop("CI", None)
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, **popen}
    proc = subprocess.Popen([sys.executable, "-m", "mab_doctor", "blocks-forever", *argv], env=env, **streams)
    return proc, started


def test_ctrl_c_ends_a_hung_run_with_exit_130(tmp_path):
    proc, started = start_blocking_run(tmp_path)
    try:
        deadline = time.monotonic() + 30
        while not started.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert started.exists(), proc.communicate(timeout=5)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=5)
        took = time.monotonic() - t0
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 130 and took < 1.5, (proc.returncode, took, err)
    assert err.strip() == "mab-doctor: interrupted" and out == ""


def test_a_hung_check_times_out_and_the_process_exits(tmp_path):
    import json

    proc, _ = start_blocking_run(tmp_path, "--timeout", "0.1", "--format", "json")
    t0 = time.monotonic()
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 1 and time.monotonic() - t0 < 15, err
    (row,) = json.loads(out)["results"]
    assert row["status"] == "error" and row["summary"].startswith("timed out after 3 s"), row
    assert "Traceback" not in err


def test_ctrl_c_on_a_terminal_stops_the_spinner_and_shows_the_cursor_again(tmp_path):
    import pty

    main_fd, term_fd = pty.openpty()
    proc, started = start_blocking_run(tmp_path, stdin=term_fd, stdout=term_fd, stderr=term_fd, text=False)
    os.close(term_fd)
    seen = bytearray()
    try:
        deadline = time.monotonic() + 30
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)  # a spinner frame or two
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=5)
        while True:
            try:
                chunk = os.read(main_fd, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not chunk:
                break
            seen += chunk
    finally:
        proc.kill()
        os.close(main_fd)
    text = seen.decode("utf-8", "replace")
    assert proc.returncode == 130 and "mab-doctor: interrupted" in text
    assert "running checks" in text and text.rfind("\x1b[?25h") > text.rfind("\x1b[?25l") >= 0
