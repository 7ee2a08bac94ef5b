"""The Check description, the @check decorator (registers nothing) and the deferred run of a built-in."""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Callable, Iterable, Union

from mab_doctor.core.record import record

if TYPE_CHECKING:
    from mab_doctor.core.context import Context
    from mab_doctor.core.model import Result

# Report order of categories; a plugin category not listed here sorts after these.
CATEGORIES = ("host", "kernel", "emulation", "docker", "podman", "project")
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
DOC_SECTIONS = ("What it checks", "Why it matters", "How to fix")

RunResult = Union["Result", Iterable["Result"]]


@record
class Check:
    """A check: a stable kebab-case name plus the function that computes its results."""

    name: str
    title: str
    category: str
    run: Callable[["Context"], RunResult]
    requires: tuple[str, ...] = ()
    per_target: bool = False
    fixable: bool = False
    doc: str = ""
    source: str = "builtin"
    opt_in: bool = False  # runs only when named, or asked for by its option (build-probe: --build)

    def __call__(self, ctx: "Context") -> RunResult:
        return self.run(ctx)

    @property
    def category_rank(self) -> int:
        """Index of the category in the report order."""
        return CATEGORIES.index(self.category) if self.category in CATEGORIES else len(CATEGORIES)

    def resolved(self) -> "Check":
        """This check with its own run() function: a deferred one imports its module now."""
        return replace(self, run=self.run.load().run) if isinstance(self.run, Deferred) else self

    def problems(self) -> list[str]:
        """What is wrong with this declaration (empty when it is valid)."""
        found = []
        if not NAME_RE.match(self.name):
            found.append(f"check name {self.name!r} is not kebab-case")
        if not callable(self.run):
            found.append(f"check {self.name!r} has no callable run()")
        return found


def check(*, name: str, title: str, category: str, requires: Iterable[str] = (),
          per_target: bool = False, fixable: bool = False, opt_in: bool = False) -> Callable[[Callable], Check]:
    """Turn a ``run(ctx)`` function into a Check; its docstring becomes ``explain`` text."""

    def wrap(fn: Callable) -> Check:
        return Check(name=name, title=title, category=category, run=fn, requires=tuple(requires),
                     per_target=per_target, fixable=fixable, doc=inspect.getdoc(fn) or "", opt_in=opt_in)

    return wrap


@record
class Deferred:
    """The run() of a check known by its description alone: its module is imported when it first runs."""

    module: str  # dotted module path
    attr: str    # the Check the module's @check made

    def __call__(self, ctx: "Context") -> RunResult:
        return self.load().run(ctx)

    def load(self) -> Check:
        """The Check the module defines (the import happens once; Python keeps the module)."""
        return getattr(importlib.import_module(self.module), self.attr)
