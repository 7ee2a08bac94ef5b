"""Read the mab-doctor commands out of the examples/ pipelines (shared by the unit and host tests)."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def github_steps() -> list[str]:
    """Every `run:` script of the GitHub Actions example, in order."""
    doc = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())
    return [step["run"] for job in doc["jobs"].values() for step in job["steps"] if "run" in step]


def gitlab_scripts() -> list[str]:
    """Every script line of the GitLab CI example's jobs, in order."""
    doc = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text())
    return [line for job in doc.values() if isinstance(job, dict) and "script" in job for line in job["script"]]


def doctor_argv(script: str, platforms: str) -> list[str] | None:
    """The mab-doctor arguments of a script line (sudo/env prefixes dropped), or None."""
    words = shlex.split(script.replace('"$PLATFORMS"', platforms).replace("$PLATFORMS", platforms))
    if "mab-doctor" not in words or "install" in words:  # `pip install mab-doctor` installs, not runs
        return None
    return words[words.index("mab-doctor") + 1:]
