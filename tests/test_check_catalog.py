"""The built-in checks' catalog: equal to their @check declarations; a check's module loads when it runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

import mab_doctor.checks as checks
from helpers import HOSTS, PROJECT, make_context
from mab_doctor.core.check import Check, Deferred
from mab_doctor.core.runner import run_checks

SHIPPED = PROJECT / "doctor" / "data" / "checks.json"


def test_the_shipped_catalog_is_what_the_checks_declare():
    assert SHIPPED.read_text(encoding="utf-8") == checks.catalog_text(), "stale: run scripts/checks-catalog"


def test_the_script_finds_the_shipped_catalog_up_to_date():
    proc = subprocess.run([sys.executable, str(PROJECT / "scripts" / "checks-catalog"), "--check"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.endswith("up to date\n")


def test_every_module_file_is_in_the_report_order_once():
    files = sorted(p.stem for p in (PROJECT / "checks").glob("*.py") if p.stem != "__init__")
    assert sorted(checks.MODULES) == files and len(set(checks.MODULES)) == len(files) == 22


def test_each_builtin_is_its_module_check_with_a_deferred_run():
    for module, chk in zip(checks.MODULES, checks.BUILTIN):
        assert chk.run == Deferred(f"mab_doctor.checks.{module}", module)
        real = chk.run.load()
        assert isinstance(real, Check) and not isinstance(real.run, Deferred)
        assert replace(real, run=chk.run) == chk  # every other field equal, doc and opt_in too
    by_name = {c.name: c for c in checks.BUILTIN}
    assert by_name["build-probe"].opt_in is True and by_name["host-platform"].opt_in is False
    assert by_name["binfmt-mount"].requires == ("binfmt-kernel",)


def test_resolved_swaps_in_the_module_function_and_keeps_the_rest():
    from mab_doctor.checks.kernel_version import kernel_version

    lazy = next(c for c in checks.BUILTIN if c.name == "kernel-version")
    assert lazy.resolved() == kernel_version
    assert kernel_version.resolved() is kernel_version
    plugin = replace(lazy, source="someone 1.0")
    assert plugin.resolved() == replace(kernel_version, source="someone 1.0")


def test_a_deferred_check_gives_what_its_module_gives():
    from mab_doctor.checks.host_platform import host_platform

    lazy = next(c for c in checks.BUILTIN if c.name == "host-platform")
    root = HOSTS / "pi-zero-raspbian"
    ours = [o.result for o in run_checks([lazy], make_context(root))]
    theirs = [o.result for o in run_checks([host_platform], make_context(root))]
    assert ours == theirs and ours[0].summary.startswith("linux/arm/v6")


def test_importing_the_package_imports_no_check_module():
    probe = ("import sys, mab_doctor.checks as c; "
             "print(len(c.BUILTIN), sorted(m for m in sys.modules if m.startswith('mab_doctor.checks.')))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert proc.stdout == "22 []\n" and proc.stderr == ""


def test_a_check_missing_from_the_catalog_is_imported_at_once(monkeypatch, tmp_path):
    catalog = json.loads(SHIPPED.read_text(encoding="utf-8"))
    del catalog["checks"]["podman"]
    partial = tmp_path / "checks.json"
    partial.write_text(json.dumps(catalog))
    monkeypatch.setattr(checks, "CATALOG", str(partial))
    found = {c.name: c for c in checks._builtin()}
    assert [c.name for c in found.values()] == [c.name for c in checks.BUILTIN]
    assert not isinstance(found["podman"].run, Deferred)
    assert found["docker-cli"].run == Deferred("mab_doctor.checks.docker_cli", "docker_cli")
    monkeypatch.setattr(checks, "CATALOG", str(tmp_path / "absent.json"))
    assert not any(isinstance(c.run, Deferred) for c in checks._builtin())


@pytest.mark.parametrize("words, shown", [
    (["list"], " binfmt-handlers      emulation  binfmt_misc handler           yes  builtin "),
    (["explain", "binfmt-handlers"], "binfmt-handlers: binfmt_misc handler"),
])
def test_list_and_explain_import_no_check_module_and_no_rich(words, shown):
    probe = ("import io, json, sys, contextlib; from mab_doctor.cli import main\n"
             f"with contextlib.redirect_stdout(io.StringIO()) as out: code = main({words!r})\n"
             "print(json.dumps([code, out.getvalue(), sorted(m for m in sys.modules\n"
             "      if m.startswith(('mab_doctor.checks.', 'rich')) or m == 'mab_doctor.core.context')]))")
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}  # the pipe width: the table fits
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                          cwd=PROJECT, env=env)
    code, text, modules = json.loads(proc.stdout)
    assert code == 0 and shown in text.splitlines() and modules == []
