"""Check each CI job that builds images: QEMU set up first and for every platform, a builder that can build them."""

from __future__ import annotations

from mab_doctor.api import Context, Result, check
from mab_doctor.core.model import Status
from mab_doctor.engines.builders import DOCKER_DRIVER_REFUSAL, refusal
from mab_doctor.host.platforms import PlatformError, parse_platform, runs_natively

RUNNER = parse_platform("linux/amd64").platform  # hosted GitHub and GitLab runners
QEMU_STEP = "add `docker/setup-qemu-action@v3` before `docker/setup-buildx-action` and the build step"
QEMU_FIRST = ("Move the QEMU step before `docker/setup-buildx-action` (or re-create the builder after it), "
              "so the builder boots with the emulated platforms registered.")
CONTAINER_DRIVER = ("Add `docker/setup-buildx-action@v3` (docker-container driver) before the build, or build "
                    "one platform per invocation")
PUSH = "Push (`push: true`, `--push`) or export an OCI archive (`type=oci,dest=image.tar`) instead of loading"


def _emulated(build) -> list[str]:
    """The build's platforms that an amd64 runner cannot run itself (unparsable ones count as emulated)."""
    out = []
    for platform in build.platforms:
        try:
            native = runs_natively(RUNNER, parse_platform(platform.name))
        except PlatformError:
            native = False
        if not native:
            out.append(platform.name)
    return out


def _cpu(name: str) -> str:
    # setup-qemu-action installs one emulator per CPU: `arm` serves arm/v6 and arm/v7 alike.
    try:
        return parse_platform(name).platform.qemu
    except PlatformError:
        return name


@check(name="ci-setup", title="CI QEMU and buildx set-up", category="project")
def ci_setup(ctx: Context) -> list[Result]:
    """What it checks: every GitHub Actions or GitLab CI job of the project that builds images,
    assuming the CI runner is linux/amd64 (so linux/amd64 and linux/386 need no QEMU): that a QEMU
    set-up step (`docker/setup-qemu-action`, `tonistiigi/binfmt --install`, ...) comes before the
    builder is set up and before every build of an emulated platform, that its `platforms` input
    covers them, and that the builder can build several platforms in one invocation (the default
    builder's docker driver cannot, and runners' Docker keeps the classic image store, which cannot
    load several platforms).

    Why it matters: without QEMU the build fails at its first RUN step with "exec format error"; a
    builder booted before QEMU was registered does not list the emulated platforms; and buildx
    refuses a multi-platform build through the docker driver or into the classic image store.

    How to fix: add `docker/setup-qemu-action@v3` first, then `docker/setup-buildx-action@v3`, then
    the build; give the QEMU step every architecture built (or leave `platforms` out); push or
    export an OCI archive instead of loading several platforms.
    """
    intent = ctx.project
    setups = [s for s in (intent.ci if intent is not None else ()) if s.builds]
    if not setups:
        return [Result.skip("no CI workflow builds images")]
    return [_job(setup) for setup in setups]


def _at(where) -> str:
    return f"{where.file}:{where.line}"


def _job(setup) -> Result:
    job = f"job {setup.job}"
    driver = (setup.buildx_driver or "docker-container") if setup.buildx else "docker"
    needing = [(b, _emulated(b)) for b in setup.builds if _emulated(b)]
    wanted = list(dict.fromkeys(p for _, names in needing for p in names))
    found: list[tuple[Status, str, str]] = []  # (status, summary, remedy) in the order a reader fixes them
    qemu = setup.qemu
    if needing and qemu is None:
        found.append((Status.FAIL, f"{_at(needing[0][0].where)}: {job} builds {', '.join(wanted)} without a QEMU set-up "
                                   f"step", f"{QEMU_STEP[0].upper()}{QEMU_STEP[1:]}."))
    elif needing:
        early = [(b, names) for b, names in needing if b.where.line < qemu.line]
        if early:
            build, names = early[0]
            found.append((Status.FAIL, f"{_at(qemu)}: {job} sets up QEMU after the build at line {build.where.line} "
                                       f"that needs it ({', '.join(names)})",
                          "Move the QEMU step before the build steps (and before `docker/setup-buildx-action`)."))
        elif setup.buildx is not None and setup.buildx.line < qemu.line:
            found.append((Status.WARN, f"{_at(qemu)}: {job} sets up QEMU after buildx (line {setup.buildx.line}): the "
                                       f"builder does not list {', '.join(wanted)} in `buildx ls`", QEMU_FIRST))
        covered = {_cpu(p) for p in setup.qemu_platforms}
        missing = [p for p in wanted if setup.qemu_platforms and _cpu(p) not in covered]
        if missing:
            found.append((Status.FAIL, f"{_at(qemu)}: {job}: the QEMU step installs {', '.join(setup.qemu_platforms)}, "
                                       f"not {', '.join(missing)}",
                          f"Add {', '.join(missing)} to the QEMU step's `platforms` (or leave it out: all)."))
    for build in setup.builds:
        refused = refusal(driver, False, len(build.platforms), build.load) if build.engine == "buildx" else None
        if refused:
            driver_refused = refused == DOCKER_DRIVER_REFUSAL
            how = "through the docker driver" if driver_refused else "loaded into the classic image store"
            fix = CONTAINER_DRIVER if driver_refused else PUSH
            found.append((Status.FAIL, f"{_at(build.where)}: {job} builds {len(build.platforms)} platforms {how}: buildx "
                                       f"refuses it: \"{refused.replace(chr(10), ' ')}\"", fix + "."))
    return _row(setup, driver, found)


def _row(setup, driver: str, found: list[tuple[Status, str, str]]) -> Result:
    platforms = list(dict.fromkeys(p.name for b in setup.builds for p in b.platforms))
    lines = list(dict.fromkeys(str(b.where.line) for b in setup.builds))
    built = f"builds {', '.join(platforms) or 'the runner platform'} (line{'s' if len(lines) > 1 else ''} {', '.join(lines)})"
    qemu = f"QEMU (line {setup.qemu.line})" if setup.qemu else "no QEMU"
    buildx = (f"buildx (line {setup.buildx.line}, driver {driver})" if setup.buildx
              else "the default builder (docker driver)")
    facts = [f"{_at(setup.where)}: {setup.kind} job {setup.job}; the runner is assumed to be linux/amd64",
             f"QEMU platforms: {', '.join(setup.qemu_platforms) or 'all'}" if setup.qemu else "no QEMU set-up step",
             f"{qemu}, {buildx}, {built}"]
    data = {"file": setup.file, "job": setup.job, "kind": setup.kind, "driver": driver, "platforms": platforms,
            "qemu": setup.qemu.line if setup.qemu else None, "buildx": setup.buildx.line if setup.buildx else None}
    if not found:
        return Result.ok(f"{setup.file}: job {setup.job}: {qemu}, {buildx}, {built}", details=facts[:2], data=data)
    worst = Status.FAIL if any(s is Status.FAIL for s, _, _ in found) else Status.WARN
    first = next(text for s, text, _ in found if s is worst)
    others = [f"{s.name}: {text}" for s, text, _ in found if text != first]
    remedy = " ".join(dict.fromkeys(r for _, _, r in found))
    return Result(worst, first, details=others + facts, remediation=remedy, data=data)
