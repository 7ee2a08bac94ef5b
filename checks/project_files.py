"""Report the project's build files: what was read, the targets they name, and every file that is malformed."""

from __future__ import annotations

from mab_doctor.api import Context, Result, check

SHOWN = 10  # problem rows; the rest are counted in one more row


@check(name="project-files", title="Project build files", category="project")
def project_files(ctx: Context) -> list[Result]:
    """What it checks: the build files of the project directory (--project, else the current one):
    docker-bake.hcl/.json and overrides, compose files, GitHub Actions workflows, .gitlab-ci.yml
    and the Dockerfiles they name, read with their own parsers (YAML, HCL, JSON; Dockerfiles line
    by line). Which targets they name, and where, decide this run's targets unless --platform or
    MAB_PLATFORMS is given.

    Why it matters: the doctor judges your build, not the host in general: the platforms each
    build asks for, in one invocation or several, and the base images it starts from. A file that
    cannot be read or parsed is a build that cannot be judged, and usually one that fails.

    How to fix: correct the file at the line and column named (`docker buildx bake --print`,
    `docker compose config` and `actionlint` show the same problems).
    """
    intent = ctx.project
    if intent is None:
        return [Result.skip("the project's build files were not read")]
    if intent.empty:
        return [Result.skip(f"no build files in {intent.directory} (bake, compose, CI workflows, Dockerfile)",
                            details=list(intent.notes))]
    results = [Result.warn(f"{p.where}: {p.message}", details=[f"in {intent.directory}"],
                           data={"file": p.where.file, "line": p.where.line, "column": p.where.column},
                           remediation="Correct the file there; the rest of the project was still read.")
               for p in intent.problems[:SHOWN]]
    if len(intent.problems) > SHOWN:
        more = len(intent.problems) - SHOWN
        results.append(Result.warn(f"{more} more problem{'s' if more != 1 else ''} in the project's build files",
                                   details=[f"{p.where}: {p.message}" for p in intent.problems[SHOWN:]],
                                   remediation="Correct the files at the places named."))
    named = intent.platforms
    targets = ", ".join(f"{p.name} ({p.where})" for p in named) or "none (the builders' defaults)"
    results.insert(0, Result.ok(
        (f"read {len(intent.files)} file{'s' if len(intent.files) != 1 else ''}: {', '.join(intent.files)}; "
         if intent.files else "read no file; ") +
        f"{len(intent.all_builds)} build{'s' if len(intent.all_builds) != 1 else ''}",
        details=[f"platforms named: {targets}", *intent.notes],
        data={"directory": intent.directory, "files": list(intent.files), "builds": len(intent.all_builds),
              "platforms": {p.name: str(p.where) for p in named}}))
    return results
