"""Pytest fixtures shared by all tests (helpers live in tests/helpers.py)."""

from __future__ import annotations

import json
from typing import Mapping

import pytest

from elfbuild import build_elf
from helpers import DockerHosts, make_context, with_binfmt, write_tree
from mab_doctor.core.context import Context


@pytest.fixture
def make_host(tmp_path):
    """make_host(files, targets=..., commands=...) -> Context over a fresh tree."""
    made = []

    def make(files: Mapping[str, str | bytes], **kw) -> Context:
        made.append(1)
        return make_context(write_tree(tmp_path / f"host{len(made)}", files), **kw)
    return make


@pytest.fixture
def base_host() -> dict:
    """A minimal healthy Debian 12 amd64 tree, {absolute path: content}: a fresh dict that a test
    extends or overrides (kernel 6.1, /bin/sh an x86_64 ELF, merged /usr)."""
    return {"/proc/sys/kernel/arch": "x86_64\n", "/proc/sys/kernel/osrelease": "6.1.0\n",
            "/etc/os-release": "ID=debian\nVERSION_ID=12\n", "/usr/bin/sh": build_elf("x86_64"), "/bin": "-> usr/bin"}


@pytest.fixture
def binfmt_tree(base_host):
    """binfmt_tree(entries, **extra) -> files: base_host with binfmt_misc mounted and ``entries``."""
    return lambda entries, **extra: with_binfmt(base_host, entries, **extra)


@pytest.fixture
def docker_host(make_host, base_host) -> DockerHosts:
    """docker_host(version_out, ...), docker_host.up(), docker_host.down(): base_host with docker."""
    return DockerHosts(make_host, base_host)


@pytest.fixture(scope="session")
def report_schema():
    """A validator for the shipped JSON report schema."""
    import jsonschema
    from importlib import resources

    schema = json.loads(resources.files("mab_doctor").joinpath("data/report-v1.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture
def validate_report(report_schema):
    """validate_report(dict_or_text) -> dict, failing the test on any schema error."""
    def check(report):
        data = json.loads(report) if isinstance(report, str) else report
        errors = sorted(report_schema.iter_errors(data), key=lambda e: list(e.path))
        assert not errors, "; ".join(f"{list(e.path)}: {e.message}" for e in errors)
        return data
    return check


@pytest.fixture(autouse=True)
def not_in_ci_mode(monkeypatch):
    """Tests choose CI mode themselves: the suite itself runs under CI=true in CI."""
    for name in ("CI", "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITLAB_CI"):
        monkeypatch.delenv(name, raising=False)
