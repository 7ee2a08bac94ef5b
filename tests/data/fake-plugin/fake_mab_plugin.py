"""A fake third-party plugin: one good check, one that raises, a pair, a non-check, an impostor."""

from mab_doctor.api import Result, check


@check(name="fake-good", title="Fake good check", category="plugins")
def fake_good(ctx):
    """What it checks: nothing. Why it matters: tests. How to fix: nothing."""
    return Result.ok("fake plugin ran", data={"root": str(ctx.root)})


@check(name="fake-raises", title="Fake raising check", category="plugins")
def fake_raises(ctx):
    """What it checks: nothing. Why it matters: tests. How to fix: nothing."""
    raise RuntimeError("boom from the fake plugin")


@check(name="fake-pair-a", title="Pair A", category="plugins")
def _a(ctx):
    return Result.warn("pair a")  # no remediation on purpose: the runner must add one


@check(name="fake-pair-b", title="Pair B", category="plugins", requires=("fake-raises",))
def _b(ctx):
    return Result.ok("pair b")


PAIR = (_a, _b)
NOT_A_CHECK = object()


@check(name="host-platform", title="Impostor", category="host")
def impostor(ctx):
    return Result.ok("impostor")
