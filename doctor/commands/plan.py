"""`mab-doctor plan`: the build intent read from the project's files, as text or JSON; starts nothing.

`--format json` prints one object (schema "mab-doctor/plan/v1") with these keys:

- ``schema``: "mab-doctor/plan/v1"; ``directory``: the project directory read (absolute).
- ``targets``: [{``platform``, ``source``}]: the platforms a run would check and where each came from
  (``--platform``, ``MAB_PLATFORMS``, a file and line such as ``docker-bake.hcl:7``, or ``default``).
- ``files``: project-relative paths read, in reading order.
- ``builds``: [build], each {``kind`` (bake, compose, github, gitlab), ``name``, ``where`` ("file:line"),
  ``platforms`` ([name]; empty: the builder's default), ``engine``, ``load``, ``push``, ``outputs``,
  ``dockerfile``, ``context``, ``builder``} (the last three may be null).
- ``dockerfiles``: [{``path``, ``stages``: [{``image``, ``where``, ``platform``, ``name``, ``arch_prefix``,
  ``from_stage``, ``build_platform``}], ``users``: [{``user``, ``where``}], ``setuid_calls``:
  [{``program``, ``where``}]}].
- ``ci``: [{``kind``, ``file``, ``job``, ``where``, ``qemu`` (where or null), ``qemu_platforms`` ([]: all),
  ``buildx`` (where or null), ``buildx_driver`` (null: the action's default), ``builds``: [build]}].
- ``problems``: [{``where``, ``message``}]; ``notes``: [text].
"""

from __future__ import annotations

from typing import Any

from mab_doctor.commands.checking import project_targets, read_project
from mab_doctor.commands.options import Options, UsageError
from mab_doctor.commands.output import as_json, emit
from mab_doctor.report.escape import terminal_text

SCHEMA = "mab-doctor/plan/v1"


def main(opts: Options) -> int:
    """Read the project (--project DIR, else the current directory) and print what it builds; exit 0."""
    if opts.args:
        raise UsageError("plan takes no arguments (use --project DIR for another directory)")
    intent = read_project(opts)
    targets, sources = project_targets(opts, intent)
    data = plan_data(intent, [(str(t), sources[str(t)]) for t in targets])
    if opts.format == "json":
        emit(opts, lambda _f: as_json(data))
    else:
        emit(opts, lambda _f: plan_text(data))
    return 0


def _build(build) -> dict[str, Any]:
    return {"kind": build.kind, "name": build.name, "where": str(build.where),
            "platforms": [p.name for p in build.platforms], "engine": build.engine, "load": build.load,
            "push": build.push, "outputs": list(build.outputs), "dockerfile": build.dockerfile,
            "context": build.context, "builder": build.builder}


def _dockerfile(dockerfile) -> dict[str, Any]:
    stages = [{"image": s.image, "where": str(s.where), "platform": s.platform, "name": s.name,
               "arch_prefix": s.arch_prefix, "from_stage": s.from_stage, "build_platform": s.on_build_platform}
              for s in dockerfile.stages]
    return {"path": dockerfile.path, "stages": stages,
            "users": [{"user": u, "where": str(w)} for u, w in dockerfile.users],
            "setuid_calls": [{"program": p, "where": str(w)} for p, w in dockerfile.setuid_calls]}


def _ci(setup) -> dict[str, Any]:
    return {"kind": setup.kind, "file": setup.file, "job": setup.job, "where": str(setup.where),
            "qemu": str(setup.qemu) if setup.qemu else None, "qemu_platforms": list(setup.qemu_platforms),
            "buildx": str(setup.buildx) if setup.buildx else None, "buildx_driver": setup.buildx_driver,
            "builds": [_build(b) for b in setup.builds]}


def plan_data(intent, targets: list[tuple[str, str]]) -> dict[str, Any]:
    """The plan as plain JSON values (the keys the module docstring lists)."""
    return {"schema": SCHEMA, "directory": intent.directory,
            "targets": [{"platform": name, "source": source} for name, source in targets],
            "files": list(intent.files), "builds": [_build(b) for b in intent.builds],
            "dockerfiles": [_dockerfile(d) for d in intent.dockerfiles], "ci": [_ci(s) for s in intent.ci],
            "problems": [{"where": str(p.where), "message": p.message} for p in intent.problems],
            "notes": list(intent.notes)}


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _build_lines(build: dict[str, Any], indent: str) -> list[str]:
    out = [f"{indent}{build['kind']} {build['name']}  ({build['where']})",
           f"{indent}  platforms:  {', '.join(build['platforms']) or '(the builder default)'}",
           f"{indent}  engine:     {build['engine']}; load {_yes(build['load'])}, push {_yes(build['push'])}"
           + (f", outputs {'; '.join(build['outputs'])}" if build["outputs"] else "")]
    if build["dockerfile"]:
        out.append(f"{indent}  Dockerfile: {build['dockerfile']}")
    return out


def _stage_line(stage: dict[str, Any]) -> str:
    words = ["FROM"]  # in the Dockerfile's own order: FROM [--platform=P] IMAGE [AS NAME]
    if stage["platform"]:
        words.append(f"--platform={stage['platform']}")
    words.append(stage["image"])
    if stage["name"]:
        words.append(f"AS {stage['name']}")
    if stage["arch_prefix"]:
        words.append(f"[arch prefix: {stage['arch_prefix']}]")
    if stage["from_stage"]:
        words.append("[an earlier stage]")
    if stage["build_platform"]:
        words.append("[runs on the build platform]")
    return f"    {' '.join(words)}  ({stage['where']})"


def _section(title: str, lines: list[str], count: int | None = None) -> list[str]:
    head = f"{title} ({count}):" if count is not None else f"{title}:"
    return [head] + (lines or ["  none"])


def plan_text(data: dict[str, Any]) -> str:
    """The plan as text; every string from the project is escaped (no control character reaches a terminal)."""
    out = [f"project {data['directory']}"]
    width = max([len(t["platform"]) for t in data["targets"]] + [0])
    out += _section("targets", [f"  {t['platform']:<{width}}  from {t['source']}" for t in data["targets"]],
                    len(data["targets"]))
    out += _section("files read", [f"  {f}" for f in data["files"]], len(data["files"]))
    out += _section("builds", [line for b in data["builds"] for line in _build_lines(b, "  ")], len(data["builds"]))
    lines = []
    for dockerfile in data["dockerfiles"]:
        lines.append(f"  {dockerfile['path']}")
        lines += [_stage_line(s) for s in dockerfile["stages"]]
        lines += [f"    USER {u['user']}  ({u['where']})" for u in dockerfile["users"]]
        lines += [f"    setuid program {c['program']} in RUN  ({c['where']})" for c in dockerfile["setuid_calls"]]
    out += _section("Dockerfiles", lines, len(data["dockerfiles"]))
    lines = []
    for setup in data["ci"]:
        lines.append(f"  {setup['kind']} {setup['file']} job {setup['job']}  ({setup['where']})")
        lines.append("    QEMU:   " + (f"{setup['qemu']}, platforms {', '.join(setup['qemu_platforms']) or 'all'}"
                                      if setup["qemu"] else "no set-up step"))
        lines.append("    buildx: " + (f"{setup['buildx']}, driver {setup['buildx_driver'] or 'docker-container'}"
                                      if setup["buildx"] else "not set up (the default builder, docker driver)"))
        lines += [line for b in setup["builds"] for line in _build_lines(b, "    ")] or ["    no builds"]
    out += _section("CI set-up", lines, len(data["ci"]))
    # A problem about a whole file already starts with the file's name.
    out += _section("problems", [f"  {p['message']}" if p["message"].startswith(p["where"] + ":") else
                                 f"  {p['where']}: {p['message']}" for p in data["problems"]], len(data["problems"]))
    out += _section("notes", [f"  {n}" for n in data["notes"]])
    # One line per finding: a newline from a file would forge a line of its own, so it is escaped too.
    return "".join(terminal_text(line).replace("\n", "\\n") + "\n" for line in out)
