"""The safe recorded form: every value becomes plain data that a weights-only read accepts.

``encode(value)`` returns a copy of `value` in which each part that is not plain data (see
``plain.py``) is replaced by a *record*: a plain dict ``{TAG: kind, ...fields}`` whose fields are
themselves plain. Two families of records:

- values rebuilt exactly on load from their plain fields, with code statetrainer ships (never with
  anything the file names): ``mapping`` (a defaultdict, or a dict whose keys are not plain or include
  TAG), ``set`` (a frozenset, or a set holding non-plain items), ``namedtuple``, ``path``,
  ``datetime``/``date``/``time``/``timedelta``, ``range``, ``namespace`` (argparse), ``ndarray`` and
  ``numpy_scalar`` (numeric numpy data), ``bytes`` (the empty bytes, which torch cannot read back);
- values that only code could rebuild, recorded as a description and read back as an inert
  ``Placeholder``: ``class``, ``function``, ``enum``, ``module`` (an nn.Module), ``dataclass`` and
  ``object`` (anything else): their qualified type name as text, their repr, an Enum member's name
  and value, a dataclass's fields.

Plain parts are kept as they are (the same objects: nothing is copied that needs no change).
Subclasses of dict, list, tuple, str, int and float that have no record of their own are stored as
the base type. ``decoding.decode`` is the reverse.
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime
import enum
import pathlib
import types
from typing import Any

import torch

from statetrainer.checkpoint.placeholder import Placeholder
from statetrainer.checkpoint.plain import is_plain, only_scalars

__all__ = ["encode", "TAG", "REPR_LIMIT"]

TAG = "__statetrainer__"
REPR_LIMIT = 500  # characters of a repr kept in a record
_LEAVES = frozenset({type(None), bool, int, float, complex, str, bytearray, torch.dtype, torch.device, torch.Size,
                     torch.Tensor, torch.nn.Parameter})
_MAPPINGS = {dict: "dict", collections.OrderedDict: "OrderedDict", collections.Counter: "Counter"}
_FACTORIES = {list: "list", dict: "dict", set: "set", int: "int", float: "float", str: "str", tuple: "tuple",
              collections.OrderedDict: "OrderedDict", collections.Counter: "Counter"}
_PATHS = {pathlib.PurePosixPath: "PurePosixPath", pathlib.PureWindowsPath: "PureWindowsPath",
          pathlib.PosixPath: "PosixPath", pathlib.WindowsPath: "WindowsPath"}
_FUNCTIONS = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.BuiltinMethodType,
              types.MethodWrapperType, types.WrapperDescriptorType, types.MethodDescriptorType,
              staticmethod, classmethod)


def encode(value: Any, where: str = "checkpoint") -> tuple[Any, list[tuple[str, Placeholder]]]:
    """(the recorded form of `value`, [(place, description) for each part only described, not kept])."""
    encoder = _Encoder(where)
    return encoder.walk(value), encoder.described


class _Encoder:
    """One walk over a value; remembers where it is (for the list of described parts) and what it is inside."""

    def __init__(self, where: str):
        self.described: list[tuple[str, Placeholder]] = []
        self.path: list[str] = [where]
        self.active: set[int] = set()

    def walk(self, value: Any) -> Any:
        kind = type(value)
        if kind in _LEAVES:
            return value
        if kind is bytes:
            return value if value else {TAG: "bytes"}
        if kind in _MAPPINGS:
            return self._guarded(value, self._mapping)
        if kind is list or kind is tuple:
            return self._guarded(value, self._sequence)
        if kind is set:
            return self._guarded(value, self._set)
        if isinstance(value, Placeholder):
            return self._placeholder(value)
        return self._other(value)

    # ---------------------------------------------------------------- containers

    def _guarded(self, value: Any, encode_container) -> Any:
        if id(value) in self.active:  # a container inside itself: only described
            return self._describe("object", _type_name(type(value)), f"<{type(value).__name__} holding itself>")
        self.active.add(id(value))
        try:
            return encode_container(value)
        finally:
            self.active.discard(id(value))

    def _mapping(self, value: Any, kind: str | None = None) -> Any:
        kind = kind or _MAPPINGS.get(type(value), "dict")
        if TAG in value or not all(type(key) is str or is_plain(key) for key in value):
            return {TAG: "mapping", "type": kind, "items": self._items(value)}
        copy = None
        for key, item in value.items():
            encoded = self._at(f"[{key!r}]", item)
            if encoded is not item:
                if copy is None:
                    copy = _MAPPING_TYPES[kind](value)
                copy[key] = encoded
        if copy is None and type(value) not in _MAPPINGS:  # a dict subclass is stored as its base
            copy = _MAPPING_TYPES[kind](value)
        return value if copy is None else copy

    def _sequence(self, value: Any) -> Any:
        if (type(value) is list or type(value) is tuple) and only_scalars(value):
            return value  # numbers and strings only (an RNG state): nothing to record
        encoded = [self._at(f"[{index}]", item) for index, item in enumerate(value)]
        base = list if isinstance(value, list) else tuple
        if type(value) is base and all(new is old for new, old in zip(encoded, value)):
            return value
        return encoded if base is list else tuple(encoded)

    def _set(self, value: Any, kind: str = "set") -> Any:
        if kind == "set" and all(is_plain(item) for item in value):
            return value if type(value) is set else set(value)
        return {TAG: "set", "type": kind, "items": [self._at(" item", item) for item in value]}

    def _at(self, label: str, value: Any) -> Any:
        self.path.append(label)
        try:
            return self.walk(value)
        finally:
            self.path.pop()

    # ---------------------------------------------------------------- everything else

    def _other(self, value: Any) -> Any:
        if type(value).__module__ == "numpy":  # before the scalars: numpy's float64 is a float subclass
            return self._numpy(value)
        for kinds, encoder in _BY_TYPE:
            if isinstance(value, kinds):
                return encoder(self, value)
        if dataclasses.is_dataclass(value):
            fields = {field.name: self._at(f".{field.name}", getattr(value, field.name, None))
                      for field in dataclasses.fields(value)}
            return self._describe("dataclass", _type_name(type(value)), _repr(value), fields=fields)
        return self._describe("object", _type_name(type(value)), _repr(value))

    def _defaultdict(self, value: collections.defaultdict) -> dict:
        factory = _FACTORIES.get(value.default_factory) if value.default_factory is not None else None
        if value.default_factory is not None and factory is None:
            self._note("function", _type_name(value.default_factory), _repr(value.default_factory), ".default_factory")
        items = self._guarded(value, self._items)
        return {TAG: "mapping", "type": "defaultdict", "factory": factory, "items": items}

    def _items(self, value: Any) -> list:
        return [[self._at(" key", key), self._at(f"[{key!r}]", item)] for key, item in value.items()]

    def _tuple_like(self, value: tuple) -> Any:
        if not hasattr(type(value), "_fields"):
            return self._guarded(tuple(value), self._sequence)
        fields = [str(name) for name in type(value)._fields]
        values = self._guarded(list(value), self._sequence)
        return {TAG: "namedtuple", "type": _type_name(type(value)), "fields": fields, "values": values}

    def _numpy(self, value: Any) -> Any:
        import numpy as np
        if isinstance(value, np.ndarray) and value.dtype.kind in "biufcUS":
            return _ndarray(value)
        if isinstance(value, np.generic) and value.dtype.kind in "biufc":
            return {TAG: "numpy_scalar", "dtype": value.dtype.str, "value": value.item()}
        return self._describe("object", _type_name(type(value)), _repr(value))

    def _placeholder(self, value: Placeholder) -> dict:
        """A placeholder read from a checkpoint is written back as the same record (no new loss)."""
        record = {TAG: value.kind, "type": value.type_name, "repr": value.text}
        record.update({key: self.walk(item) for key, item in value.details.items()})
        return record

    def _describe(self, kind: str, type_name: str, text: str, **details: Any) -> dict:
        self._note(kind, type_name, text, details=details)
        return {TAG: kind, "type": type_name, "repr": text, **details}

    def _note(self, kind: str, type_name: str, text: str, suffix: str = "", details: dict | None = None) -> None:
        """Remember a part kept only as a description: the Placeholder a reader of the file will get."""
        self.described.append(("".join(self.path) + suffix, Placeholder(kind, type_name, text, details)))


def _enum(encoder: _Encoder, value: enum.Enum) -> dict:
    return encoder._describe("enum", _type_name(type(value)), _repr(value), name=str(value.name),
                             value=encoder._at(".value", value.value))


def _class(encoder: _Encoder, value: type) -> dict:
    return encoder._describe("class", _type_name(value), _repr(value))


def _function(encoder: _Encoder, value: Any) -> dict:
    return encoder._describe("function", _type_name(value), _repr(value))


def _module(encoder: _Encoder, value: torch.nn.Module) -> dict:
    return encoder._describe("module", _type_name(type(value)), _repr(value))


def _path(encoder: _Encoder, value: pathlib.PurePath) -> dict:
    flavour = next((name for kind, name in _PATHS.items() if type(value) is kind), None)
    if flavour is None:  # a user's subclass of Path: keep the text, as the matching plain path
        flavour = "PureWindowsPath" if isinstance(value, pathlib.PureWindowsPath) else "PosixPath"
    return {TAG: "path", "type": flavour, "text": str(value)}


def _moment(encoder: _Encoder, value: Any) -> dict:
    """datetime, date and time (and their subclasses) as ISO text; a time zone is kept as its UTC offset."""
    if isinstance(value, datetime.datetime):
        kind = "datetime"
    else:
        kind = "date" if isinstance(value, datetime.date) else "time"
    return {TAG: kind, "iso": value.isoformat()}


def _timedelta(encoder: _Encoder, value: datetime.timedelta) -> dict:
    return {TAG: "timedelta", "days": value.days, "seconds": value.seconds, "microseconds": value.microseconds}


def _range(encoder: _Encoder, value: range) -> dict:
    return {TAG: "range", "start": value.start, "stop": value.stop, "step": value.step}


def _namespace(encoder: _Encoder, value: argparse.Namespace) -> dict:
    return {TAG: "namespace", "items": encoder._guarded(dict(vars(value)), encoder._mapping)}


def _frozenset(encoder: _Encoder, value: frozenset) -> dict:
    return encoder._guarded(value, lambda items: encoder._set(items, "frozenset"))


def _base_scalar(encoder: _Encoder, value: Any) -> Any:
    """A subclass of str/int/float/bytes that is not an Enum: stored as the base value."""
    for base in (bool, int, float, complex, str, bytes):
        if isinstance(value, base):
            return encoder.walk(base(value))
    return value


def _tensor(encoder: _Encoder, value: torch.Tensor) -> Any:
    try:
        return value.as_subclass(torch.Tensor)
    except Exception:  # a tensor subclass that cannot be viewed as a plain tensor
        return encoder._describe("object", _type_name(type(value)), _repr(value))


def _ndarray(value: Any) -> dict:
    import numpy as np
    native = value.dtype.newbyteorder("=")
    record = {TAG: "ndarray", "dtype": value.dtype.str, "shape": list(value.shape)}
    if value.dtype.kind in "biufc":
        try:
            record["data"] = torch.from_numpy(np.ascontiguousarray(value, dtype=native).copy())
            return record
        except (TypeError, RuntimeError):  # a dtype torch lacks (e.g. float128)
            pass
    record["data"] = value.tolist()
    return record


def _type_name(kind: Any) -> str:
    module = getattr(kind, "__module__", None) or "?"
    name = getattr(kind, "__qualname__", None) or getattr(kind, "__name__", None) or type(kind).__name__
    return f"{module}.{name}"


def _repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception as error:  # a broken __repr__ must not stop a checkpoint
        text = f"<{type(value).__name__}: repr failed with {type(error).__name__}>"
    return text if len(text) <= REPR_LIMIT else text[:REPR_LIMIT - 3] + "..."


_MAPPING_TYPES = {"dict": dict, "OrderedDict": collections.OrderedDict, "Counter": collections.Counter}
_BY_TYPE = (
    (enum.Enum, _enum),
    (type, _class),
    (_FUNCTIONS, _function),
    (torch.nn.Module, _module),
    (collections.defaultdict, _Encoder._defaultdict),
    (dict, lambda encoder, value: encoder._guarded(value, encoder._mapping)),
    (list, lambda encoder, value: encoder._guarded(list(value), encoder._sequence)),
    (tuple, _Encoder._tuple_like),
    (frozenset, _frozenset),
    (set, lambda encoder, value: encoder._guarded(set(value), encoder._set)),
    (pathlib.PurePath, _path),
    ((datetime.date, datetime.time), _moment),
    (datetime.timedelta, _timedelta),
    (range, _range),
    (argparse.Namespace, _namespace),
    ((bool, int, float, complex, str, bytes), _base_scalar),
    (torch.Tensor, _tensor),
)
