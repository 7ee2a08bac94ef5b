"""The run's one pool of worker threads, shared by checks and by the commands they wait on."""

from __future__ import annotations

import itertools
import queue
import threading
import time
from typing import Any, Callable, Iterable, TypeVar

# Worker threads of one run: most checks wait on a process, a socket or a fact another check computes,
# not on the CPU. A full run holds about a dozen such waits at once (the facts started early, checks
# waiting on them, one probe per target); with fewer workers a check that is ready sits in the queue.
DEFAULT_JOBS = 16

T = TypeVar("T")
R = TypeVar("R")

# A thread waiting for tasks wakes this often: Ctrl-C and deadlines are noticed this fast.
WAKE_S = 0.1

class Cancelled(Exception):
    """The run ended before a worker started this task."""


class Task:
    """One call that either a worker or a waiting caller runs, whichever claims it first; it records
    when it was submitted and when it started, so a runner can tell a stuck call from a queued one."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        self.fn, self.args = fn, args
        self.submitted_at = time.monotonic()
        self.started_at: float | None = None
        self.abandoned = False  # the pool gave up on it: its worker leaves once (if ever) it returns
        self.value: Any = None
        self.error: BaseException | None = None
        self._claimed = False
        self._claim_lock = threading.Lock()
        self._finished = threading.Event()
        self._listeners: list[Callable[[], None]] = []

    def _claim(self) -> bool:
        with self._claim_lock:
            if self._claimed:
                return False
            self._claimed = True
            return True

    def run_if_unclaimed(self) -> None:
        """Run the call here, unless someone else already has it."""
        if not self._claim():
            return
        self.started_at = time.monotonic()
        try:
            self.value = self.fn(*self.args)
        except BaseException as exc:  # handed to whoever waits, who re-raises it
            self.error = exc
        finally:
            self._finish()

    def cancel(self) -> None:
        """Make sure nobody starts it any more (a running or finished task is left alone)."""
        if self._claim():
            self.error = Cancelled()
            self._finish()

    def when_done(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` once the task has finished (at once, here, when it already has)."""
        with self._claim_lock:
            if not self._finished.is_set():
                self._listeners.append(fn)
                return
        fn()

    def _finish(self) -> None:
        self._finished.set()  # first: a listener woken now sees the task done
        with self._claim_lock:
            listeners, self._listeners = self._listeners, []
        for fn in listeners:
            fn()

    @property
    def done(self) -> bool:
        return self._finished.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """True once it finished; False when ``timeout`` seconds passed first."""
        return self._finished.wait(timeout)

    def result(self) -> Any:
        """Its value, or its exception raised again (KeyboardInterrupt included)."""
        if self.error is not None:
            raise self.error
        return self.value


def within(seconds: float, fn: Callable[..., R], *args: Any, default: R) -> R:
    """``fn(*args)`` on a daemon thread, or ``default`` when it has not returned within ``seconds``
    (the caller keeps waking up meanwhile, so Ctrl-C still reaches it); its exception is raised."""
    task = Task(fn, *args)

    threading.Thread(target=task.run_if_unclaimed, name="bounded", daemon=True).start()
    deadline = time.monotonic() + seconds
    while not task.wait(min(WAKE_S, max(0.0, deadline - time.monotonic()))):
        if time.monotonic() >= deadline:
            return default
    return task.result()


class TaskPool:
    """Daemon worker threads taking tasks from one queue. Checks are submitted to it, and `map`
    spreads a check's waiting (one process per target, say) over the same workers. A caller
    waiting for its own tasks runs every task no worker has started yet itself, so nesting cannot
    deadlock even with a single worker.

    Daemon threads, not concurrent.futures: its executors join their workers at interpreter exit,
    so one check that never returns would keep the process alive for ever."""

    def __init__(self, workers: int, name: str = "check") -> None:
        self.name = name
        self._queue: queue.SimpleQueue[Task | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._numbers = itertools.count()
        self._started = 0
        for _ in range(max(1, workers)):
            self.add_worker()

    def add_worker(self) -> None:
        """One more worker (in place of one that is stuck)."""
        with self._lock:
            if self._closed:
                return
            self._started += 1
            number = next(self._numbers)
        threading.Thread(target=self._work, name=f"{self.name}_{number}", daemon=True).start()

    def _work(self) -> None:
        while True:
            task = self._queue.get()
            if task is None:
                return
            task.run_if_unclaimed()
            with self._lock:
                if task.abandoned:  # a replacement took this worker's place while it was stuck
                    return

    def submit(self, fn: Callable[..., R], *args: Any) -> Task:
        """Run ``fn(*args)`` on a worker; the Task says when it started and what it gave."""
        if self._closed:
            raise RuntimeError("the pool of this run is closed")
        task = Task(fn, *args)
        self._queue.put(task)
        return task

    def abandon(self, task: Task) -> None:
        """Stop counting on a running task that may never return: a new worker takes its place."""
        with self._lock:
            if task.abandoned or task.done or task.started_at is None:
                return
            task.abandoned = True
        self.add_worker()

    def close(self) -> None:
        """Idle workers leave; stuck ones are daemons and do not keep the process alive."""
        with self._lock:
            self._closed = True
            started = self._started
        for _ in range(started):
            self._queue.put(None)

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``[fn(item) for item in items]``, side by side; the first error (in input order) is
        raised once every task has finished."""
        tasks = [Task(fn, item) for item in items]
        if not self._closed:
            for task in tasks[1:]:  # the caller starts on the first one right away
                self._queue.put(task)
        for task in tasks:
            task.run_if_unclaimed()
        for task in tasks:
            task.wait()
        failed = next((t.error for t in tasks if t.error is not None), None)
        if failed is not None:
            raise failed
        return [t.value for t in tasks]
