"""Typed facts about the host, each computed once per run under its own lock."""

from __future__ import annotations

import threading
from typing import Any, Callable, Generic, Hashable, TypeVar

from mab_doctor.core.record import record

T = TypeVar("T")


@record(eq=False)
class Fact(Generic[T]):
    """A named fact and the function that computes it: ``compute(ctx, *key) -> T``.

    Declare it next to that function (``HOST_FACTS = Fact("host facts", _compute)``) and read it
    with ``ctx.fact(HOST_FACTS)``, or ``ctx.fact(INTERPRETER, path)`` for a fact with a key.
    Facts compare by identity: two declarations with the same name are two facts."""

    name: str
    compute: Callable[..., T]

    def __repr__(self) -> str:
        return f"Fact({self.name!r})"


class FactCycle(RuntimeError):
    """A fact whose computation asked for itself (it would otherwise wait forever)."""


class _Slot:
    """One fact (and key) of one run: computed by the first asker, waited for by the others."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = False
        self.value: Any = None
        self.error: BaseException | None = None
        self.owner: int | None = None  # the thread computing it, to catch a fact that needs itself

    def get(self, label: str, compute: Callable[[], Any]) -> Any:
        if not self.done:
            if self.owner == threading.get_ident():
                raise FactCycle(f"fact {label} depends on itself")
            with self.lock:
                if not self.done:
                    self.owner = threading.get_ident()
                    try:
                        self.value = compute()
                    except Exception as exc:  # every asker of this run sees the same failure
                        self.error = exc
                    finally:
                        self.owner = None
                    self.done = True  # not after Ctrl-C: the next asker computes it again
        if self.error is not None:
            raise self.error
        return self.value


class FactStore:
    """The facts of one run. A short lock guards only the table of slots: a slow fact holds its
    own slot's lock, so it never delays a file read or a different fact."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._slots: dict[tuple[Fact, tuple[Hashable, ...]], _Slot] = {}

    def get(self, fact: "Fact[T]", ctx: Any, key: tuple[Hashable, ...]) -> T:
        """The fact's value for ``key``, computing it on first use with ``ctx`` (the run's Context,
        not imported here: the Context owns this store)."""
        with self._guard:
            slot = self._slots.setdefault((fact, key), _Slot())
        label = fact.name if not key else f"{fact.name} {', '.join(map(str, key))}"
        return slot.get(label, lambda: fact.compute(ctx, *key))
