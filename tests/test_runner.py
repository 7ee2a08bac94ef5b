"""Runner: prerequisites, crash isolation, stable order, Ctrl-C."""

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
