"""A reader that leaves early (`mab-doctor | true`): no traceback, no hang, exit 0 or 1."""

from __future__ import annotations

import subprocess
import sys

from helpers import PROJECT
from hostile.harness import BOUND_S, CLEAN_ENV
from hostile.trees import lay_base


def test_a_closed_stdout_ends_the_run_quietly(tmp_path):
    tree = lay_base(tmp_path / "tree")
    proc = subprocess.Popen([sys.executable, "-m", "mab_doctor", "--root", str(tree), "--no-plugins", "-v",
                             "--format", "markdown"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env={**CLEAN_ENV, "COLUMNS": "40"}, cwd=PROJECT)
    proc.stdout.close()  # before the report is written: every write meets EPIPE
    try:
        err = proc.stderr.read().decode("utf-8", "replace")
        code = proc.wait(BOUND_S)
    finally:
        proc.kill()
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert code in (0, 1)
