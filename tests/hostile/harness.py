"""Running mab-doctor on one hostile input and asserting what must hold for every input whatever it is."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from helpers import PROJECT
from mab_doctor.cli import main

BOUND_S = 20.0
# C0 and C1 controls but newline and tab; ESC is allowed only as part of an SGR colour sequence,
# and only when colour was forced.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
SGR = re.compile(r"\x1b\[[0-9;]*m")
CLEAN_ENV = {"PATH": "/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}
DROPPED_ENV = ("DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT", "DOCKER_CLI_EXPERIMENTAL", "MAB_PLATFORMS",
               "NO_COLOR", "COLUMNS", "TERM", "PYTHONIOENCODING", "GITHUB_STEP_SUMMARY")


@dataclass(frozen=True)
class Input:
    """One hostile input: its class, a readable id, and how to lay it out in a test's tmp dir.

    ``build(place)`` returns (argv, extra environment); ``place`` is a Place giving the tree, the
    marker and a scratch folder. ``outputs`` names the files (relative to tmp) the run may write."""

    klass: str
    name: str
    build: Callable[["Place"], tuple[list[str], dict[str, str]]]
    outputs: tuple[str, ...] = ()
    color: bool = False
    xfail: str | None = None
    process: bool = False       # run as `python -m mab_doctor` (hangs, encodings, signals)
    bound: float = BOUND_S

    @property
    def id(self) -> str:
        return f"{self.klass}:{self.name}"

    def param(self):
        marks = [pytest.mark.xfail(strict=True, reason=self.xfail)] if self.xfail else []
        return pytest.param(self, id=self.id, marks=marks)


@dataclass
class Place:
    """A test's tmp dir: ``tree`` (the --root), ``marker`` outside it with unique content, ``work``."""

    tmp: Path
    tree: Path = field(init=False)
    marker: Path = field(init=False)
    secret: str = field(init=False)
    work: Path = field(init=False)

    def __post_init__(self) -> None:
        self.tree, self.work = self.tmp / "tree", self.tmp / "work"
        self.marker = self.tmp / "outside" / "secret"
        self.secret = f"MARKER-{uuid.uuid4().hex}"
        for folder in (self.tree, self.work, self.marker.parent):
            folder.mkdir(parents=True, exist_ok=True)
        self.marker.write_text(self.secret + "\n")


def snapshot(top: Path) -> dict[str, tuple]:
    """Every name under ``top`` (links not followed) with its type, size and mtime."""
    seen = {}
    for folder, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            seen[os.path.relpath(path, top)] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns)
    return seen


def run_in_process(argv: list[str], capsys, bound: float = BOUND_S) -> tuple[int | None, str, str]:
    """main(argv) on a thread joined with BOUND_S: (exit code or None when it did not end, out, err)."""
    box: dict = {}

    def call() -> None:
        try:
            box["code"] = main(argv)
        except BaseException as exc:  # noqa: BLE001: any escape is a finding, reported below
            box["exc"] = exc

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(bound)
    out, err = capsys.readouterr()
    if "exc" in box:
        raise AssertionError(f"main() raised {box['exc']!r}") from box["exc"]
    return box.get("code"), out, err


def run_process(argv: list[str], env: dict[str, str], *, bound: float = BOUND_S) -> tuple[int | None, str, str]:
    """`python -m mab_doctor argv` with a hard timeout: (exit code, None on timeout; out; err)."""
    full_env = {**CLEAN_ENV, **env, "PYTHONPATH": str(PROJECT / "tests")}
    try:
        proc = subprocess.run([sys.executable, "-m", "mab_doctor", *argv], env=full_env,
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=bound, cwd=PROJECT)
    except subprocess.TimeoutExpired as exc:
        return None, (exc.stdout or b"").decode("utf-8", "replace"), (exc.stderr or b"").decode("utf-8", "replace")
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


def assert_sound(code: int | None, out: str, err: str, *, place: Place, color: bool = False,
                 json_out: bool = False) -> None:
    """What every run must do, whatever it was given."""
    assert code is not None, f"did not end within {BOUND_S:g} s"
    assert code in (0, 1, 2), f"exit code {code}; stderr: {err[-500:]}"
    for name, text in (("stdout", out), ("stderr", err)):
        assert "Traceback" not in text, f"{name} has a traceback:\n{text[-2000:]}"
        shown = SGR.sub("", text) if color else text
        bad = CONTROL.search(shown)
        assert bad is None, f"{name} has a raw control character {bad.group()!r} near {shown[max(0, bad.start() - 60):bad.end() + 20]!r}"
        assert place.secret not in text, f"{name} shows the content of a file outside the tree"
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("mab-doctor: error: "), f"usage error not one line: {err!r}"
    elif json_out:
        json.loads(out)


def assert_unchanged(before: dict, after: dict, allowed: tuple[str, ...]) -> None:
    """Nothing in the tmp dir changed but the paths a run was asked to write."""
    # An atomic write leaves a temporary name beside the output and changes its folder's mtime.
    folders = {os.path.dirname(a) for a in allowed}

    def keep(snap: dict) -> dict:
        return {k: (v if k not in folders else v[0]) for k, v in snap.items()
                if not any(k == a or k.startswith(a + ".") for a in allowed)}
    b, a = keep(before), keep(after)
    changed = sorted(k for k in set(b) | set(a) if b.get(k) != a.get(k))
    assert not changed, f"changed outside the allowed outputs: {changed[:10]}"


def check_input(item: Input, tmp_path: Path, capsys) -> tuple[int, str, str]:
    """Lay the input out, run it in-process, assert every invariant; (code, out, err) for more."""
    place = Place(tmp_path)
    argv, env = item.build(place)
    before = snapshot(tmp_path)
    if item.process:
        code, out, err = run_process(argv, env, bound=item.bound)
    else:
        mp = pytest.MonkeyPatch()
        try:
            for name in DROPPED_ENV:
                mp.delenv(name, raising=False)
            for name, value in {**CLEAN_ENV, **env}.items():
                mp.setenv(name, value)
            code, out, err = run_in_process(argv, capsys, item.bound)
        finally:
            mp.undo()
    assert_sound(code, out, err, place=place, color=item.color, json_out="json" in argv and "--output" not in argv)
    assert_unchanged(before, snapshot(tmp_path), item.outputs)
    for output in item.outputs:
        written = tmp_path / output
        if written.is_file() and not written.is_symlink():
            assert place.secret not in written.read_text(errors="replace")
    if "outside/secret" not in item.outputs:  # only a run told to write through a link may change it
        assert place.marker.read_text() == place.secret + "\n"
    return code, out, err
