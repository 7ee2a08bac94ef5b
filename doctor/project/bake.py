"""Reads buildx bake files (HCL and JSON): every target's platforms, outputs, Dockerfile and context."""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterator, Mapping
from typing import Any

from mab_doctor.host.platforms import PlatformError, parse_platform
from mab_doctor.project.commandline import output_effects
from mab_doctor.project.files import ProjectFiles
from mab_doctor.project.model import Build, Platform, Problem, Where
from mab_doctor.project.bakevars import interpolate, variables_of
from mab_doctor.project.substitute import ExpansionTooLarge

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
# python-hcl2 parses about 40 KiB a second: a bigger file would stall the doctor for many seconds.
HCL_LIMIT = 256 << 10
# The builder's own platform: naming it is the same as naming none.
LOCAL_PLATFORM = "BAKE_LOCAL_PLATFORM"
Block = tuple[str, str, dict[str, Any], Where]  # kind, label, attributes, where


def _one_line(text: str, limit: int = 200) -> str:
    first = (text.strip().splitlines() or [""])[0]
    return first[:limit]


def _hcl_value(value: Any) -> Any:
    """python-hcl2's serialisation to plain values: '"text"' is a string template, a bare name a
    variable reference (spelled "${NAME}" from here on), any other expression stays "${...}"."""
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == value[-1] == '"':
            return re.sub(r'\\(["\\])', r"\1", value[1:-1])
        return "${" + value + "}" if _IDENT.fullmatch(value) else value
    if isinstance(value, list):
        return [_hcl_value(v) for v in value]
    if isinstance(value, dict):
        return {_label(k): _hcl_value(v) for k, v in value.items() if not str(k).startswith("__")}
    return value


def _label(key: Any) -> str:
    key = str(key)
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] == '"' else key


def _hcl_blocks(path: str, text: str) -> tuple[list[Block], list[Problem]]:
    if len(text) > HCL_LIMIT:
        return [], [Problem(Where(path), f"{path}: {len(text)} characters, more than the {HCL_LIMIT >> 10} KiB "
                                         "this reader parses: not read")]
    import hcl2  # imported only when a project has an HCL bake file: building its parser takes time
    from hcl2.utils import SerializationOptions

    try:
        tree = hcl2.parses_to_tree(text)
        lines: dict[str, list[int]] = {}
        attributes: dict[str, int] = {}
        for node in tree.children[0].children:
            if getattr(node, "data", None) in ("block", "attribute"):
                kind = str(node.children[0].children[0])
                if node.data == "attribute":
                    attributes[kind] = node.meta.line
                else:
                    lines.setdefault(kind, []).append(node.meta.line)
        options = SerializationOptions(with_comments=False, explicit_blocks=False, preserve_heredocs=False)
        data = hcl2.serialize(hcl2.transform(tree, discard_comments=True), serialization_options=options)
    except Exception as exc:  # lark raises its own errors; any other failure (deep nesting) is the library's
        line, column = getattr(exc, "line", 0), getattr(exc, "column", 0)
        where = Where(path, line if isinstance(line, int) and line > 0 else 0,
                      column if isinstance(column, int) and column > 0 else 0)
        what = "HCL syntax error" if where.line else "HCL not understood"
        return [], [Problem(where, f"{what}: {_one_line(str(exc)) or type(exc).__name__}")]
    # A top-level attribute is a constant that strings can interpolate, like a variable without env override.
    blocks: list[Block] = [("attribute", name, {"default": _hcl_value(data.get(name))}, Where(path, line))
                           for name, line in attributes.items()]
    problems = []
    for kind, entries in data.items():
        for entry, line in zip(entries if kind in lines else [], lines.get(kind, [])):
            where = Where(path, line)
            if not isinstance(entry, dict) or len(entry) != 1 or not isinstance(next(iter(entry.values())), dict):
                problems.append(Problem(where, f"{kind} block without exactly one name"))
                continue
            label, body = next(iter(entry.items()))
            blocks.append((kind, _label(label), _hcl_value(body), where))
    blocks.sort(key=lambda b: b[3].line)
    return blocks, problems


def _json_line(text: str, kind: str, label: str) -> int:
    """The line of `"label":` after `"kind":` in JSON text (0 when not found that way)."""
    section = re.search(r'"%s"\s*:\s*\{' % re.escape(kind), text)
    if not section:
        return 0
    found = re.compile(re.escape(json.dumps(label)) + r"\s*:").search(text, section.end())
    return text.count("\n", 0, found.start()) + 1 if found else 0


def _json_blocks(path: str, text: str) -> tuple[list[Block], list[Problem]]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        line, column = getattr(exc, "lineno", 0), getattr(exc, "colno", 0)
        return [], [Problem(Where(path, line, column), f"JSON syntax error: {_one_line(getattr(exc, 'msg', str(exc)))}")]
    if not isinstance(data, dict):
        return [], [Problem(Where(path, 1), "a bake file must be a JSON object")]
    blocks, problems = [], []
    for kind in ("variable", "group", "target"):
        entries = data.get(kind, {})
        if not isinstance(entries, dict):
            problems.append(Problem(Where(path), f'"{kind}" must be an object'))
            continue
        for label, body in entries.items():
            where = Where(path, _json_line(text, kind, label))
            if not isinstance(body, dict):
                problems.append(Problem(where, f"{kind} {label!r} must be an object"))
                continue
            blocks.append((kind, label, body if kind != "variable" else {"default": body.get("default")}, where))
    return blocks, problems


def _platforms(value: Any, where: Where, problems: list[Problem]) -> tuple[Platform, ...]:
    items = value if isinstance(value, list) else [value]
    found: list[Platform] = []
    for item in items:
        if not isinstance(item, str):
            problems.append(Problem(where, f"platforms: {str(item)[:80]!r} is not a string"))
            continue
        for text in item.split(","):
            text = text.strip()
            if not text or text == "${%s}" % LOCAL_PLATFORM:
                continue
            if "${" in text:
                problems.append(Problem(where, f"platform {text[:80]!r} cannot be resolved without running bake"))
                continue
            try:
                found.append(Platform(str(parse_platform(text)), where))
            except PlatformError as exc:
                problems.append(Problem(where, str(exc)))
    unique: dict[str, Platform] = {}  # "arm/v6" and "linux/arm/v6" are one platform: keep the first
    for platform in found:
        unique.setdefault(platform.name, platform)
    return tuple(unique.values())


def _outputs(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value] if value is not None else []
    specs = []
    for item in items:
        if isinstance(item, dict):
            item = ",".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in item.items())
        if isinstance(item, str) and item:
            specs.append(item)
    return tuple(specs)


def _dockerfile(context: str, dockerfile: Any) -> str | None:
    if "://" in context or context.startswith(("git@", "target:")) or not isinstance(dockerfile, str):
        return None
    return posixpath.normpath(posixpath.join(context, dockerfile))


class _Targets:
    """Merged target attributes, each remembering the block that set it, and inheritance."""

    def __init__(self) -> None:
        self.own: dict[str, dict[str, tuple[Any, Where]]] = {}
        self.where: dict[str, Where] = {}
        self.resolved: dict[str, dict[str, tuple[Any, Where]]] = {}

    def add(self, label: str, body: dict[str, Any], where: Where) -> None:
        self.where.setdefault(label, where)
        self.own.setdefault(label, {}).update({k: (v, where) for k, v in body.items()})

    def resolve(self, label: str, problems: list[Problem]) -> dict[str, tuple[Any, Where]]:
        """`label`'s attributes over those it inherits, parents first in order; walked with a stack of its
        own, so a chain of any length cannot exhaust Python's; a target reached again on the way is a cycle."""
        if label in self.resolved:
            return self.resolved[label]
        frames, on_path = [self._frame(label)], {label}
        while frames:
            name, parents, merged, where = frames[-1]
            parent = next(parents, None)
            if parent is not None:
                if not isinstance(parent, str) or parent not in self.own:
                    problems.append(Problem(where, f"target {name!r} inherits unknown target {str(parent)[:80]!r}"))
                elif parent in on_path:
                    problems.append(Problem(where, f"target {name!r}: inheritance cycle through {parent!r}"))
                elif parent in self.resolved:
                    merged.update(self.resolved[parent])
                else:
                    frames.append(self._frame(parent))
                    on_path.add(parent)
                continue
            frames.pop()
            on_path.discard(name)
            merged.update({k: v for k, v in self.own[name].items() if k != "inherits"})
            self.resolved[name] = merged
            if frames:
                frames[-1][2].update(merged)
        return self.resolved[label]

    def _frame(self, label: str) -> tuple[str, Iterator[Any], dict[str, tuple[Any, Where]], Where]:
        parents, where = self.own[label].get("inherits", ([], self.where[label]))
        return label, iter(parents if isinstance(parents, list) else [parents]), {}, where


def _build(label: str, attrs: dict[str, tuple[Any, Where]], where: Where, variables: Mapping[str, Any],
           problems: list[Problem]) -> Build:
    def get(key: str, default: Any = None) -> Any:
        try:
            return interpolate(attrs[key][0], variables) if key in attrs else default
        except ExpansionTooLarge as exc:
            problems.append(Problem(attrs[key][1], f"target {label!r}: {key} {exc}"))
            return default

    platforms = _platforms(get("platforms"), attrs["platforms"][1], problems) if "platforms" in attrs else ()
    outputs = _outputs(get("output"))
    load, push = output_effects(outputs)
    context = get("context", ".")
    context = context if isinstance(context, str) else "."
    dockerfile = None if "dockerfile-inline" in attrs else _dockerfile(context, get("dockerfile", "Dockerfile"))
    return Build(kind="bake", name=label, where=where, platforms=platforms, engine="buildx",
                 load=load, push=push, outputs=outputs, dockerfile=dockerfile, context=context)


def parse_bake(texts: list[tuple[str, str]], env: Mapping[str, str]) -> tuple[list[Build], list[Problem]]:
    """Bake files' (path, text), merged in order, to one Build per target."""
    blocks: list[Block] = []
    problems: list[Problem] = []
    for path, text in texts:
        got, bad = (_json_blocks if path.endswith(".json") else _hcl_blocks)(path, text)
        blocks += got
        problems += bad
    variables = variables_of([(b[1], b[2], b[3]) for b in blocks if b[0] in ("variable", "attribute")],
                             {b[1] for b in blocks if b[0] == "variable"}, env, problems)
    targets = _Targets()
    names: set[str] = set()
    for kind, label, body, where in blocks:
        if kind == "target":
            targets.add(label, body, where)
        elif kind == "group":
            names.add(label)
    grouped: set[str] = set()
    for kind, label, body, where in blocks:
        members = body.get("targets", []) if kind == "group" else []
        for member in members if isinstance(members, list) else [members]:
            if not isinstance(member, str) or (member not in targets.own and member not in names):
                problems.append(Problem(where, f"group {label!r} names unknown target {str(member)[:80]!r}"))
            else:
                grouped.add(member)
    builds = [_build(label, targets.resolve(label, problems), targets.where[label], variables, problems)
              for label in targets.own]  # every target resolved: a template's cycle is still a problem
    templates = _templates(blocks) - grouped
    return [b for b in builds if b.name not in templates], problems


def _templates(blocks: list[Block]) -> set[str]:
    """Targets other targets inherit and no group names: the shared settings of a bake file (`_common`,
    `docker-metadata-action`), not builds of their own."""
    inherited: set[str] = set()
    for kind, label, body, _where in blocks:
        parents = body.get("inherits", []) if kind == "target" else []
        inherited.update(p for p in (parents if isinstance(parents, list) else [parents])
                         if isinstance(p, str) and p != label)  # inheriting itself is a cycle, not a template
    return inherited


def read_bake(files: ProjectFiles, paths: list[str], env: Mapping[str, str]) -> tuple[list[Build], list[Problem]]:
    """Read the bake files `paths` (in buildx's order, later files overriding) to one Build per target."""
    texts, problems = [], []
    for path in paths:
        text, why = files.read_text(path)
        if text is None:
            problems.append(Problem(Where(path), why or "not read"))
        else:
            texts.append((path, text))
    builds, more = parse_bake(texts, env)
    return builds, problems + more
