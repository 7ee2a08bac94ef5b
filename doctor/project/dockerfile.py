"""Reads a Dockerfile's stages, USER lines and setuid-root programs called in RUN steps, with file and line."""

from __future__ import annotations

import bisect
import json
import posixpath
import re
import shlex
from collections.abc import Callable, Iterator, Mapping

from mab_doctor.host.platforms import PLATFORMS, PlatformError, parse_platform
from mab_doctor.project.files import ProjectFiles
from mab_doctor.project.model import Dockerfile, Problem, Stage, Where
from mab_doctor.project.substitute import ExpansionTooLarge, substitute

INSTRUCTIONS = frozenset({"from", "run", "cmd", "label", "maintainer", "expose", "env", "add", "copy",
                          "entrypoint", "volume", "user", "workdir", "arg", "onbuild", "stopsignal",
                          "healthcheck", "shell"})
# Programs that are setuid root in Debian/Alpine/Fedora images: under emulation they need the
# binfmt 'C' (credentials) flag, and 'O' to be found at all when the interpreter is not opened.
SETUID = frozenset({"sudo", "su", "ping", "ping6", "passwd", "chsh", "chfn", "newgrp", "gpasswd", "mount",
                    "umount", "pkexec", "fusermount", "fusermount3"})
# Docker official-image namespaces (arm64v8/, arm32v7/ ...): each holds one architecture's builds.
# arm32v7 images are built for arm/v7; an armv8l host merely runs them.
ARCH_NAMESPACES = {p.hub_prefix: p.oci for p in PLATFORMS if p.hub_prefix and p.oci != "linux/arm/v8"}
_DIRECTIVE = re.compile(r"#\s*([A-Za-z]+)\s*=\s*(.*?)\s*$")
_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_.-]*)\2")
_SEPARATORS = frozenset({"&&", "||", ";", "|", "&", "(", ")", ";;", "|&", "\n"})
_KEYWORDS = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!", "{", "}", "time", "nohup"})
_SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh"})
MAX_UNKNOWN = 20     # a file of garbage gives a few problems, not one per line
SHLEX_LIMIT = 65536  # shlex is slow on huge lines; past this a plain split is good enough


class _Logical:
    """One instruction joined from its physical lines, mapping text offsets back to line and column."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.offsets: list[int] = []
        self.places: list[tuple[int, int]] = []  # (line, column) where each part starts

    def add(self, text: str, line: int, column: int) -> None:
        self.offsets.append(self.offsets[-1] + len(self.parts[-1]) if self.parts else 0)
        self.places.append((line, column))
        self.parts.append(text)

    def where(self, path: str, offset: int) -> Where:
        i = max(0, bisect.bisect_right(self.offsets, offset) - 1)
        line, column = self.places[i]
        return Where(path, line, column + offset - self.offsets[i])


def _escape_of(lines: list[str]) -> str:
    """The escape character the leading parser directives choose (backslash unless `# escape=``)."""
    escape = "\\"
    for line in lines:
        m = _DIRECTIVE.fullmatch(line.strip())
        if not m:
            break
        elif m.group(1).lower() == "escape" and m.group(2) in ("`", "\\"):
            escape = m.group(2)
    return escape


def _instructions(lines: list[str], escape: str) -> Iterator[tuple[_Logical, list[tuple[int, list[str]]]]]:
    """(instruction, its heredoc bodies): continuations joined, comments dropped, heredoc bodies taken."""
    i, n = 0, len(lines)
    while i < n:
        text = lines[i]
        stripped = text.lstrip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        logical = _Logical()
        while True:
            column = len(text) - len(text.lstrip()) if not logical.parts else 0
            part = text[column:]
            more = part.rstrip().endswith(escape)
            logical.add(part.rstrip()[:-1] if more else part, i + 1, column + 1)
            i += 1
            if not more:
                break
            while i < n and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
                i += 1  # blank and comment lines inside a continuation are skipped
            if i >= n:
                break
            text = lines[i]
        bodies, joined = [], "".join(logical.parts)
        if "<<" in joined and joined[:4].lower() in ("run ", "copy", "add "):
            for m in _HEREDOC.finditer(joined):
                end, got, first = m.group(3), [], i + 1
                while i < n and (lines[i].lstrip("\t") if m.group(1) else lines[i]) != end:
                    got.append(lines[i])
                    i += 1
                i += 1
                bodies.append((first, got))
        yield logical, bodies


def arch_prefix(image: str) -> str | None:
    """The platform an arch-prefixed official image implies: 'docker.io/arm32v7/debian' -> 'linux/arm/v7'."""
    parts = image.split("/")
    if len(parts) > 2 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]  # a registry host
    return ARCH_NAMESPACES.get(parts[0].lower()) if len(parts) == 2 else None


def _words(text: str) -> list[str]:
    """Shell words and operators; bad quoting or a huge line falls back to a plain split."""
    if len(text) <= SHLEX_LIMIT:
        try:
            lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
            lexer.whitespace = " \t\r"
            lexer.whitespace_split = True
            return list(lexer)
        except ValueError:
            pass
    return re.findall(r"&&|\|\||[;|&()\n]|[^\s;|&()]+", text)


def _skip_prefixes(words: list[str]) -> list[str]:
    """Drop VAR=value assignments, shell keywords and `env`/`exec`/`command` (with their options)."""
    i = 0
    while i < len(words):
        word = words[i]
        if word in _KEYWORDS or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", word, re.S):
            i += 1
        elif word in ("env", "exec", "command"):
            i += 1
            while i < len(words) and words[i].startswith("-"):
                i += 2 if words[i] in ("-u", "-C", "-S", "-a") else 1
        else:
            break
    return words[i:]


def setuid_programs(script: str) -> list[str]:
    """Setuid-root programs each simple command of a shell script starts with, in order."""
    found, command, words = [], [], []
    for line in script.split("\n"):  # shell comments end at a newline: lex line by line
        words += [*_words(line), ";"]
    for word in words:
        if word not in _SEPARATORS:
            command.append(word)
            continue
        rest = _skip_prefixes(command)
        command = []
        if not rest:
            continue
        program = rest[0].rsplit("/", 1)[-1]
        if program in SETUID:
            found.append(program)
        elif program in _SHELLS and "-c" in rest[1:-1]:
            found += setuid_programs(rest[rest.index("-c") + 1])
    return found


def _placed(programs: list[str], text: str, start: int, where: Callable[[int], Where]) -> list[tuple[str, Where]]:
    """Place each program at its next mention in `text` (at `start` when not found)."""
    cursor, calls = start, []
    for program in programs:
        at = text.find(program, cursor)
        calls.append((program, where(at if at >= 0 else start)))
        cursor = at + len(program) if at >= 0 else cursor
    return calls


def _run_calls(path: str, logical: _Logical, args: str, start: int, bodies: list[tuple[int, list[str]]]
               ) -> list[tuple[str, Where]]:
    programs: list[str] = []
    stripped = args.lstrip()
    if stripped.startswith("["):
        try:
            argv = json.loads(stripped)
        except ValueError:
            argv = None
        if isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv):
            programs = setuid_programs(shlex.join(argv))
            stripped = ""
    calls = []
    if stripped:
        programs = setuid_programs(stripped)
        if stripped.startswith("<<"):  # `RUN <<EOF`: the heredoc body is the script
            calls = [c for first, body in bodies for n, line in enumerate(body)
                     for c in _placed(setuid_programs(line), line, 0, lambda at, n=n, f=first: Where(path, f + n, at + 1))]
    return _placed(programs, "".join(logical.parts), start, lambda at: logical.where(path, at)) + calls


def _flags(args: str) -> tuple[dict[str, str], str, int]:
    """Leading --name=value flags, the rest of the line, and how far into `args` the rest starts."""
    flags, pos = {}, 0
    while True:
        m = re.match(r"\s*--([A-Za-z-]+)(?:=(\S*))?", args[pos:])
        if not m:
            return flags, args[pos:], pos
        flags[m.group(1).lower()] = m.group(2) or ""
        pos += m.end()


class _Reader:
    """State of one pass over a Dockerfile."""

    def __init__(self, path: str, build_args: Mapping[str, str]) -> None:
        self.path, self.build_args = path, build_args
        self.meta: dict[str, str] = {}
        self.stages: list[Stage] = []
        self.users: list[tuple[str, Where]] = []
        self.calls: list[tuple[str, Where]] = []
        self.problems: list[Problem] = []
        self.unknown = 0

    def instruction(self, logical: _Logical, bodies: list[tuple[int, list[str]]]) -> None:
        text = "".join(logical.parts)
        m = re.match(r"\s*(\S+)", text)
        if not m:
            return
        word, rest, start = m.group(1), text[m.end():], m.end()
        name = word.lower()
        if name not in INSTRUCTIONS:
            self.unknown += 1
            if self.unknown <= MAX_UNKNOWN:
                self.problems.append(Problem(logical.where(self.path, m.start(1)), f"unknown instruction {word[:40]!r}"))
        elif name == "from":
            self.from_line(logical, rest, start)
        elif name == "arg" and not self.stages:
            self.global_arg(rest, logical.where(self.path, m.start(1)))
        elif name == "user":
            self.users.append((rest.strip(), logical.where(self.path, m.start(1))))
        elif name == "run":
            _, command, offset = _flags(rest)
            self.calls += _run_calls(self.path, logical, command, start + offset, bodies)

    def global_arg(self, rest: str, where: Where) -> None:
        for word in _words(rest):
            key, eq, default = word.partition("=")
            if key in self.build_args:
                self.meta[key] = self.build_args[key]
            elif eq:
                try:
                    self.meta[key] = substitute(default, self.meta)
                except ExpansionTooLarge as exc:  # the ARG stays unset: later uses expand to nothing
                    self.meta.pop(key, None)
                    self.problems.append(Problem(where, exc.of(key)))

    def from_line(self, logical: _Logical, rest: str, start: int) -> None:
        line_where = logical.where(self.path, start)
        flags, tail, offset = _flags(rest)
        for flag in sorted(set(flags) - {"platform"}):
            self.problems.append(Problem(line_where, f"FROM: unknown flag --{flag[:40]}"))
        words = [(m.group(0), m.start()) for m in re.finditer(r"\S+", tail)]
        if not words or len(words) == 2 or len(words) > 3 or (len(words) == 3 and words[1][0].lower() != "as"):
            self.problems.append(Problem(line_where, "malformed FROM: expected FROM [--platform=P] IMAGE [AS NAME]"))
            if not words:
                return
        where = logical.where(self.path, start + offset + words[0][1])
        try:
            image = substitute(words[0][0], self.meta)
        except ExpansionTooLarge as exc:
            self.problems.append(Problem(where, f"FROM {words[0][0][:80]}: the image name {exc}"))
            return
        if not image:
            self.problems.append(Problem(where, f"FROM {words[0][0][:80]}: empty image name after ARG substitution"))
            return
        platform = flags.get("platform") or None
        try:  # a literal platform must be one a builder knows; a variable is the builder's to expand
            _ = parse_platform(platform) if platform and "$" not in platform else None
        except PlatformError as exc:
            self.problems.append(Problem(line_where, f"FROM --platform: {exc}"))
        known = {s.name.lower() for s in self.stages if s.name}
        name = words[2][0] if len(words) == 3 and words[1][0].lower() == "as" else None
        self.stages.append(Stage(image=image, where=where, platform=platform,
                                 name=name, arch_prefix=arch_prefix(image), from_stage=image.lower() in known))


def parse_dockerfile(path: str, text: str, build_args: Mapping[str, str] | None = None) -> tuple[Dockerfile, list[Problem]]:
    """Parse Dockerfile text (path is only used in places and messages)."""
    reader = _Reader(path, build_args or {})
    lines = [line.rstrip("\r") for line in text.split("\n")]
    for logical, bodies in _instructions(lines, _escape_of(lines)):
        reader.instruction(logical, bodies)
    if reader.unknown > MAX_UNKNOWN:
        reader.problems.append(Problem(Where(path), f"{reader.unknown - MAX_UNKNOWN} more unknown instructions not listed"))
    if not reader.stages and not reader.problems:
        reader.problems.append(Problem(Where(path), "no FROM instruction: not a Dockerfile"))
    return Dockerfile(path, tuple(reader.stages), tuple(reader.users), tuple(reader.calls)), reader.problems


def read_dockerfile(files: ProjectFiles, path: str, build_args: Mapping[str, str] | None = None
                    ) -> tuple[Dockerfile | None, list[Problem]]:
    """Read and parse one project Dockerfile; (None, [why]) when it cannot be read."""
    normal = posixpath.normpath(path)
    if normal.startswith("/") or normal == ".." or normal.startswith("../"):  # never looked for, let alone read
        return None, [Problem(Where(path), "Dockerfile path outside the project directory: not read")]
    text, why = files.read_text(path)
    if text is None:
        return None, [Problem(Where(path), why or "not read")]
    return parse_dockerfile(path, text, build_args)
