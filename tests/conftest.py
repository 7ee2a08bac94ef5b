"""Pytest fixtures shared by all tests (helpers live in tests/helpers.py)."""

from __future__ import annotations

import json
from typing import Mapping

import pytest

from mab_doctor.core.context import Context
from helpers import make_context, write_tree


@pytest.fixture
def make_host(tmp_path):
    """make_host(files, targets=..., commands=...) -> Context over a fresh tree."""
    made = []

    def make(files: Mapping[str, str | bytes], **kw) -> Context:
        made.append(1)
        return make_context(write_tree(tmp_path / f"host{len(made)}", files), **kw)
    return make


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
