"""Run checks: prerequisites first, crashes isolated, output in a stable order."""

from __future__ import annotations

import dataclasses
import heapq
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

from mab_doctor.core.check import Check
from mab_doctor.core.model import Outcome, Result, SkipCheck, Status
from mab_doctor.core.tasks import TaskPool

if TYPE_CHECKING:
    from mab_doctor.core.context import Context
    from mab_doctor.core.registry import LoadProblem

# A prerequisite counts as met when its worst result is one of these.
MET = (Status.OK, Status.WARN)
# Worker threads of one run: most checks wait on a process or a socket, not on the CPU.
DEFAULT_JOBS = 8


class UnknownCheck(KeyError):
    """A selected name that no registered check has."""


def select(checks: Sequence[Check], names: Iterable[str] = ()) -> list[Check]:
    """The named checks plus everything they require (all checks when no name is given)."""
    by_name = {c.name: c for c in checks}
    wanted = list(names)
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise UnknownCheck(", ".join(unknown))
    if not wanted:
        return list(checks)
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


def run_checks(checks: Sequence[Check], ctx: "Context", *, problems: Sequence["LoadProblem"] = (),
               jobs: int = DEFAULT_JOBS) -> Iterator[Outcome]:
    """Yield outcomes in stable order; independent checks may run concurrently (``jobs``).

    The run's pool is the only one: checks lend it to their own waiting through ``ctx.map``."""
    for problem in problems:
        ghost = Check(problem.name, f"plugin {problem.name}", "plugins", run=None,  # type: ignore[arg-type]
                      source=problem.source)
        yield Outcome(ghost, Result.error(problem.message, details=(f"source: {problem.source}",),
                                          remediation="Fix or uninstall that plugin, or run with "
                                                      "--no-plugins."))
    plan = order(checks)
    worst: dict[str, Result] = {}
    futures: dict[str, Future] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="check") as executor:
        pool = TaskPool(executor)
        with ctx.sharing(pool):
            yield from _run_plan(plan, ctx, pool, futures, worst)


def _run_plan(plan, ctx, pool, futures, worst) -> Iterator[Outcome]:
    try:
        for chk in plan:
            _start_ready(plan, ctx, pool, futures, worst)
            results, took = _finish(chk, ctx, pool, futures, worst)
            worst[chk.name] = max(results, key=lambda r: r.status.severity)
            for res in results:
                yield Outcome(chk, res, took / len(results))
    finally:
        for fut in futures.values():
            fut.cancel()


def _start_ready(plan, ctx, pool, futures, worst) -> None:
    # Start every check whose prerequisites have all finished and passed.
    for chk in plan:
        if chk.name in futures or chk.name in worst:
            continue
        if all(r in worst for r in chk.requires) and _blocked(chk, worst) is None:
            futures[chk.name] = pool.submit(call_isolated, chk, ctx)


def _finish(chk, ctx, pool, futures, worst) -> tuple[list[Result], float]:
    blocked = _blocked(chk, worst)
    if blocked is not None:
        return [blocked], 0.0
    if chk.name not in futures:
        futures[chk.name] = pool.submit(call_isolated, chk, ctx)
    return futures[chk.name].result()  # re-raises KeyboardInterrupt/SystemExit raised inside the check
