"""The build probe: an offline FROM-scratch build of the project's probe programs through the user's builder."""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING

from mab_doctor.core.record import record
from mab_doctor.emulation.probes import MARKER, build_marker_probe, has_probe
from mab_doctor.engines.leftovers import Snapshot, Store, remove_new, snapshot

if TYPE_CHECKING:
    from mab_doctor.core.context import Context
    from mab_doctor.engines.failures import Diagnosis
    from mab_doctor.host.platforms import Target

# Each step runs the marker probe in its own directory; the directory it creates is the step's proof.
# The setuid step runs as a non-root user in a directory only root may write: the marker appears only
# when the program really got root's effective uid from its setuid bit.
STEPS = ("static", "pie", "setuid")
PROBE_USER = "1000:1000"
LABEL = "mab-doctor-probe"  # every image of a probe build carries it, with the run's nonce
_DOCKERFILE = """\
# mab-doctor build probe: every step runs a probe program the doctor wrote for this target
FROM scratch
LABEL {label}="{nonce}"
ARG TARGETARCH
ARG TARGETVARIANT
COPY ${{TARGETARCH}}${{TARGETVARIANT}}/ /
COPY --chmod=4755 setuid-${{TARGETARCH}}${{TARGETVARIANT}} /mab-probe-setuid
WORKDIR /mab-probe-${{TARGETARCH}}${{TARGETVARIANT}}/static
RUN ["/mab-probe-static", "{nonce}"]
WORKDIR /mab-probe-${{TARGETARCH}}${{TARGETVARIANT}}/pie
RUN ["/mab-probe-pie", "{nonce}"]
WORKDIR /mab-probe-${{TARGETARCH}}${{TARGETVARIANT}}/setuid
USER {user}
RUN ["/mab-probe-setuid", "{nonce}"]
"""


def label(target: "Target") -> str:
    """The folder a builder picks for ``target``: $TARGETARCH$TARGETVARIANT (arm64, armv7, amd64)."""
    platform = target.platform
    return platform.arch + (platform.variant or target.extra_variant or "")


@record
class Probe:
    """One probe build: how it ran, what each target's steps proved, and what was cleaned up."""

    engine: str                                   # "buildx", "podman" or "buildah"
    argv: tuple[str, ...]
    targets: tuple[str, ...]
    returncode: int | None = None
    timed_out: bool = False
    seconds: float = 0.0
    steps: dict[str, dict[str, bool]] = field(default_factory=dict)   # target -> step -> marker seen
    diagnosis: Diagnosis | None = None            # the classified log of a failed build
    failed: frozenset[str] = frozenset()          # the platforms whose step failed, when the log names them
    removed: int = 0                              # cache records or images the probe created and removed
    store: str = "cache"                          # what it removed: "cache" (records) or "images"
    cleanup_problems: tuple[str, ...] = ()
    problem: str | None = None                    # why the build could not be tried at all

    @property
    def built(self) -> bool:
        """Whether the build finished without an error."""
        return self.returncode == 0 and not self.timed_out


def write_context(folder: Path, targets: list["Target"], nonce: str) -> Path:
    """The build context: a Dockerfile, and per target its probes and the folders the steps write in."""
    context = folder / "context"
    for target in targets:
        name = label(target)
        home = context / name
        for step in STEPS:
            (home / f"mab-probe-{name}" / step).mkdir(parents=True, exist_ok=True)
            os.chmod(home / f"mab-probe-{name}" / step, 0o755)
            # Podman and Buildah drop a setuid bit COPY finds in the context, and `--chmod=4755` is what sets
            # it there; Docker 20.10's BuildKit keeps only the permission bits of --chmod, and the source's
            # setuid bit is what it keeps. Both together give a setuid-root program everywhere.
            program = context / f"setuid-{name}" if step == "setuid" else home / f"mab-probe-{step}"
            program.write_bytes(build_marker_probe(target.platform, pie=step == "pie"))
            os.chmod(program, 0o4755 if step == "setuid" else 0o755)
        os.chmod(home, 0o755)
        os.chmod(home / f"mab-probe-{name}", 0o755)
    (context / "Dockerfile").write_text(_DOCKERFILE.format(nonce=nonce, user=PROBE_USER, label=LABEL))
    return context


def read_steps(out: Path, targets: list["Target"]) -> dict[str, dict[str, bool]]:
    """Which steps left their marker, per target, in a local export (one folder per platform when
    BuildKit splits a multi-platform export, one merged tree for Podman and a single platform)."""
    found = {}
    for target in targets:
        name = f"mab-probe-{label(target)}"
        homes = [out / name] + ([p / name for p in sorted(out.iterdir()) if p.is_dir()] if out.is_dir() else [])
        found[str(target)] = {step: any((h / step / MARKER).is_dir() for h in homes) for step in STEPS}
    return found


def buildx_argv(docker: str, builder: str | None, targets: list["Target"], out: Path, context: Path) -> tuple:
    """`docker buildx build` of the probe: plain progress (the log the classifier reads), a local export."""
    chosen = ("--builder", builder) if builder else ()
    return (docker, "buildx", "build", *chosen, "--progress", "plain", "--platform",
            ",".join(str(t) for t in targets), "--output", f"type=local,dest={out}", str(context))


def podman_argv(binary: str, engine: str, targets: list["Target"], out: Path, context: Path) -> tuple:
    """`podman build` / `buildah build` of the probe, every target in one invocation, a local export.

    Without a network: Podman's CNI/netavark would add firewall chains to the host the first time a RUN
    step gets one, and the probe must not change the host; its steps need none."""
    return (binary, "build", "--network", "none", "--platform", ",".join(str(t) for t in targets), "--output",
            f"type=local,dest={out}", str(context))


def probe_store(engine: str, binary: str, builder: str | None, socket: str | None = None) -> Store:
    """Where a probe build through ``engine`` leaves things; ``socket``: the daemon's API, when the
    builder is the daemon's own (docker driver) and the daemon listens on a local unix socket."""
    if engine == "buildx":
        scope = ("--builder", builder) if builder else ()
        return Store("cache", (binary, "buildx", "du", *scope, "--verbose"),
                     (binary, "buildx", "prune", *scope, "--force"), socket)
    return Store("images", (binary, "images", "--all", "--quiet", "--no-trunc"), (binary, "rmi", "--force"))


def run_probe(ctx: "Context", engine: str, binary: str, targets: list["Target"], *, store: Store,
              builder: str | None = None, timeout: float | None = None, before: Snapshot | None = None) -> Probe:
    """Build the probe for ``targets`` through ``engine`` (buildx with ``builder``, podman or buildah),
    read what each step proved, then remove every cache record or image the build created in ``store``
    (``before``: what it held, when the caller listed it already)."""
    names = tuple(str(t) for t in targets)
    usable = [t for t in targets if has_probe(t.platform)]
    if len(usable) != len(targets):
        return Probe(engine, (), names, problem="no probe program for "
                     + ", ".join(str(t) for t in targets if t not in usable))
    nonce = os.urandom(8).hex()  # what secrets.token_hex does, without importing hmac and base64 each run
    if store.kind == "images":
        # Only images carrying this run's label are the probe's: another build's or a pull's at the same
        # moment never are, whatever appeared in between.
        store = dataclasses.replace(store, list_argv=store.list_argv + ("--filter", f"label={LABEL}={nonce}"))
        before = Snapshot("images", frozenset())
    before = before or snapshot(ctx, store)
    if before.problem:
        return Probe(engine, (), names, problem=f"could not list the {store.kind} before building, so the probe "
                                                f"could not clean up after itself: {before.problem}")
    with ctx.scratch_dir() as folder:
        context, out = write_context(folder, targets, nonce), folder / "out"
        argv = (buildx_argv(binary, builder, targets, out, context) if engine == "buildx"
                else podman_argv(binary, engine, targets, out, context))
        start = time.monotonic()
        res = ctx.run(*argv, timeout=timeout)
        seconds = time.monotonic() - start
        steps = read_steps(out, targets) if res.ok else {}
        removed, problems = remove_new(ctx, store, before)
    if res.ok:
        diagnosis, failed = None, frozenset()
    else:  # the classifier's patterns are compiled only for a build that failed (an opt-in check: no cost otherwise)
        from mab_doctor.engines.failures import classify

        diagnosis = classify(res.stderr + "\n" + res.stdout)
        failed = diagnosis.failed & frozenset(names)  # only this build's platforms count
    problem = None if res.returncode is not None or res.timed_out else res.explain()
    return Probe(engine, argv, names, res.returncode, res.timed_out, seconds, steps, diagnosis, failed, removed,
                 store.kind, tuple(problems), problem)
