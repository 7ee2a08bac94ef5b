"""Run checks: prerequisites first, crashes isolated, a time budget each, output in a stable order."""

from __future__ import annotations

import dataclasses
import heapq
import threading
import time
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

from mab_doctor.core.check import Check
from mab_doctor.core.model import Outcome, Result, SkipCheck, Status
from mab_doctor.core.tasks import DEFAULT_JOBS, WAKE_S, Task, TaskPool

if TYPE_CHECKING:
    from mab_doctor.core.context import Context
    from mab_doctor.core.registry import LoadProblem

# A prerequisite counts as met when its worst result is one of these.
MET = (Status.OK, Status.WARN)
# How a check's time budget follows --timeout (see check_budget).
COMMANDS_PER_CHECK = 4
CHECK_MARGIN_S = 1.0
MIN_CHECK_BUDGET_S = 3.0


class UnknownCheck(KeyError):
    """A selected name that no registered check has."""


def select(checks: Sequence[Check], names: Iterable[str] = (), *, opt_in: bool = False) -> list[Check]:
    """The named checks plus everything they require (all checks when no name is given, except the
    opt-in ones, which ``opt_in`` adds to any selection)."""
    by_name = {c.name: c for c in checks}
    wanted = list(names)
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise UnknownCheck(", ".join(unknown))
    if not wanted:
        return [c for c in checks if opt_in or not c.opt_in]
    wanted += [c.name for c in checks if opt_in and c.opt_in]
    chosen: set[str] = set()
    stack = wanted[:]
    while stack:
        name = stack.pop()
        if name in chosen or name not in by_name:
            continue
        chosen.add(name)
        stack.extend(by_name[name].requires)
    return [c for c in checks if c.name in chosen]


def order(checks: Sequence[Check]) -> list[Check]:
    """Topological order by ``requires``; ties keep the given (display) order."""
    index = {c.name: i for i, c in enumerate(checks)}
    deps = {c.name: {r for r in c.requires if r in index} for c in checks}
    ready = [index[n] for n, d in deps.items() if not d]
    heapq.heapify(ready)
    done: list[Check] = []
    while ready:
        chk = checks[heapq.heappop(ready)]
        done.append(chk)
        for name, d in deps.items():
            if chk.name in d:
                d.discard(chk.name)
                if not d:
                    heapq.heappush(ready, index[name])
    cyclic = [c for c in checks if c not in done]
    return done + cyclic  # a cycle cannot be satisfied: those checks SKIP below


def call_isolated(chk: Check, ctx: "Context") -> tuple[list[Result], float]:
    """Run one check; any exception but Ctrl-C/SystemExit becomes an ERROR result."""
    start = time.monotonic()
    try:
        raw = chk.run(ctx)
        results = [raw] if isinstance(raw, Result) else list(raw) if raw is not None else []
        bad = [r for r in results if not isinstance(r, Result)]
        if bad or not results:
            what = type(bad[0]).__name__ if bad else "nothing"
            results = [Result.error(f"check returned {what}, expected Result")]
    except SkipCheck as exc:
        results = [Result.skip(str(exc) or "skipped")]
    except Exception as exc:  # pytest's CallInfo idea: one wrapper catches everything else
        import traceback  # only a crashed check needs it

        lines = "".join(traceback.format_exception(exc)).rstrip().splitlines()
        results = [Result.error(f"check crashed: {exc!r}", details=lines,
                                remediation=f"This is a bug in the check ({chk.source}); report it "
                                            f"with the traceback above.")]
    return [_with_remediation(chk, r) for r in results], time.monotonic() - start


def _with_remediation(chk: Check, res: Result) -> Result:
    # Every non-OK row must say what to do; plugins may forget.
    if res.status in (Status.OK, Status.SKIP) or res.remediation:
        return res
    return dataclasses.replace(res, remediation=f"See `mab-doctor explain {chk.name}`.")


def _blocked(chk: Check, worst: dict[str, Result]) -> Result | None:
    reasons = []
    for name in chk.requires:
        res = worst.get(name)
        if res is None:
            reasons.append(f"{name} did not run")
        elif res.status not in MET:
            reasons.append(f"{name} is {res.status.name}: {res.summary}")
    if not reasons:
        return None
    return Result.skip("prerequisite not met: " + "; ".join(reasons), data={"blocked_by": list(chk.requires)},
                       remediation=f"Fix {', '.join(chk.requires)} first, then run mab-doctor again.")


def check_budget(timeout: float) -> float:
    """Seconds one check may take before the run gives up on it and reports an ERROR.

    A check runs at most a few external commands one after another, each bounded by --timeout,
    and may wait for another check's command through a shared fact: COMMANDS_PER_CHECK of them
    plus a margin for reading files. The floor keeps a tiny --timeout from cutting off checks that
    only read files on a slow board. Only a check stuck beyond any command's timeout (a FIFO read,
    a library in a loop) ever reaches it."""
    return max(MIN_CHECK_BUDGET_S, COMMANDS_PER_CHECK * timeout + CHECK_MARGIN_S)


def timed_out(chk: Check, budget_s: float) -> Result:
    """The row of a check that did not finish within its budget."""
    return Result.error(f"timed out after {budget_s:g} s (the check did not finish)",
                        remediation=f"Something this check waits for does not answer (a hung daemon, a FIFO, "
                                    f"a stale network mount): run `mab-doctor {chk.name}` alone to see it. "
                                    f"On a host that is only slow, raise --timeout; otherwise report it as a "
                                    f"bug in the check ({chk.source}).")


def run_checks(checks: Sequence[Check], ctx: "Context", *, problems: Sequence["LoadProblem"] = (),
               jobs: int = DEFAULT_JOBS, budget_s: float | None = None, pool: TaskPool | None = None
               ) -> Iterator[Outcome]:
    """Outcomes in stable order, as they come; independent checks may run concurrently (``jobs``).

    Each check gets ``budget_s`` seconds (default: check_budget(ctx.timeout)); one that takes longer
    becomes an ERROR row and the run goes on without it. The run's pool is the only one: checks lend
    it to their own waiting through ``ctx.map``; ``pool``: one the caller started earlier (work it already
    began keeps going), closed at the end."""
    # A built-in known by its description imports its module now, on the caller's thread: never two
    # check imports at once on workers (modules importing each other could meet half-initialised), and
    # never inside a check's time budget.
    resolved = [c.resolved() for c in checks]
    return _outcomes(resolved, ctx, problems, check_budget(ctx.timeout) if budget_s is None else budget_s,
                     pool or TaskPool(jobs, name="check"))


def _outcomes(checks: list[Check], ctx: "Context", problems: Sequence["LoadProblem"], budget: float,
              pool: TaskPool) -> Iterator[Outcome]:
    for problem in problems:
        ghost = Check(problem.name, f"plugin {problem.name}", "plugins", run=None,  # type: ignore[arg-type]
                      source=problem.source)
        yield Outcome(ghost, Result.error(problem.message, details=(f"source: {problem.source}",),
                                          remediation="Fix or uninstall that plugin, or run with "
                                                      "--no-plugins."))
    try:
        with ctx.sharing(pool):
            yield from _Run(order(checks), ctx, pool, budget).outcomes()
    finally:
        pool.close()


def _worst(results: list[Result]) -> Result:
    """The result that decides a check's dependents: its most severe one."""
    return max(results, key=lambda r: r.status.severity)


class _Run:
    """One pass over the plan: the main thread only starts checks and waits for them, in short
    sleeps, so Ctrl-C and deadlines are noticed within WAKE_S."""

    def __init__(self, plan: list[Check], ctx: "Context", pool: TaskPool, budget: float) -> None:
        self.plan, self.ctx, self.pool, self.budget = plan, ctx, pool, budget
        self.tasks: dict[str, Task] = {}
        self.worst: dict[str, Result] = {}
        self.helped: set[str] = set()
        self.settled = threading.Event()  # set whenever a check returns: its dependents may start now

    def outcomes(self) -> Iterator[Outcome]:
        try:
            for chk in self.plan:
                self._start_ready()
                results, took = self._finish(chk)
                self.worst[chk.name] = _worst(results)
                for res in results:
                    yield Outcome(chk, res, took / len(results))
        finally:
            for task in self.tasks.values():
                task.cancel()

    def _start_ready(self) -> None:
        # Start every check whose prerequisites have all finished and passed. A prerequisite counts as soon
        # as it returned, not when its turn in the report comes: a slow check earlier in the plan must not
        # hold back the dependents of a quick one.
        for name, task in self.tasks.items():
            if name not in self.worst and task.done and task.error is None and not task.abandoned:
                self.worst[name] = _worst(task.value[0])
        for chk in self.plan:
            if chk.name in self.tasks or chk.name in self.worst:
                continue
            if all(r in self.worst for r in chk.requires) and _blocked(chk, self.worst) is None:
                self._submit(chk)

    def _submit(self, chk: Check) -> None:
        task = self.tasks[chk.name] = self.pool.submit(call_isolated, chk, self.ctx)
        task.when_done(self.settled.set)

    def _finish(self, chk: Check) -> tuple[list[Result], float]:
        blocked = _blocked(chk, self.worst)
        if blocked is not None:
            return [blocked], 0.0
        if chk.name not in self.tasks:
            self._submit(chk)
        task = self.tasks[chk.name]
        while not task.abandoned and not task.done:
            self.settled.wait(WAKE_S)
            self.settled.clear()
            self._start_ready()
            self._watch()
        if task.abandoned:
            return [timed_out(chk, self.budget)], self.budget
        return task.result()  # re-raises KeyboardInterrupt/SystemExit raised inside the check

    def _watch(self) -> None:
        # Give up on every check past its budget, not only the awaited one: stuck checks hold
        # workers that the awaited one may still be queued for.
        now = time.monotonic()
        for name, task in self.tasks.items():
            if task.started_at is not None:
                if not task.done and now - task.started_at > self.budget:
                    self.pool.abandon(task)
            elif now - task.submitted_at > self.budget and name not in self.helped:
                # Queued for a whole budget: its workers are stuck in calls the runner cannot see
                # (tasks of a check it gave up on); one more worker lets it start.
                self.helped.add(name)
                self.pool.add_worker()
