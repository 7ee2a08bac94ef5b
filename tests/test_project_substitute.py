"""The one expansion bound: Bounded counts, expand stops at the limit, substitute follows the Dockerfile forms."""

from __future__ import annotations

import re

import pytest

from mab_doctor.project.substitute import LIMIT, Bounded, ExpansionTooLarge, expand, substitute

REF = re.compile(r"\{(\w+)\}")


def test_the_limit_is_64_kib():
    assert LIMIT == 65_536


def test_bounded_joins_pieces_and_refuses_the_one_past_the_limit():
    out = Bounded(10)
    out.add("abcd")
    out.add("efghij")
    assert out.text() == "abcdefghij"
    with pytest.raises(ExpansionTooLarge) as caught:
        out.add("k")
    assert str(caught.value) == "expands beyond 10 characters"
    assert caught.value.of("NAME") == "variable NAME expands beyond 10 characters"


def test_expand_replaces_like_re_sub_within_the_budget():
    values = {"a": "1", "b": "22"}
    assert expand("x{a}y{b}z{a}", REF, lambda m: values[m.group(1)]) == "x1y22z1"
    assert expand("{a}" * 10, REF, lambda m: "x" * 6553) == "x" * 65_530
    with pytest.raises(ExpansionTooLarge):
        expand("{a}" * 11, REF, lambda m: "x" * 6553)


def test_text_without_a_reference_is_returned_unexpanded_and_uncounted():
    text = "y" * 100_000
    assert expand(text, REF, lambda m: "never") is text


def test_values_sharing_a_budget_are_counted_together():
    budget = Bounded(8)
    assert expand("{a}{a}", REF, lambda m: "ab", budget) == "abab"
    assert expand("-{a}-", REF, lambda m: "c", budget) == "-c-"
    with pytest.raises(ExpansionTooLarge):
        expand("{a}", REF, lambda m: "dd", budget)


def test_substitute_forms_and_its_bound():
    values = {"A": "x", "E": ""}
    assert substitute("$A-${A}-${B:-d}-${A:+alt}-${B:+alt}-${E:-e}-${E-e}", values) == "x-x-d-alt--e-"
    with pytest.raises(ExpansionTooLarge):
        substitute("$A" * 40_000, {"A": "ab"})
