"""Compose files read as builds: services with `build`, merged over override files, variables interpolated."""

from __future__ import annotations

import posixpath
import re
from collections import ChainMap
from typing import Any, Mapping

from mab_doctor.project.commandline import platforms_from
from mab_doctor.project.files import ProjectFiles
from mab_doctor.project.model import Build, Platform, Problem, Where
from mab_doctor.project.substitute import Bounded, ExpansionTooLarge


class InterpolationError(ValueError):
    """A ${...} that compose itself would refuse (unclosed, or `:?` on an unset variable)."""


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def interpolate(text: str, env: Mapping[str, str], depth: int = 0) -> str:
    """Compose's variable syntax: $$, $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:+a}, ${VAR+a}, ${VAR:?e}."""
    if depth > 20:  # defaults nest; a hostile file must not exhaust the stack
        raise InterpolationError("interpolation nested more than 20 levels deep")
    if "$" not in text:
        return text
    out = Bounded()  # raises ExpansionTooLarge: values that grow by referring to each other stop here
    i = 0
    while i < len(text):
        dollar = text.find("$", i)
        if dollar < 0:
            out.add(text[i:])
            break
        out.add(text[i:dollar])
        i = dollar
        nxt = text[i + 1: i + 2]
        if nxt == "$":
            out.add("$")
            i += 2
        elif nxt == "{":
            close = _close_brace(text, i + 1)
            out.add(_expand(text[i + 2: close], env, depth))
            i = close + 1
        elif (name := _NAME.match(text, i + 1)) is not None:
            out.add(env.get(name.group(0), ""))
            i = name.end()
        else:
            out.add("$")
            i += 1
    return out.text()


def _close_brace(text: str, i: int) -> int:
    depth = 0
    for j in range(i, len(text)):
        depth += (text[j] == "{") - (text[j] == "}")
        if depth == 0:
            return j
    raise InterpolationError(f"invalid interpolation format for {text!r}: no closing brace")


def _expand(body: str, env: Mapping[str, str], depth: int) -> str:
    name = _NAME.match(body)
    if name is None:
        raise InterpolationError(f"invalid interpolation format: ${{{body}}}")
    key, rest = name.group(0), body[name.end():]
    value = env.get(key)
    if not rest:
        return value or ""
    for op in (":-", ":+", ":?", "-", "+", "?"):
        if rest.startswith(op):
            arg = rest[len(op):]
            present = value is not None and (value != "" or ":" not in op)
            if op.endswith("-"):
                return value if present else interpolate(arg, env, depth + 1)  # type: ignore[return-value]
            if op.endswith("+"):
                return interpolate(arg, env, depth + 1) if present else ""
            if not present:
                raise InterpolationError(f"required variable {key} is missing a value: {arg or key}")
            return value  # type: ignore[return-value]
    raise InterpolationError(f"invalid interpolation format: ${{{body}}}")


def read_dotenv(text: str, env: Mapping[str, str], path: str = ".env") -> tuple[dict[str, str], list[Problem]]:
    """KEY=VALUE lines of a .env file (export, quotes, # comments); earlier keys interpolate later values.
    A value that would expand past the bound is left unset and is a Problem at its line."""
    found: dict[str, str] = {}
    problems: list[Problem] = []
    lookup = ChainMap(env, found)  # the environment wins; a view, not a copy per line
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not _NAME.fullmatch(key):
            continue
        if value[:1] in ("'", '"') and value.find(value[0], 1) > 0:
            quote = value[0]
            value = value[1: value.find(quote, 1)]
            if quote == "'":
                found[key] = value
                continue
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0]
        try:
            found[key] = interpolate(value, lookup)
        except InterpolationError:
            found[key] = value
        except ExpansionTooLarge as exc:
            found.pop(key, None)
            problems.append(Problem(Where(path, number), exc.of(key)))
    return found, problems


def read_compose(files: ProjectFiles, paths: list[str], env: Mapping[str, str]) -> tuple[list[Build], list[Problem]]:
    """Builds of every service with `build`, the files merged in order as `docker compose -f a -f b` does.
    The process environment wins over the project's .env. Never raises."""
    # Deferred: this module must import without PyYAML until a YAML file is really read.
    from mab_doctor.project.yamlfile import YamlMap, load_yaml, position

    problems: list[Problem] = []
    if not paths:
        return [], problems
    base = posixpath.dirname(paths[0])  # compose resolves relative paths against the first file's folder
    variables = dict(env)
    dotenv = posixpath.join(base, ".env")
    if files.kind(dotenv) != "missing":  # a .env that cannot be read is worth saying
        text, why = files.read_text(dotenv)
        if text is None:
            problems.append(Problem(Where(dotenv), why or "not read"))
        else:
            values, bad = read_dotenv(text, env, dotenv)
            variables = {**values, **env}
            problems += bad
    services: dict[str, dict[str, tuple[Any, Where]]] = {}
    order: list[str] = []
    for path in paths:
        text, why = files.read_text(path)
        if text is None:
            problems.append(Problem(Where(path), why or "not read"))
            continue
        data, problem = load_yaml(text, path)
        if problem is not None:
            problems.append(problem)
            continue
        if data is None:
            continue
        if not isinstance(data, YamlMap):
            problems.append(Problem(Where(path, getattr(data, "line", 0) or 1, getattr(data, "column", 0) or 1),
                                    "a compose file must be a mapping (services: ...)"))
            continue
        found = data.get("services")
        if found is None:
            continue
        if not isinstance(found, YamlMap):
            problems.append(Problem(Where(path, *position(data, "services")), "`services` must be a mapping"))
            continue
        for name, service in found.items():
            at = Where(path, *position(found, name))
            if service is None:
                continue
            if not isinstance(service, YamlMap):
                problems.append(Problem(at, f"service {name!r} must be a mapping"))
                continue
            merged = services.setdefault(str(name), {})
            if str(name) not in order:
                order.append(str(name))
            _merge(merged, service, path, problems)
    builds = []
    for name in order:
        build = _service_build(name, services[name], base, variables, problems)
        if build is not None:
            builds.append(build)
    return builds, problems


def _merge(merged: dict[str, tuple[Any, Where]], service: Any, path: str, problems: list[Problem]) -> None:
    """Later files win per key; `build` merges per key of its own (a string build is its context) and
    build.platforms, a sequence, is appended to, as compose merges sequences (`!override`, `!reset` obeyed)."""
    from mab_doctor.project.yamlfile import YamlList, YamlMap, position

    for key, value in service.items():
        at = Where(path, *position(service, key))
        if getattr(value, "tag", "") == "!reset":
            merged.pop(str(key), None)
            continue
        if key != "build":
            merged[str(key)] = (value, at)
            continue
        if isinstance(value, str):
            value = {"context": value}
            keys_at = {"context": at}
        elif isinstance(value, YamlMap):
            keys_at = {str(k): Where(path, *position(value, k)) for k in value}
        else:
            problems.append(Problem(at, "`build` must be a context path or a mapping"))
            continue
        old = merged.get("build", ({}, at))[0]
        fields = dict(old) if isinstance(old, dict) else {}
        for k, v in value.items():
            if getattr(v, "tag", "") == "!reset":
                fields.pop(str(k), None)
            elif k == "platforms" and isinstance(v, YamlList):
                old_items = fields.get(k, ([],))[0] if v.tag != "!override" else []
                items = [(item, Where(path, *position(v, i))) for i, item in enumerate(v)]
                fields[k] = ((old_items if isinstance(old_items, list) else []) + items, keys_at[k])
            else:
                fields[str(k)] = (v, keys_at[str(k)])
        merged["build"] = (fields, at)


def _service_build(name: str, service: dict[str, tuple[Any, Where]], base: str, env: Mapping[str, str],
                   problems: list[Problem]) -> Build | None:
    if "build" not in service:
        return None
    fields, where = service["build"]

    def text(value: Any, at: Where) -> str | None:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            problems.append(Problem(at, f"service {name!r}: expected a string here"))
            return None
        try:
            return interpolate(str(value), env)
        except (InterpolationError, ExpansionTooLarge) as exc:
            what = "the value " if isinstance(exc, ExpansionTooLarge) else ""
            problems.append(Problem(at, f"service {name!r}: {what}{exc}"))
            return None

    platforms: list[Platform] = []
    if "platforms" in fields:
        value, at = fields["platforms"]
        if isinstance(value, list):
            for item, item_at in value:
                got = text(item, item_at)
                if got is not None:
                    platforms += platforms_from([got], item_at, problems)
        else:
            problems.append(Problem(at, f"service {name!r}: build.platforms must be a list"))
    elif "platform" in service:
        value, at = service["platform"]
        got = text(value, at)
        if got is not None:
            platforms = platforms_from([got], at, problems)
    context = text(*fields["context"]) if "context" in fields else "."
    context = "." if context is None else context
    remote = "://" in context or context.startswith("git@")
    if not remote:
        context = posixpath.normpath(posixpath.join(base, context))
    dockerfile: str | None = None
    if "dockerfile_inline" not in fields and not remote:
        written = text(*fields["dockerfile"]) if "dockerfile" in fields else "Dockerfile"
        if written:
            dockerfile = posixpath.normpath(posixpath.join(context, written))
    unique: dict[str, Platform] = {}
    for platform in platforms:
        unique.setdefault(platform.name, platform)
    return Build(kind="compose", name=name, where=where, platforms=tuple(unique.values()), engine="buildx", load=True,
                 dockerfile=dockerfile, context=context)
