"""`mab-doctor fleet`: the hosts x targets matrix from reports the real doctor wrote on fixture trees."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from importlib import resources

import pytest

from helpers import HOSTS
from mab_doctor import __version__
from mab_doctor.cli import main
from mab_doctor.report.fleet import age_text

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)

# Each tree's real report, with the time it claims to have started (None: the key is removed).
RUNS = {
    "vm": ("debian-12-amd64-qemu", "linux/amd64,linux/arm64,linux/arm/v7", "2024-05-01T09:00:00Z"),
    "pizero": ("pi-zero-raspbian", "linux/amd64,linux/arm64,linux/arm/v7", "2024-04-29T12:00:00Z"),
    "pi3": ("pi3-debian-armhf", "linux/arm64,linux/riscv64", "2024-05-01T11:58:20Z"),
    "legacy-builder": ("ubuntu-18.04-kernel-4.4-no-binfmt", "linux/amd64,linux/arm64,linux/arm/v7", None),
}


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict:
    """{host: report dict} written by the real doctor (`binfmt-handlers` and what it requires) on each tree."""
    base = tmp_path_factory.mktemp("made")
    (base / "project").mkdir()  # an empty project: the targets are the --platform ones only
    reports = {}
    for host, (tree, platforms, _) in RUNS.items():
        out = base / f"{host}.json"
        code = main(["binfmt-handlers", "--root", str(HOSTS / tree), "--platform", platforms, "--project",
                     str(base / "project"), "--no-plugins", "--format", "json", "--output", str(out)])
        assert code == (0 if host == "vm" else 1) and out.is_file()  # only vm has every handler it needs
        reports[host] = json.loads(out.read_text())
    return reports


def _save(path, report: dict, started: str | None) -> None:
    data = dict(report)
    data.pop("started_at", None)
    if started is not None:
        data["started_at"] = started
    path.write_text(json.dumps(data))


@pytest.fixture
def reports(made, tmp_path, monkeypatch):
    """tmp_path/reports: the four reports named by host, an older report of vm, and a broken file."""
    folder = tmp_path / "reports"
    folder.mkdir()
    for host, (_, _, started) in RUNS.items():
        _save(folder / f"{host}.json", made[host], started)
    old = json.loads(json.dumps(made["vm"]))
    for row in old["results"]:
        row["status"] = "error"  # were this report read, vm would be ERROR everywhere
        row["remediation"] = "-"
    _save(folder / "vm-old.json", old, "2024-04-30T09:00:00Z")
    (folder / "broken.json").write_text('{"schema": "mab-doctor/report/v1"')
    (folder / "notes.txt").write_text("not a report, and not *.json: never read")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("mab_doctor.commands.fleet.now", lambda: NOW)
    return folder


def run(capsys, *argv):
    code = main(["fleet", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def fleet_schema():
    import jsonschema

    schema = json.loads(resources.files("mab_doctor").joinpath("data/fleet-v1.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


EXPECTED_TEXT = """\
mab-doctor fleet: 4 hosts, 4 targets, 1 unreadable

name                 age    host   linux/amd64  linux/arm64  linux/arm/v7  linux/riscv64
legacy-builder       ?      FAIL*  -            -            -             -
pi3                  1 min  OK     -            FAIL         -             FAIL
pizero               2 d    OK     FAIL         FAIL         FAIL          -
vm                   3 h    OK     OK           OK*          OK            -
reports/broken.json  unreadable: not a mab-doctor report: not JSON (Expecting ',' delimiter: line 1 column 34 (char 33))

host: the findings that name no target; -: no finding for that column

* differs from the most common status of its column:
  host: legacy-builder says FAIL, 3 others OK
  linux/amd64: no majority: pizero says FAIL; vm says OK
  linux/arm64: vm says OK, 2 others FAIL
  linux/arm/v7: no majority: pizero says FAIL; vm says OK

older reports of the same host, not shown:
  vm: reports/vm-old.json (started 2024-04-30T09:00:00Z), replaced by reports/vm.json

exit 1: FAIL or ERROR in the matrix; a report could not be read
"""


def test_a_folder_of_reports_is_one_matrix(capsys, reports):
    code, out, err = run(capsys, "reports")
    assert (code, err) == (1, "")
    assert out == EXPECTED_TEXT


def test_the_json_matrix_says_the_same_and_follows_its_schema(capsys, reports, fleet_schema):
    code, out, _ = run(capsys, "reports", "--format", "json")
    data = json.loads(out)
    assert code == 1 and not list(fleet_schema.iter_errors(data))
    cols = ["host", "linux/amd64", "linux/arm64", "linux/arm/v7", "linux/riscv64"]

    def cells(*values):
        return dict(zip(cols, values))

    assert data == {
        "schema": "mab-doctor/fleet/v1", "version": __version__, "generated_at": "2024-05-01T12:00:00Z",
        "targets": cols[1:], "columns": cols,
        "hosts": [
            {"name": "legacy-builder", "file": "reports/legacy-builder.json", "started_at": None,
             "version": __version__, "exit_code": 1, "superseded": []},
            {"name": "pi3", "file": "reports/pi3.json", "started_at": "2024-05-01T11:58:20Z",
             "version": __version__, "exit_code": 1, "superseded": []},
            {"name": "pizero", "file": "reports/pizero.json", "started_at": "2024-04-29T12:00:00Z",
             "version": __version__, "exit_code": 1, "superseded": []},
            {"name": "vm", "file": "reports/vm.json", "started_at": "2024-05-01T09:00:00Z", "version": __version__,
             "exit_code": 0, "superseded": [{"file": "reports/vm-old.json", "started_at": "2024-04-30T09:00:00Z"}]},
        ],
        "cells": {"legacy-builder": cells("fail", None, None, None, None),
                  "pi3": cells("ok", None, "fail", None, "fail"),
                  "pizero": cells("ok", "fail", "fail", "fail", None),
                  "vm": cells("ok", "ok", "ok", "ok", None)},
        "ages": {"legacy-builder": None, "pi3": 100, "pizero": 172800, "vm": 10800},
        "disagreements": [
            {"column": "host", "majority": "ok", "counts": {"fail": 1, "ok": 3},
             "hosts": [{"host": "legacy-builder", "status": "fail"}]},
            {"column": "linux/amd64", "majority": None, "counts": {"fail": 1, "ok": 1},
             "hosts": [{"host": "pizero", "status": "fail"}, {"host": "vm", "status": "ok"}]},
            {"column": "linux/arm64", "majority": "fail", "counts": {"fail": 2, "ok": 1},
             "hosts": [{"host": "vm", "status": "ok"}]},
            {"column": "linux/arm/v7", "majority": None, "counts": {"fail": 1, "ok": 1},
             "hosts": [{"host": "pizero", "status": "fail"}, {"host": "vm", "status": "ok"}]},
        ],
        "unreadable": [{"file": "reports/broken.json", "error": "not a mab-doctor report: not JSON (Expecting ',' "
                                                                 "delimiter: line 1 column 34 (char 33))"}],
        "exit_code": 1,
    }


def test_the_newest_report_of_a_host_wins_whatever_the_order(capsys, reports):
    # Named newest first, then the older one (ERROR everywhere): the newer is shown, the older noted.
    code, out, _ = run(capsys, "reports/vm.json", "reports/vm-old.json")
    assert code == 0
    assert out == """\
mab-doctor fleet: 1 host, 3 targets

name  age  host  linux/amd64  linux/arm64  linux/arm/v7
vm    3 h  OK    OK           OK           OK

host: the findings that name no target; -: no finding for that column

older reports of the same host, not shown:
  vm: reports/vm-old.json (started 2024-04-30T09:00:00Z), replaced by reports/vm.json

exit 0: no FAIL or ERROR
"""


def test_healthy_hosts_exit_0_and_an_unreadable_one_is_a_row_not_a_traceback(capsys, reports):
    code, out, err = run(capsys, "reports/vm.json", "--format", "json")
    assert (code, err, json.loads(out)["exit_code"]) == (0, "", 0)
    code, out, err = run(capsys, "reports/vm.json", "missing.json", "reports/notes.txt")
    assert (code, err) == (1, "")
    assert "missing.json       unreadable: No such file or directory\n" in out
    assert ("reports/notes.txt  unreadable: not a mab-doctor report: not JSON (Expecting value: line 1 column 1 "
            "(char 0))\n") in out
    assert out.endswith("exit 1: a report could not be read\n")


def test_a_file_named_alone_and_through_its_folder_is_read_once(capsys, reports):
    code, out, _ = run(capsys, "reports/pi3.json", "reports", "--format", "json")
    data = json.loads(out)
    assert [h["name"] for h in data["hosts"]] == ["pi3", "legacy-builder", "pizero", "vm"]
    assert data["hosts"][0]["superseded"] == []


def test_nothing_readable_is_a_usage_error(capsys, reports, tmp_path):
    (tmp_path / "empty").mkdir()
    code, out, err = run(capsys, "reports/broken.json", "empty")
    assert (code, out) == (2, "")
    assert err == ("mab-doctor: error: fleet: no report could be read: reports/broken.json: not a mab-doctor report: "
                   "not JSON (Expecting ',' delimiter: line 1 column 34 (char 33)) (and 1 more)\n")
    code, out, err = run(capsys, "empty")
    assert (code, out, err) == (2, "", "mab-doctor: error: fleet: no report could be read: empty: no *.json file in "
                                       "this folder\n")


def test_a_host_without_a_name_is_its_file_name_and_names_are_escaped(capsys, reports, made):
    nameless = json.loads(json.dumps(made["vm"]))
    nameless["host"]["hostname"] = ""
    _save(reports / "spare-box.json", nameless, "2024-05-01T11:59:30Z")
    sneaky = json.loads(json.dumps(made["pi3"]))
    sneaky["host"]["hostname"] = "evil\x1b[2J\nbox"
    _save(reports / "sneaky.json", sneaky, "2024-05-01T12:05:00Z")
    code, out, _ = run(capsys, "reports/spare-box.json", "reports/sneaky.json", "reports/pizero.json")
    assert code == 1
    assert out.splitlines()[2:6] == [
        "name              age     host  linux/amd64  linux/arm64  linux/arm/v7  linux/riscv64",
        "spare-box         30 s    OK    OK           OK*          OK            -",
        "evil\\x1b[2J\\nbox  -5 min  OK    -            FAIL         -             FAIL",
        "pizero            2 d     OK    FAIL         FAIL         FAIL          -"]
    assert "  linux/arm64: spare-box says OK, 2 others FAIL\n" in out and "\x1b" not in out


def test_a_wide_host_name_is_padded_by_the_terminal_cells_it_takes(capsys, reports, made):
    wide = json.loads(json.dumps(made["vm"]))
    wide["host"]["hostname"] = "构建机"  # three characters, six cells on a terminal
    _save(reports / "wide.json", wide, "2024-05-01T11:00:00Z")
    code, out, _ = run(capsys, "reports/wide.json", "reports/vm.json")
    assert code == 0
    assert out.splitlines()[2:5] == [
        "name    age  host  linux/amd64  linux/arm64  linux/arm/v7",
        "构建机  1 h  OK    OK           OK           OK",
        "vm      3 h  OK    OK           OK           OK"]


def test_output_file_and_ci_verdict(capsys, reports, tmp_path, fleet_schema):
    target = tmp_path / "fleet.json"
    code, out, err = run(capsys, "reports/pizero.json", "reports/vm.json", "--format", "json", "--output",
                         str(target), "--ci")
    assert (code, out) == (1, "")
    assert err == "mab-doctor fleet: FAIL: 2 hosts, 1 with FAIL or ERROR, 0 unreadable (exit 1)\n"
    data = json.loads(target.read_text())
    assert not list(fleet_schema.iter_errors(data))
    assert data["cells"]["pizero"]["linux/arm/v7"] == "fail"


@pytest.mark.parametrize("seconds, text", [
    (None, "?"), (0, "0 s"), (59, "59 s"), (60, "1 min"), (3599, "59 min"), (3600, "1 h"), (86399, "23 h"),
    (86400, "1 d"), (200000, "2 d"), (-300, "-5 min"),
])
def test_ages_read_as_people_say_them(seconds, text):
    assert age_text(seconds) == text


def test_the_fixture_reports_are_what_the_doctor_wrote(made):
    # The matrix above rests on these rows; a change in a check shows up here first, by name.
    def rows(host):
        return [(r["name"], r["target"], r["status"]) for r in made[host]["results"]]

    assert rows("pi3") == [("binfmt-kernel", None, "ok"), ("binfmt-mount", None, "ok"),
                           ("binfmt-handlers", "linux/arm64", "fail"), ("binfmt-handlers", "linux/riscv64", "fail")]
    assert rows("legacy-builder") == [("binfmt-kernel", None, "warn"), ("binfmt-mount", None, "fail"),
                                      ("binfmt-handlers", None, "skip")]


def test_the_markdown_matrix_has_a_row_per_host_and_marks_the_dissent(capsys, reports):
    code, out, err = run(capsys, "reports", "--format", "markdown")
    assert (code, err) == (1, "")
    _, as_json, _ = run(capsys, "reports", "--format", "json")
    data = json.loads(as_json)
    lines = out.splitlines()
    assert lines[0] == f"## mab-doctor fleet: {len(data['hosts'])} hosts, {len(data['targets'])} targets"
    assert lines[2] == "| host | age | " + " | ".join(data["columns"]) + " |"
    rows = [ln for ln in lines[4:] if ln.startswith("| ")]
    assert len(rows) == len(data["hosts"]) + len(data["unreadable"])
    marked = sum(len(d["hosts"]) for d in data["disagreements"] if d["majority"] is not None)
    assert sum(ln.count("\\*") for ln in rows) == marked
    assert lines[-1] == "exit 1: FAIL or ERROR in the matrix; a report could not be read"
