"""Reading the safe recorded form back (the reverse of ``encoding.encode``), without running anything it names.

``decode(value)`` walks what ``torch.load(weights_only=True)`` returned and replaces each record
(a plain dict holding the key ``TAG``) by what it stands for. The record's kind selects one of a
fixed set of builders below; each builds only from the record's plain fields, with classes this
module names itself (``pathlib``'s paths, ``datetime``, ``collections``, numpy's numeric dtypes):
no name read from the file is imported, looked up or called. Records of classes, functions, Enum
members, modules and other objects become inert ``Placeholder`` objects; a record of a kind this
version does not know becomes a placeholder too. A record whose fields are not what its kind
requires makes ``decode`` raise ``CheckpointError`` naming its place.

Lists and dicts are decoded in place (the value comes from a fresh read); tuples are rebuilt only
when something in them changed.
"""
from __future__ import annotations

import argparse
import collections
import copy
import datetime
import keyword
import operator
import os
import pathlib
import re
from typing import Any, Callable

from statetrainer.checkpoint.encoding import REPR_LIMIT, TAG
from statetrainer.checkpoint.placeholder import Placeholder
from statetrainer.errors import CheckpointError

__all__ = ["decode"]

_FACTORIES = {"list": list, "dict": dict, "set": set, "int": int, "float": float, "str": str, "tuple": tuple,
              "OrderedDict": collections.OrderedDict, "Counter": collections.Counter}
_MAPPINGS = {"dict": dict, "OrderedDict": collections.OrderedDict, "Counter": collections.Counter}
_NUMERIC_DTYPE = re.compile(r"^[<>|=][biufc]\d{1,2}$")
_ARRAY_DTYPE = re.compile(r"^[<>|=][biufcUS]\d{1,4}$")
_INERT = ("class", "function", "module", "object", "unknown")  # "unknown": a placeholder of an unknown kind
_PATHS = {"PurePosixPath": pathlib.PurePosixPath, "PureWindowsPath": pathlib.PureWindowsPath,
          "PosixPath": pathlib.PurePosixPath, "WindowsPath": pathlib.PureWindowsPath}


class _Malformed(Exception):
    """A record whose fields do not fit its kind; becomes a CheckpointError naming the place."""


def decode(value: Any, where: str = "checkpoint") -> Any:
    """`value` with every record replaced by what it stands for (see the module docstring)."""
    decoder = _Decoder(where)
    try:
        return decoder.walk(value)
    except _Malformed as error:
        raise CheckpointError(f"{''.join(decoder.path)} holds {error}; the file was not written by statetrainer "
                              "or has been altered.") from None


class _Decoder:
    """One walk; `done` maps each container already seen to its result (shared parts, and self-references)."""

    def __init__(self, where: str):
        self.path: list[str] = [where]
        self.done: dict[int, tuple[Any, Any]] = {}

    def walk(self, value: Any) -> Any:
        kind = type(value)
        if kind is not dict and kind is not list and kind is not tuple and kind not in _MAPPINGS.values():
            return value
        seen = self.done.get(id(value))
        if seen is not None:
            return seen[1]
        if kind is dict and TAG in value:
            result = self._record(value)
        else:
            self.done[id(value)] = (value, value)  # before the walk: a container inside itself ends here
            result = self._container(value)
        self.done[id(value)] = (value, result)
        return result

    def at(self, label: str, value: Any) -> Any:
        self.path.append(label)
        result = self.walk(value)
        self.path.pop()
        return result

    def _container(self, value: Any) -> Any:
        if isinstance(value, dict):
            for key, item in value.items():
                decoded = self.at(f"[{key!r}]", item)
                if decoded is not item:
                    value[key] = decoded
            return value
        items = [self.at(f"[{index}]", item) for index, item in enumerate(value)]
        if type(value) is list:
            value[:] = items
            return value
        return value if all(new is old for new, old in zip(items, value)) else tuple(items)

    def _record(self, record: dict) -> Any:
        kind = record[TAG]
        build = _BUILDERS.get(kind) if type(kind) is str else None
        if build is None:
            return Placeholder("unknown", _short(kind), _short(record))
        try:
            return build(self, record)
        except _Malformed:
            raise
        except (KeyError, TypeError, ValueError, OverflowError, IndexError) as error:
            raise _Malformed(f"a malformed {kind!r} record ({type(error).__name__}: {error})") from None


# ---------------------------------------------------------------- field checks


def _field(record: dict, name: str, *kinds: type) -> Any:
    if name not in record:
        raise KeyError(f"no field {name!r}")
    value = record[name]
    if kinds and type(value) not in kinds:
        raise TypeError(f"field {name!r} is a {type(value).__name__}, not {' or '.join(k.__name__ for k in kinds)}")
    return value


def _choice(record: dict, name: str, table: dict) -> Any:
    value = _field(record, name, str)
    if value not in table:
        raise ValueError(f"field {name!r} is {value!r}; known: {sorted(table)}")
    return table[value]


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= REPR_LIMIT else text[:REPR_LIMIT - 3] + "..."


# ---------------------------------------------------------------- builders: values rebuilt exactly


def _mapping(decoder: _Decoder, record: dict) -> Any:
    kind = _choice(record, "type", {**_MAPPINGS, "defaultdict": collections.defaultdict})
    if kind is collections.defaultdict:
        factory = record.get("factory")
        result = collections.defaultdict(None if factory is None else _choice(record, "factory", _FACTORIES))
    else:
        result = kind()
    for index, pair in enumerate(_field(record, "items", list)):
        if type(pair) is not list or len(pair) != 2:
            raise ValueError(f"item {index} is not a [key, value] pair")
        key = decoder.at(" key", pair[0])
        result[key] = decoder.at(f"[{key!r}]", pair[1])  # an unhashable key raises TypeError: malformed
    return result


def _set(decoder: _Decoder, record: dict) -> Any:
    kind = _choice(record, "type", {"set": set, "frozenset": frozenset})
    return kind(decoder.at(" item", item) for item in _field(record, "items", list))


def _namedtuple(decoder: _Decoder, record: dict) -> Any:
    fields = _field(record, "fields", list)
    values = [decoder.at(f"[{i}]", item) for i, item in enumerate(_field(record, "values", list))]
    if len(fields) != len(values) or not all(type(name) is str for name in fields):
        raise ValueError("fields and values do not match")
    return _tuple_class(_field(record, "type", str), tuple(fields))(values)


def _path(decoder: _Decoder, record: dict) -> Any:
    """A concrete path of this system's flavour comes back as a ``Path``; any other as the matching pure path."""
    kind = _choice(record, "type", _PATHS)
    if record["type"] == ("WindowsPath" if os.name == "nt" else "PosixPath"):
        kind = pathlib.Path
    return kind(_field(record, "text", str))


def _moment(decoder: _Decoder, record: dict) -> Any:
    kind = {"datetime": datetime.datetime, "date": datetime.date, "time": datetime.time}[record[TAG]]
    return kind.fromisoformat(_field(record, "iso", str))


def _timedelta(decoder: _Decoder, record: dict) -> datetime.timedelta:
    return datetime.timedelta(days=_field(record, "days", int), seconds=_field(record, "seconds", int),
                              microseconds=_field(record, "microseconds", int))


def _range(decoder: _Decoder, record: dict) -> range:
    return range(_field(record, "start", int), _field(record, "stop", int), _field(record, "step", int))


def _namespace(decoder: _Decoder, record: dict) -> argparse.Namespace:
    items = decoder.at(".items", _field(record, "items", dict))
    if not all(type(key) is str for key in items):
        raise TypeError("a Namespace needs text keys")
    return argparse.Namespace(**items)


def _ndarray(decoder: _Decoder, record: dict) -> Any:
    import numpy as np
    import torch
    dtype = _field(record, "dtype", str)
    if not _ARRAY_DTYPE.match(dtype):
        raise ValueError(f"dtype {dtype!r} is not a numeric or text dtype")
    shape = _field(record, "shape", list)
    data = record.get("data")
    if isinstance(data, torch.Tensor):
        data = data.numpy()
    elif type(data) is not list:
        raise TypeError("field 'data' is neither a tensor nor a list")
    return np.asarray(data, dtype=np.dtype(dtype)).reshape([int(size) for size in shape])


def _numpy_scalar(decoder: _Decoder, record: dict) -> Any:
    import numpy as np
    dtype = _field(record, "dtype", str)
    if not _NUMERIC_DTYPE.match(dtype):
        raise ValueError(f"dtype {dtype!r} is not a numeric dtype")
    return np.dtype(dtype).type(_field(record, "value", bool, int, float, complex))


def _bytes(decoder: _Decoder, record: dict) -> bytes:
    return b""


# ---------------------------------------------------------------- builders: inert placeholders


def _described(decoder: _Decoder, record: dict) -> Placeholder:
    return Placeholder(record[TAG], _short(_field(record, "type", str)), _short(_field(record, "repr", str)))


def _enum(decoder: _Decoder, record: dict) -> Placeholder:
    details = {"name": _field(record, "name", str), "value": decoder.at(".value", record.get("value"))}
    return Placeholder("enum", _short(_field(record, "type", str)), _short(_field(record, "repr", str)), details)


def _dataclass(decoder: _Decoder, record: dict) -> Placeholder:
    fields = decoder.at(".fields", _field(record, "fields", dict))
    return Placeholder("dataclass", _short(_field(record, "type", str)), _short(_field(record, "repr", str)),
                       {"fields": fields})


_BUILDERS: dict[str, Callable[[_Decoder, dict], Any]] = {
    "mapping": _mapping, "set": _set, "namedtuple": _namedtuple, "path": _path, "datetime": _moment,
    "date": _moment, "time": _moment, "timedelta": _timedelta, "range": _range, "namespace": _namespace,
    "ndarray": _ndarray, "numpy_scalar": _numpy_scalar, "bytes": _bytes, "enum": _enum, "dataclass": _dataclass,
    **{kind: _described for kind in _INERT},
}

_TUPLE_CLASSES: dict[tuple[str, tuple[str, ...]], type] = {}


def _tuple_class(type_name: str, fields: tuple[str, ...]) -> type:
    """A tuple subclass with the recorded field names as read-only attributes (built here, nothing imported)."""
    key = (type_name, fields)
    if key not in _TUPLE_CLASSES:
        name = type_name.rsplit(".", 1)[-1]
        namespace: dict[str, Any] = {
            "__slots__": (), "_fields": fields, "__module__": __name__,
            "__new__": lambda cls, values: tuple.__new__(cls, values),
            "__repr__": lambda self: f"{name}({', '.join(f'{f}={v!r}' for f, v in zip(fields, self))})",
            "_asdict": lambda self: dict(zip(fields, self)),
            "__reduce__": lambda self: (tuple, (tuple(self),)),  # pickled as a plain tuple (no importable class)
            "__copy__": lambda self: self,
            "__deepcopy__": lambda self, memo: type(self)(copy.deepcopy(tuple(self), memo)),
        }
        for index, field in enumerate(fields):  # namedtuple's own rule: identifiers, no keyword, no leading _
            if field.isidentifier() and not keyword.iskeyword(field) and not field.startswith("_"):
                namespace[field] = property(operator.itemgetter(index))
        _TUPLE_CLASSES[key] = type(name if name.isidentifier() else "RecordedTuple", (tuple,), namespace)
    return _TUPLE_CLASSES[key]
