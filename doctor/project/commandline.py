"""Shell text in CI scripts split into commands, and build commands (docker, podman, buildah) read as Builds."""

from __future__ import annotations

import posixpath
import re

from mab_doctor.host.platforms import PlatformError, parse_platform
from mab_doctor.project.model import Build, Platform, Problem, Where

_SEPARATORS = ";&|()\n"
# Words before the command itself that do not change which program runs.
_PREFIXES = {"sudo", "then", "do", "else", "elif", "if", "while", "until", "time", "!", "exec", "command",
             "{", "env"}
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_REDIRECT = re.compile(r"\d*(>>?|<<?|&>)(&?\d*-?)?")


def split_shell_lines(script: str) -> list[tuple[int, list[str]]]:
    """Each simple command of ``script`` with the 0-based line it starts on. Splits on newlines, &&, ||,
    ;, | and parentheses outside quotes; joins backslash continuations; drops comments; removes
    quotes. Unbalanced quotes run to the end of the text (never an error)."""
    commands: list[tuple[int, list[str]]] = []
    words: list[str] = []
    word: list[str] | None = None
    line = start = 0
    i, n = 0, len(script)

    def end_command() -> None:
        nonlocal words
        if words:
            commands.append((start, words))
        words = []

    while i < n:
        c = script[i]
        if word is None:
            if c == "\\" and script.startswith("\\\n", i):
                i, line = i + 2, line + 1
                continue
            if c in " \t\r":
                i += 1
                continue
            if c in _SEPARATORS:
                end_command()
                line += c == "\n"
                i += 1
                continue
            if c == "#":
                while i < n and script[i] != "\n":
                    i += 1
                continue
            if not words:
                start = line
            word = []
        # Inside a word (or starting one).
        if c in " \t\r" or (c in _SEPARATORS and not (c == "&" and word and word[-1] in "<>")):
            words.append("".join(word))
            word = None
            continue
        if c == "\\":
            if script.startswith("\\\n", i):
                line += 1
            else:
                word.append(script[i + 1: i + 2])
            i += 2
        elif c == "'":
            close = script.find("'", i + 1)
            close = n if close < 0 else close
            word.append(script[i + 1: close])
            line += script.count("\n", i, close)
            i = close + 1
        elif c == '"':
            i, line = _double_quoted(script, i + 1, word, line)
        elif c == "$" and script[i + 1: i + 2] in ("(", "{"):
            close = _matching(script, i + 1)
            word.append(script[i:close])
            line += script.count("\n", i, close)
            i = close
        elif c == "`":
            close = script.find("`", i + 1)
            close = n if close < 0 else close + 1
            word.append(script[i:close])
            line += script.count("\n", i, close)
            i = close
        else:
            word.append(c)
            i += 1
    if word is not None:
        words.append("".join(word))
    end_command()
    return commands


def _double_quoted(script: str, i: int, word: list[str], line: int) -> tuple[int, int]:
    n = len(script)
    while i < n and script[i] != '"':
        c = script[i]
        if c == "\\" and i + 1 < n and script[i + 1] in '"\\$`\n':
            if script[i + 1] != "\n":
                word.append(script[i + 1])
            line += script[i + 1] == "\n"
            i += 2
            continue
        if c == "$" and script[i + 1: i + 2] in ("(", "{"):
            close = _matching(script, i + 1)
            word.append(script[i:close])
            line += script.count("\n", i, close)
            i = close
            continue
        word.append(c)
        line += c == "\n"
        i += 1
    return i + 1, line


def _matching(script: str, i: int) -> int:
    """Index just past the bracket closing the one at ``i`` (end of text if none)."""
    opening = script[i]
    closing = ")" if opening == "(" else "}"
    depth = 0
    for j in range(i, len(script)):
        if script[j] == opening:
            depth += 1
        elif script[j] == closing:
            depth -= 1
            if depth == 0:
                return j + 1
    return len(script)


def split_shell_commands(script: str) -> list[list[str]]:
    """The simple commands of ``script`` as word lists (see split_shell_lines)."""
    return [words for _, words in split_shell_lines(script)]


def command_words(argv: list[str]) -> list[str]:
    """``argv`` without the words that only prefix the command: sudo, VAR=value, then/do, env."""
    i = 0
    while i < len(argv) and (argv[i] in _PREFIXES or _ASSIGNMENT.match(argv[i])):
        i += 1
    return argv[i:]


# Options taking a separate value, per program, before the subcommand and after it.
_DOCKER_GLOBAL = {"--config", "-c", "--context", "-H", "--host", "-l", "--log-level", "--tlscacert", "--tlscert",
                  "--tlskey"}
_PODMAN_GLOBAL = {"--connection", "-c", "--url", "--identity", "--log-level", "--root", "--runroot",
                  "--storage-driver", "--storage-opt", "--cgroup-manager", "--tmpdir", "--module", "--ssh",
                  "--registries-conf", "--userns-uid-map", "--userns-gid-map"}
_BUILD_VALUES = {
    "--add-host", "--allow", "--annotation", "--attest", "--build-arg", "--build-context", "--builder",
    "--cache-from", "--cache-to", "--cgroup-parent", "--file", "-f", "--iidfile", "--label", "--metadata-file",
    "--network", "--output", "-o", "--platform", "--progress", "--secret", "--shm-size", "--ssh", "--tag", "-t",
    "--target", "--ulimit", "--call", "--no-cache-filter", "--memory", "-m", "--memory-swap", "--cpu-shares",
    "--cpuset-cpus", "--cpuset-mems", "--cpu-period", "--cpu-quota", "--isolation", "--security-opt",
    # podman / buildah
    "--arch", "--os", "--variant", "--authfile", "--cert-dir", "--creds", "--format", "--jobs", "--manifest",
    "--runtime", "--sign-by", "--timestamp", "--volume", "-v", "--userns", "--cap-add", "--cap-drop",
    "--decryption-key", "--device", "--dns", "--dns-option", "--dns-search", "--env", "--from", "--ignorefile",
    "--logfile", "--os-feature", "--os-version", "--retry", "--retry-delay", "--cpp-flag", "--unsetenv",
    "--unsetlabel", "--hooks-dir", "--ipc", "--pid", "--uts", "--cgroupns", "--layer-label", "--secret-env",
}


def _build_start(words: list[str]) -> tuple[str, int, bool] | None:
    """(engine, index of the first build option, whether the build loads by default) for a build
    command; None for anything else, `docker buildx bake` included (it is not one build)."""
    if not words:
        return None
    program = posixpath.basename(words[0])
    engine = {"docker": "buildx", "podman": "podman", "buildah": "buildah"}.get(program)
    if engine is None:
        return None
    skip = _DOCKER_GLOBAL if program == "docker" else _PODMAN_GLOBAL
    i = 1
    while i < len(words) and words[i].startswith("-"):
        i += 2 if words[i] in skip else 1
    rest = words[i:]
    if program == "buildah":
        return (engine, i + 1, True) if rest[:1] in (["bud"], ["build"], ["build-using-dockerfile"]) else None
    # `docker build` leaves the image in the local store (buildx behind it loads); podman always does.
    if rest[:1] == ["build"]:
        return engine, i + 1, True
    if rest[:2] in (["image", "build"], ["builder", "build"]):
        return engine, i + 2, True
    if rest[:1] == ["buildx"]:
        j = i + 1
        while j < len(words) and words[j].startswith("-"):  # `docker buildx --builder x build`
            j += 2 if words[j] in ("--builder", "--debug-addr") else 1
        return (engine, j + 1, engine != "buildx") if words[j: j + 1] in (["build"], ["b"]) else None
    return None


def parse_build_command(argv: list[str], where: Where, kind: str) -> tuple[Build | None, list[Problem]]:
    """A Build for one docker/podman/buildah build command, with Problems for platforms it cannot read;
    (None, []) for any other command, `docker buildx bake` included. Never raises."""
    words = command_words([str(w) for w in argv])
    found = _build_start(words)
    if found is None:
        return None, []
    engine, i, loads = found
    options: dict[str, list[str]] = {}
    operands: list[str] = []
    if "--builder" in words[:i]:
        at = words.index("--builder")
        options.setdefault("--builder", []).extend(words[at + 1: at + 2])
    while i < len(words):
        word = words[i]
        i += 1
        if word == "--":
            operands.extend(words[i:])
            break
        if _REDIRECT.fullmatch(word):
            i += 1  # the redirection's target
            continue
        if _REDIRECT.match(word) and not word.startswith("-"):
            continue
        if word.startswith("--") and "=" in word:
            name, _, value = word.partition("=")
        elif word in _BUILD_VALUES:
            name, value = word, (words[i] if i < len(words) else "")
            i += 1
        elif re.fullmatch(r"-[ftom].+", word):
            name, value = word[:2], word[2:].removeprefix("=")
        elif word.startswith("-") and word != "-":
            name, value = word, "true"
        else:
            operands.append(word)
            continue
        options.setdefault({"-o": "--output", "-f": "--file"}.get(name, name), []).append(value)
    head = " ".join(words[:found[1]])
    return _make_build(engine, loads, head, options, operands, where, kind)


def _make_build(engine: str, loads: bool, head: str, options: dict[str, list[str]], operands: list[str],
                where: Where, kind: str) -> tuple[Build, list[Problem]]:
    problems: list[Problem] = []
    texts = [item for value in options.get("--platform", []) for item in value.split(",")]
    if not texts and "--arch" in options:  # podman/buildah spell one platform as --os/--arch/--variant
        texts = ["/".join([(options.get("--os") or ["linux"])[-1], options["--arch"][-1],
                           *(options.get("--variant") or [])[-1:]])]
    platforms = platforms_from(texts, where, problems)
    outputs, files = tuple(options.get("--output", [])), options.get("--file", [])
    if engine != "buildx" and options.get("--manifest"):  # podman/buildah collect the platforms in a list
        outputs += (f"manifest={options['--manifest'][-1]}",)
    context = operands[-1] if operands else None
    load, push = output_effects(outputs)
    load, push = load or _flag(options, "--load"), push or _flag(options, "--push")
    if loads and not outputs and not push:
        load = True
    return Build(kind=kind, name=head, where=where, platforms=tuple(platforms), engine=engine,
                 load=load, push=push, outputs=outputs, dockerfile=dockerfile_path(context, files[-1:]),
                 context=context, builder=(options.get("--builder") or [None])[-1]), problems


def _flag(options: dict[str, list[str]], name: str) -> bool:
    return any(v.lower() not in ("false", "0") for v in options.get(name, []))


def _output_type(spec: str) -> str:
    for part in spec.split(","):
        key, _, value = part.partition("=")
        if key.strip() == "type":
            return value.strip()
    return "local" if spec and "=" not in spec else ""  # `-o dir` is a local export


def output_effects(outputs: tuple[str, ...]) -> tuple[bool, bool]:
    """(loads, pushes): whether exporter specs put the image in the local store, or push it."""
    return (any(_output_type(o) == "docker" and "dest=" not in o for o in outputs),
            any(_output_type(o) == "registry" or re.search(r"(^|,)push=true($|,)", o) for o in outputs))


def dockerfile_path(context: str | None, files: list[str]) -> str | None:
    """Project-relative Dockerfile: -f as given (it is relative to the working directory), else
    context/Dockerfile; None when the context is remote or stdin."""
    if files:
        return None if files[0] in ("-", "") else posixpath.normpath(files[0])
    if context is None or context == "-" or "://" in context or context.startswith("git@"):
        return None
    return posixpath.normpath(posixpath.join(context, "Dockerfile"))


def platforms_from(texts: list[str], where: Where, problems: list[Problem]) -> list[Platform]:
    """Normalised platforms, each once, first mention first; bad or unresolved ones become Problems."""
    found: dict[str, Platform] = {}
    for text in (t.strip() for t in texts):
        if not text:
            continue
        try:
            if "$" in text:
                kind = "a CI expression" if "${{" in text else "a variable"
                raise PlatformError(f"platform {text!r} cannot be resolved here ({kind})")
            name = str(parse_platform(text))
            found.setdefault(name, Platform(name, where))
        except PlatformError as exc:
            problems.append(Problem(where, str(exc)))
    return list(found.values())
