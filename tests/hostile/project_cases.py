"""Hostile project directories given to `--project` and to `plan`: every build file made hostile in every way."""

from __future__ import annotations

import json
import os
from pathlib import Path

from hostile.harness import Input, Place
from hostile.trees import lay_base, make_hostile

FORMATS = ("text", "json", "markdown", "junit", "github")
ESC = "\x1b[31m\x07\r\x9b\x00"   # what a terminal would obey: colour, bell, carriage return, CSI, NUL

# A small healthy project: each file below is read when the others are there as laid out here.
BAKE_HCL = ('variable "TAG" {\n  default = "1"\n}\ntarget "app" {\n  dockerfile = "docker/App.Dockerfile"\n'
            '  platforms = ["linux/amd64", "linux/arm64"]\n}\n')
BAKE_JSON = json.dumps({"target": {"app": {"dockerfile": "docker/App.Dockerfile",
                                           "platforms": ["linux/amd64", "linux/arm64"]}}})
COMPOSE = "services:\n  web:\n    build:\n      context: .\n    image: web:${TAG}\n    platform: linux/arm64\n"
WORKFLOW = ("on: push\njobs:\n  image:\n    runs-on: ubuntu-latest\n    steps:\n"
            "      - uses: docker/setup-qemu-action@v3\n      - uses: docker/setup-buildx-action@v3\n"
            "      - uses: docker/build-push-action@v6\n        with:\n          platforms: linux/amd64,linux/arm64\n")
GITLAB = ("build:\n  image: docker:27\n  script:\n"
          "    - docker buildx build --platform linux/amd64,linux/arm64 -f Dockerfile .\n")
DOCKERFILE = "FROM debian:12\nRUN true\n"

# Each hostile file with the project it is read in: {path: text} (a path is made hostile after laying).
SETS: dict[str, dict[str, str]] = {
    "docker-bake.hcl": {"docker-bake.hcl": BAKE_HCL, "docker/App.Dockerfile": DOCKERFILE},
    "docker-bake.json": {"docker-bake.json": BAKE_JSON, "docker/App.Dockerfile": DOCKERFILE},
    "docker-bake.override.hcl": {"docker-bake.hcl": BAKE_HCL, "docker-bake.override.hcl": 'target "app" {}\n'},
    "compose.yaml": {"compose.yaml": COMPOSE, "Dockerfile": DOCKERFILE},
    "docker-compose.yml": {"docker-compose.yml": COMPOSE, "Dockerfile": DOCKERFILE},
    "compose.override.yaml": {"compose.yaml": COMPOSE, "compose.override.yaml": "services: {}\n"},
    ".env": {"compose.yaml": COMPOSE, ".env": "TAG=2\n"},
    ".github/workflows/ci.yml": {".github/workflows/ci.yml": WORKFLOW},
    ".gitlab-ci.yml": {".gitlab-ci.yml": GITLAB},
    "Dockerfile": {"Dockerfile": DOCKERFILE},
    "docker/App.Dockerfile": {"docker-bake.hcl": BAKE_HCL, "docker/App.Dockerfile": DOCKERFILE},
    "Containerfile": {"Containerfile": DOCKERFILE},
}
KINDS = ("fifo", "abs_out", "rel_out", "dangling", "directory", "loop", "huge", "garbage")


def _lay(project: Path, files: dict[str, str | bytes]) -> None:
    for rel, text in files.items():
        path = project / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))


def _project(name: str, lay, *, seed: int = 0, plan: bool = False, xfail: str | None = None,
             process: bool = False, bound: float | None = None, where=None) -> Input:
    """An input: a project under work/proj laid out by ``lay(project, place)``; the default run (all checks,
    --root the test tree, so no engine is asked) in format FORMATS[seed], or `plan` in text or JSON."""
    def build(place: Place):
        project = place.work / "proj"
        project.mkdir()
        lay(project, place)
        given = where(place) if where else str(project)
        if plan:
            return ["plan", "--project", given, "--format", ("text", "json")[seed % 2]], {}
        lay_base(place.tree)
        return ["--root", str(place.tree), "--no-plugins", "--project", given, "--format",
                FORMATS[seed % len(FORMATS)], *(["-v"] if seed % 3 == 1 else [])], {}
    extra = {"bound": bound} if bound else {}
    return Input("project", ("plan " if plan else "") + name, build, xfail=xfail, process=process, **extra)


def _files(files: dict[str, str | bytes]):
    return lambda project, place: _lay(project, files)


def _hostile_file(rel: str, kind: str):
    def lay(project: Path, place: Place) -> None:
        _lay(project, SETS[rel])
        make_hostile(project, "/" + rel, kind, place.marker)
    return lay


# ----- every project file, made hostile as a file system object -----------------------------------
PROJECT = [_project(f"{kind}:{rel}", _hostile_file(rel, kind), seed=i + j, plan=(i + j) % 4 == 3)
           for i, rel in enumerate(SETS) for j, kind in enumerate(KINDS)]


# ----- hostile content ---------------------------------------------------------------------------
def _bait(project: Path, place: Place) -> Path:
    """A file outside the project that would show the marker's secret if it were ever read."""
    bait = place.marker.parent / "bait"
    bait.write_text(f"FROM {place.secret}\nservices:\n  {place.secret}:\n    build: .\n")
    return bait


def _links_out(project: Path, place: Place) -> None:
    bait = _bait(project, place)
    _lay(project, {"docker-bake.hcl": 'target "a" {\n  dockerfile = "%s"\n}\ntarget "b" {\n  context = "../.."\n'
                                      '  dockerfile = "outside/bait"\n}\n' % bait,
                   "compose.yaml": "services:\n  c:\n    build:\n      context: ../../outside\n"
                                   "      dockerfile: bait\n  d:\n    build: /\n"})
    (project / "Dockerfile").symlink_to(bait)


def _github_out(project: Path, place: Place) -> None:
    outside = place.marker.parent / "workflows"
    outside.mkdir()
    (outside / "ci.yml").write_text(f"jobs:\n  {place.secret}:\n    steps:\n      - run: docker buildx build "
                                    f"--platform {place.secret} .\n")
    (project / ".github").mkdir()
    (project / ".github" / "workflows").symlink_to(outside)
    (project / ".gitlab-ci.yml").symlink_to("../../outside/workflows/ci.yml")


def _github(kind: str):
    def lay(project: Path, place: Place) -> None:
        _lay(project, {".github/workflows/ci.yml": WORKFLOW})
        make_hostile(project, "/.github/workflows", kind, place.marker)
    return lay


def _many_workflows(project: Path, place: Place) -> None:
    _lay(project, {f".github/workflows/w{i:03}.yml": WORKFLOW.replace("image:", f"image{i}:") for i in range(500)})


def _controls(project: Path, place: Place) -> None:
    # Escapes in every name a report repeats: services, targets, images, platforms, jobs, stages, users.
    _lay(project, {
        "docker-bake.hcl": f'target "t{ESC[:-1]}" {{\n  platforms = ["linux/{ESC[:-1]}arm64", "linux/amd64"]\n'
                           f'  dockerfile = "D{ESC[:-1]}ockerfile"\n  tags = ["x{ESC[:-1]}"]\n}}\n',
        "compose.yaml": json.dumps({"services": {f"s{ESC}": {"build": {"context": f"c{ESC}"}, "image": f"i{ESC}",
                                                             "platform": f"linux/{ESC}"}}}),
        ".github/workflows/ci.yml": WORKFLOW.replace("image:", json.dumps(f"j{ESC}") + ":")
                                            .replace("linux/arm64", f"linux/a{ESC}"),
        "D\x1b[31m\x07\r\x9bockerfile": f"FROM d{ESC}ebian AS s{ESC}\nUSER u{ESC}\nRUN su{ESC} x\nFROM --platform={ESC} x\n"
                                          f"BOGUS{ESC} line\n",
        ".gitlab-ci.yml": json.dumps({f"j{ESC}": {"script": [f"docker buildx build --platform {ESC} ."]}}),
        "Containerfile": f"{ESC}\n"})


def _error_at_controls(project: Path, place: Place) -> None:
    # Parser errors quote the text where they stop: put escapes exactly there.
    _lay(project, {"docker-bake.hcl": f'target "a" {{\n  platforms = [{ESC[:-1]}\n', "compose.yaml": f"a: [{ESC[:-1]}\n",
                   "docker-bake.json": f'{{"target": {ESC[:-1]}}}', ".gitlab-ci.yml": f"x: {{{ESC[:-1]}: [\n",
                   ".github/workflows/ci.yml": f"\t{ESC[:-1]}\n", ".env": f"{ESC}=${{\n"})


DEEP = 100_000
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(9))
CONTENT = {
    "controls in every name": _controls,
    "controls where parsers stop": _error_at_controls,
    "links to a bait outside": _links_out,
    "workflows folder linked outside": _github_out,
    "workflows folder a FIFO": _github("fifo"),
    "workflows folder a link loop": _github("loop"),
    "workflows folder a link to /etc": lambda p, pl: ((p / ".github").mkdir(), (p / ".github/workflows").symlink_to("/etc")),
    "workflows folder a dangling link": _github("dangling"),
    "500 workflows": _many_workflows,
    "yaml nested 100k": _files({"compose.yaml": "[" * DEEP + "]" * DEEP, ".gitlab-ci.yml": "{a: " * DEEP + "}" * DEEP,
                                ".github/workflows/ci.yml": "- " * DEEP + "x\n"}),
    "json nested 100k": _files({"docker-bake.json": '{"target": ' + "[" * DEEP + "]" * DEEP + "}"}),
    "json target nested 100k": _files({"docker-bake.json": '{"target": {"a": {"platforms": '
                                                           + '{"a":' * DEEP + "1" + "}" * DEEP + "}}}"}),
    "hcl nested blocks": _files({"docker-bake.hcl": 'target "a" {\n' + "b {\n" * 20_000 + "}\n" * 20_000 + "}\n"}),
    "hcl nested lists": _files({"docker-bake.hcl": "x = " + "[" * 50_000 + "]" * 50_000 + "\n"}),
    "hcl garbage at the limit": _files({"docker-bake.hcl": "target \"a\" { x = \"" + "\\\"" * 120_000 + "\" }\n"}),
    "yaml alias bomb": _files({"compose.yaml": ALIAS_BOMB, ".github/workflows/ci.yml": ALIAS_BOMB,
                               ".gitlab-ci.yml": ALIAS_BOMB}),
    "yaml recursive alias": _files({"compose.yaml": "services: &s\n  web: *s\n"}),
    "yaml python tag and unhashable key": _files({"compose.yaml": "services: !!python/object:os.system {}\n",
                                                  ".gitlab-ci.yml": "? [a, b]\n: x\n",
                                                  ".github/workflows/ci.yml": "jobs:\n  {a: 1}: x\n"}),
    "compose a list": _files({"compose.yaml": "- services\n- web\n", "compose.override.yaml": "[1, 2]\n"}),
    "compose a scalar": _files({"compose.yaml": "services\n", "compose.override.yaml": "42\n"}),
    "compose odd types": _files({"compose.yaml": "services:\n  1: {build: 7}\n  null: {build: [1]}\n  true:\n"
                                                 "    build: {context: [x], dockerfile: {a: 1}}\n    platform: [1]\n"
                                                 "  x: [1]\n  y: {build: ., platform: 5}\n"}),
    "compose dockerfile escaping": _files({"compose.yaml": "services:\n  a:\n    build: {context: /, dockerfile: "
                                                           "etc/shadow}\n  b:\n    build: {context: ../../.., "
                                                           "dockerfile: proc/self/environ}\n"}),
    "bake target inherits itself": _files({"docker-bake.hcl": 'target "a" {\n  inherits = ["a"]\n}\n'
                                                              'target "b" {\n  inherits = ["c"]\n}\n'
                                                              'target "c" {\n  inherits = ["b", "zz"]\n}\n'
                                                              'group "default" {\n  targets = ["default", "a"]\n}\n'}),
    "bake inherit chain 2000": (_files({"docker-bake.json": json.dumps({"target": {
        f"t{i}": {"inherits": [f"t{i + 1}"] if i < 1999 else [], "platforms": ["linux/arm64"]}
        for i in range(2000)}})})),
    "platforms that do not parse": _files({
        "docker-bake.hcl": 'target "a" {\n  platforms = ["", ",", "linux/", "/", "linux/arm64/v9/x", 5, '
                           '["linux/amd64"], "a" , "linux/arm64,,linux/amd64", "' + "x" * 5000 + '"]\n}\n',
        "compose.yaml": "services:\n  a: {build: ., platform: 'linux/'}\n  b:\n    build:\n      context: .\n"
                        "      platforms: [null, '', linux/arm/v99, {a: 1}]\n",
        ".github/workflows/ci.yml": WORKFLOW.replace("linux/amd64,linux/arm64", "'linux/,,/x'"),
        ".gitlab-ci.yml": GITLAB.replace("linux/amd64,linux/arm64", "'linux/ arm64'")}),
    "expressions": _files({
        ".github/workflows/ci.yml": "on: push\njobs:\n  a:\n    strategy:\n      matrix:\n        p: [linux/amd64, "
                                    "'${{ x }}', 5, null, [1], linux/bogus]\n        include: [{p: linux/arm64}, 7]\n"
                                    "    steps:\n      - uses: docker/setup-qemu-action@v3\n        with: {platforms: "
                                    "'${{ matrix.p }}'}\n      - uses: docker/build-push-action@v6\n        with:\n"
                                    "          platforms: ${{ matrix.p }}\n          file: ${{ env.F }}\n"
                                    "          context: ${{ github.workspace }}/${{ x }}\n"
                                    "          push: ${{ github.event_name != 'pull_request' }}\n"
                                    "  b:\n    steps:\n      - uses: docker/build-push-action@v6\n        with:\n"
                                    "          platforms: ${{ matrix.missing }}\n      - uses: ${{ x }}\n"
                                    "      - run: docker buildx build --platform ${{ matrix.p }} -f ${{x}} .\n"}),
    "workflow odd shapes": _files({".github/workflows/ci.yml": "on: [push]\njobs: [1, 2]\n",
                                   ".github/workflows/b.yaml": "jobs:\n  a: 5\n  b: {steps: {uses: x}}\n"
                                                               "  c: {steps: [5, null, {uses: [1]}, {with: 5}]}\n",
                                   ".github/workflows/c.yml": "", ".github/workflows/d.yml": "---\n---\n---\n"}),
    "gitlab extends loop": _files({".gitlab-ci.yml": ".a:\n  extends: .b\n.b:\n  extends: [.a, .c]\nj:\n  extends: .a\n"
                                                     "  script: [docker buildx build --platform linux/arm64 .]\n"
                                                     "k:\n  extends: k\n  script: 5\n"}),
    "gitlab extends chain 3000": _files({".gitlab-ci.yml": "".join(f".t{i}:\n  extends: .t{i + 1}\n" for i in range(3000))
                                         + ".t3000:\n  script: [docker buildx build --platform linux/arm64 .]\n"
                                         + "j:\n  extends: .t0\n"}),
    "shell script hostile": _files({".gitlab-ci.yml": json.dumps({"j": {"script": [
        "docker buildx build --platform " + "," * 200_000 + " .",
        "docker buildx build " + "--platform linux/arm64 " * 20_000 + ".",
        "docker buildx build \"unclosed --platform linux/arm64 $(echo ${X:-$(" + "(" * 5000,
        "docker \\\n buildx \\\n build -f - - <<EOF\nFROM x\nEOF",
        "'" * 100_001]}})}),
    "dockerfile 50k lines": _files({"Dockerfile": "FROM debian\n" + "RUN echo a \\\n  && b\n" * 25_000}),
    "dockerfile 1 MB line": _files({"Dockerfile": "FROM debian\nRUN " + "a" * (1 << 20) + "\n"}),
    "dockerfile just under the limit": _files({"Dockerfile": "FROM " + "x" * ((1 << 20) - 6)}),
    "dockerfile only a BOM": _files({"Dockerfile": "\ufeff"}),
    "dockerfile BOM, CRLF and escapes": _files({"Dockerfile": "\ufeff# escape=`\r\nFROM a `\r\n AS b\r\n"
                                                              "ARG X=${X:-${X:-${X}}}\r\nFROM ${X}${UNSET:+y}\r\n"
                                                              "USER\r\nFROM\r\nFROM --platform= a b c d\r\n"}),
    "dockerfile garbage": lambda p, pl: (_lay(p, {"Dockerfile": b""}), make_hostile(p, "/Dockerfile", "non_utf8",
                                                                                    pl.marker)),
    "dockerfile NUL bytes": _files({"Dockerfile": b"FROM debian\x00\nRUN \x00\x00\n\x00FROM x\n"}),
    "every file empty": _files({name: "" for name in ("docker-bake.hcl", "docker-bake.json", "compose.yaml",
                                                     "compose.override.yaml", ".env", ".gitlab-ci.yml",
                                                     ".github/workflows/ci.yml", "Dockerfile", "Containerfile")}),
    "every file a directory": lambda p, pl: [(p / n).mkdir(parents=True) for n in (
        "docker-bake.hcl", "docker-bake.json", "docker-bake.override.hcl", "compose.yaml", "docker-compose.yml",
        "compose.override.yaml", ".env", ".github/workflows/ci.yml", ".gitlab-ci.yml", "Dockerfile", "Containerfile")],
    "odd file names beside": lambda p, pl: _lay(p, {"compose.yaml\x1b[2J": "x", "Dockerfile\n": "x",
                                                    ".github/workflows/\x1b]0;t\x07.yml": WORKFLOW,
                                                    ".github/workflows/\udcff.yml": WORKFLOW, "Dockerfile": DOCKERFILE}),
}
XFAIL = {name: lay[1] for name, lay in CONTENT.items() if isinstance(lay, tuple)}
CONTENT = {name: lay[0] if isinstance(lay, tuple) else lay for name, lay in CONTENT.items()}
PROJECT += [_project(name, lay, seed=i, plan=i % 3 == 2, xfail=XFAIL.get(name))
            for i, (name, lay) in enumerate(CONTENT.items())]
PROJECT += [_project(f"{name} (the other command)", lay, seed=i + 1, plan=i % 3 != 2, xfail=XFAIL.get(name))
            for i, (name, lay) in enumerate(CONTENT.items()) if name.startswith(("controls", "links", "workflows folder",
                                                                                 "bake inherit"))]

# Values that grow with every reference: each of these asks for one string far larger than any memory
# at once (so the allocation fails at once instead of filling the machine); process: a crash stays there.
BOMBS = {  # name: lay
    ".env expansion": _files({".env": "K0=" + "x" * 1000 + "\nK1=" + "${K0}" * 10_000 + "\nK2=" + "${K1}" * 10_000
                                     + "\n", "compose.yaml": COMPOSE}),
    "bake variable expansion": _files({"docker-bake.hcl": 'variable "a" {\n  default = "' + "${a}" * 5 + '"\n}\n'
                                                         'target "t" {\n  tags = ["${a}"]\n}\n'}),
    "dockerfile ARG expansion": _files({"Dockerfile": "ARG K0=" + "x" * 1000 + "\nARG K1=" + "${K0}" * 10_000
                                                     + "\nARG K2=" + "${K1}" * 10_000 + "\nFROM ${K2}\n"}),
}
PROJECT += [_project(name, lay, seed=i, plan=bool(i % 2), process=True, bound=15)
            for i, (name, lay) in enumerate(BOMBS.items())]


# ----- hostile --project values ------------------------------------------------------------------
def _nothing(project: Path, place: Place) -> None:
    _lay(project, {"Dockerfile": DOCKERFILE})


def _unreadable(place: Place) -> str:
    # Run as root this folder is still readable (root ignores the mode): the run just reads it.
    (place.work / "proj").chmod(0)
    return str(place.work / "proj")


def _control_name(place: Place) -> str:
    odd = place.work / "p\x1b[31m\n\x07\x9b"
    odd.mkdir()
    (odd / "compose.yaml").write_text("services: [\n")
    return str(odd)


WHERE = {
    "missing": lambda p: str(p.work / "nope"), "a regular file": lambda p: str(p.marker),
    "a FIFO": lambda p: (os.mkfifo(p.work / "fifo"), str(p.work / "fifo"))[1],
    "unreadable (mode 000)": _unreadable, "empty": lambda p: "", "control characters": _control_name,
    "the marker's folder": lambda p: str(p.marker.parent), "a link to the marker's folder": lambda p: (
        (p.work / "link").symlink_to(p.marker.parent), str(p.work / "link"))[1],
    "/proc/self": lambda p: "/proc/self", "/proc/self/fd": lambda p: "/proc/self/fd",
    "trailing dots": lambda p: str(p.work / "proj") + "/././/", "huge": lambda p: "x" * 100_000,
    "a dash": lambda p: "-", "/dev": lambda p: "/dev",
}
PROJECT += [_project(f"--project {name}", _nothing, seed=i, plan=i % 2 == 1, where=where, bound=10)
            for i, (name, where) in enumerate(WHERE.items())]
