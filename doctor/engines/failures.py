"""Failed container-build logs read for known causes: emulation, builder, image, network and memory failures."""

from __future__ import annotations

import re

from mab_doctor.core.record import record

MAX_CHARS = 4 * 1024 * 1024   # a build log's cause is near its end; more is only time spent
MAX_LINES = 200_000
MAX_SHOWN = 300               # characters of a log line kept as evidence
TAIL = 5


@record
class Cause:
    """One known cause of a failed build, with the line of the log that shows it."""

    key: str        # stable id, e.g. "exec-format"
    title: str      # one line naming the cause
    evidence: str   # the log line that shows it, without ANSI sequences or control characters
    line: int       # 1-based line number in the log
    remedy: str     # what to do, with concrete commands


@record
class Diagnosis:
    """The known causes (most specific first; empty: none known) and, when none, the last error lines;
    the platforms whose build step failed, when the log's step labels say."""

    causes: tuple[Cause, ...]
    tail: tuple[str, ...]
    failed: frozenset[str] = frozenset()


# CSI (colours, cursor moves of the tty progress), OSC (titles, links) and two-character escapes.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x9b[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]?")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# BuildKit plain progress `#12 0.345 `, Podman/legacy lines have no prefix.
_PROGRESS = re.compile(r"^#\d+ (?:\d+\.\d+ )?")
_PLATFORM = re.compile(r"\b(linux/(?:amd64(?:/v[234])?|arm64(?:/v8)?|arm(?:/v[5-8])?|386|ppc64le|s390x|riscv64"
                       r"|mips64le|mips64|loong64))\b")
_STEP = re.compile(r"^#(\d+) \[(linux/[\w/.-]+) ")            # BuildKit: "#7 [linux/arm64 3/9] RUN ..."
_STEP_ERROR = re.compile(r"^#(\d+) ERROR: ")
_PODMAN_STEP = re.compile(r"^\[(linux/[\w/.-]+)\] STEP \d+/\d+: ")  # Podman/Buildah: "[linux/arm64] STEP 5/12: RUN"
_ERRORISH = re.compile(r"error|ERROR|Error|failed|FAILED|Failed")
_SHELLS = r"/(?:usr/)?bin/(?:sh|bash|ash|dash|zsh|busybox)"

# One cheap pass finds the lines worth a closer look.
_TRIGGER = re.compile(
    r"exec format error|no such file or directory|uncaught target signal|Segmentation fault|Illegal instruction"
    r"|core dumped|effective uid is not 0|must be suid|Multi-platform build is not supported|multiple platforms "
    r"feature|exporting manifest lists|no match for platform|no image found in manifest list|failed to create "
    r"endpoint|failed to set up container networking|network bridge not found|137|OOMKilled|Killed|out of memory"
    r"|Cannot allocate memory|memory exhausted|no such host|failed to do request|i/o timeout|TLS handshake timeout"
    r"|bad interpreter|connection refused", re.IGNORECASE)
# A carriage return right before a quote or colon ends an interpreter's name; a legacy builder's
# progress (`Sending build context ... 2.048kB\r\r`) ends lines with CRs that mean nothing.
_CR = re.compile(r"(?:\^M|\r|\\r)(?=['\"’:])|\$'\\r'|#!\S*\\r")

_EXEC_FORMAT = re.compile(r"exec format error", re.IGNORECASE)
_EXEC_TARGET = re.compile(r"exec:? \"?([^\s\":]+)\"?: exec format error")
_NO_INTERP = re.compile(rf"exec:? \"?({_SHELLS})\"?: no such file or directory", re.IGNORECASE)
_SHIM = re.compile(r"failed to create shim task.*no such file or directory", re.IGNORECASE)
_QEMU_SIGNAL = re.compile(r"qemu: uncaught target signal (\d+)|qemu[-\w]*: .*core dumped", re.IGNORECASE)
_CRASH = re.compile(r"Segmentation fault|Illegal instruction|core dumped")
_NO_C = re.compile(r"effective uid is not 0|must be suid to work properly")
_DRIVER = re.compile(r"Multi-platform build is not supported for the docker driver|multiple platforms feature is "
                     r"currently not supported for docker driver", re.IGNORECASE)
_EXPORTER = re.compile(r"docker exporter does not currently support exporting manifest lists", re.IGNORECASE)
_NO_MATCH = re.compile(r"no match for platform in manifest")
_SOURCE = re.compile(r"failed to resolve source metadata for ([^\s:]+(?::[^\s:]+)?):")
_PODMAN_LIST = re.compile(r"no image found in manifest list for architecture \"?([\w.-]+)\"?")
_PODMAN_IMAGE = re.compile(r"manifest list (?:for )?\"?(?:docker://)?([^\s\":]+(?::[\w.-]+)?)\"?")
_ENDPOINT = re.compile(r"failed to create endpoint|failed to set up container networking|network bridge not found",
                       re.IGNORECASE)
_OOM = re.compile(r"exit code: 137\b|returned a non-zero code: 137\b|OOMKilled|fatal error: runtime: out of memory"
                  r"|virtual memory exhausted|Cannot allocate memory|Killed signal terminated program")
_KILLED = re.compile(r"^\s*Killed\s*$")
_LOOKUP = re.compile(r"dial tcp: lookup ([\w.-]+)(?: on [^\s:]+(?::\d+)?)?: no such host")
_REGISTRY = re.compile(r"failed to do request: (?:Head|Get|Post|Put) \"?https?://([\w.-]+(?::\d+)?)"
                       r"|https?://([\w.-]+(?::\d+)?)/v2/\S*: (?:dial tcp \S+: )?(?:i/o timeout|net/http: TLS handshake "
                       r"timeout|connect: connection refused)|dial tcp [\w.:\[\]-]+:443: i/o timeout")

# Most specific first: a builder that cannot build at all, then the image, then emulation, then the rest.
_ORDER = ("docker-driver-multiplatform", "exporter-manifest-list", "no-platform-match", "podman-no-image-in-list",
          "exec-format", "no-F-flag", "no-C-flag", "qemu-crash", "out-of-memory", "network-endpoint",
          "registry-unreachable")

_FIX_F = "sudo mab-doctor --fix   # registers QEMU binfmt handlers with the F flag; `mab-doctor binfmt-handlers` shows them"


def clean(line: str) -> str:
    """A log line as evidence: ANSI sequences removed, other control characters as visible escapes, bounded."""
    if "\x1b" in line or "\x9b" in line:
        line = _ANSI.sub("", line)
    line = _CONTROL.sub(lambda m: f"\\x{ord(m.group()) & 0xff:02x}" if ord(m.group()) < 0xd800
                        else f"\\x{ord(m.group()) - 0xdc00:02x}" if 0xdc80 <= ord(m.group()) <= 0xdcff
                        else f"\\u{ord(m.group()):04x}", line.rstrip("\r\n"))
    return line if len(line) <= MAX_SHOWN else line[:MAX_SHOWN] + "..."


def _window(line: str, start: int) -> str:
    # A very long line (tty progress redrawn in place) is shown around what matched.
    return line if len(line) <= MAX_SHOWN else line[max(0, start - 80):max(0, start - 80) + MAX_SHOWN]


def classify(text: str) -> Diagnosis:
    """The known causes of the failure ``text`` (a build log) shows; never raises, bounded in time."""
    try:
        return _classify(text if isinstance(text, str) else str(text))
    except (RecursionError, MemoryError, ValueError):  # a pathological input is an unknown failure
        return Diagnosis((), ())


def _classify(text: str) -> Diagnosis:
    skipped = 0
    if len(text) > MAX_CHARS:
        cut = len(text) - MAX_CHARS
        skipped, text = text.count("\n", 0, cut), text[cut:]
    lines = text.split("\n")
    if len(lines) > MAX_LINES:
        skipped += len(lines) - MAX_LINES
        lines = lines[-MAX_LINES:]
    found: dict[str, Cause] = {}
    platform = _platform_seen(lines)
    crlf = _crlf_line(lines)
    for index, raw in enumerate(lines):
        if not _TRIGGER.search(raw) and (crlf is None or crlf[0] != index):
            continue
        plain = _ANSI.sub("", raw) if "\x1b" in raw else raw
        body = _PROGRESS.sub("", plain.rstrip("\r"))
        number = skipped + index + 1
        for key, title, remedy, at in _match(body, lines, index, platform, crlf):
            if key not in found:
                found[key] = Cause(key, title, clean(_window(body, at)), number, remedy)
    if "exec-format" in found and crlf is not None and "no-F-flag" in found:
        del found["no-F-flag"]  # the shell is missing only because the script's #! line ends in CR
    causes = tuple(found[k] for k in _ORDER if k in found)
    if causes:
        return Diagnosis(causes, (), _failed_platforms(lines))
    tail = [clean(ln) for ln in lines if _ERRORISH.search(ln)][-TAIL:]
    return Diagnosis((), tuple(tail), _failed_platforms(lines))


def _failed_platforms(lines: list[str]) -> frozenset[str]:
    """The platforms whose step failed, from the step labels (empty: the log does not say, e.g. a
    single-platform build, or a refusal before any step). Other platforms' steps were cancelled or
    never reached: the build stopped, but says nothing against them."""
    labels = {m.group(1): m.group(2) for m in map(_STEP.match, lines) if m}
    failed = {labels[m.group(1)] for m in map(_STEP_ERROR.match, lines) if m and m.group(1) in labels}
    if not failed:
        current = None
        for line in lines:
            m = _PODMAN_STEP.match(line)
            current = m.group(1) if m else current
            if line.startswith(("Error: ", "error ")) and current:
                failed.add(current)
                break
    return frozenset(failed)


def _crlf_line(lines: list[str]) -> tuple[int, str] | None:
    """The first line showing a carriage return where an interpreter's name ends (a CRLF script)."""
    for index, line in enumerate(lines):
        if "\r" in line or "\\r" in line or "^M" in line:
            if _CR.search(line.rstrip("\r")):  # a CRLF log's own line ends are no sign
                return index, line
    return None


def _platform_seen(lines: list[str]) -> str | None:
    """A platform the log names (step labels, --platform, warnings): a sign RUN steps were emulated."""
    for line in lines[-20_000:]:
        if "linux/" in line:
            m = _PLATFORM.search(line)
            if m:
                return m.group(1)
    return None


def _match(body: str, lines: list[str], index: int, platform: str | None, crlf) -> list[tuple[str, str, str, int]]:
    out: list[tuple[str, str, str, int]] = []
    m = _EXEC_FORMAT.search(body)
    if m:
        out.append(_exec_format(body, m.start(), crlf))
    elif crlf is not None and crlf[0] == index:
        out.append(("exec-format", "a script has Windows (CRLF) line endings: its #! interpreter name ends in "
                    "a carriage return", _CRLF_FIX, _CR.search(body).start() if _CR.search(body) else 0))
    m = _NO_INTERP.search(body) or _SHIM.search(body)
    if m and crlf is None:
        where = f" for {platform}" if platform else ""
        title = (f"the interpreter of an emulated RUN step{where} was not found: the binfmt handler lacks the F "
                 "flag (QEMU is looked up inside the container)")
        remedy = _FIX_F + "; if the image really has no shell (scratch, distroless), use the exec form of RUN"
        out.append(("no-F-flag", title, remedy, m.start()))
    m = _QEMU_SIGNAL.search(body)
    if m or (platform and _CRASH.search(body)):
        m = m or _CRASH.search(body)
        sig = f" (signal {m.group(1)})" if m.re is _QEMU_SIGNAL and m.group(1) else ""
        title = (f"QEMU crashed while emulating a RUN step{sig}" if m.re is _QEMU_SIGNAL else
                 f"a program crashed ({m.group()}) in a RUN step for {platform}: when emulated, usually QEMU")
        out.append(("qemu-crash", title,
                    "use a QEMU that is not on the known-bad list (a newer qemu-user-static, or "
                    "`docker run --privileged --rm tonistiigi/binfmt --install all`); `mab-doctor binfmt-handlers` "
                    "shows the registered QEMU and its version", m.start()))
    m = _NO_C.search(body)
    if m:
        out.append(("no-C-flag", "a setuid program (sudo, su) ran without its privileges: the binfmt handler "
                    "lacks the C flag", _NO_C_FIX, m.start()))
    out += _builder_and_image(body, platform)
    out += _memory_and_network(body, lines, index)
    return out


_CRLF_FIX = ("convert the script to LF line endings: `sed -i 's/\\r$//' SCRIPT` or `dos2unix SCRIPT`, and keep it "
             "so with `*.sh text eol=lf` in .gitattributes")
_NO_C_FIX = ("without C the kernel runs QEMU with the caller's credentials, so setuid programs lose theirs; C "
             "runs QEMU with the program's credentials (a QEMU flaw then runs as root). Prefer `USER root` for "
             "such steps (no sudo/su in RUN); or re-register the handler with C: the same line with `C` added to "
             "its flags, after `echo -1 | sudo tee /proc/sys/fs/binfmt_misc/<name>`")


def _exec_format(body: str, at: int, crlf) -> tuple[str, str, str, int]:
    if crlf is not None:
        return ("exec-format", "a script has Windows (CRLF) line endings: its #! interpreter cannot be found",
                _CRLF_FIX, at)
    target = _EXEC_TARGET.search(body)
    path = target.group(1) if target else ""
    if re.fullmatch(_SHELLS, path) or not path:
        return ("exec-format", "exec format error: no binfmt handler runs programs of the image's architecture",
                _FIX_F + "; then check with `mab-doctor binfmt-exec`", at)
    if re.search(r"\.(?:sh|bash|py|pl|rb)$", path):
        return ("exec-format", f"exec format error: the script {path} has no #! line (or starts with a byte-order "
                "mark)", f"start {path} with `#!/bin/sh` (LF line endings), or run it as `sh {path}`", at)
    return ("exec-format", f"exec format error: {path} is a binary for another architecture, or no binfmt "
            "handler runs it", f"`mab-doctor inspect {path}` names its platform; build it for the target "
            f"(TARGETARCH/GOARCH in the Dockerfile) or register QEMU: {_FIX_F}", at)


def _builder_and_image(body: str, platform: str | None) -> list[tuple[str, str, str, int]]:
    out = []
    m = _DRIVER.search(body)
    if m:
        out.append(("docker-driver-multiplatform", "the `docker` buildx driver cannot build several platforms at once",
                    "use a docker-container builder: `docker buildx create --use --driver docker-container "
                    "--name multiarch`, or turn on the containerd image store in /etc/docker/daemon.json "
                    "(`\"features\": {\"containerd-snapshotter\": true}`) and restart dockerd", m.start()))
    m = _EXPORTER.search(body)
    if m:
        out.append(("exporter-manifest-list", "the docker exporter cannot load a multi-platform image (manifest list) "
                    "into the image store", "push it (`--push`), export it as OCI (`--output type=oci,dest=out.tar`), "
                    "build one platform at a time with `--load`, or turn on the containerd image store", m.start()))
    m = _NO_MATCH.search(body)
    if m:
        src = _SOURCE.search(body)
        image = src.group(1) if src else "IMAGE"
        p = platform or "PLATFORM"
        out.append(("no-platform-match", f"the base image {image} has no variant for the requested platform"
                    if src else "a base image has no variant for the requested platform",
                    f"list its platforms: `docker buildx imagetools inspect {image}`; check: `docker pull "
                    f"--platform {p} {image}`; pick a base image (or tag) built for {p}, or drop {p}", m.start()))
    m = _PODMAN_LIST.search(body)
    if m:
        named = _PODMAN_IMAGE.search(body)
        image = named.group(1) if named else "IMAGE"
        arch = m.group(1)
        out.append(("podman-no-image-in-list", f"the base image {image} has no {arch} variant in its manifest list",
                    f"list its platforms: `skopeo inspect --raw docker://{image}`; check: `podman pull --platform "
                    f"linux/{arch} {image}`; pick a base image built for {arch}, or drop that platform", m.start()))
    return out


def _memory_and_network(body: str, lines: list[str], index: int) -> list[tuple[str, str, str, int]]:
    out = []
    m = _OOM.search(body)
    killed = _KILLED.match(body)
    if m or killed or (re.search(r"\bKilled\b", body) and "137" in body):
        out.append(("out-of-memory", "a build step ran out of memory and was killed (exit 137, the OOM killer)",
                    "give the build more memory or swap, or lower its parallelism (`make -j1`, "
                    "`CARGO_BUILD_JOBS=1`, `--max-workers`, buildkitd `max-parallelism`); emulated compilers "
                    "need more than native ones", m.start() if m else 0))
    m = _ENDPOINT.search(body)
    if m:
        out.append(("network-endpoint", "the container engine could not give the build container a network",
                    "restart the daemon (`sudo systemctl restart docker`), check the bridge with `ip link show "
                    "docker0`, or build with `--network host`", m.start()))
    m = _LOOKUP.search(body) or _REGISTRY.search(body)
    if m:
        host = next((g for g in m.groups() if g), None) if m.groups() else None
        out.append(("registry-unreachable", f"the registry {host} could not be reached" if host else
                    "a registry could not be reached", "check DNS and the proxy (`getent hosts "
                    f"{host or 'registry-1.docker.io'}`, HTTPS_PROXY for dockerd), or have the image locally "
                    "(`docker pull` / `docker load` it first and build with `--pull=false`); a local image for another "
                    "platform does not count: the engine looks the requested platform up in the registry", m.start()))
    return out
