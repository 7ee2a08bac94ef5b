"""The run's one pool of worker threads, shared by checks and by the commands they wait on."""

from __future__ import annotations

import threading
from concurrent.futures import Executor, Future
from typing import Any, Callable, Iterable, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Task:
    """One call that either a worker or the waiting caller runs, whichever claims it first."""

    def __init__(self, fn: Callable[[Any], Any], item: Any) -> None:
        self.fn, self.item = fn, item
        self.claimed = False
        self.claim_lock = threading.Lock()
        self.finished = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None

    def claim(self) -> bool:
        with self.claim_lock:
            if self.claimed:
                return False
            self.claimed = True
            return True

    def run_if_unclaimed(self) -> None:
        if not self.claim():
            return
        try:
            self.value = self.fn(self.item)
        except BaseException as exc:  # handed to the caller, who re-raises it
            self.error = exc
        finally:
            self.finished.set()


class TaskPool:
    """Wraps the runner's executor: checks are submitted to it, and `map` spreads a check's
    waiting (one process per target, say) over the same workers. A caller waiting for its own
    tasks runs every task no worker has started yet itself, so nesting cannot deadlock even
    with a single worker."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    def submit(self, fn: Callable[..., R], *args: Any) -> "Future[R]":
        """Run ``fn(*args)`` on a worker."""
        return self.executor.submit(fn, *args)

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``[fn(item) for item in items]``, side by side; the first error (in input order) is
        raised once every task has finished."""
        tasks = [_Task(fn, item) for item in items]
        for task in tasks[1:]:  # the caller starts on the first one right away
            try:
                self.executor.submit(task.run_if_unclaimed)
            except RuntimeError:  # the executor is shutting down: the caller runs it below
                break
        for task in tasks:
            task.run_if_unclaimed()
        for task in tasks:
            task.finished.wait()
        failed = next((t.error for t in tasks if t.error is not None), None)
        if failed is not None:
            raise failed
        return [t.value for t in tasks]
