"""`@record`: a frozen dataclass that costs a run less to define (results and facts are made of them)."""

from __future__ import annotations

import dataclasses
import operator
from typing import Any, Callable, TypeVar

C = TypeVar("C", bound=type)

# Why not @dataclass(frozen=True) itself: on Python 3.11 it compiles every method it adds (__init__,
# __repr__, __eq__, __hash__, __setattr__, __delattr__) with its own exec(), about 0.3 ms per class.
# With some 70 such classes imported by a run, that was a tenth of a full run's own CPU, measured. Here
# only __init__ is compiled (the signature and the per-instance speed need it); the other methods are
# shared closures over the field names, with the same behaviour. The class is still a dataclass:
# dataclasses.fields(), replace() and asdict() work on it. Not supported (not used): InitVar, kw_only,
# field(hash=...) different from compare, slots.


def record(cls: C | None = None, *, eq: bool = True, order: bool = False) -> Any:
    """Make ``cls`` a frozen dataclass: ``@record``, ``@record(eq=False)``, ``@record(order=True)``."""
    if cls is None:
        return lambda c: _make(c, eq, order)
    return _make(cls, eq, order)


def _make(cls: C, eq: bool, order: bool) -> C:
    # Fields only, nothing compiled; a subclass of a frozen dataclass must be processed as frozen (dataclasses
    # refuses the mix), and then dataclasses adds the two frozen methods itself.
    frozen_base = any(getattr(getattr(b, "__dataclass_params__", None), "frozen", False) for b in cls.__mro__[1:])
    cls = dataclasses.dataclass(cls, init=False, repr=False, eq=False, frozen=frozen_base)
    # What the class is, for dataclasses and for subclasses (a plugin's @dataclass(frozen=True) of a Result):
    params = cls.__dataclass_params__
    params.init, params.repr, params.eq, params.order, params.frozen = True, True, eq, order, True
    fields = dataclasses.fields(cls)
    names = frozenset(f.name for f in fields)
    compared = tuple(f.name for f in fields if f.compare)
    shown = tuple(f.name for f in fields if f.repr)
    key = _key(compared)
    methods: list[Callable] = [_init(cls, fields), _repr(shown), *([] if frozen_base else _frozen(cls, names))]
    if eq:
        methods += _equality(key)
    if order:
        methods += _ordering(key)
    own = cls.__dict__
    for method in methods:
        name = method.__name__
        # As dataclasses does: methods the class writes itself stay; a __hash__ that Python set to None
        # because the class wrote __eq__ is not one of them.
        if name in own and not (name == "__hash__" and own[name] is None and "__eq__" in own):
            if name in ("__setattr__", "__delattr__"):
                raise TypeError(f"cannot overwrite {name} in frozen record {cls.__name__}")
            continue
        method.__qualname__ = f"{cls.__qualname__}.{name}"
        setattr(cls, name, method)
    return cls


def _key(compared: tuple[str, ...]) -> Callable[[Any], Any]:
    if len(compared) > 1:
        return operator.attrgetter(*compared)  # already a tuple
    if compared:
        one = compared[0]
        return lambda obj: (getattr(obj, one),)
    return lambda obj: ()


def _init(cls: type, fields: tuple[dataclasses.Field, ...]) -> Callable:
    # Generated names start with __rec_ so that no field name can shadow them.
    scope: dict[str, Any] = {"__rec_set": object.__setattr__, "__rec_missing": dataclasses.MISSING}
    params, body = ["__rec_self"], []
    for f in fields:
        if f.default is not dataclasses.MISSING:
            scope[f"__rec_d_{f.name}"] = f.default
            value = f"__rec_d_{f.name}"
        elif f.default_factory is not dataclasses.MISSING:
            scope[f"__rec_f_{f.name}"] = f.default_factory
            value = f"__rec_f_{f.name}()"
        else:
            value = None
        if f.init:
            if value is None:
                params.append(f.name)
            elif f.default_factory is dataclasses.MISSING:
                params.append(f"{f.name}={value}")
            else:
                params.append(f"{f.name}=__rec_missing")
                body.append(f" if {f.name} is __rec_missing: {f.name} = {value}")
            body.append(f" __rec_set(__rec_self, {f.name!r}, {f.name})")
        elif value is not None:
            body.append(f" __rec_set(__rec_self, {f.name!r}, {value})")
    if hasattr(cls, "__post_init__"):
        body.append(" __rec_self.__post_init__()")
    exec(f"def __init__({', '.join(params)}):\n" + ("\n".join(body) or " pass"), scope)  # noqa: S102
    return scope["__init__"]


def _repr(shown: tuple[str, ...]) -> Callable:
    def __repr__(self: Any) -> str:
        return f"{type(self).__qualname__}({', '.join(f'{n}={getattr(self, n)!r}' for n in shown)})"
    return __repr__


def _frozen(cls: type, names: frozenset[str]) -> list[Callable]:
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)
    return [__setattr__, __delattr__]


def _equality(key: Callable[[Any], Any]) -> list[Callable]:
    def __eq__(self: Any, other: Any) -> bool:
        return key(self) == key(other) if other.__class__ is self.__class__ else NotImplemented

    def __hash__(self: Any) -> int:
        return hash(key(self))
    return [__eq__, __hash__]


def _ordering(key: Callable[[Any], Any]) -> list[Callable]:
    def __lt__(self: Any, other: Any) -> bool:
        return key(self) < key(other) if other.__class__ is self.__class__ else NotImplemented

    def __le__(self: Any, other: Any) -> bool:
        return key(self) <= key(other) if other.__class__ is self.__class__ else NotImplemented

    def __gt__(self: Any, other: Any) -> bool:
        return key(self) > key(other) if other.__class__ is self.__class__ else NotImplemented

    def __ge__(self: Any, other: Any) -> bool:
        return key(self) >= key(other) if other.__class__ is self.__class__ else NotImplemented
    return [__lt__, __le__, __gt__, __ge__]
