"""Context: reads stay under the root, commands are bounded values, foreign roots refuse commands."""

import os
import sys

from helpers import write_tree
from mab_doctor.core.context import Context, RefusingRunner, SubprocessRunner


def test_reads_stay_under_root_and_resolve_symlinks_inside_it(tmp_path):
    root = write_tree(tmp_path, {"/usr/bin/dash": b"\x7fELF", "/usr/bin/sh": "-> dash", "/bin": "-> usr/bin",
                                 "/etc/alt": "-> /usr/bin/dash", "/proc/cpuinfo": "x"})
    ctx = Context(root=root)
    assert not ctx.is_live and isinstance(ctx.runner, RefusingRunner)
    assert ctx.resolve("/bin/sh") == root / "usr/bin/dash"
    assert ctx.resolve("/etc/alt") == root / "usr/bin/dash"  # absolute link re-rooted, not the host's
    assert ctx.read_bytes("/bin/sh") == b"\x7fELF"
    assert ctx.read_text("/proc/cpuinfo") == "x"
    assert ctx.read_text("/etc/../../../etc/hostname") is None


def test_missing_and_unreadable_files_are_values(tmp_path):
    root = write_tree(tmp_path, {"/proc/filesystems/oops": "dir, not file"})
    ctx = Context(root=root)
    assert ctx.try_read("/nope") == (None, "/nope: not found")
    text, why = ctx.try_read("/proc/filesystems")
    assert text is None and "Is a directory" in why
    assert ctx.listdir("/missing") == [] and ctx.exists("/proc") and not ctx.exists("/nope")


def test_foreign_root_refuses_commands(tmp_path):
    res = Context(root=tmp_path).run("uname", "-m")
    assert res.refused and res.returncode is None and not res.ok
    assert "foreign --root" in res.describe()


def test_subprocess_runner_reports_values_not_exceptions():
    run = SubprocessRunner()
    ok = run([sys.executable, "-c", "print('hi')"], timeout=10)
    assert ok.ok and ok.stdout == "hi\n"
    assert run([sys.executable, "-c", "import sys; sys.exit(3)"], timeout=10).returncode == 3
    missing = run(["mab-doctor-no-such-binary"], timeout=10)
    assert missing.missing and "not installed" in missing.describe()
    slow = run([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.3)
    assert slow.timed_out and "timed out after 0.3s" in slow.describe()


def test_live_context_uses_real_uname_and_runner():
    ctx = Context(root="/")
    assert ctx.is_live and isinstance(ctx.runner, SubprocessRunner)
    assert ctx.uname.machine == os.uname().machine


def test_memo_computes_once():
    ctx = Context(root="/")
    calls = []
    assert ctx.memo("k", lambda: calls.append(1) or 42) == 42
    assert ctx.memo("k", lambda: calls.append(1) or 43) == 42
    assert calls == [1]


def test_which_uses_env_path_under_root(tmp_path):
    root = write_tree(tmp_path, {"/opt/bin/tool": "#!/bin/sh\n"})
    os.chmod(root / "opt/bin/tool", 0o755)
    ctx = Context(root=root, env={"PATH": "/usr/bin:/opt/bin"})
    assert ctx.which("tool") == "/opt/bin/tool" and ctx.which("nope") is None
