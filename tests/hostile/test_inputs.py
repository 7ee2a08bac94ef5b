"""Every hostile input, end to end through main(): bounded, no traceback, exit 0/1/2, clean output, nothing changed."""

from __future__ import annotations

import pytest

from hostile.cases import INPUTS, PER_CLASS
from hostile.harness import check_input


def test_there_are_enough_inputs_of_every_class():
    assert len(INPUTS) >= 200
    assert {k: n for k, n in PER_CLASS.items() if n < 10} == {}, PER_CLASS
    assert len({item.id for item in INPUTS}) == len(INPUTS), "input ids must be distinct"


@pytest.mark.parametrize("item", [item.param() for item in INPUTS])
def test_hostile_input(item, tmp_path, capsys):
    code, out, err = check_input(item, tmp_path, capsys)
    if item.klass == "root":  # a hostile tree is still a directory: a report, never a usage error
        assert code in (0, 1) and out.strip(), err
