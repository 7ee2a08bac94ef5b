"""A fix killed at every point of its plan, on a FakeHost: undo, or a re-run of the fix, always reaches
a consistent state, and undo brings back the exact start (tests/host/test_fix_crash.py: the real kernel)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakes.binfmt_kernel import FakeHost
from fakes.crash import Crash, Crasher
from fakes.packages import FakePackageManager
from mab_doctor.emulation.upstream import upstream_line
from mab_doctor.fix import actions as make
from mab_doctor.fix.journal import Journal, apply, undo

MP = "/proc/sys/fs/binfmt_misc"
QEMU_ARM64, QEMU_RISCV = "/usr/bin/qemu-aarch64-static", "/usr/bin/qemu-riscv64-static"
ARM64, RISCV = upstream_line("aarch64", QEMU_ARM64), upstream_line("riscv64", QEMU_RISCV)
ARM64_NO_F = upstream_line("aarch64", QEMU_ARM64, flags="OP")
PERSIST = "/etc/binfmt.d/qemu-aarch64.conf"
INSTALL = ("apt-get", "install", "-y", "qemu-user-static")


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MAB_DOCTOR_STATE_DIR", str(tmp_path / "state"))


def mounted_host() -> FakeHost:
    """Mounted but switched off, qemu-aarch64 without F, no qemu-riscv64, a binfmt.d file without F."""
    host = FakeHost(files={QEMU_ARM64: "", QEMU_RISCV: "", PERSIST: ARM64_NO_F + "\n"})
    host.write_control(f"{MP}/status", "0")
    host.register(ARM64_NO_F)
    FakePackageManager(host, {"qemu-user-static": {QEMU_RISCV: ""}}).attach()  # installed again: no change
    return host


def unmounted_host() -> FakeHost:
    """binfmt_misc not mounted, on a kernel that drops the entries with the mount (as the host tests' does)."""
    return FakeHost(mounted=False, files={QEMU_RISCV: ""})


PLANS = {
    "mounted": (mounted_host, [make.enable(), make.install(INSTALL), make.unregister("qemu-aarch64"),
                               make.register("qemu-aarch64", ARM64), make.register("qemu-riscv64", RISCV),
                               make.persist(PERSIST, ARM64)]),
    "unmounted": (unmounted_host, [make.mount(), make.register("qemu-riscv64", RISCV)]),
}
POINTS = {
    "mounted": ["journal:begin", "enable:before", "enable:after", "install:before", "install:during", "install:after",
                "unregister:before", "unregister:after", "register:before:1", "register:after:1",
                "register:before:2", "register:after:2", "persist:before", "persist:during", "persist:after"],
    "unmounted": ["journal:begin", "mount:before", "mount:after", "register:before", "register:after"],
}
CASES = [(plan, point) for plan, points in POINTS.items() for point in points]


def killed(host: FakeHost, plan: str, point: str) -> None:
    """Run the plan as --fix does, dying at ``point``."""
    crasher = Crasher(point)
    with pytest.raises(Crash):
        journal = crasher.journal(Journal.for_fix())
        apply(PLANS[plan][1], journal, lambda n: None, lambda m: None, writer=crasher.writer(host))
        journal.finish()


class UnsavedJournal(Journal):
    def save(self) -> None:
        pass  # kept in memory: the state directory is for the runs under test


def fixed(plan: str):
    """The state a fix that is never killed leaves."""
    host = PLANS[plan][0]()
    journal = UnsavedJournal(Path("unsaved.json"), {"steps": [], "runs": [{}]})
    apply(PLANS[plan][1], journal, lambda n: None, lambda m: None, writer=host)
    return host.snapshot()


def test_every_kind_of_the_plans_is_killed_before_and_after_its_change():
    points = {":".join(p.split(":")[:2]) for _, p in CASES}
    for kind in {a.kind for _, plan in PLANS.values() for a in plan}:
        assert {f"{kind}:before", f"{kind}:after"} <= points, kind


@pytest.mark.parametrize("plan, point", CASES)
def test_undo_after_a_kill_restores_the_start_exactly(plan, point):
    host = PLANS[plan][0]()
    start = host.snapshot()
    killed(host, plan, point)
    chosen = Journal.pick()
    if point == "journal:begin":  # the run changed nothing: there is nothing to revert
        assert chosen.journal is None and "killed before its first step" in chosen.notes[0]
        assert host.snapshot() == start
        return
    assert chosen.journal.interrupted and chosen.notes == ()
    assert chosen.journal.steps[-1]["state"] == "pending"
    undo(chosen.journal, lambda m: None, writer=host)
    assert host.snapshot() == start
    assert Journal.latest() is None


@pytest.mark.parametrize("plan, point", CASES)
def test_a_rerun_after_a_kill_completes_the_fix_and_one_undo_reverts_both_runs(plan, point):
    want = fixed(plan)
    host = PLANS[plan][0]()
    start = host.snapshot()
    killed(host, plan, point)
    journal = Journal.for_fix()
    assert bool(journal.continued) == (point != "journal:begin")  # it carries on the killed run's journal
    apply(PLANS[plan][1], journal, lambda n: None, lambda m: None, writer=host)
    journal.finish()
    assert host.snapshot() == want
    assert not journal.interrupted and len(journal.runs) == (1 if point == "journal:begin" else 2)
    undo(Journal.latest(), lambda m: None, writer=host)
    assert host.snapshot() == start


def test_a_killed_register_that_the_kernel_took_is_recognised_without_its_read_back():
    host = PLANS["unmounted"][0]()
    killed(host, "unmounted", "register:after")
    step = Journal.latest().steps[-1]
    assert step["state"] == "pending" and "after" not in step  # died before it read the entry back
    assert "flags: F\n" in host.read(f"{MP}/qemu-riscv64")
    undo(Journal.latest(), lambda m: None, writer=host)  # still its own definition: not "changed since"
    assert not host.kernel.mounted


def test_a_completed_register_journals_the_exact_entry_text_the_kernel_shows():
    host = mounted_host()
    journal = Journal.begin()
    apply(PLANS["mounted"][1], journal, lambda n: None, lambda m: None, writer=host)
    registered = {s["name"]: s["after"] for s in journal.steps if s["kind"] == "register"}
    assert registered == {n: host.read(f"{MP}/{n}") for n in ("qemu-aarch64", "qemu-riscv64")}
    persisted = next(s for s in journal.steps if s["kind"] == "persist")
    assert persisted["after"] == ARM64 + "\n" and persisted["mode_before"] == 0o644
