"""@record behaves as @dataclass(frozen=True) does, class by class, for every feature the project uses."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from mab_doctor.core.record import record


def twins(body: str, **options):
    """The same class body made once by @dataclass(frozen=True, ...) and once by @record(...)."""
    made = []
    for deco in (dataclass(frozen=True, **options), record(**options)):
        scope: dict = {"field": field, "dataclasses": dataclasses}
        exec(f"class Thing:\n    '''A thing.'''\n{body}", scope)  # noqa: S102
        made.append(deco(scope["Thing"]))
    return made


BODY = """
    name: str
    size: int = 3
    tags: tuple = ()
    extra: list = field(default_factory=list)
    hidden: int = field(default=7, repr=False, compare=False)
    later: dict = field(default_factory=dict, init=False, repr=False, compare=False)
"""


@pytest.mark.parametrize("args,kwargs", [(("a",), {}), (("a", 5), {"tags": (1,)}), ((), {"name": "b", "extra": [1]}),
                                         (("c", 1, (2,), [3], 4), {})])
def test_same_values_repr_equality_and_hash(args, kwargs):
    std, rec = twins(BODY)
    s, r = std(*args, **kwargs), rec(*args, **kwargs)
    assert repr(r) == repr(s)
    assert dataclasses.asdict(r) == dataclasses.asdict(s)
    assert [f.name for f in dataclasses.fields(r)] == ["name", "size", "tags", "extra", "hidden", "later"]
    assert r == rec(*args, **kwargs) and not (r != rec(*args, **kwargs))
    assert r.later == {} and r.later is not rec(*args, **kwargs).later  # a fresh factory value each time


def test_compare_false_fields_do_not_count_and_hash_follows_equality():
    _, rec = twins(BODY.replace("extra: list = field(default_factory=list)", "extra: tuple = ()"))
    a, b = rec("x", hidden=1), rec("x", hidden=2)
    assert a == b and hash(a) == hash(b)
    assert rec("x") != rec("y") and {rec("x"), rec("x"), rec("y")} == {rec("x"), rec("y")}
    assert rec("x").__eq__("x") is NotImplemented


def test_frozen_like_a_dataclass():
    std, rec = twins(BODY)
    for obj in (std("a"), rec("a")):
        with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'name'"):
            obj.name = "b"
        with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'size'"):
            del obj.size
        with pytest.raises(dataclasses.FrozenInstanceError):
            obj.other = 1  # not a field either: the class itself is frozen


def test_replace_keeps_the_rest_and_refuses_init_false_fields():
    _, rec = twins(BODY)
    obj = rec("a", 2, tags=(1,))
    assert dataclasses.replace(obj, size=9) == rec("a", 9, tags=(1,))
    with pytest.raises(ValueError):
        dataclasses.replace(obj, later={})
    assert dataclasses.is_dataclass(obj)


def test_missing_argument_is_a_type_error_like_a_dataclass():
    std, rec = twins(BODY)
    for cls in (std, rec):
        with pytest.raises(TypeError):
            cls()
        with pytest.raises(TypeError):
            cls("a", nope=1)


def test_post_init_runs_and_may_set_fields_with_object_setattr():
    body = """
    text: str
    length: int = field(default=0, init=False)

    def __post_init__(self):
        object.__setattr__(self, "length", len(self.text))
"""
    std, rec = twins(body)
    assert rec("four").length == 4 == std("four").length
    assert repr(rec("ab")) == repr(std("ab")) == "Thing(text='ab', length=2)"


def test_subclass_adds_fields_after_the_base_ones():
    @record
    class Base:
        """Base."""
        a: int
        b: int = 2

    @record
    class Child(Base):
        """Child."""
        c: int = 3

    child = Child(1, c=4)
    assert repr(child) == "test_subclass_adds_fields_after_the_base_ones.<locals>.Child(a=1, b=2, c=4)"
    assert child != Base(1, 2) and child == Child(1, 2, 4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        child.c = 5


def test_order_and_no_eq_options():
    std, rec = twins("    major: int\n    minor: int = 0\n", order=True)
    assert sorted([rec(2), rec(1, 5), rec(1, 2)]) == [rec(1, 2), rec(1, 5), rec(2)]
    assert (rec(1) < rec(2)) == (std(1) < std(2)) and (rec(3) >= rec(3)) is True
    _, ident = twins("    x: int\n", eq=False)
    one = ident(1)
    assert one == one and ident(1) != ident(1)  # identity, as object's own __eq__


def test_methods_the_class_writes_stay_and_odd_field_names_work():
    @record
    class Odd:
        """Fields named like the generated code's own words."""
        self: int
        key: str = "k"
        value: int = 0

        def __repr__(self) -> str:
            return "custom"

    odd = Odd(1, value=2)
    assert (odd.self, odd.key, odd.value, repr(odd)) == (1, "k", 2, "custom")
    assert Odd(1) == Odd(1) and Odd(1) != Odd(2)


def test_a_class_writing_eq_keeps_it_and_gets_the_field_hash_as_with_dataclasses():
    std, rec = twins("    x: int\n\n    def __eq__(self, other):\n        return True\n")
    assert rec(1) == rec(2) and rec(1) == "anything"
    assert hash(rec(1)) == hash(rec(1)) != hash(rec(2))  # Python's implicit __hash__ = None is replaced
    assert hash(std(1)) == hash(std(1)) != hash(std(2))


def test_overwriting_setattr_is_refused():
    with pytest.raises(TypeError, match="__setattr__"):
        @record
        class Bad:
            """Writes its own __setattr__."""
            x: int

            def __setattr__(self, name, value):
                pass


def test_dataclasses_see_a_frozen_class_and_plugins_may_subclass_it():
    @record
    class Base:
        """A record, as Result and Fix are."""
        x: int

    assert Base.__dataclass_params__.frozen and Base.__dataclass_params__.eq

    @dataclass(frozen=True)
    class PluginResult(Base):
        """A plugin's own frozen dataclass on top of it."""
        y: int = 0

    assert PluginResult(1, 2) == PluginResult(1, 2) and repr(PluginResult(1)) .endswith("PluginResult(x=1, y=0)")
    with pytest.raises(dataclasses.FrozenInstanceError):
        PluginResult(1).y = 3
    with pytest.raises(TypeError, match="non-frozen"):
        @dataclass
        class Mutable(Base):
            """Refused, as for any frozen dataclass."""
            z: int = 0

    @record
    class Again(PluginResult):
        """A record on top of a stdlib frozen dataclass."""
        z: int = 5

    assert repr(Again(1)).endswith("Again(x=1, y=0, z=5)") and Again(1) == Again(1, 0, 5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Again(1).z = 2
