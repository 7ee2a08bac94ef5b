"""YAML project files as plain data that remembers where each key and item was written, with bounds."""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mab_doctor.project.model import Problem, Where

# Far above any real compose file or workflow; an alias bomb passes them within a few hundred aliases.
MAX_NODES = 100_000       # nodes after expanding every alias
MAX_ALIASES = 5_000
MAX_DEPTH = 100           # nesting, counted through aliases too


class TooBig(Exception):
    """The document is refused before it can cost much: too many nodes or aliases, too deep, or recursive."""

    def __init__(self, message: str, mark: yaml.Mark | None) -> None:
        super().__init__(message)
        self.place = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)


class YamlMap(dict):
    """A mapping that knows its own place, each key's place, and each value's place and scalar style."""

    line = column = 0
    tag = ""

    def __init__(self) -> None:
        super().__init__()
        self.key_at: dict[Any, tuple[int, int]] = {}
        self.value_at: dict[Any, tuple[int, int, str | None]] = {}


class YamlList(list):
    """A sequence that knows its own place and each item's place and scalar style."""

    line = column = 0
    tag = ""

    def __init__(self) -> None:
        super().__init__()
        self.item_at: list[tuple[int, int, str | None]] = []


def position(container: Any, key: Any) -> tuple[int, int]:
    """(line, column), 1-based, of a mapping key or a sequence item; (0, 0) when not known."""
    if isinstance(container, YamlMap):
        return container.key_at.get(key, (container.line, container.column))
    if isinstance(container, YamlList) and isinstance(key, int) and 0 <= key < len(container.item_at):
        return container.item_at[key][:2]
    return getattr(container, "line", 0), getattr(container, "column", 0)


def where(file: str, container: Any, key: Any = None) -> Where:
    """The Where of a key or item (or of the container itself when key is None)."""
    if key is None:
        return Where(file, getattr(container, "line", 0), getattr(container, "column", 0))
    return Where(file, *position(container, key))


def text_line(container: Any, key: Any, offset: int) -> int:
    """The file line of line ``offset`` (0-based) inside the string value at ``key``: exact for
    literal blocks (`|`), the first content line for folded ones, the value's line otherwise."""
    if isinstance(container, YamlMap):
        line, _, style = container.value_at.get(key, (container.line, 0, None))
    elif isinstance(container, YamlList) and isinstance(key, int) and 0 <= key < len(container.item_at):
        line, _, style = container.item_at[key]
    else:
        return getattr(container, "line", 0)
    if style == "|":
        return line + 1 + offset
    return line + 1 if style == ">" else line + offset


class _Loader(yaml.SafeLoader):
    """SafeLoader that counts while it composes, so a bomb is refused before it is expanded."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.depth = 0
        self.aliases = 0

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise TooBig(f"more than {MAX_ALIASES} aliases", self.peek_event().start_mark)
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise TooBig(f"nested deeper than {MAX_DEPTH} levels", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _measure(root: Node) -> None:
    """Count nodes and depth as if every alias were expanded (memoised per node, so cheap)."""
    sizes: dict[int, tuple[int, int]] = {}
    busy: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            busy.discard(key)
            size, depth = 1, 0
            for child in _children(node):
                child_size, child_depth = sizes[id(child)]
                size, depth = size + child_size, max(depth, child_depth)
            sizes[key] = (size, depth + 1)
            if size > MAX_NODES:
                raise TooBig(f"more than {MAX_NODES} nodes once aliases are expanded", node.start_mark)
            if depth + 1 > MAX_DEPTH:
                raise TooBig(f"nested deeper than {MAX_DEPTH} levels once aliases are expanded", node.start_mark)
            continue
        if key in sizes:
            continue
        if key in busy:
            raise TooBig("an alias refers to a node that contains it (recursive data)", node.start_mark)
        busy.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


class _Builder:
    """Turns a measured node graph into YamlMap / YamlList / scalars; shared nodes are built once."""

    def __init__(self, loader: _Loader) -> None:
        self.loader = loader
        self.done: dict[int, Any] = {}

    def build(self, node: Node) -> Any:
        if id(node) in self.done:
            return self.done[id(node)]
        if isinstance(node, ScalarNode):
            if node.tag.startswith("!") or node.tag == "tag:yaml.org,2002:str":
                value: Any = node.value  # local tags (GitLab !reference, compose !reset): keep the text
            else:
                try:
                    value = self.loader.construct_object(node, deep=True)
                except (ValueError, TypeError, OverflowError, yaml.YAMLError) as exc:
                    raise yaml.MarkedYAMLError(None, None, f"bad {node.tag.rpartition(':')[2]} value: {exc}",
                                               node.start_mark) from None
        elif isinstance(node, SequenceNode):
            value = YamlList()
            self._place(value, node)
            self.done[id(node)] = value
            for item in node.value:
                value.append(self.build(item))
                value.item_at.append(_mark(item))
        else:
            value = YamlMap()
            self._place(value, node)
            self.done[id(node)] = value
            self._fill(value, node)
        self.done[id(node)] = value
        return value

    @staticmethod
    def _place(value: YamlMap | YamlList, node: Node) -> None:
        value.line, value.column = node.start_mark.line + 1, node.start_mark.column + 1
        value.tag = node.tag if node.tag.startswith("!") else ""

    def _fill(self, value: YamlMap, node: MappingNode) -> None:
        merged: list[YamlMap] = []
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                for source in sources:
                    built = self.build(source)
                    if not isinstance(built, YamlMap):
                        raise yaml.MarkedYAMLError("while merging", node.start_mark,
                                                   "expected a mapping to merge", source.start_mark)
                    merged.append(built)
                continue
            key = self.build(key_node)
            try:
                hash(key)
            except TypeError:
                raise yaml.MarkedYAMLError("while reading a mapping", node.start_mark,
                                           "found a key that is not a scalar", key_node.start_mark) from None
            value[key] = self.build(value_node)
            value.key_at[key] = _mark(key_node)[:2]
            value.value_at[key] = _mark(value_node)
        for source in merged:  # explicit keys win over merged ones, earlier merges over later
            for key, item in source.items():
                if key not in value:
                    value[key] = item
                    value.key_at[key] = source.key_at[key]
                    value.value_at[key] = source.value_at[key]


def _mark(node: Node) -> tuple[int, int, str | None]:
    style = node.style if isinstance(node, ScalarNode) else None
    return node.start_mark.line + 1, node.start_mark.column + 1, style


def load_yaml(text: str, file: str) -> tuple[Any, Problem | None]:
    """(data, None) or (None, a Problem with line and column). One document; never raises."""
    loader = None
    try:
        loader = _Loader(text)
        root = loader.get_single_node()
        if root is None:
            return None, None
        _measure(root)
        return _Builder(loader).build(root), None
    except TooBig as exc:
        return None, Problem(Where(file, *exc.place), f"YAML refused: {exc}")
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        said = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        return None, Problem(Where(file, line, column), f"YAML error: {_one_line(said)}")
    except yaml.reader.ReaderError as exc:
        before = text[: exc.position]
        line, column = before.count("\n") + 1, len(before) - before.rfind("\n")
        return None, Problem(Where(file, line, column),
                             f"YAML error: character U+{exc.character:04X} is not allowed in YAML")
    except (yaml.YAMLError, RecursionError, ValueError, TypeError, OverflowError, MemoryError) as exc:
        return None, Problem(Where(file, *_loader_place(loader)), f"YAML error: {_one_line(str(exc))}")
    finally:
        if loader is not None:
            loader.dispose()


def _loader_place(loader: _Loader | None) -> tuple[int, int]:
    if loader is None:
        return 0, 0
    mark = loader.get_mark()
    return mark.line + 1, mark.column + 1


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300] or "unreadable"
