"""Context: reads stay under the root, commands are bounded values, foreign roots refuse commands, facts."""

import os
import sys
import threading
import time

import pytest

from helpers import FakeRunner, write_tree
from mab_doctor.core.context import CommandResult, Context, RefusingRunner, SubprocessRunner
from mab_doctor.core.facts import Fact, FactCycle


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
    assert text is None and why == "/proc/filesystems: a directory, not a regular file: not read"
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


def test_a_fact_is_computed_once_per_context_and_key():
    calls = []
    square = Fact("square", lambda ctx, n: calls.append(n) or n * n)
    ctx = Context(root="/")
    assert [ctx.fact(square, 3), ctx.fact(square, 3), ctx.fact(square, 4)] == [9, 9, 16]
    assert calls == [3, 4]
    assert Context(root="/").fact(square, 3) == 9 and calls == [3, 4, 3]  # a new run asks again


class SlowRunner(FakeRunner):
    """A FakeRunner whose every command takes ``delay`` seconds, like a daemon that does not answer."""

    def __init__(self, commands, delay):
        super().__init__(commands)
        self.delay = delay

    def __call__(self, argv, *, timeout, env=None):
        time.sleep(self.delay)
        return super().__call__(argv, timeout=timeout, env=env)


def test_a_slow_fact_blocks_neither_file_reads_nor_other_facts(tmp_path):
    argv = ("docker", "info")
    root = write_tree(tmp_path, {"/proc/cpuinfo": "processor: 0\n"})
    ctx = Context(root=root, runner=SlowRunner({argv: CommandResult(argv, 0, "{}")}, delay=1.5), env={})
    slow = Fact("slow command", lambda c: c.run(*argv))
    quick = Fact("quick fact", lambda c: "quick")
    asker = threading.Thread(target=ctx.fact, args=(slow,))
    asker.start()
    time.sleep(0.1)  # the slow fact is now being computed
    t0 = time.monotonic()
    assert ctx.read_text("/proc/cpuinfo") == "processor: 0\n" and ctx.exists("/proc/cpuinfo")
    assert ctx.fact(quick) == "quick" and ctx.is_live is False
    took = time.monotonic() - t0
    asker.join()
    assert took < 0.5, f"a read waited {took:.2f}s behind a slow fact"
    assert ctx.fact(slow).ok


def test_concurrent_askers_share_one_computation():
    calls = []
    gate = threading.Event()

    def compute(ctx):
        calls.append(threading.current_thread().name)
        gate.wait(2)
        return object()
    fact, ctx = Fact("shared", compute), Context(root="/")
    got = []
    threads = [threading.Thread(target=lambda: got.append(ctx.fact(fact))) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    gate.set()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(got) == 8 and all(g is got[0] for g in got)


def test_a_failing_fact_raises_to_every_asker_and_is_not_a_value():
    calls = []

    def broken(ctx):
        calls.append(1)
        time.sleep(0.1)
        raise ValueError("no daemon")
    fact, ctx = Fact("broken", broken), Context(root="/")
    errors = []

    def ask():
        try:
            ctx.fact(fact)
        except ValueError as exc:
            errors.append(str(exc))
    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == ["no daemon"] * 4 and calls == [1]
    with pytest.raises(ValueError, match="no daemon"):
        ctx.fact(fact)


def test_a_fact_that_needs_itself_is_an_error_not_a_hang():
    loop = Fact("loop", lambda ctx: ctx.fact(loop))
    with pytest.raises(FactCycle, match="loop depends on itself"):
        Context(root="/").fact(loop)


def test_map_without_a_runner_is_sequential_and_ordered(tmp_path):
    ctx = Context(root=tmp_path)
    seen = []
    assert ctx.map(lambda n: seen.append(n) or n * 10, [3, 1, 2]) == [30, 10, 20]
    assert seen == [3, 1, 2]


@pytest.mark.parametrize("res, last", [
    (CommandResult(("x",), 1, "out\n", "first\nsecond\n\n"), "second"),
    (CommandResult(("x",), 1, "one\ntwo  \n", ""), "two"),
    (CommandResult(("x",), 3), "`x`: exit code 3"),
    (CommandResult(("x",), missing=True), "`x`: not installed"),
])
def test_last_line_is_stderr_then_stdout_then_the_description(res, last):
    assert res.last_line == last
    assert res.explain() == (res.describe() if last == res.describe() else f"{res.describe()}: {last}")


def test_live_can_be_forced_and_is_fixed_at_construction(tmp_path):
    forced = Context(root=tmp_path, live=True, runner=FakeRunner())
    assert forced.is_live and not Context(root=tmp_path).is_live


def test_which_uses_env_path_under_root(tmp_path):
    root = write_tree(tmp_path, {"/opt/bin/tool": "#!/bin/sh\n"})
    os.chmod(root / "opt/bin/tool", 0o755)
    ctx = Context(root=root, env={"PATH": "/usr/bin:/opt/bin"})
    assert ctx.which("tool") == "/opt/bin/tool" and ctx.which("nope") is None
