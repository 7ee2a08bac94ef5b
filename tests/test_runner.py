"""Runner: prerequisites, crash isolation, stable order, deadlines, Ctrl-C."""

import threading
import time

import pytest

from mab_doctor.core.check import Check
from mab_doctor.core.model import Result, Status
from mab_doctor.core.runner import UnknownCheck, order, run_checks, select


def mk(name, fn, requires=(), category="host"):
    return Check(name, name.title(), category, fn, tuple(requires))


def test_crash_becomes_error_and_the_run_continues(tmp_path):
    from helpers import make_context

    def boom(ctx):
        raise ValueError("kaput")
    checks = [mk("a-boom", boom), mk("b-fine", lambda ctx: Result.ok("fine"))]
    out = list(run_checks(checks, make_context(tmp_path)))
    assert [o.status for o in out] == [Status.ERROR, Status.OK]
    assert "kaput" in out[0].result.summary
    assert any("Traceback" in d for d in out[0].result.details)
    assert out[0].result.remediation


def test_failed_prerequisite_skips_dependents_with_reason(tmp_path):
    from helpers import make_context

    checks = [mk("base", lambda c: Result.fail("broken", remediation="x")),
              mk("child", lambda c: Result.ok("never"), requires=("base",)),
              mk("grandchild", lambda c: Result.ok("never"), requires=("child",))]
    out = {o.check.name: o.result for o in run_checks(checks, make_context(tmp_path))}
    assert out["child"].status is Status.SKIP and "base is FAIL: broken" in out["child"].summary
    assert out["grandchild"].status is Status.SKIP and "child is SKIP" in out["grandchild"].summary


def test_bad_return_values_are_errors(tmp_path):
    from helpers import make_context

    checks = [mk("none", lambda c: None), mk("string", lambda c: "ok"), mk("empty", lambda c: [])]
    out = list(run_checks(checks, make_context(tmp_path)))
    assert all(o.status is Status.ERROR for o in out)
    assert "expected Result" in out[1].result.summary


def test_a_quick_checks_dependent_does_not_wait_for_a_slow_check_listed_before_it(tmp_path):
    from helpers import make_context

    child_started, slow_may_end = threading.Event(), threading.Event()

    def slow(ctx):
        # Ends only once the child of the quick check has started (or after 5 s, which fails the test).
        return Result.ok("slow") if slow_may_end.wait(5) else Result.fail("child never started", remediation="x")

    def child(ctx):
        child_started.set()
        slow_may_end.set()
        return Result.ok("child")
    checks = [mk("a-slow", slow), mk("b-quick", lambda c: Result.ok("quick")),
              mk("c-child", child, requires=("b-quick",))]
    out = {o.check.name: o.result for o in run_checks(checks, make_context(tmp_path), jobs=4)}
    assert [out[n].summary for n in ("a-slow", "b-quick", "c-child")] == ["slow", "quick", "child"]
    assert child_started.is_set()


def test_order_is_topological_then_display_order():
    checks = [mk("z", None, requires=("y",)), mk("a", None), mk("y", None)]
    assert [c.name for c in order(checks)] == ["a", "y", "z"]


def test_select_adds_prerequisites_and_rejects_unknown():
    checks = [mk("a", None), mk("b", None, requires=("a",)), mk("c", None)]
    assert [c.name for c in select(checks, ["b"])] == ["a", "b"]
    with pytest.raises(UnknownCheck):
        select(checks, ["nope"])


def test_concurrent_checks_keep_output_order(tmp_path):
    from helpers import make_context

    started = []

    def slow(ctx):
        started.append(threading.current_thread().name)
        time.sleep(0.3)
        return Result.ok("slow")
    checks = [mk(f"c{i}", slow) for i in range(4)] + [mk("last", lambda c: Result.ok("quick"))]
    t0 = time.monotonic()
    out = list(run_checks(checks, make_context(tmp_path), jobs=4))
    assert [o.check.name for o in out] == ["c0", "c1", "c2", "c3", "last"]
    assert time.monotonic() - t0 < 1.0  # four 0.3 s waits overlapped
    assert len(set(started)) > 1


def test_keyboard_interrupt_still_stops(tmp_path):
    from helpers import make_context

    def interrupt(ctx):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        list(run_checks([mk("stop", interrupt), mk("after", lambda c: Result.ok("x"))], make_context(tmp_path)))


def test_per_target_checks_yield_one_outcome_per_result(tmp_path):
    from helpers import make_context

    def per(ctx):
        return [Result.ok(f"ok {t}", target=str(t)) for t in ctx.targets]
    out = list(run_checks([mk("per", per)], make_context(tmp_path)))
    assert [o.result.target for o in out] == ["linux/amd64", "linux/arm64", "linux/arm/v7"]


def run_one(fn, tmp_path, jobs):
    """The single result of a check running ``fn`` under run_checks."""
    from helpers import make_context

    (out,) = run_checks([mk("mapper", fn)], make_context(tmp_path), jobs=jobs)
    return out.result


def test_map_keeps_input_order_and_uses_the_runs_workers(tmp_path):
    workers = set()

    def slow_square(n):
        workers.add(threading.current_thread().name)
        time.sleep(0.3 if n % 2 else 0.05)
        return n * n

    def check(ctx):
        return Result.ok("squares", data={"squares": ctx.map(slow_square, range(6))})
    t0 = time.monotonic()
    res = run_one(check, tmp_path, jobs=4)
    assert res.data["squares"] == (0, 1, 4, 9, 16, 25)
    assert time.monotonic() - t0 < 0.8  # three 0.3 s waits overlapped
    assert len(workers) > 1 and all(w.startswith("check") for w in workers)


def test_nested_map_with_one_worker_does_not_deadlock(tmp_path):
    def check(ctx):
        table = ctx.map(lambda row: ctx.map(lambda col: row * 10 + col, range(3)), range(3))
        return Result.ok("table", data={"table": table})
    done = []
    runner = threading.Thread(target=lambda: done.append(run_one(check, tmp_path, jobs=1)), daemon=True)
    runner.start()
    runner.join(5)
    assert done, "a nested ctx.map with one worker deadlocked"
    assert [list(row) for row in done[0].data["table"]] == [[0, 1, 2], [10, 11, 12], [20, 21, 22]]


def test_a_failing_task_fails_its_check_after_the_others_finished(tmp_path):
    finished = []

    def task(n):
        if n == 1:
            raise ValueError(f"task {n} broke")
        time.sleep(0.1)
        finished.append(n)
        return n
    res = run_one(lambda ctx: Result.ok(str(ctx.map(task, range(4)))), tmp_path, jobs=2)
    assert res.status is Status.ERROR and "task 1 broke" in res.summary
    assert sorted(finished) == [0, 2, 3]


def test_a_slow_daemon_does_not_hold_up_checks_that_only_read_files(docker_host):
    from mab_doctor.checks.docker_cli import docker_cli
    from mab_doctor.checks.host_platform import host_platform
    from mab_doctor.checks.kernel_version import kernel_version

    ctx = docker_host.up()
    answer = ctx.runner

    def slow(argv, **kw):
        time.sleep(1.5)  # `docker version` against a daemon that takes its time
        return answer(argv, **kw)
    ctx.runner = slow
    took = {o.check.name: o.duration_s for o in run_checks([docker_cli, host_platform, kernel_version], ctx, jobs=3)}
    assert took["docker-cli"] >= 1.5
    assert took["host-platform"] < 0.5 and took["kernel-version"] < 0.5, took


def test_a_check_past_its_budget_is_an_error_and_the_run_goes_on(tmp_path):
    from helpers import make_context

    release = threading.Event()
    checks = [mk("stuck", lambda c: release.wait() and Result.ok("late")),
              mk("after-stuck", lambda c: Result.ok("never"), requires=("stuck",)),
              mk("fine", lambda c: Result.ok("fine"))]
    t0 = time.monotonic()
    try:
        out = {o.check.name: o.result for o in run_checks(checks, make_context(tmp_path), budget_s=0.3)}
    finally:
        release.set()
    assert time.monotonic() - t0 < 2.0
    assert out["stuck"].status is Status.ERROR
    assert out["stuck"].summary == "timed out after 0.3 s (the check did not finish)"
    assert "--timeout" in out["stuck"].remediation
    assert out["after-stuck"].status is Status.SKIP and "stuck is ERROR" in out["after-stuck"].summary
    assert out["fine"].status is Status.OK


def test_stuck_checks_never_starve_the_ones_queued_behind_them(tmp_path):
    from helpers import make_context

    release = threading.Event()
    block = lambda c: release.wait() and Result.ok("late")  # noqa: E731
    checks = [mk("stuck-1", block), mk("stuck-2", block), mk("quick", lambda c: Result.ok("quick"))]
    try:
        out = [o.status for o in run_checks(checks, make_context(tmp_path), jobs=1, budget_s=0.3)]
    finally:
        release.set()
    assert out == [Status.ERROR, Status.ERROR, Status.OK]


def test_idle_workers_leave_after_the_run(tmp_path):
    from helpers import make_context

    list(run_checks([mk(f"c{i}", lambda c: Result.ok("x")) for i in range(3)], make_context(tmp_path), jobs=6))
    deadline = time.monotonic() + 2
    while any(t.name.startswith("check_") for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("check_")]


def test_the_budget_follows_the_timeout_with_a_floor():
    from mab_doctor.core.runner import MIN_CHECK_BUDGET_S, check_budget

    assert check_budget(0.1) == MIN_CHECK_BUDGET_S
    assert check_budget(10) > 3 * 10  # several commands of --timeout each, one after another
    assert check_budget(20) > check_budget(10)


def test_ctrl_c_reaches_the_waiting_main_thread_at_once(tmp_path):
    import _thread

    from helpers import make_context

    release = threading.Event()
    started = threading.Event()

    def stuck(ctx):
        started.set()
        release.wait()
        return Result.ok("late")
    timer = threading.Thread(target=lambda: started.wait(5) and _thread.interrupt_main(), daemon=True)
    timer.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            list(run_checks([mk("stuck", stuck)], make_context(tmp_path), budget_s=60))
    finally:
        release.set()
    assert time.monotonic() - t0 < 1.0


def test_within_gives_the_default_when_the_call_does_not_return_in_time():
    from mab_doctor.core.tasks import within

    release = threading.Event()
    t0 = time.monotonic()
    try:
        assert within(0.2, release.wait, default="late") == "late"
    finally:
        release.set()
    assert time.monotonic() - t0 < 1.0
    assert within(5, lambda n: n * 2, 21, default=None) == 42
    with pytest.raises(ValueError):
        within(5, int, "not a number", default=None)


def test_the_report_comes_out_when_a_stuck_check_holds_the_host_facts(tmp_path, monkeypatch):
    from helpers import make_context
    from mab_doctor.cli import parse
    from mab_doctor.commands.reporting import build_report

    release = threading.Event()
    monkeypatch.setattr("mab_doctor.core.runner.check_budget", lambda timeout: 0.2)
    monkeypatch.setattr("mab_doctor.host.hostinfo.host_summary", lambda ctx: release.wait() and {})
    try:
        report = build_report(parse(["--no-plugins"], env={}), [], make_context(tmp_path), 0.1)
    finally:
        release.set()
    assert report.host.error == "host facts unavailable: not found within 0.2 s"
    assert report.host.root == str(tmp_path) and report.exit_code == 0


def test_status_values_and_severity_order():
    assert [(s.name, s.value, s.severity) for s in Status] == [
        ("OK", "ok", 0), ("SKIP", "skip", 1), ("WARN", "warn", 2), ("FAIL", "fail", 3), ("ERROR", "error", 4)]


def test_action_is_plain_data_with_a_tuple_argv():
    from mab_doctor.core.model import Action

    a = Action("mount", argv=["mount", "-t", "binfmt_misc"])
    assert a.argv == ("mount", "-t", "binfmt_misc") and a.needs_root is True
    assert (a.subject, a.line) == ("", "")
    assert a.to_dict() == {"kind": "mount", "subject": "", "line": "", "argv": ["mount", "-t", "binfmt_misc"]}
    b = Action("write", subject="/etc/x", line="y", needs_root=False)
    assert b.to_dict() == {"kind": "write", "subject": "/etc/x", "line": "y", "argv": []} and b.needs_root is False


def test_fix_commands_come_from_its_actions_unless_given():
    from mab_doctor.core.model import Action, Fix

    root = Action("mount", argv=["mount", "x"])
    user = Action("note", argv=(), needs_root=False)
    pkg = Action("install", argv=("apt-get", "install", "qemu"), needs_root=False)
    fix = Fix.of("Mount it", root, user, pkg)
    assert fix.commands == (("mount", "x"), ("apt-get", "install", "qemu")) and fix.needs_root is True
    assert fix.actions == (root, user, pkg)
    assert Fix.of("No root", user, pkg).needs_root is False
    assert Fix.of("Nothing").needs_root is False and Fix.of("Nothing").commands == ()
    given = Fix("Run", commands=[["echo", "a"]], actions=[root])
    assert given.commands == (("echo", "a"),) and given.actions == (root,) and given.needs_root is False
    assert given.to_dict() == {"title": "Run", "commands": [["echo", "a"]], "needs_root": False,
                               "actions": [{"kind": "mount", "subject": "", "line": "", "argv": ["mount", "x"]}]}


def test_result_freezes_its_data_and_to_plain_thaws_it():
    from types import MappingProxyType

    from mab_doctor.core.model import to_plain

    res = Result.warn("w", details=[1, "two"], data={"a": [1, {"b": [2]}], "c": {"d": "e"}, 3: (4,)})
    assert res.details == ("1", "two")
    assert isinstance(res.data, MappingProxyType) and isinstance(res.data["c"], MappingProxyType)
    assert res.data["a"] == (1, MappingProxyType({"b": (2,)})) and res.data[3] == (4,)
    assert to_plain(res.data) == {"a": [1, {"b": [2]}], "c": {"d": "e"}, "3": [4]}
    assert to_plain("x") == "x" and to_plain(5) == 5
    with pytest.raises(TypeError):
        res.data["z"] = 1  # type: ignore[index]


@pytest.mark.parametrize("make, status", [
    (Result.ok, Status.OK), (Result.warn, Status.WARN), (Result.fail, Status.FAIL), (Result.skip, Status.SKIP),
    (Result.error, Status.ERROR),
])
def test_result_constructors(make, status):
    res = make("said", remediation="do this")
    assert (res.status, res.summary, res.remediation, res.details, res.fix, res.target) == (
        status, "said", "do this", (), None, None)
    assert dict(res.data) == {}


def test_outcome_reads_its_result_status():
    from mab_doctor.core.model import Outcome, SkipCheck

    o = Outcome("check", Result.fail("x"))
    assert o.status is Status.FAIL and o.duration_s == 0.0
    assert issubclass(SkipCheck, Exception)


def test_model_values_are_frozen():
    import dataclasses

    from mab_doctor.core.model import Action, Fix, Outcome

    for value, field_name in ((Action("mount"), "kind"), (Fix("t"), "title"), (Result.ok("x"), "summary"),
                              (Outcome(None, Result.ok("x")), "duration_s")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, field_name, "changed")


def test_a_tasks_listeners_run_once_it_is_done_and_see_it_done():
    from mab_doctor.core.tasks import Task

    seen = []
    task = Task(lambda: 7)
    task.when_done(lambda: seen.append(("early", task.done, task.value)))
    task.run_if_unclaimed()
    task.when_done(lambda: seen.append(("late", task.done, task.value)))
    assert seen == [("early", True, 7), ("late", True, 7)]
    cancelled = Task(lambda: 1)
    cancelled.when_done(lambda: seen.append(("cancelled", cancelled.done, type(cancelled.error).__name__)))
    cancelled.cancel()
    assert seen[-1] == ("cancelled", True, "Cancelled")
