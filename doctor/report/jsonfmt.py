"""The JSON report (schema mab-doctor/report/v1, shipped as data/report-v1.schema.json)."""

from __future__ import annotations

import json
from typing import Any

from mab_doctor import __version__
from mab_doctor.core.model import Outcome, count_statuses, to_plain

SCHEMA_ID = "mab-doctor/report/v1"


def result_dict(outcome: Outcome) -> dict[str, Any]:
    """One result object of the report."""
    res, chk = outcome.result, outcome.check
    return {
        "name": chk.name, "title": chk.title, "category": chk.category, "source": chk.source,
        "target": res.target, "status": res.status.value, "summary": res.summary,
        "details": list(res.details), "remediation": res.remediation,
        "fix": res.fix.to_dict() if res.fix else None, "data": to_plain(res.data),
        "duration_ms": round(outcome.duration_s * 1000, 3),
    }


def report_dict(outcomes: list[Outcome], host: dict[str, Any], targets: list[str],
                exit_code: int) -> dict[str, Any]:
    """The whole report as plain data."""
    return {"schema": SCHEMA_ID, "version": __version__, "host": host, "targets": targets,
            "results": [result_dict(o) for o in outcomes], "counts": count_statuses(outcomes),
            "exit_code": exit_code}


def render_json(outcomes: list[Outcome], host: dict[str, Any], targets: list[str], exit_code: int) -> str:
    """The JSON report text (indented, ends with a newline)."""
    return json.dumps(report_dict(outcomes, host, targets, exit_code), indent=2, sort_keys=False) + "\n"
