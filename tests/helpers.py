"""Test helpers: paths, fixture hosts, a strict fake command runner."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Mapping, Sequence

import pytest

TESTS = Path(__file__).resolve().parent
PROJECT = TESTS.parent
HOSTS = TESTS / "hosts"


from mab_doctor.core.context import CommandResult, Context  # noqa: E402
from mab_doctor.host.platforms import parse_platform_list  # noqa: E402


class FakeRunner:
    """Answers only the commands it was given; any other command fails the test, naming it."""

    def __init__(self, commands: Mapping[tuple[str, ...], CommandResult] | None = None):
        self.commands = dict(commands or {})
        self.calls: list[tuple[tuple[str, ...], float]] = []

    def __call__(self, argv: Sequence[str], *, timeout: float, env=None) -> CommandResult:
        argv = tuple(argv)
        self.calls.append((argv, timeout))
        if argv not in self.commands:
            pytest.fail(f"unexpected command: {' '.join(argv)}")
        return self.commands[argv]


def make_context(root: Path, *, targets: str = "linux/amd64,linux/arm64,linux/arm/v7",
                 commands=None, env=None, **kw) -> Context:
    """A Context over ``root`` with a strict FakeRunner."""
    return Context(root=root, runner=FakeRunner(commands), env=env if env is not None else {"PATH": "/usr/bin:/bin"},
                   targets=parse_platform_list(targets), **kw)


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Write {absolute path: content} under root; a value starting with '->' makes a symlink."""
    for name, content in files.items():
        path = root / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str) and content.startswith("->"):
            path.symlink_to(content[2:].strip())
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def host(name: str, **kw) -> Context:
    """A Context over a checked-in fixture host tree (tests/hosts/<name>)."""
    return make_context(HOSTS / name, **kw)
