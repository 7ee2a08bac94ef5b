"""Find checks: the built-in tuple plus third-party entry points, problems as ERROR rows."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable

from mab_doctor.core.check import Check
from mab_doctor.core.record import record

GROUP = "mab_doctor.checks"


@record
class LoadProblem:
    """A plugin that could not be loaded or registered; rendered as an ERROR row."""

    name: str
    source: str
    message: str


@record
class Registry:
    """All usable checks in report order, plus what went wrong while finding them."""

    checks: tuple[Check, ...]
    problems: tuple[LoadProblem, ...] = ()

    def get(self, name: str) -> Check | None:
        """The check called ``name``, or None."""
        return next((c for c in self.checks if c.name == name), None)

    @property
    def names(self) -> list[str]:
        """Check names in report order."""
        return [c.name for c in self.checks]


def _as_checks(obj: Any) -> list[Any]:
    if isinstance(obj, Check):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return list(obj)
    return [obj]


def discover(builtins: Iterable[Check], *, plugins: bool = True, group: str = GROUP,
             reserved: Iterable[str] = ()) -> Registry:
    """``builtins`` (in report order) plus, unless ``plugins`` is False, checks from the entry-point
    group; a check named like one of the ``reserved`` command words is refused (the command wins)."""
    builtins = tuple(builtins)
    reserved = frozenset(reserved)
    found = list(builtins)
    problems: list[LoadProblem] = []
    if plugins:
        from mab_doctor.core import entrypoints

        for ep in entrypoints.find(group):
            source = ep.source
            try:
                obj = ep.load()
            except Exception as exc:  # a broken plugin must never stop the run
                problems.append(LoadProblem(ep.name, source, f"plugin failed to load: {exc!r}"))
                continue
            for item in _as_checks(obj):
                if not isinstance(item, Check):
                    problems.append(LoadProblem(ep.name, source,
                                                f"entry point gave {type(item).__name__}, not a Check"))
                    continue
                found.append(replace(item, source=source))
    checks: dict[str, Check] = {}
    for chk in found:
        issues = chk.problems() + ([f"check name {chk.name!r} is a mab-doctor command"]
                                   if chk.name in reserved else [])
        if issues:
            problems.append(LoadProblem(chk.name, chk.source, "; ".join(issues)))
        elif chk.name in checks:
            first = checks[chk.name]
            problems.append(LoadProblem(chk.name, chk.source,
                                        f"duplicate check name (already provided by {first.source})"))
        else:
            checks[chk.name] = chk
    # Built-ins keep their given order within a category; plugins follow by name.
    rank = {c.name: i for i, c in enumerate(builtins)}

    def key(c: Check):
        own = c.source == "builtin" and c.name in rank
        return (c.category_rank, c.category, rank[c.name] if own else len(rank), "" if own else c.name)
    ordered = sorted(checks.values(), key=key)
    return Registry(tuple(ordered), tuple(problems))
