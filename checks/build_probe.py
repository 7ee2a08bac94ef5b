"""Prove each target by building: the probe programs' RUN steps through the user's real builder (--build)."""

from __future__ import annotations

from mab_doctor.api import Context, Result, check
from mab_doctor.emulation.binfmt import find_handling, listing
from mab_doctor.engines.builders import where_built
from mab_doctor.engines.docker import docker_binary, docker_facts
from mab_doctor.engines.elsewhere import context_host, current_context, daemon_elsewhere, daemon_socket
from mab_doctor.engines.leftovers import snapshot
from mab_doctor.engines.probebuild import PROBE_USER, Probe, probe_store, run_probe
from mab_doctor.fix.plan import c_flag_fix, register_fix
from mab_doctor.host.platforms import parse_platform
from mab_doctor.project.invocations import invocations
from mab_doctor.project.probeplan import MAX_BUILDS, probe_builds

NO_C = ("emulated, a setuid-root program run as a non-root USER keeps that user's uid (sudo: \"effective uid "
        "is not 0\"), because the handler has no C flag")
C_REMEDY = ("Add the C flag only if your builds need setuid programs: `sudo mab-doctor --fix --add-c-flag` (QEMU then "
            "runs with the program's credentials, so a flaw in QEMU becomes a privilege escalation).")


def _target_row(ctx: Context, probe: Probe, name: str, how: str, say: dict, elsewhere: str | None) -> Result:
    target = parse_platform(name)
    winner = None if how == "native" or elsewhere else find_handling(listing(ctx), target.platform).winner
    if probe.problem:
        return Result.warn(f"not probed: {probe.problem}", **say)
    if probe.timed_out:
        return Result.warn(f"the probe build did not finish within {probe.seconds:.0f} s: not proven either way",
                           remediation="Emulated builds are slow on a loaded host: run again with a larger --timeout.",
                           **say)
    if not probe.built and probe.failed and name not in probe.failed:
        stopped = ", ".join(sorted(probe.failed))
        return Result.warn(f"not proven: the build stopped when {stopped} failed (see its row); this target's "
                           f"steps were cancelled or never reached", **say)
    if not probe.built:
        cause = probe.diagnosis.causes[0] if probe.diagnosis and probe.diagnosis.causes else None
        if cause is None:
            tail = probe.diagnosis.tail if probe.diagnosis else ()
            return Result.fail(f"the probe build failed (exit code {probe.returncode}), no known cause",
                               details=say["details"] + [f"log: {line}" for line in tail], data=say["data"],
                               target=name)
        fix = register_fix(ctx, target.platform, winner) if cause.key in ("exec-format", "no-F-flag") \
            and how == "emulated" and not elsewhere else None
        title, remedy = cause.title, cause.remedy
        if cause.key == "exec-format":  # the probe is built for its target: the builder has no handler for it
            title = f"exec format error: no binfmt_misc handler runs {name} programs for this builder"
            remedy = ("Register a QEMU handler with F: `sudo mab-doctor --fix`" if not elsewhere else
                      f"Register QEMU handlers where the daemon runs ({elsewhere}).")
        return Result.fail(f"the probe build fails: {title}", fix=fix, remediation=remedy,
                           details=say["details"] + [f"log line {cause.line}: {cause.evidence}"],
                           data=say["data"] | {"cause": cause.key}, target=name)
    steps = probe.steps.get(name, {})
    if not (steps.get("static") and steps.get("pie")):
        return Result.warn("the probe build finished but its steps left no trace in the export: not proven",
                           **say)
    if not steps.get("setuid"):
        if how == "native":
            return Result.warn(f"static and PIE steps ran; a setuid-root program run as USER {PROBE_USER} did "
                               f"not get root even natively (a nosuid mount or no_new_privs in this builder)", **say)
        needed = ctx.project.setuid_steps if ctx.project is not None else []
        where = f" (and {needed[0][1]} runs {needed[0][0]} as USER {needed[0][2]})" if needed else ""
        verdict = Result.fail if needed else Result.warn
        c_fix = c_flag_fix(winner) if winner is not None else None
        return verdict(f"static and PIE steps ran; the setuid step did not get root: {NO_C}{where}",
                       fix=c_fix, remediation=C_REMEDY if not elsewhere else
                       f"Add the C flag to the handler where the daemon runs ({elsewhere}).", **say)
    via = f"builder {say['data']['builder']}" if say["data"].get("builder") else say["data"]["engine"]
    if probe.cleanup_problems:
        return Result.warn(f"static, PIE and setuid-as-non-root steps ran ({how}) through {via}, but the probe "
                           f"could not remove all it created: {probe.cleanup_problems[0]}", **say)
    return Result.ok(f"static, PIE and setuid-as-non-root steps ran ({how}) through {via}", **say)


@check(name="build-probe", title="Build probe", category="project", per_target=True, fixable=True, opt_in=True)
def build_probe(ctx: Context) -> list[Result]:
    """What it checks: (with --build, and after every --fix) builds, offline, a tiny image FROM
    scratch holding probe programs the doctor writes for each target, through the builder your
    builds use (the current buildx builder, the same multi-platform invocation; Podman or Buildah
    when your builds use them), with RUN steps that run a static program, a static PIE and, as the
    non-root USER 1000, a setuid-root program that can only write where root may. Nothing is pulled;
    every build cache record and image the probe creates is removed afterwards.

    Why it matters: the other checks predict; this one builds. A daemon that cannot start
    containers (its network bridge is gone), a builder that refuses several platforms, a handler
    without F or C, a daemon that runs in a VM with its own kernel: all show up here as the real
    build error, classified like `mab-doctor why` does.

    How to fix: follow the cause named on the row; `sudo mab-doctor --fix` registers handlers,
    `--add-c-flag` adds the C flag when your builds run setuid programs as a non-root user.
    """
    if not ctx.is_live:
        return [Result.skip("builds only run on the live host, not on a --root tree", target=str(t))
                for t in ctx.targets]
    names = [str(t) for t in ctx.targets]
    plan = probe_builds(invocations(ctx.project, names, ctx.target_sources, ctx.env))
    binaries = {e: docker_binary(ctx) if e == "buildx" else ctx.which(e) for e in {b.engine for b in plan}}
    # One wave of questions before any build: the daemon, where each build goes, what each store holds
    # (the daemon's own build cache through its API: the docker driver's builder keeps it there).
    sock = daemon_socket(ctx, docker_facts(ctx)) if "buildx" in binaries else None
    asks = [lambda: docker_facts(ctx), lambda: snapshot(ctx, probe_store("buildx", "", None, sock)) if sock else None]
    for build in plan:
        binary = binaries[build.engine]
        asks += [lambda b=build, x=binary: where_built(ctx, b.engine, b.builder, b.platforms, x) if x else None]
    facts, api_before, *routes = ctx.map(lambda ask: ask(), asks)
    me = ctx.uname
    elsewhere = daemon_elsewhere(facts, me.release, me.nodename, ctx.env, context_host=context_host(ctx, facts)) \
        if facts.up else None
    results = []
    for index, build in enumerate(plan):
        binary = binaries[build.engine]
        if build.engine == "buildx" and not facts.up:
            results += [Result.skip(f"the docker daemon does not answer ({facts.problem}): nothing to build with",
                                    target=p) for p in build.platforms]
            continue
        if not binary:
            results += [Result.skip(f"{build.engine} is not installed: nothing to build with", target=p)
                        for p in build.platforms]
            continue
        how, words, chosen = routes[index]
        if build.engine == "buildx" and build.builder and (chosen is None or chosen.name != build.builder):
            # The user's build would stop at "no builder found": probing the current one would prove nothing.
            results += [Result.warn(f"not probed: {', '.join(build.stands_for)} names builder {build.builder}, which "
                                    f"`docker buildx ls` does not list (see build-path)", target=p)
                        for p in build.platforms]
            continue
        builder = chosen.name if chosen else build.builder
        own = chosen is not None and chosen.driver == "docker" and chosen.name == current_context(ctx, facts)
        store = probe_store(build.engine, binary, builder, sock if own and api_before and not api_before.problem
                            else None)
        probe = run_probe(ctx, build.engine, binary, [parse_platform(p) for p in build.platforms], builder=builder,
                          store=store, timeout=2 * ctx.timeout, before=api_before if store.socket else None)
        details = words + [f"stands for: {', '.join(build.stands_for)}", f"command: {' '.join(probe.argv)}",
                           f"took {probe.seconds:.1f} s in a temporary folder, now removed; removed the "
                           f"{probe.removed} {'build cache record' if probe.store == 'cache' else 'image'}(s) "
                           f"it created"] + [f"cleanup: {p}" for p in probe.cleanup_problems]
        if elsewhere and build.engine == "buildx":
            details.append(f"the daemon runs elsewhere ({elsewhere}): this build, not this machine's binfmt_misc, "
                           f"is the verdict")
        for p in build.platforms:
            data = {"engine": build.engine, "builder": builder, "how": how[p], "steps": probe.steps.get(p, {}),
                    "seconds": round(probe.seconds, 2), "removed": probe.removed, "platforms": list(build.platforms)}
            results.append(_target_row(ctx, probe, p, how[p], {"target": p, "details": list(details), "data": data},
                                       elsewhere if build.engine == "buildx" else None))
    covered = {p for build in plan for p in build.platforms}
    results += [Result.skip(f"not probed: no build this run judges builds {name}" + (
        f" within the first {MAX_BUILDS} probe builds" if len(plan) == MAX_BUILDS else ""), target=name)
        for name in names if name not in covered]
    return results or [Result.skip("no targets to build")]
