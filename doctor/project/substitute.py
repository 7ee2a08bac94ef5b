"""The one bound on variable expansion in project files, and the Dockerfile's `$V`/`${V:-d}` substitution."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

# Far above any real tag, path or platform list (a whole project file is at most 1 MiB), and far below
# what a value referring to itself, or to a chain of others, reaches after a few rounds.
LIMIT = 64 << 10
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


class ExpansionTooLarge(ValueError):
    """A value that would grow past the bound if expanded: the reader turns it into a Problem."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"expands beyond {limit} characters")
        self.limit = limit

    def of(self, name: str) -> str:
        """The one-line message for variable `name`."""
        return f"variable {name[:80]} expands beyond {self.limit} characters"


class Bounded:
    """The pieces of one expanded value; adding a piece that passes the limit raises before any join,
    so an exponential expansion fails at its first oversized step instead of exhausting memory."""

    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self.size = 0
        self.pieces: list[str] = []

    def take(self, size: int) -> None:
        """Count `size` more characters against the limit."""
        self.size += size
        if self.size > self.limit:
            raise ExpansionTooLarge(self.limit)

    def add(self, piece: str) -> None:
        self.take(len(piece))
        self.pieces.append(piece)

    def text(self) -> str:
        return "".join(self.pieces)


def expand(text: str, pattern: re.Pattern[str], value: Callable[[re.Match[str]], str],
           budget: Bounded | None = None) -> str:
    """`text` with each match of `pattern` replaced by `value(match)`, as re.sub does, counted against
    `budget` (a fresh LIMIT when None; several values may share one). Text without a match is returned
    as it is and not counted: nothing grows."""
    if pattern.search(text) is None:
        return text
    budget = Bounded() if budget is None else budget
    pieces, last = [], 0
    for m in pattern.finditer(text):
        got = value(m)
        budget.take(m.start() - last + len(got))
        pieces += [text[last:m.start()], got]
        last = m.end()
    budget.take(len(text) - last)
    pieces.append(text[last:])
    return "".join(pieces)


def expand_or_keep(text: str, pattern: re.Pattern[str], value: Callable[[re.Match[str]], str]) -> str:
    """`expand` with a fresh budget; text that would grow past it is kept as written (unresolved)."""
    try:
        return expand(text, pattern, value)
    except ExpansionTooLarge:
        return text


def substitute(text: str, values: Mapping[str, str]) -> str:
    """Apply `$V`, `${V}`, `${V:-default}`, `${V:+alternative}` (and the forms without the colon), as a
    Dockerfile does; raises ExpansionTooLarge past LIMIT characters."""
    def one(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(4)
        value = values.get(name)
        op, word = m.group(2), m.group(3) or ""
        if op:
            unset = value is None or (op[0] == ":" and value == "")
            return (word if unset else value) if op[-1] == "-" else ("" if unset else word)
        return value or ""
    return expand(text, _VAR, one)
