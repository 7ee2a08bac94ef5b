"""GitHub Actions workflows and GitLab CI files read as CI jobs: QEMU and buildx set-up, then builds, in order."""

from __future__ import annotations

import dataclasses
import posixpath
import re
from typing import Any, Callable, Mapping

from mab_doctor.host.platforms import PlatformError, parse_platform
from mab_doctor.project.commandline import (command_words, dockerfile_path, output_effects, parse_build_command,
                                            platforms_from, split_shell_lines)
from mab_doctor.project.files import ProjectFiles
from mab_doctor.project.model import Build, CiSetup, Problem, Where
from mab_doctor.project.substitute import expand_or_keep

_MATRIX = re.compile(r"\$\{\{\s*matrix\.([A-Za-z0-9_-]+)\s*\}\}")
_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_GITLAB_RESERVED = {"stages", "variables", "default", "include", "workflow", "image", "services", "before_script",
                    "after_script", "cache"}


@dataclasses.dataclass
class _Job:
    """What one job has set up so far (mutable while its steps are read, then frozen into a CiSetup)."""

    qemu: Where | None = None
    qemu_platforms: tuple[str, ...] = ()
    buildx: Where | None = None
    buildx_driver: str | None = None
    builds: list[Build] = dataclasses.field(default_factory=list)

    def setup(self, kind: str, file: str, job: str, where: Where) -> CiSetup:
        return CiSetup(kind, file, job, where, self.qemu, self.qemu_platforms, self.buildx, self.buildx_driver, tuple(self.builds))


def _load(files: ProjectFiles, path: str, problems: list[Problem]) -> Any:
    from mab_doctor.project.yamlfile import YamlMap, load_yaml  # PyYAML only once a YAML file is read

    text, why = files.read_text(path)
    data, problem = load_yaml(text, path) if text is not None else (None, Problem(Where(path), why or "not read"))
    if problem is not None:
        problems.append(problem)
        return None
    if data is not None and not isinstance(data, YamlMap):
        problems.append(Problem(Where(path, getattr(data, "line", 0) or 1, getattr(data, "column", 0) or 1),
                                "expected a mapping at the top"))
        return None
    return data


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None


def _input_list(value: Any) -> list[str]:
    """An action's list input: a YAML list, or text split on newlines and commas (# lines are comments)."""
    items = [_text(v) or "" for v in value] if isinstance(value, list) else re.split(r"[,\n]", _text(value) or "")
    return [i.strip() for i in items if i.strip() and not i.strip().startswith("#")]


def _truthy(value: Any) -> bool:
    # An expression (`push: ${{ github.event_name != 'pull_request' }}`) is true in some runs: count it.
    return value is True or (isinstance(value, str) and (value.strip().lower() == "true" or "${{" in value))


def _qemu_platforms(texts: list[str], where: Where, problems: list[Problem]) -> tuple[str, ...]:
    """Normalised platforms a QEMU set-up installs; () means all (also when it cannot be known)."""
    found: list[str] = []
    for text in texts:
        if text == "all":
            return ()
        if "$" in text:
            problems.append(Problem(where, f"QEMU platforms {text!r} cannot be resolved here"))
            return ()
        try:
            name = str(parse_platform(text))  # bare `arm64` parses too
        except PlatformError as exc:
            problems.append(Problem(where, str(exc)))
            name = text  # kept as written: dropping it would read as "all"
        if name not in found:
            found.append(name)
    return tuple(found)


def _substitute(words: list[str], variables: Mapping[str, str]) -> list[str]:
    # Bounded like every expansion of project files: a word that would grow past it stays unresolved.
    return [expand_or_keep(w, _VARIABLE, lambda m: variables.get(m.group(1) or m.group(2), m.group(0)))
            for w in words]


def _scan_script(job: _Job, script: str, line_of: Callable[[int], int], file: str, kind: str, name: str,
                 variables: Mapping[str, str], problems: list[Problem]) -> None:
    """Commands of one run step / script line: QEMU and buildx set-up, and builds."""
    for offset, written in split_shell_lines(script):
        words, at = _substitute(written, variables), Where(file, line_of(offset))
        cmd = command_words(words)
        program = posixpath.basename(cmd[0]) if cmd else ""
        installs = _qemu_install(program, cmd)
        if installs is not None and job.qemu is None:
            job.qemu, job.qemu_platforms = at, _qemu_platforms(installs, at, problems)
        if program == "docker" and cmd[1:3] == ["buildx", "create"] and "--use" in cmd and job.buildx is None:
            job.buildx, job.buildx_driver = at, _option(cmd, "--driver")
        build, found = parse_build_command(words, at, kind)
        problems.extend(found)
        if build is not None:
            job.builds.append(dataclasses.replace(build, name=name))


def _option(cmd: list[str], name: str) -> str | None:
    for i, word in enumerate(cmd):
        if word.startswith(name + "=") or (word == name and i + 1 < len(cmd)):
            return cmd[i + 1] if word == name else word[len(name) + 1:]
    return None


def _qemu_install(program: str, cmd: list[str]) -> list[str] | None:
    """The platforms a command registers QEMU for ([] meaning all), or None if it is no QEMU set-up."""
    if program in ("docker", "podman") and "run" in cmd:
        for i, word in enumerate(cmd):
            if word.startswith("tonistiigi/binfmt"):
                rest = cmd[i + 1:]
                install = _option(rest, "--install")
                return [t.strip() for t in install.split(",")] if install is not None else None
            if word.startswith("multiarch/qemu-user-static"):
                return []
    if program == "update-binfmts" and "--enable" in cmd:
        return []
    if program in ("apt-get", "apt", "dnf", "yum") and "install" in cmd and \
            any(w.split("=")[0] in ("qemu-user-static", "qemu-user-binfmt") for w in cmd):
        return []
    return None


def read_github_workflow(files: ProjectFiles, path: str) -> tuple[list[CiSetup], list[Problem]]:
    """One CiSetup per job of a GitHub Actions workflow, steps in order. Never raises."""
    from mab_doctor.project.yamlfile import YamlList, YamlMap, text_line, where

    problems: list[Problem] = []
    data = _load(files, path, problems)
    jobs = data.get("jobs") if data is not None else None
    if jobs is None:
        return [], problems
    if not isinstance(jobs, YamlMap):
        return [], problems + [Problem(where(path, data, "jobs"), "`jobs` must be a mapping")]
    setups = []
    for job_id, body in jobs.items():
        job_at, job = where(path, jobs, job_id), _Job()
        if not isinstance(body, YamlMap):
            problems.append(Problem(job_at, f"job {job_id!r} must be a mapping"))
            continue
        steps = body.get("steps", [])
        if not isinstance(steps, YamlList):
            problems.append(Problem(where(path, body, "steps"), f"job {job_id!r}: `steps` must be a list"))
            steps = []
        strategy = body.get("strategy")
        matrix = strategy.get("matrix") if isinstance(strategy, YamlMap) else None
        env = {**_literal_env(data.get("env")), **_literal_env(body.get("env"))}
        for n, step in enumerate(steps, 1):
            step_at = where(path, steps, n - 1)
            if not isinstance(step, YamlMap):
                problems.append(Problem(step_at, f"job {job_id!r}: step {n} must be a mapping"))
                continue
            name = f"{job_id} step {_text(step.get('name')) or n}"
            given = step.get("with")
            if given is not None and not isinstance(given, YamlMap):
                problems.append(Problem(where(path, step, "with"), f"job {job_id!r}: step {n}: `with` must be a mapping"))
            inputs = given if isinstance(given, YamlMap) else YamlMap()
            action = (_text(step.get("uses")) or "").split("@")[0].strip().lower()
            if action == "docker/setup-qemu-action" and job.qemu is None:
                job.qemu = step_at
                job.qemu_platforms = _qemu_platforms(_input_list(inputs.get("platforms", "all")),
                                                     where(path, inputs, "platforms"), problems)
            elif action == "docker/setup-buildx-action" and job.buildx is None:
                job.buildx, job.buildx_driver = step_at, _text(inputs.get("driver"))
            elif action == "docker/build-push-action":
                job.builds += _action_builds(path, name, step_at, inputs, matrix, problems)
            elif isinstance(step.get("run"), str):
                variables = {**env, **_literal_env(step.get("env"))}
                _scan_script(job, step["run"], lambda off, s=step: text_line(s, "run", off), path, "github",
                             name, variables, problems)
        setups.append(job.setup("github", path, str(job_id), job_at))
    return setups, problems


def _literal_env(value: Any) -> dict[str, str]:
    return {str(k): t for k, v in (value.items() if isinstance(value, dict) else ()) if (t := _text(v)) and "${{" not in t}


def _action_builds(path: str, name: str, step_at: Where, inputs: Any, matrix: Any,
                   problems: list[Problem]) -> list[Build]:
    """build-push-action: one Build, or one per matrix value when platforms is `${{ matrix.NAME }}`."""
    from mab_doctor.project.yamlfile import YamlList, YamlMap, where

    def literal(key: str) -> str | None:
        text = _text(inputs.get(key))
        return None if text is None or "${{" in text else text

    context = literal("context") or "."
    file = literal("file")
    given = inputs.get("outputs")  # one exporter per line: its spec has commas of its own
    outputs = tuple(t.strip() for o in (given if isinstance(given, list) else (_text(given) or "").splitlines())
                    if (t := _text(o)) and t.strip())
    loads, pushes = output_effects(outputs)
    base = Build(kind="github", name=name, where=step_at, load=loads or _truthy(inputs.get("load")),
                 push=pushes or _truthy(inputs.get("push")), outputs=outputs, context=context, builder=literal("builder"),
                 dockerfile=dockerfile_path(context, [file] if file else []))
    if "platforms" not in inputs:
        return [base]
    at = where(path, inputs, "platforms")
    raw = inputs.get("platforms")
    match = _MATRIX.fullmatch(raw.strip()) if isinstance(raw, str) else None
    values = matrix.get(match.group(1)) if match and isinstance(matrix, YamlMap) else None
    if match and isinstance(values, YamlList):
        builds = []
        places = [(v, where(path, values, i)) for i, v in enumerate(values)]
        includes = matrix.get("include")
        for item in includes if isinstance(includes, YamlList) else []:
            if isinstance(item, YamlMap) and match.group(1) in item:
                places.append((item[match.group(1)], where(path, item, match.group(1))))
        for value, value_at in places:
            if not (text := _text(value)):
                problems.append(Problem(value_at, f"matrix value for {match.group(1)!r} is not a platform string"))
            elif found := platforms_from([text], value_at, problems):
                builds.append(dataclasses.replace(base, name=f"{name} [{found[0].name}]", platforms=tuple(found)))
        return builds
    texts = _input_list(raw)
    if any("${{" in t for t in texts):
        problems.append(Problem(at, f"platforms {_text(raw) or raw!r} cannot be resolved here (an expression)"))
        return [base]
    return [dataclasses.replace(base, platforms=tuple(platforms_from(texts, at, problems)))]


def read_gitlab_ci(files: ProjectFiles, path: str) -> tuple[list[CiSetup], list[Problem]]:
    """One CiSetup per GitLab CI job with a script (extends followed), before_script first. Never raises."""
    from mab_doctor.project.yamlfile import YamlMap, text_line, where

    problems: list[Problem] = []
    data = _load(files, path, problems)
    if data is None:
        return [], problems
    default = data.get("default") if isinstance(data.get("default"), YamlMap) else {}
    setups = []
    for key, body in data.items():
        if not isinstance(key, str) or key.startswith(".") or key in _GITLAB_RESERVED or not isinstance(body, dict):
            continue
        fields = _extended(data, body, ())
        if "script" not in fields:
            continue
        variables = _variables(data.get("variables"), fields.get("variables", (None, None))[0])
        before = fields.get("before_script") or (
            (default["before_script"], default) if "before_script" in default else None) or (
            (data["before_script"], data) if "before_script" in data else None)
        job = _Job()
        for holder_key in ([("before_script", before)] if before else []) + [("script", fields["script"])]:
            value, holder = holder_key[1]
            for text, container, index in _script_items(data, value, holder, holder_key[0], 0):
                _scan_script(job, text, lambda off, c=container, i=index: text_line(c, i, off), path, "gitlab",
                             key, variables, problems)
        setups.append(job.setup("gitlab", path, key, where(path, data, key)))
    return setups, problems


def _extended(data: Any, body: Any, seen: tuple[str, ...]) -> dict[str, tuple[Any, Any]]:
    """The job's keys as (value, the mapping that wrote it), templates named by `extends` first."""
    fields: dict[str, tuple[Any, Any]] = {}
    parents = body.get("extends")
    for parent in [parents] if isinstance(parents, str) else parents if isinstance(parents, list) else []:
        if isinstance(parent, str) and parent not in seen and len(seen) < 10 and isinstance(data.get(parent), dict):
            fields.update(_extended(data, data[parent], (*seen, parent)))
    variables = dict(fields.get("variables", ({}, None))[0] or {})
    fields.update((str(k), (v, body)) for k, v in body.items())
    if isinstance(body.get("variables"), dict):
        fields["variables"] = ({**variables, **body["variables"]}, body)
    return fields


def _script_items(data: Any, value: Any, holder: Any, key: Any, depth: int) -> list[tuple[str, Any, Any]]:
    """(text, container, key) for every script line, through nested lists and `!reference [job, key]`."""
    if isinstance(value, str) or not isinstance(value, list) or depth > 10:
        return [(value, holder, key)] if isinstance(value, str) else []
    if getattr(value, "tag", "") == "!reference":
        node: Any = data
        for part in value:
            node = node.get(part) if isinstance(node, dict) and isinstance(part, (str, int)) else None
        return _script_items(data, node, holder, key, depth + 1)
    return [item for i, v in enumerate(value) for item in _script_items(data, v, value, i, depth + 1)]


def _variables(*levels: Any) -> dict[str, str]:
    """Global then job variables (`NAME: value` or `NAME: {value: ...}`), references among them expanded."""
    found: dict[str, str] = {}
    for level in levels:
        for name, value in (level.items() if isinstance(level, dict) else ()):
            value = value.get("value") if isinstance(value, dict) else value
            if (text := _text(value)) is not None:
                found[str(name)] = text
    for _ in range(3):  # variables naming variables, a few levels deep (not a loop forever)
        found = {k: _substitute([v], found)[0] for k, v in found.items()}
    return found
