"""--fix killed with SIGKILL at every step on the real kernel: undo, or a re-run of --fix, always reaches a
consistent state, and undo brings back the start byte for byte (entries, status, mount, binfmt.d files).

Each fix runs in a child process (this file run as a script) that SIGKILLs itself at the named point;
tests/fakes/crash.py names the points. Unit tests: tests/test_fix_interrupted.py."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import binfmt_state as bs
from mab_doctor.cli import main
from mab_doctor.core.model import Action
from mab_doctor.emulation.upstream import upstream_line
from mab_doctor.fix import actions as make
from mab_doctor.fix.journal import Journal, apply
from mab_doctor.fix.writer import RealHostWriter

HERE = Path(__file__).resolve()
TESTS = HERE.parents[1]
ETC = Path("/etc/binfmt.d")
ETC_CONF = ETC / "qemu-aarch64.conf"
VAR = Path("/var/lib/mab-doctor")
# A package manager that takes its time: it notes its pid (to be stopped if its parent is killed).
SLOW_INSTALL = 'echo $$ > "$0"; exec sleep 1.5'
FIX_CHECKS = ("binfmt-mount", "binfmt-handlers", "binfmt-exec", "binfmt-persist")

POINTS = {
    "mounted": ["journal:begin", "enable:before", "enable:after", "install:before", "install:during", "install:after",
                "unregister:before", "unregister:after", "register:before:1", "register:after:1",
                "register:before:2", "register:after:2", "persist:before", "persist:during", "persist:after"],
    "unmounted": ["journal:begin", "mount:before", "mount:after", "register:before", "register:after"],
}
CASES = [(start, point) for start, points in POINTS.items() for point in points]


def debian_line(cpu: str) -> str:
    return Path(f"/usr/lib/binfmt.d/qemu-{cpu}.conf").read_text().splitlines()[0]


def plan(name: str, pidfile: str) -> list[Action]:
    """The fix the child applies: what --fix plans for each start (plus a slow install), or "ours":
    handlers of our own, with flags and interpreters other than Debian's."""
    if name == "mounted":
        return [make.enable(), make.install(("sh", "-c", SLOW_INSTALL, pidfile, "qemu-user-static")),
                make.unregister("qemu-aarch64"), make.register("qemu-aarch64", debian_line("aarch64")),
                make.register("qemu-riscv64", debian_line("riscv64")), make.persist(str(ETC_CONF),
                                                                                      debian_line("aarch64"))]
    if name == "unmounted":
        return [make.mount(), make.register("qemu-riscv64", debian_line("riscv64"))]
    return [make.register(f"qemu-{cpu}", upstream_line(cpu, f"/usr/bin/qemu-{cpu}-static"))
            for cpu in ("aarch64", "s390x")]


def child(name: str, point: str, pidfile: str) -> None:
    """Run as a script: apply the plan as --fix does, SIGKILLed at ``point`` ("never": not at all)."""
    from fakes.crash import Crasher, sigkill

    crasher = Crasher(point, die=sigkill, run_for=0.5)
    journal = crasher.journal(Journal.for_fix())
    apply(plan(name, pidfile), journal, lambda n: None, print, writer=crasher.writer(RealHostWriter()))
    journal.finish()


def files_of(folder: Path) -> dict[str, tuple[bytes, int]] | None:
    """Every file of a folder with its mode; None when the folder is missing."""
    if not folder.is_dir():
        return None
    return {p.name: (p.read_bytes(), p.lstat().st_mode) for p in sorted(folder.iterdir())}


def tree_of(folder: Path) -> dict[str, tuple[int, int, int]] | None:
    if not folder.exists():
        return None
    return {str(p): (p.lstat().st_mode, p.lstat().st_size, p.lstat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


def put_back(folder: Path, files: dict[str, tuple[bytes, int]] | None) -> None:
    """Make ``folder`` hold exactly ``files`` again (None: no folder)."""
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if files is None or path.name not in files:
            path.unlink()
    for name, (data, mode) in (files or {}).items():
        (folder / name).write_bytes(data)
        (folder / name).chmod(mode & 0o7777)
    if files is None and folder.is_dir():
        folder.rmdir()
    assert files_of(folder) == files


@pytest.fixture
def supported():
    """Skip, saying why, where the kernel or the distribution lacks what the tests need."""
    if "binfmt_misc" not in Path("/proc/filesystems").read_text():
        pytest.skip("this kernel has no binfmt_misc: nothing to fix")
    if not Path("/usr/lib/binfmt.d/qemu-s390x.conf").is_file():
        pytest.skip("qemu-user-static is not installed: scripts/test installs it")


@pytest.fixture
def host(supported, binfmt_guard, tmp_path, monkeypatch):
    """The real kernel; binfmt_misc, /etc/binfmt.d and /var/lib/mab-doctor are exactly as before afterwards
    (journals go to tmp_path); yields the file where the slow install notes its pid."""
    monkeypatch.setenv("MAB_DOCTOR_STATE_DIR", str(tmp_path / "state"))
    etc, var = files_of(ETC), tree_of(VAR)
    try:
        yield tmp_path / "install.pid"
    finally:
        put_back(ETC, etc)
        assert tree_of(VAR) == var, "the host's own mab-doctor state was touched"


def start(name: str) -> None:
    """"unmounted": binfmt_misc not mounted; otherwise Debian's boot state, and for "mounted": switched
    off, qemu-aarch64 without F (also in /etc/binfmt.d), qemu-riscv64 missing."""
    bs.mount()
    bs.write(f"{bs.MOUNT_POINT}/status", "-1")
    if name == "unmounted":
        bs.unmount()
        return
    bs.write(f"{bs.MOUNT_POINT}/status", "1")
    assert not ETC_CONF.exists(), f"the host already has {ETC_CONF}; not touching it"
    bs.replay_binfmt_d()
    if name == "mounted":
        without_f = debian_line("aarch64").replace(":OPF", ":OP")
        for entry in ("qemu-aarch64", "qemu-riscv64"):
            bs.write(f"{bs.MOUNT_POINT}/{entry}", "-1")
        bs.register_line(without_f)
        ETC.mkdir(exist_ok=True)
        ETC_CONF.write_text(without_f + "\n")
        bs.write(f"{bs.MOUNT_POINT}/status", "0")


def world():
    """Everything the fixes change: mount, status, each entry's exact text, /etc/binfmt.d."""
    return bs.snapshot(), files_of(ETC)


def _still_sleeping(cmdline: Path) -> bool:
    try:
        return b"sleep" in cmdline.read_bytes()
    except OSError:  # gone
        return False


def killed(pidfile: Path, name: str, point: str) -> int:
    """Apply plan ``name`` in a child killed at ``point``; its pid."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS / "host")])}
    proc = subprocess.Popen([sys.executable, str(HERE), name, point, str(pidfile)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == (0 if point == "never" else -signal.SIGKILL), out + err
    if pidfile.is_file():  # a killed fix leaves its package manager running: let it finish first
        leftover, deadline = Path(f"/proc/{pidfile.read_text().strip()}/cmdline"), time.monotonic() + 10
        while _still_sleeping(leftover) and time.monotonic() < deadline:
            time.sleep(0.1)
        pidfile.unlink()
    return proc.pid


@pytest.mark.parametrize("start_state, point", CASES)
def test_undo_after_a_sigkill_restores_the_start_byte_for_byte(host, capsys, start_state, point):
    start(start_state)
    before = world()
    pid = killed(host, start_state, point)
    code = main(["undo", "--color", "never"])
    out = capsys.readouterr().out
    assert code == 0, out
    if point == "journal:begin":  # that run changed nothing: it is no fix to revert
        assert f"of --fix pid {pid} at " in out and "killed before its first step" in out
        assert "Nothing to undo" in out
    else:
        assert f"Reverting the journal {Path(os.environ['MAB_DOCTOR_STATE_DIR'])}/journals/" in out
        assert f"of --fix pid {pid} at " in out and "killed " in out and "undo " in out
    assert world() == before


@pytest.mark.parametrize("start_state, point", CASES)
def test_a_rerun_of_fix_after_a_sigkill_completes_it_and_undo_restores_the_start(host, capsys, start_state, point):
    start(start_state)
    before = world()
    killed(host, start_state, point)
    code = main(["--fix", "--yes", "--persist", "--no-plugins", "--color", "never", "--platform",
                 "linux/arm64,linux/riscv64", *FIX_CHECKS])
    out = capsys.readouterr().out
    assert code == 0, out  # every check passes: the fix is complete
    if "Nothing to change: " not in out:  # else the killed run had done it all: its journal stays as it is
        assert ("Continuing the journal" in out) == (point != "journal:begin")
    fixed = bs.snapshot()
    assert fixed.status == "enabled" and "F" in re.search(r"^flags: (\w*)$", fixed.entries["qemu-aarch64"], re.M)[1]
    assert fixed.entries["qemu-riscv64"].startswith("enabled\n")
    assert main(["undo", "--color", "never"]) == 0, capsys.readouterr().out
    assert world() == before  # one undo reverts the killed run and the run that completed it


def test_undo_refuses_an_older_fix_after_the_distribution_registered_its_own_entries(host, capsys):
    start("debian")
    for entry in ("qemu-aarch64", "qemu-s390x"):
        bs.write(f"{bs.MOUNT_POINT}/{entry}", "-1")
    older = killed(host, "ours", "never")
    ours = bs.entries_text()
    assert "flags: F\n" in ours["qemu-aarch64"] and "flags: F\n" in ours["qemu-s390x"]
    for cpu in ("aarch64", "s390x"):  # the package registers its own definitions again, with other flags
        bs.write(f"{bs.MOUNT_POINT}/qemu-{cpu}", "-1")
        bs.register_line(debian_line(cpu))
    newer = killed(host, "ours", "journal:begin")  # a --fix killed before it journaled a step
    now = world()

    assert main(["undo", "--color", "never"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert re.fullmatch(rf"Skipped journal .* of --fix pid {newer} at .*killed before its first step\): "
                        r"that run changed nothing\.", out[0]), out
    assert re.fullmatch(rf"Reverting the journal .* of --fix pid {older} at .*\(2 steps, complete\)", out[1]), out
    assert out[2].startswith("mab-doctor: undo refused: the host changed since that --fix")
    assert [line.split(":")[0].strip() for line in out[3:5]] == ["qemu-aarch64", "qemu-s390x"]
    assert all("flags now 'POF', --fix left 'F'" in line for line in out[3:5])
    assert out[5] == "Nothing was reverted. `sudo mab-doctor undo --force` reverts it anyway."
    assert world() == now  # byte for byte: the distribution's entries stay


if __name__ == "__main__":
    child(*sys.argv[1:])
