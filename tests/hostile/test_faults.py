"""The whole registry under a failing host: every seed ends in time, no check crashes, the report validates."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from elfbuild import build_elf
from helpers import HOSTS
from hostile.faults import FaultyContext
from hostile.harness import CONTROL, SGR
from mab_doctor.checks import BUILTIN
from mab_doctor.commands.options import Options
from mab_doctor.commands.reporting import build_report
from mab_doctor.core.model import Status
from mab_doctor.core.runner import run_checks
from mab_doctor.project.intent import read_intent
from mab_doctor.host.platforms import parse_platform_list
from mab_doctor.report.renderers import FORMATS, render
from mab_doctor.report.style import Style

SEEDS = range(300)
SURROGATE = re.compile("[\ud800-\udfff]")
RUN_BOUND_S = 10.0
BUDGET_S = 5.0
TARGETS = parse_platform_list("linux/amd64,linux/arm64,linux/arm/v7,linux/arm/v6,linux/386,linux/riscv64")
# Executables every engine and emulation check looks for, so each gets past "not installed".
TOOLS = ("/usr/bin/docker", "/usr/bin/podman", "/usr/bin/buildah", "/usr/sbin/chroot",
         "/usr/libexec/docker/cli-plugins/docker-buildx", "/usr/bin/qemu-aarch64-static",
         "/usr/bin/qemu-arm-static", "/usr/bin/qemu-riscv64-static")


@pytest.fixture(scope="module")
def trees(tmp_path_factory) -> list[Path]:
    """Copies of every fixture host, each with the tools installed and Docker's files in place."""
    base = tmp_path_factory.mktemp("fault-trees")
    made = []
    for fixture in sorted(p for p in HOSTS.iterdir() if p.is_dir()):
        tree = base / fixture.name
        shutil.copytree(fixture, tree, symlinks=True)
        for tool in TOOLS:
            path = tree / tool.lstrip("/")
            if path.is_symlink() or path.exists():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(build_elf("x86_64"))
            path.chmod(0o755)
        for name, text in {"etc/docker/daemon.json": '{"experimental": true, "data-root": "/var/lib/docker"}',
                           "root/.docker/config.json": '{"experimental": "enabled", "auths": {}}',
                           "proc/1/comm": "systemd\n", "run/systemd/system/.keep": ""}.items():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            (tree / name).write_text(text)
        made.append(tree)
    return made


# Environments a run may meet; the first is a plain one, the others are garbage in the variables read.
ENVS = ({}, {"DOCKER_CONFIG": "relative/\x1b[31m", "HOME": ""}, {"DOCKER_HOST": "tcp://\udcff:99999", "HOME": "/"},
        {"DOCKER_CONTEXT": "x" * 5000, "DOCKER_CLI_EXPERIMENTAL": "\0"}, {"PATH": ":::relative:/usr/bin\n"})


PROJECTS = sorted(p for p in (Path(__file__).parent.parent / "data" / "projects").iterdir() if p.is_dir())


def run_seed(seed: int, trees: list[Path], scratch: Path):
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin", "HOME": "/root", **ENVS[seed // 7 % len(ENVS)]}
    ctx = FaultyContext(root=trees[seed % len(trees)], env=env,
                        targets=TARGETS, timeout=2.0, seed=seed, live=seed % 3 != 0, scratch=scratch)
    # The project checks need a project: a different fixture project each seed (some seeds none).
    project = PROJECTS[seed % (len(PROJECTS) + 1)] if seed % (len(PROJECTS) + 1) < len(PROJECTS) else None
    ctx.project = read_intent(project, env) if project else None
    start = time.monotonic()
    outcomes = list(run_checks(BUILTIN, ctx, budget_s=BUDGET_S))
    took = time.monotonic() - start
    report = build_report(Options(command="run", targets=TARGETS), outcomes, ctx, took)
    return outcomes, report, time.monotonic() - start


def test_the_registry_survives_every_seed(trees, tmp_path, validate_report):
    problems, slowest = [], 0.0
    for seed in SEEDS:
        outcomes, report, took = run_seed(seed, trees, tmp_path)
        slowest = max(slowest, took)
        assert took < RUN_BOUND_S, f"seed {seed}: the run took {took:.1f} s"
        for o in outcomes:
            res = o.result
            if res.summary.startswith(("check crashed", "timed out after")):
                problems.append(f"seed {seed} {o.check.name}: {res.summary} | {' / '.join(res.details[-3:])}")
            if res.status not in (Status.OK, Status.SKIP):
                assert res.remediation, f"seed {seed} {o.check.name}: {res.status.name} row without remediation"
        try:
            data = validate_report(report.to_json())
        except AssertionError as exc:
            problems.append(f"seed {seed}: report invalid: {str(exc).splitlines()[0]} "
                            f"{[(o.check.name, o.result.summary) for o in outcomes if not o.result.summary]}")
            continue
        assert len(data["results"]) >= len(BUILTIN)
    assert not problems, "\n".join(problems[:20])


def test_reports_of_failing_hosts_render_clean_in_every_format(trees, tmp_path):
    # What faults put into rows (garbage names, bytes, controls) must come out escaped.
    for seed in range(0, 300, 10):
        report = run_seed(seed, trees, tmp_path)[1]
        for fmt in FORMATS:
            for style in (Style(verbose=True, width=40), Style(color=True, unicode=False, quiet=True)):
                text = render(report, fmt, style)
                shown = SGR.sub("", text) if style.color else text
                bad = CONTROL.search(shown)
                assert bad is None, f"seed {seed} {fmt}: {bad.group()!r} in {shown[max(0, bad.start() - 80):bad.end()]!r}"
                assert not SURROGATE.search(text), f"seed {seed} {fmt}: a lone surrogate (not writable as UTF-8)"


def test_faults_are_the_same_for_the_same_seed(trees, tmp_path):
    first = [(o.check.name, o.result.status, o.result.summary) for o in run_seed(7, trees, tmp_path)[0]]
    again = [(o.check.name, o.result.status, o.result.summary) for o in run_seed(7, trees, tmp_path)[0]]
    assert first == again


def test_the_faults_reach_deep_into_the_checks(trees, tmp_path):
    # Without variety the suite proves little: across seeds every check must both pass and not pass.
    seen: dict[str, set] = {}
    for seed in range(0, 40):
        for o in run_seed(seed, trees, tmp_path)[0]:
            seen.setdefault(o.check.name, set()).add(o.result.status)
    shallow = [name for name, statuses in seen.items() if statuses <= {Status.SKIP}]
    assert not shallow, f"checks that only ever skipped: {shallow}"
