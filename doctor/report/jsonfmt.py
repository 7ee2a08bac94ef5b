"""The JSON report (schema mab-doctor/report/v1, shipped as data/report-v1.schema.json)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from mab_doctor.report.model import Report

if TYPE_CHECKING:
    from mab_doctor.report.style import Style


def render(report: Report, style: "Style | None" = None) -> str:
    """The JSON report text (indented, ends with a newline); the style changes nothing here."""
    return json.dumps(report.to_json(), indent=2, sort_keys=False) + "\n"
