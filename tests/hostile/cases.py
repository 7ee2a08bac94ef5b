"""The tables of hostile inputs, by class; INPUTS holds them all (the suite asserts how many)."""

from __future__ import annotations

import dataclasses
import json
import os
from collections import Counter

from elfbuild import build_elf
from hostile.harness import Input, Place
from hostile.project_cases import PROJECT
from hostile.trees import DIR_KINDS, FILE_KINDS, TARGET_DIRS, TARGET_FILES, lay_base, make_hostile

FORMATS = ("text", "json", "markdown", "junit", "github")
HUGE = "x" * 100_000
WEIRD = {"empty": "", "huge": HUGE, "unicode": "ℒïñüx/ärm64😀", "controls": "a\x1b[31mb\x07c\rd\x7fe\x9bf",
         "newline": "linux/arm64\nlinux/amd64", "spaces": "   ", "dash": "-", "dashdash": "--x", "rtl": "\u202eevil",
         "surrogate": "bad\udcffname", "percent": "%s%n{0}{{json .}}", "comma": ",,,,"}


def _run_on_tree(extra: list[str], env: dict[str, str] | None = None, *, fmt_seed: int = 0, lay=None):
    """A build function: the base tree (then ``lay``), `--root tree` plus ``extra`` and a format."""
    def build(place: Place):
        lay_base(place.tree)
        if lay:
            lay(place)
        fmt = FORMATS[fmt_seed % len(FORMATS)]
        return ["--root", str(place.tree), "--no-plugins", "--format", fmt, *(["-v"] if fmt_seed % 2 else []),
                *extra], dict(env or {})
    return build


# ----- hostile --root trees: every file the checks read, made hostile in every way ----------------
def _hostile(path: str, kind: str):
    return lambda place: make_hostile(place.tree, path, kind, place.marker)


ROOT = [Input("root", f"{kind}:{path}", _run_on_tree([], fmt_seed=i + j, lay=_hostile(path, kind)))
        for i, path in enumerate(TARGET_FILES) for j, kind in enumerate(FILE_KINDS)]
ROOT += [Input("root", f"dir-{kind}:{path}", _run_on_tree([], fmt_seed=i + j, lay=_hostile(path, kind)))
         for i, path in enumerate(TARGET_DIRS) for j, kind in enumerate(DIR_KINDS)]



def _odd_names(place: Place) -> None:
    # File names are host data too: escapes, newlines and undecodable bytes in every listed folder.
    from helpers import MP
    from hostile.trees import AARCH64_ENTRY

    for folder, text in ((MP, AARCH64_ENTRY.replace("/usr/libexec", "/usr/\x1b[31mlibexec")),
                         ("/usr/lib/binfmt.d", ":x\x1b]0;t\x07:M::\\x7fELF::/q\r:F\n"),
                         ("/var/lib/binfmts", "qemu\nmagic\n0\n\x9b\n\n/q\n"),
                         ("/usr/libexec/docker/cli-plugins", "#!/bin/sh\n"), ("/proc", "x")):
        where = place.tree / folder.lstrip("/")
        for name in ("odd\x1b[2Jname", "new\nline", "cr\rname", "\u202eevil.conf", "docker-\x9bx"):
            (where / name).write_text(text)
        os.mkfifo(where / "fifo\x07.conf")
        (where / "loop.conf").symlink_to("loop.conf")
    bad = bytes(place.tree / MP.lstrip("/")) + b"/qemu-\xff\xfe"
    with open(bad, "wb") as fh:
        fh.write(AARCH64_ENTRY.encode())


ROOT += [Input("root", f"odd file names {fmt}", _run_on_tree([], fmt_seed=i, lay=_odd_names))
         for i, fmt in enumerate(FORMATS)]


# ----- hostile environment ------------------------------------------------------------------------
ENV_VALUES = {
    "DOCKER_HOST": ["", "tcp://", "unix:///nonexistent.sock", "-H", HUGE, WEIRD["controls"], WEIRD["unicode"],
                    "ssh://user@host:99999"],
    "DOCKER_CONFIG": ["", "/", "relative/dir", "../../../..", "/root/.docker/config.json", HUGE,
                      WEIRD["controls"], "\udcff"],
    "DOCKER_CONTEXT": ["", "default", HUGE, WEIRD["controls"], "../../x"],
    "PATH": ["", ":::", "relative:bin", "/nonexistent", "/usr/bin\n/bin", HUGE, "/usr/bin:" * 5000],
    "HOME": ["", "/", "relative", WEIRD["controls"], HUGE],
    "MAB_PLATFORMS": ["", ",", "linux/arm64,", "linux/nonsense", WEIRD["controls"], WEIRD["unicode"],
                      ",".join(["linux/arm64"] * 5000), HUGE, " linux/arm64 "],
    "CI": ["true", "1", "yes", "TRUE", "garbage", ""],
    "NO_COLOR": ["", "1"],
    "COLUMNS": ["0", "-5", str(10 ** 9), "abc", "", "1", "99999999999999999999999"],
    "TERM": ["dumb", "", "xterm-256color", WEIRD["controls"]],
    "GITHUB_STEP_SUMMARY": ["/nonexistent/dir/summary", ""],
}
ENV = [Input("env", f"{name}={value[:20]!r}", _run_on_tree([], {name: value}, fmt_seed=i))
       for name, values in ENV_VALUES.items() for i, value in enumerate(values)]
ENV.append(Input("env", "CI+NO_COLOR+TERM+COLUMNS", _run_on_tree([], {"CI": "true", "NO_COLOR": "1", "TERM": "dumb",
                                                                     "COLUMNS": "-1"})))


# ----- hostile options ----------------------------------------------------------------------------
def _opts(words, *, tree: bool = True, outputs=(), color=False, name=None, xfail=None, lay=None) -> Input:
    def build(place: Place):
        lay_base(place.tree)
        if lay:
            lay(place)
        argv = [w(place) if callable(w) else w for w in words]
        return (["--root", str(place.tree), *argv] if tree else argv), {}
    return Input("options", name or " ".join(w if isinstance(w, str) else "<path>" for w in words)[:60], build,
                 outputs, color, xfail)


def _work(name: str):
    return lambda place: str(place.work / name)


OPTIONS = [_opts(["--platform", v], name=f"--platform {k}") for k, v in WEIRD.items()]
OPTIONS += [_opts(["--format", v], name=f"--format {k}") for k, v in WEIRD.items()]
OPTIONS += [_opts(["--timeout", v], name=f"--timeout {v!r}") for v in
            ("", "nan", "inf", "-1", "1e308", "0x10", "1_0", " 5 ", "5s", "0.0000001", "-0", "3601")]
OPTIONS += [_opts(["--jobs", v], name=f"--jobs {v!r}") for v in ("0", "-1", "999999", "", "1e3", "٣")]
OPTIONS += [_opts(["--color", v], name=f"--color {v!r}") for v in ("", "ALWAYS", "never", "auto", WEIRD["controls"])]
OPTIONS += [_opts(["--color", "always", "--format", f], color=True, name=f"--color always {f}") for f in FORMATS]
OPTIONS += [_opts(["--root", v], tree=False, name=f"--root {k}") for k, v in WEIRD.items()]
OPTIONS += [_opts([name], name=f"check name {k}") for k, name in WEIRD.items() if k != "empty"]
OPTIONS += [
    _opts(["--root", lambda p: str(p.tree) + "///."], name="--root trailing slashes"),
    _opts(["--root", lambda p: str(p.marker)], name="--root a regular file"),
    _opts(["--root", lambda p: str(p.tree / ".." / "tree")], name="--root via .."),
    _opts(["--output", ""], name="--output empty"),
    _opts(["--output", lambda p: str(p.work)], name="--output a directory"),
    _opts(["--output", lambda p: str(p.work / "no" / "dir" / "r.txt")], name="--output missing folder"),
    _opts(["--output", _work("r.txt")], outputs=("work/r.txt",), name="--output new file"),
    _opts(["--output", _work("a\nb\x1b[31m.txt")], outputs=("work/a\nb\x1b[31m.txt",), name="--output odd name"),
    _opts(["--format", "json", "--output", _work("r.json"), "--format", "junit", "--output", _work("r.xml"),
           "--format", "markdown"], outputs=("work/r.json", "work/r.xml"), name="three formats"),
    _opts(["--format", "json", "--format", "text"], name="two formats to stdout"),
    _opts(["--output", _work("a"), "--output", _work("b")], name="two outputs"),
    _opts(["--format", "json", "--output", _work("link")], outputs=("work/link", "outside/secret"),
          name="--output a link to the marker",
          lay=lambda p: (p.work / "link").symlink_to(p.marker)),
    _opts(["-v", "-q"]), _opts(["-q", "--strict", "--ci"]), _opts(["--ci", "--color", "always"]),
    _opts(["--dry-run"]), _opts(["--yes"]), _opts(["--persist"]), _opts(["--fix", "--dry-run", "--no-plugins"]),
    _opts(["host-platform", "host-platform", "--no-plugins"]), _opts(["--no-plugins", "--", "--root"]),
    _opts(["--no-plugins", "-"]), _opts(["--nonsense"]), _opts(["--platform"]), _opts(["--root="]),
    _opts(["--format=json", "--platform=linux/arm64", "binfmt-mount", "--strict"]),
    _opts(["--version"], tree=False), _opts(["--help"], tree=False), _opts(["help", "help", "help"], tree=False),
    _opts(["help", WEIRD["controls"]], tree=False), _opts(["help", HUGE], tree=False),
    _opts(["list", "--format", "json", "--no-plugins"], tree=False), _opts(["list", "extra"], tree=False),
    _opts(["explain", WEIRD["controls"]], tree=False), _opts(["explain", HUGE], tree=False),
    _opts(["explain", "host-platform", "--format", "json"], tree=False), _opts(["explain", ""], tree=False),
    _opts(["platform", "--format", "json"]), _opts(["matrix", "--format", "json"], tree=False),
    _opts(["matrix", "--platform", "x"], tree=False), _opts(["undo", "--bogus"], tree=False),
    _opts(["report"], tree=False), _opts(["inspect"], tree=False), _opts([""], tree=False),
]


# ----- hostile `inspect` inputs -------------------------------------------------------------------
def _inspect(name: str, lay, *extra: str) -> Input:
    def build(place: Place):
        lay_base(place.tree)
        target = place.work / "input"
        lay(target, place)
        return ["inspect", "--root", str(place.tree), *extra, str(target)], {}
    return Input("inspect", name, build)


def _write(data: bytes):
    return lambda target, place: target.write_bytes(data)


def _dir_loop(target, place):
    target.mkdir()
    (target / "self").symlink_to(".")
    (target / "a").symlink_to("b")
    (target / "b").symlink_to("a")
    (target / "up").symlink_to("..")
    (target / "out").symlink_to(place.marker)


def _elf_mutant(offset: int, value: bytes):
    def lay(target, place):
        data = bytearray(build_elf("aarch64"))
        data[offset:offset + len(value)] = value
        target.write_bytes(bytes(data))
    return lay


ELF = build_elf("aarch64")
INSPECT = [
    _inspect("missing", lambda t, p: None),
    _inspect("directory loops", _dir_loop),
    _inspect("fifo", lambda t, p: os.mkfifo(t)),
    _inspect("socket", lambda t, p: make_hostile(t.parent, "/" + t.name, "socket", p.marker)),
    _inspect("chardev", lambda t, p: make_hostile(t.parent, "/" + t.name, "chardev", p.marker)),
    _inspect("link to marker", lambda t, p: t.symlink_to(p.marker)),
    _inspect("link loop", lambda t, p: make_hostile(t.parent, "/" + t.name, "loop", p.marker)),
    _inspect("huge sparse", lambda t, p: make_hostile(t.parent, "/" + t.name, "huge", p.marker)),
    _inspect("empty", _write(b"")), _inspect("one byte", _write(b"\x7f")), _inspect("magic only", _write(b"\x7fELF")),
    _inspect("garbage", lambda t, p: make_hostile(t.parent, "/" + t.name, "garbage", p.marker)),
    _inspect("controls in text", _write(b"#!/bin/sh\n\x1b[2J\x07\r\n")),
    *[_inspect(f"elf cut at {n}", _write(ELF[:n])) for n in (5, 16, 20, 52, 63, 64, 65, 100, len(ELF) - 1)],
    *[_inspect(f"elf {what}", _elf_mutant(off, val)) for what, off, val in (
        ("class 7", 4, b"\x07"), ("data 9", 5, b"\x09"), ("phoff huge", 32, b"\xff" * 8),
        ("phnum 65535", 56, b"\xff\xff"), ("phentsize 1", 54, b"\x01\x00"), ("machine 0xffff", 18, b"\xff\xff"),
        ("shoff huge", 40, b"\xff" * 8), ("type 0", 16, b"\x00\x00"))],
    _inspect("platform weird", _write(ELF), "--platform", WEIRD["controls"]),
    _inspect("deep", _write(ELF), "--deep"),
]


# ----- hostile `report FILE` inputs ---------------------------------------------------------------
VALID = {"schema": "mab-doctor/report/v1", "version": "0.1.0",
         "host": {"root": "/", "hostname": "h", "kernel_release": "6.1", "uname_machine": "x86_64",
                  "oci_platform": "linux/amd64", "debian_arch": "amd64",
                  "distro": {"id": "debian", "version": "12", "name": "Debian"}, "known_environment": None,
                  "known_environment_name": None},
         "targets": ["linux/amd64"], "target_details": [{"platform": "linux/amd64", "native": True,
                                                         "source": "default"}],
         "results": [{"name": "host-platform", "title": "Host platform", "category": "host", "source": "builtin",
                      "target": None, "status": "warn", "summary": "s", "details": ["d"], "remediation": "r",
                      "fix": None, "data": {}, "duration_ms": 1.0}],
         "counts": {"ok": 0, "warn": 1, "fail": 0, "skip": 0, "error": 0}, "exit_code": 0, "duration_ms": 5.0,
         "started_at": "2024-05-01T12:30:45Z"}
WRONG = {"null": None, "int": 7, "str": "\x1b[2Jx", "list": [1, [2]], "object": {"a": {}}, "bool": True,
         "float": 1e308, "huge": HUGE}


def _report(name: str, content, *extra: str, outputs=()) -> Input:
    def build(place: Place):
        path = place.work / "report.json"
        if callable(content):
            content(path, place)
        else:
            path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
        return ["report", *[e(place) if callable(e) else e for e in extra], str(path)], {}
    return Input("report", name, build, outputs)


def _with(path: tuple, value) -> dict:
    data = json.loads(json.dumps(VALID))
    holder = data
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value
    return data


FIELDS = [(k,) for k in VALID] + [("host", k) for k in VALID["host"]] + [("results", 0, k)
                                                                          for k in VALID["results"][0]]
REPORT = [_report(f"{'.'.join(map(str, path))}={wrong}", _with(path, WRONG[wrong]), "--format", FORMATS[i % 5])
          for i, path in enumerate(FIELDS) for wrong in (("null", "str", "list"), ("int", "object", "huge"),
                                                         ("bool", "float", "list"))[i % 3]]
REPORT += [
    _report("valid", VALID), _report("valid every format", VALID, "-v", "--format", "junit"),
    _report("empty", b""), _report("garbage", b"\x00\xff\x1b[2Jgarbage"), _report("not json", b"{'a': 1}"),
    _report("utf-16", json.dumps(VALID).encode("utf-16")), _report("bom", b"\xef\xbb\xbf" + json.dumps(VALID).encode()),
    _report("array", []), _report("number", 5), _report("string", "s"), _report("null", None),
    _report("deep nesting", b"[" * 200_000 + b"]" * 200_000),
    _report("deep object", b'{"a":' * 100_000 + b"1" + b"}" * 100_000),
    _report("huge sparse", lambda path, p: make_hostile(path.parent, "/" + path.name, "huge", p.marker)),
    _report("directory", lambda path, p: path.mkdir()),
    _report("link to marker", lambda path, p: path.symlink_to(p.marker)),
    _report("missing", lambda path, p: None),
    _report("many rows", _with(("results",), VALID["results"] * 3000)),
    _report("row controls", _with(("results", 0, "summary"), "\x1b]0;pwned\x07\r\x00\x9b")),
    _report("to output", VALID, "--format", "json", "--output", lambda p: str(p.work / "out.json"),
            outputs=("work/out.json",)),
]

REPORT.append(Input("report", "fifo", _report("", lambda path, p: os.mkfifo(path)).build, process=True, bound=4))


# ----- what needs a process of its own: encodings, a closed pipe, standard streams ----------------
def _process(name: str, extra: list[str], env: dict[str, str], fmt: str = "text", xfail=None,
             color: bool = False) -> Input:
    def build(place: Place):
        lay_base(place.tree)
        make_hostile(place.tree, "/etc/os-release", "non_utf8", place.marker)
        return ["--root", str(place.tree), "--no-plugins", "--format", fmt, *extra], env
    return Input("process", name, build, process=True, xfail=xfail, color=color)


PROCESS = [_process(f"PYTHONIOENCODING={enc} {fmt}", ["-v"], {"PYTHONIOENCODING": enc, "LANG": lang}, fmt)
           for enc, lang in (("ascii", "C"), ("latin-1", "C"), ("cp1252", "C.UTF-8"), ("ascii:strict", "POSIX"),
                             ("garbage-codec", "C"))
           for fmt in ("text", "markdown")]
PROCESS += [_process("LANG=C --color always", ["--color", "always"], {"LANG": "C", "LC_ALL": "C"}, color=True),
            _process("unicode platform under ascii", ["--platform", WEIRD["unicode"]], {"PYTHONIOENCODING": "ascii"}),
            _process("surrogate argument", [WEIRD["surrogate"]], {"LANG": "C.UTF-8"})]


INPUTS: list[Input] = ROOT + ENV + OPTIONS + INSPECT + REPORT + PROCESS
INPUTS += PROJECT
_seen: Counter = Counter()
for _index, _item in enumerate(INPUTS):
    _seen[_item.id] += 1
    if _seen[_item.id] > 1:
        INPUTS[_index] = dataclasses.replace(_item, name=f"{_item.name} #{_seen[_item.id]}")
PER_CLASS = Counter(item.klass for item in INPUTS)

if __name__ == "__main__":  # `cd tests && python -m hostile.cases`: the inputs per class
    print(len(INPUTS), dict(PER_CLASS))
