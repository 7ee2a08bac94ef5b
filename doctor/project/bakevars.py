"""Bake variables: each expanded once, after those it refers to, within the expansion bound; cycles are Problems."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mab_doctor.project.model import Problem, Where
from mab_doctor.project.substitute import Bounded, ExpansionTooLarge, expand

_REF = re.compile(r"\$\{\s*([A-Za-z_][A-Za-z0-9_-]*)\s*\}")


def interpolate(value: Any, variables: Mapping[str, Any], out: Bounded | None = None) -> Any:
    """Substitute ${NAME} for known variables; a whole-string reference keeps the variable's type.
    Raises ExpansionTooLarge when the whole value (a list counted together) passes the bound."""
    out = Bounded() if out is None else out
    if isinstance(value, list):
        return [interpolate(v, variables, out) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value
    whole = _REF.fullmatch(value)
    if whole and whole.group(1) in variables:
        got = variables[whole.group(1)]  # the same object, not a copy, but its users may copy it: count it
        out.take(sum(len(v) for v in (got if isinstance(got, list) else [got]) if isinstance(v, str)))
        return got

    def one(m: re.Match[str]) -> str:
        got = variables.get(m.group(1))
        if got is None or isinstance(got, (list, dict)):
            return m.group(0)
        return str(got).lower() if isinstance(got, bool) else str(got)
    return expand(value, _REF, one, out)  # the items of one list share one bound


def _refs(value: Any) -> list[str]:
    if isinstance(value, list):
        return [name for item in value for name in _refs(item)]
    return _REF.findall(value) if isinstance(value, str) else []


def variables_of(blocks: list[tuple[str, dict[str, Any], Where]], from_env: set[str], env: Mapping[str, str],
                 problems: list[Problem]) -> dict[str, Any]:
    """Every variable's value, each expanded once after the ones it refers to (walked without recursion).
    A cycle is a Problem, as buildx makes it an error, and its variables stay unexpanded references."""
    raw: dict[str, Any] = {}
    where: dict[str, Where] = {}
    for label, body, at in blocks:
        raw[label] = env[label] if label in from_env and label in env else body.get("default")
        where[label] = at
    done: dict[str, Any] = {}
    seen: set[str] = set()
    cyclic: set[str] = set()
    for start in raw:
        if start in seen:
            continue
        seen.add(start)
        stack = [(start, iter(dict.fromkeys(r for r in _refs(raw[start]) if r in raw)))]
        depth = {start: 0}  # the variables on the walk's path, and where
        while stack:
            name, refs = stack[-1]
            ref = next(refs, None)
            if ref is not None:
                if ref in depth:
                    cycle = [n for n, _ in stack[depth[ref]:]] + [ref]
                    cyclic.update(cycle)
                    problems.append(Problem(where[ref], "variable cycle not allowed: " + " -> ".join(cycle)[:200]))
                elif ref not in seen:
                    seen.add(ref)
                    depth[ref] = len(stack)
                    stack.append((ref, iter(dict.fromkeys(r for r in _refs(raw[ref]) if r in raw))))
                continue
            stack.pop()
            del depth[name]
            if name in cyclic:
                continue
            try:
                done[name] = interpolate(raw[name], done)
            except ExpansionTooLarge as exc:
                problems.append(Problem(where[name], exc.of(name)))
    return {k: v for k, v in done.items() if v is not None}
