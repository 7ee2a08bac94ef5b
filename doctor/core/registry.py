"""Find checks: the built-in tuple plus third-party entry points, problems as ERROR rows."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterable

from mab_doctor.core.check import Check

GROUP = "mab_doctor.checks"


@dataclass(frozen=True)
class LoadProblem:
    """A plugin that could not be loaded or registered; rendered as an ERROR row."""

    name: str
    source: str
    message: str


@dataclass(frozen=True)
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


def builtin_checks() -> tuple[Check, ...]:
    """Our own checks, from the explicit tuple in checks/__init__.py."""
    from mab_doctor.checks import BUILTIN  # the only place that imports the generic 'checks' package

    return tuple(BUILTIN)


def discover(*, plugins: bool = True, group: str = GROUP,
             builtins: Iterable[Check] | None = None) -> Registry:
    """Built-ins plus (unless ``plugins`` is False) checks from the entry-point group."""
    found = list(builtin_checks() if builtins is None else builtins)
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
        issues = chk.problems()
        if issues:
            problems.append(LoadProblem(chk.name, chk.source, "; ".join(issues)))
        elif chk.name in checks:
            first = checks[chk.name]
            problems.append(LoadProblem(chk.name, chk.source,
                                        f"duplicate check name (already provided by {first.source})"))
        else:
            checks[chk.name] = chk
    ordered = sorted(checks.values(), key=lambda c: (c.category_rank, c.category, _builtin_rank(c)))
    return Registry(tuple(ordered), tuple(problems))


def _builtin_rank(chk: Check) -> tuple[int, str]:
    # Built-ins keep the order of the BUILTIN tuple within a category; plugins follow by name.
    names = [c.name for c in builtin_checks()]
    return (names.index(chk.name), "") if chk.source == "builtin" and chk.name in names else (len(names), chk.name)
