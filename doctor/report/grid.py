"""The target grid of the text report: one row per target, one column per per-target check."""

from __future__ import annotations

from typing import Any

from mab_doctor.core.model import Status
from mab_doctor.core.record import record
from mab_doctor.report.model import Report, Row


@record
class Column:
    """One grid column: a check, and the label of the level of proof it shows."""

    check: str
    label: str


@record
class Grid:
    """Columns in report order and the mark of each (column, target) cell (None: nothing proven)."""

    columns: tuple[Column, ...]
    cells: dict[tuple[Column, str], Status | None]

    def mark(self, column: Column, target: str) -> Status | None:
        """The cell's status, None when the check proved nothing there."""
        return self.cells.get((column, target))


def _mark(value: Any, row: Row) -> Status | None:
    # data["grid"] values: True = works, False = does not, None = not tested, "status" = the row's own.
    if isinstance(value, bool):
        return Status.OK if value else Status.FAIL
    return row.status if value == "status" else None


def target_grid(report: Report) -> Grid:
    """The grid of a report's per-target rows.

    A check gets the columns its rows name in data["grid"] (the levels of proof it tells apart),
    or one column titled after it. Its columns are the same on every target's row: a row without
    grid marks (a native target with nothing to prove, a skipped target) shows its own status in
    the check's first column, so a check never spreads over columns of different names.
    """
    per_check: dict[str, list[Row]] = {}
    for row in report.rows:
        if row.target is not None:
            per_check.setdefault(row.name, []).append(row)
    columns: list[Column] = []
    cells: dict[tuple[Column, str], Status | None] = {}
    for name, rows in per_check.items():
        labels = list(dict.fromkeys(label for row in rows for label in (row.data.get("grid") or {})))
        own = [Column(name, label) for label in labels or [rows[0].title]]
        columns.extend(own)
        for row in rows:
            marks = row.data.get("grid")
            if not marks:
                cells[(own[0], row.target)] = row.status
                continue
            for label, value in marks.items():
                cells[(Column(name, label), row.target)] = _mark(value, row)
    return Grid(tuple(columns), cells)
