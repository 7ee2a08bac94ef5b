"""A Context whose host misbehaves: file reads and commands fail in every way a real host can.

Each fault is chosen from a hash of (seed, operation, path or argv), not from a shared random
stream: checks run on several threads, and the same seed must give the same faults whatever order
the threads ask in. About half of all operations pass through untouched, so checks get past their
first read and meet faults deeper down too.
"""

from __future__ import annotations

import hashlib
import io
import random
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from mab_doctor.core.context import CommandResult, Context
from mab_doctor.core.hostfs import FileRead, Found, HostFS, not_regular, size_words

READ_FAULTS = ("pass", "pass", "pass", "denied", "eio", "fifo", "huge", "garbage", "garbage_text")
LIST_FAULTS = ("pass", "pass", "pass", "denied", "eio", "weird_names")
LOOKUP_FAULTS = ("pass",) * 8 + ("error", "fifo")
COMMAND_FAULTS = ("empty_ok", "timed_out", "crashed", "garbage_out", "garbage_err", "missing", "cannot_start",
                  "json_garbage")
# Text shapes a broken program or file tends to produce: wrong JSON types, control characters,
# lone surrogates from undecodable names, very long lines.
JSON_GARBAGE = ('{"Client": 5}', "[]", "null", '{"Server": {"Version": []}}', '{"Client": {"Version": null}}',
                '{"ServerVersion": {}, "Driver": 7, "DriverStatus": "x"}', '{"Client": {"Version": "28.0.0"}, '
                '"Server": {"Components": [{"Name": 1}]}}', "{\"a\":" * 500, "[" * 50000 + "]" * 50000, '"\\ud800"', "1e999",
                '{"Name": [], "Nodes": {"x": 1}}', '[{"Name": null, "Nodes": [{"Platforms": 5}]}]',
                # nearly right answers, so the checks behind a running daemon are reached too
                '{"Client": {"Version": "28.0.0", "Context": "default"}, "Server": {"Version": "20.10.5", '
                '"Components": [{"Name": "Engine", "Version": "20.10.5", "Details": {"Experimental": "x"}}]}}',
                '{"Client": {"Version": "28.0.0"}, "Server": {"Version": 20}}',
                "github.com/docker/buildx v0.11.2 9872040b66\n",
                '{"Name": "default", "Driver": "docker", "Nodes": [{"Name": "default", "Status": "running", '
                '"Platforms": ["linux/amd64", 5, null]}]}')
WEIRD_NAMES = ("\udcff\udcfe", "x" * 255, "a\nb", "\x1b[31mred", " ", "-", "..x", "\u202eevil", "12345",
               "qemu-\udc80", "status", "register")


def rate_of(seed: int) -> float:
    """How often a seed's operations fail: some seeds are gentle so checks run deep, some brutal."""
    return (0.1, 0.3, 0.6, 0.95)[seed % 4]


def _fault(rng: random.Random, seed: int, faults: tuple[str, ...]) -> str:
    return rng.choice([f for f in faults if f != "pass"]) if rng.random() < rate_of(seed) else "pass"


def _draw(seed: int, *key: object) -> random.Random:
    digest = hashlib.sha256(repr((seed, key)).encode("utf-8", "surrogatepass")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def garbage_bytes(rng: random.Random, limit: int) -> bytes:
    """Random bytes with a few NULs, newlines and ANSI escapes mixed in, at most ``limit``."""
    size = min(limit, rng.choice((0, 1, 7, 100, 4096, 70000)))
    raw = bytearray(rng.getrandbits(8) for _ in range(min(size, 4096)))
    raw = (raw * (size // max(len(raw), 1) + 1))[:size]
    for piece in (b"\0", b"\n", b"\x1b[2J", b"\xff\xfe"):
        if size:
            at = rng.randrange(size)
            raw[at:at] = piece
    return bytes(raw[:limit])


def garbage_text(rng: random.Random) -> str:
    """Text that is plausible enough to reach a parser's inner branches."""
    pick = rng.choice(("json", "lines", "bytes"))
    if pick == "json":
        return rng.choice(JSON_GARBAGE)
    if pick == "lines":
        words = ["key", ":", "=", "\t", "CPU architecture", "Features", "enabled", "magic", "ff", "-1",
                 "99999999999999999999", "\x00", "\x1b[1m", "é", "\udcff", "processor", "MemTotal", "kB"]
        return "\n".join(" ".join(rng.choice(words) for _ in range(rng.randrange(6)))
                         for _ in range(rng.randrange(1, 40)))
    return garbage_bytes(rng, 2000).decode("utf-8", "replace")


def plausible(argv: tuple[str, ...]) -> str:
    """What a healthy tool would print for argv (empty for the ones nobody parses)."""
    words = " ".join(argv)
    for needle, answer in (("docker-cli-plugin-metadata", '{"SchemaVersion": "0.1.0", "Vendor": "Docker Inc.", '
                                                          '"Version": "v0.11.2"}'),
                           ("buildx version", "github.com/docker/buildx v0.11.2 9872040b66\n"),
                           ("buildx", JSON_GARBAGE[-1]), ("docker version", JSON_GARBAGE[-4]),
                           ("podman version", '{"Client": {"Version": "4.3.1"}}'),
                           ("buildah version", '{"version": "1.28.2"}')):
        if needle in words or needle.replace(" ", "-") in words:
            return answer
    return ""


class FaultyFS(HostFS):
    """HostFS whose reads, listings and lookups fail per (seed, path)."""

    def __init__(self, root: Path, seed: int) -> None:
        super().__init__(root)
        self.seed = seed

    def lookup(self, path: str) -> Found:
        fault = _fault(_draw(self.seed, "lookup", path), self.seed, LOOKUP_FAULTS) if \
            _draw(self.seed, "lookup?", path).random() < .2 else "pass"
        if fault == "error":
            return Found(path, "error", reason=f"{path}: input/output error")
        found = super().lookup(path)
        if fault == "fifo" and found.kind == "file":
            return Found(path, "FIFO", found.real, found.inside, 0o10644, 0, found.device)
        return found

    def read(self, path: str, limit: int = 4 << 20, *, whole: bool = False) -> FileRead:
        rng = _draw(self.seed, "read", path)
        fault = _fault(rng, self.seed, READ_FAULTS)
        if fault == "denied":
            return FileRead(path, None, f"{path}: permission denied")
        if fault == "eio":
            return FileRead(path, None, f"{path}: input/output error")
        if fault == "fifo":
            return FileRead(path, None, not_regular(path, "FIFO"))
        if fault == "huge":
            if whole:
                return FileRead(path, None, f"{path}: larger than {size_words(limit)}: not read", truncated=True)
            head = (super().read(path, limit).data or b"") + garbage_bytes(rng, limit)
            return FileRead(path, head[:limit], f"{path}: larger than {size_words(limit)}: only the first "
                                                f"{size_words(limit)} read", truncated=True)
        if fault == "garbage":
            return FileRead(path, garbage_bytes(rng, limit))
        if fault == "garbage_text":
            return FileRead(path, garbage_text(rng).encode("utf-8", "surrogateescape")[:limit])
        return super().read(path, limit, whole=whole)

    def open_regular(self, path: str):
        # HostFS.read opens through here too: its faults come on top of the read's own.
        rng = _draw(self.seed, "open", path)
        fault = _fault(rng, self.seed, READ_FAULTS) if rng.random() < .3 else "pass"
        if fault in ("denied", "eio", "fifo"):
            return None, f"{path}: {'permission denied' if fault == 'denied' else 'input/output error'}"
        if fault.startswith("garbage"):
            return io.BytesIO(garbage_bytes(rng, 1 << 20)), None
        return super().open_regular(path)

    def listdir(self, path: str) -> tuple[list[str], str | None]:
        rng = _draw(self.seed, "listdir", path)
        fault = _fault(rng, self.seed, LIST_FAULTS)
        if fault == "denied":
            return [], f"{path}: permission denied"
        if fault == "eio":
            return [], f"{path}: input/output error"
        names, why = super().listdir(path)
        if fault == "weird_names":
            names = names + rng.sample(WEIRD_NAMES, rng.randrange(1, 5))
        return names, why


@dataclass(frozen=True)
class FaultyRunner:
    """Commands that time out, die of a signal, print garbage, fail, or are not there."""

    seed: int

    def __call__(self, argv: Sequence[str], *, timeout: float,
                 env: Mapping[str, str] | None = None) -> CommandResult:
        argv = tuple(argv)
        rng = _draw(self.seed, "run", argv)
        fault = _fault(rng, self.seed, ("pass",) + COMMAND_FAULTS)
        if fault == "pass":
            return CommandResult(argv, 0, plausible(argv), "", timeout=timeout)
        if fault == "timed_out":
            return CommandResult(argv, None, garbage_text(rng) if rng.random() < .5 else "", "", timed_out=True,
                                 timeout=timeout)
        if fault == "crashed":
            return CommandResult(argv, -rng.choice((4, 6, 9, 11)), "", "qemu: uncaught target signal 11",
                                 timeout=timeout)
        if fault == "garbage_out":
            return CommandResult(argv, rng.choice((0, 0, 1, 125, 126, 127)), garbage_text(rng), "", timeout=timeout)
        if fault == "garbage_err":
            return CommandResult(argv, rng.choice((1, 2, 125, 255)), "", garbage_text(rng), timeout=timeout)
        if fault == "missing":
            return CommandResult(argv, missing=True, timeout=timeout, errno=2)
        if fault == "cannot_start":
            return CommandResult(argv, error=rng.choice(("Permission denied", "Exec format error",
                                                         "Text file busy")), timeout=timeout, errno=13)
        if fault == "json_garbage":
            return CommandResult(argv, 0, rng.choice(JSON_GARBAGE), "", timeout=timeout)
        return CommandResult(argv, 0, "", "", timeout=timeout)


@dataclass
class FaultyContext(Context):
    """A Context over a real tree whose files and commands fail per ``seed``; ``scratch`` holds the
    scratch directories a live-looking run asks for, so nothing is written elsewhere."""

    seed: int = 0
    scratch: Path | None = None

    def __post_init__(self) -> None:
        if self.runner is None:
            self.runner = FaultyRunner(self.seed)
        super().__post_init__()
        self._fs = FaultyFS(self.root, self.seed)

    @contextmanager
    def scratch_dir(self) -> Iterator[Path]:
        assert self.scratch is not None, "a FaultyContext that looks live needs a scratch folder"
        path = self.scratch / f"scratch-{self.seed}"
        path.mkdir(parents=True, exist_ok=True)
        yield path
