"""`mab-doctor install-docker-plugin`: write (or remove) docker-doctor, the Docker CLI plugin behind `docker doctor`."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shlex
import stat
import sys
from typing import Mapping

import mab_doctor
from mab_doctor.commands.options import Options, UsageError
from mab_doctor.core.context import Context
from mab_doctor.core.files import write_atomically
from mab_doctor.core.record import record
from mab_doctor.engines.buildx import SYSTEM_PLUGIN_DIRS, plugin_dirs, validate_metadata
from mab_doctor.engines.docker import config_dir

NAME = "docker-doctor"
SYSTEM_DIR = SYSTEM_PLUGIN_DIRS[0]   # the first system folder the CLI searches, the one meant for local installs
MARKER = "mab-doctor-docker-plugin"
MODE = 0o755
_READ_LIMIT = 64 * 1024               # far more than the script: a larger file cannot be ours
_MARKER_LINE = re.compile(rf"^# {MARKER} sha256=([0-9a-f]{{64}})\n", re.M)
# -E: no PYTHONPATH or PYTHONHOME of the caller's shell; -P: the current directory (a project that may hold a
# folder named mab_doctor) is not put on sys.path. Together: this installation's package, whoever runs it.
PYTHON_FLAGS = ("-E", "-P")

# The CLI runs a plugin with its own argv (global options, then the plugin's name, then the rest) and its
# environment. Global options become the variables the CLI itself reads, so mab-doctor and every docker
# command it starts talk to the same daemon; a flag beats the other variable, as in the CLI.
_BODY = r"""python=@PYTHON@
metadata=@METADATA@
fail() { printf 'docker doctor: %s\n' "$*" >&2; exit 1; }
if [ "$#" -eq 1 ] && [ "$1" = docker-cli-plugin-metadata ]; then
    printf '%s\n' "$metadata"
    exit 0
fi
context= host= found=
while [ "$#" -gt 0 ]; do
    opt=$1 value=
    case $1 in
        doctor) shift; found=1; break ;;
        help) [ "${2-}" = doctor ] || fail "unexpected arguments: $*"; set -- --help; found=1; break ;;
        __complete|__completeNoDesc) printf ':4\n'; exit 0 ;;
        --*=*) opt=${1%%=*} value=${1#*=}; shift ;;
        -[cHl]=*) opt=${1%%=*} value=${1#???}; shift ;;
        -[cHl]?*) value=${1#??} opt=${1%"${1#??}"}; shift ;;
        --context|-c|--host|-H|--config|--log-level|-l|--tlscacert|--tlscert|--tlskey)
            [ "$#" -ge 2 ] || fail "$1 needs a value"
            value=$2; shift 2 ;;
        -D|--debug|--tls|--tlsverify) value=true; shift ;;
        *) fail "unexpected '$1' before 'doctor' (run it as: docker [OPTIONS] doctor [ARGS])" ;;
    esac
    case $opt in
        --context|-c) context=$value ;;
        --host|-H) [ -z "$host" ] || fail "specify only one -H"; host=$value ;;
        --config) export DOCKER_CONFIG="$value" ;;
        --tls|--tlsverify)
            var=DOCKER_TLS; [ "$opt" = --tls ] || var=DOCKER_TLS_VERIFY
            case $value in
                0|f|F|false|FALSE|False) unset "$var" ;;
                *) export "$var=1" ;;
            esac ;;
        --tlscacert|--tlscert|--tlskey)
            fail "$opt cannot be passed on: set DOCKER_CERT_PATH to a folder with ca.pem, cert.pem and key.pem" ;;
        -D|--debug|-l|--log-level) ;;
        *) fail "unknown option $opt" ;;
    esac
done
[ -n "$found" ] || fail "this is a Docker CLI plugin: run it as: docker [OPTIONS] doctor [ARGS]"
if [ -n "$context" ] && [ -n "$host" ]; then
    fail "conflicting options: cannot specify both --host and --context"
elif [ -n "$context" ]; then
    export DOCKER_CONTEXT="$context"; unset DOCKER_HOST
elif [ -n "$host" ]; then
    export DOCKER_HOST="$host"; unset DOCKER_CONTEXT
fi
[ -x "$python" ] || fail "the mab-doctor that installed this plugin is gone ($python): run" \
    "'mab-doctor install-docker-plugin' again, or remove $0"
exec "$python" @FLAGS@ -m mab_doctor "$@"
"""


@record
class Done:
    """What one install or uninstall did: its exit code and the lines to print (stdout, or stderr when failed)."""

    code: int
    lines: tuple[str, ...]


def metadata(version: str = mab_doctor.__version__) -> dict:
    """The answer to `docker-doctor docker-cli-plugin-metadata`: the fields the CLI requires, and its help line."""
    return {"SchemaVersion": "0.1.0", "Vendor": "mab-doctor", "Version": version,
            "ShortDescription": "Check that this host can build multi-architecture images"}


def render(python: str, version: str = mab_doctor.__version__) -> str:
    """The whole plugin script for an interpreter path: a header, the marker with the body's hash, the body."""
    head = ("#!/bin/sh\n"
            f"# {NAME}: `docker doctor ARGS` runs `mab-doctor ARGS` (a Docker CLI plugin of mab-doctor {version}).\n"
            "# Written by `mab-doctor install-docker-plugin`; `mab-doctor install-docker-plugin --uninstall`\n"
            "# removes it while this file is unchanged (the hash below covers every other line).\n")
    body = (_BODY.replace("@PYTHON@", shlex.quote(python))
            .replace("@METADATA@", shlex.quote(json.dumps(metadata(version), separators=(",", ":"))))
            .replace("@FLAGS@", " ".join(PYTHON_FLAGS)))
    return f"{head}# {MARKER} sha256={hashlib.sha256((head + body).encode()).hexdigest()}\n{body}"


def is_ours(text: str) -> bool:
    """Whether ``text`` is a plugin script this command wrote (any version, any interpreter), unedited."""
    marks = list(_MARKER_LINE.finditer(text))
    if len(marks) != 1:
        return False
    rest = text[:marks[0].start()] + text[marks[0].end():]
    return hashlib.sha256(rest.encode()).hexdigest() == marks[0].group(1)


def plugin_dir(scope: str, env: Mapping[str, str]) -> str:
    """The folder a scope installs into: --user the CLI's config folder's cli-plugins, --system SYSTEM_DIR."""
    if scope == "system":
        return SYSTEM_DIR
    return os.path.abspath(f"{config_dir(Context(env=env))}/cli-plugins")


@record
class Found:
    """What sits at the plugin's path: nothing (fd None, why ""), our file (why ""), or why it is not ours."""

    fd: int | None = None
    st: os.stat_result | None = None
    data: bytes = b""
    why: str = ""


def _read_ours(path: str) -> Found:
    """The file at ``path``, opened with O_NOFOLLOW: a symlink planted at the name is refused, never read
    through. The caller closes ``fd``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return Found()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return Found(why=f"{path} is a symlink (to {os.readlink(path)}), not a file mab-doctor wrote")
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        return Found(fd, st, why=f"{path} is not a regular file")
    data = os.read(fd, _READ_LIMIT + 1)
    try:
        ours = len(data) <= _READ_LIMIT and is_ours(data.decode("utf-8"))
    except UnicodeDecodeError:
        ours = False
    return Found(fd, st, data, "" if ours else
                 f"{path} was not written by mab-doctor install-docker-plugin (or was edited since)")


def _checked(path: str) -> Found:
    found = _read_ours(path)
    if found.fd is not None:
        os.close(found.fd)
    return found


def install(folder: str, python: str = sys.executable, env: Mapping[str, str] | None = None) -> Done:
    """Write docker-doctor into ``folder`` for this interpreter; unchanged when already there, refused over
    anything not ours (a symlink included, which is never followed)."""
    env = dict(os.environ if env is None else env)
    path, ctx = os.path.join(folder, NAME), Context(env=env)
    if not os.path.isabs(python) or "\n" in python or not _encodable(python):
        return Done(1, (f"mab-doctor: cannot name this interpreter in a script: {python!r}",))
    problem = _launch_problem(ctx, python)
    if problem:
        return Done(1, (f"mab-doctor: {problem}",))
    text = render(python)
    try:
        old = _checked(path)
        if old.why:
            return Done(1, (f"mab-doctor: {old.why}; left as it is (remove it yourself to install here)",))
        if old.st is not None and stat.S_IMODE(old.st.st_mode) == MODE and old.data == text.encode("utf-8"):
            return Done(0, (f"Already installed: {path} (unchanged)", *_notes(ctx, folder, python)))
        os.makedirs(folder, mode=0o755, exist_ok=True)
        write_atomically(path, text)
        _make_executable(path, text)
    except OSError as exc:
        return Done(1, (f"mab-doctor: cannot write {exc.filename or path}: {exc.strerror or exc}",))
    answer = ctx.run(path, "docker-cli-plugin-metadata", timeout=10, env=env)
    meta_problem = validate_metadata(answer.stdout)[1] if answer.ok else answer.explain()
    if meta_problem:
        return Done(1, (f"mab-doctor: wrote {path}, but it does not answer the CLI: {meta_problem}",))
    return Done(0, (f"{'Updated' if old.st is not None else 'Installed'} {path}: `docker doctor [ARGS]` runs "
                    f"`{python} {' '.join(PYTHON_FLAGS)} -m mab_doctor [ARGS]`", *_notes(ctx, folder, python)))


def uninstall(folder: str) -> Done:
    """Remove docker-doctor from ``folder`` only while it is the unedited file an install wrote."""
    path = os.path.join(folder, NAME)
    try:
        found = _read_ours(path)
        if found.fd is None and not found.why:
            return Done(0, (f"Nothing to remove: {path} does not exist",))
        try:
            if found.why:
                return Done(1, (f"mab-doctor: {found.why}; not removed",))
            now = os.lstat(path)  # the name must still lead to the very file just checked
            if (now.st_dev, now.st_ino) != (found.st.st_dev, found.st.st_ino):
                return Done(1, (f"mab-doctor: {path} was replaced while it was checked; not removed",))
            os.unlink(path)
        finally:
            if found.fd is not None:
                os.close(found.fd)
    except OSError as exc:
        return Done(1, (f"mab-doctor: cannot remove {exc.filename or path}: {exc.strerror or exc}",))
    return Done(0, (f"Removed {path}",))


def main(opts: Options) -> int:
    """Exit 0 when installed, already installed, removed or nothing to remove; 1 when refused or failed."""
    if opts.args:
        raise UsageError("install-docker-plugin takes no arguments")
    folder = plugin_dir(opts.plugin_scope, os.environ)
    if opts.plugin_scope == "system" and os.geteuid() != 0:
        print(f"mab-doctor: install-docker-plugin --system writes {folder}: run it as root (sudo), or use --user",
              file=sys.stderr)
        return 1
    done = uninstall(folder) if opts.uninstall else install(folder)
    print("\n".join(done.lines), file=sys.stdout if done.code == 0 else sys.stderr)
    return done.code


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a path with bytes that are not UTF-8 (surrogate escapes)
        return False
    return True


def _launch_problem(ctx: Context, python: str) -> str:
    """"" when ``python`` with the script's flags imports this very mab_doctor package, else why not."""
    ours = os.path.realpath(mab_doctor.__file__)
    got = ctx.run(python, *PYTHON_FLAGS, "-c", "import mab_doctor, sys; sys.stdout.write(mab_doctor.__file__)",
                  timeout=20)
    if not got.ok:
        return f"{python} {' '.join(PYTHON_FLAGS)} cannot import mab_doctor ({got.explain()}); nothing written"
    if os.path.realpath(got.stdout.strip()) != ours:
        return f"{python} {' '.join(PYTHON_FLAGS)} imports another mab_doctor ({got.stdout.strip()}); nothing written"
    return ""


def _make_executable(path: str, text: str) -> None:
    # The atomic write keeps an old file's mode or gives a new one 0666 less the umask: the CLI needs 0755.
    # Through a descriptor opened without following symlinks, on the file just written and nothing else.
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        if os.read(fd, _READ_LIMIT + 1) != text.encode("utf-8"):
            raise OSError(errno.EBUSY, "replaced by something else while it was written", path)
        os.fchmod(fd, MODE)
    finally:
        os.close(fd)


def _notes(ctx: Context, folder: str, python: str) -> list[str]:
    """Why `docker doctor` may still not reach this file: an earlier plugin folder, or a path others cannot use."""
    notes = []
    dirs = [os.path.abspath(d) for d in plugin_dirs(ctx)[0]]
    for earlier in dirs[:dirs.index(folder)] if folder in dirs else []:
        if os.path.exists(os.path.join(earlier, NAME)):  # followed, as the CLI's own stat does
            notes.append(f"note: {earlier}/{NAME} comes first in the Docker CLI's plugin search: "
                         f"`docker doctor` runs that one")
    if folder == SYSTEM_DIR:
        closed = [d for d in _ancestors(python) + _ancestors(mab_doctor.__file__) if not _open_to_others(d)]
        if closed:
            notes.append(f"note: only root can start {python} ({closed[0]} is closed to other users): "
                         f"`docker doctor` works for root only")
    return notes


def _open_to_others(folder: str) -> bool:
    try:
        return bool(os.stat(folder).st_mode & stat.S_IXOTH)
    except OSError:
        return False


def _ancestors(path: str) -> list[str]:
    parts, folder = [], os.path.dirname(os.path.abspath(path))
    while folder != os.path.dirname(folder):
        parts.append(folder)
        folder = os.path.dirname(folder)
    return parts[::-1]
