"""The safe recorded form: what is not plain data is written as plain records and read back without running code."""
from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime
import enum
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from statetrainer.checkpoint import io
from statetrainer.checkpoint.decoding import decode
from statetrainer.checkpoint.encoding import TAG, encode
from statetrainer.checkpoint.placeholder import Placeholder
from statetrainer.checkpoint.plain import is_plain
from statetrainer.errors import CheckpointError


class Mode(enum.Enum):
    TRAIN = "train"


class Level(enum.IntEnum):
    HIGH = 3


@dataclasses.dataclass
class Config:
    width: int = 4
    root: pathlib.Path = pathlib.Path("/data")


Point = collections.namedtuple("Point", "x y")


def _round_trip(tmp_path, value, warn: bool = False):
    path = tmp_path / "v.ckpt"
    if warn:
        with pytest.warns(UserWarning, match="as a description only"):
            io.save({"state_dict": {}, "value": value}, path)
    else:
        io.save({"state_dict": {}, "value": value}, path)
    assert is_plain(torch.load(path, weights_only=True))  # on disk: plain data, readable weights-only
    return io.load(path)["value"]


REBUILT = {
    "counter": collections.Counter("abca"),
    "defaultdict": collections.defaultdict(list, {"a": [1, 2]}),
    "ordered dict": collections.OrderedDict([("b", pathlib.Path("/b")), ("a", 1)]),
    "path": pathlib.Path("/runs/x"),
    "pure windows path": pathlib.PureWindowsPath("C:/runs/x"),
    "datetime": datetime.datetime(2025, 1, 2, 3, 4, 5, 6),
    "aware datetime": datetime.datetime(2025, 1, 2, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
    "date": datetime.date(2024, 2, 29),
    "time": datetime.time(23, 59, 1),
    "timedelta": datetime.timedelta(days=2, seconds=5, microseconds=7),
    "range": range(2, 11, 3),
    "namespace": argparse.Namespace(lr=0.1, root=pathlib.Path("/x")),
    "ndarray": np.arange(6, dtype=np.float32).reshape(2, 3),
    "int array": np.array([[1, 2]], dtype=np.int16),
    "text array": np.array(["a", "bcd"]),
    "numpy float": np.float64(0.25),
    "numpy int": np.int32(-3),
    "numpy bool": np.bool_(True),
    "empty bytes": b"",
    "frozenset": frozenset({1, 2}),
    "set of paths": {pathlib.Path("/a"), pathlib.Path("/b")},
    "tuple with a path": (1, pathlib.Path("/t")),
    "dict with path keys": {pathlib.Path("/k"): 1, (1, pathlib.Path("/j")): 2},
    "dict using the tag as a key": {TAG: "class", "type": "os.system", "repr": "x"},
}


@pytest.mark.parametrize("name", list(REBUILT))
def test_values_that_are_data_come_back_equal_and_of_the_same_type(tmp_path, name):
    value = REBUILT[name]
    loaded = _round_trip(tmp_path, value)
    assert type(loaded) is type(value)
    if isinstance(value, np.ndarray):
        assert loaded.dtype == value.dtype and loaded.shape == value.shape and (loaded == value).all()
    else:
        assert loaded == value


def test_a_namedtuple_comes_back_as_a_tuple_with_its_field_names(tmp_path):
    loaded = _round_trip(tmp_path, Point(1, pathlib.Path("/p")))
    assert loaded == (1, pathlib.Path("/p")) and isinstance(loaded, tuple)
    assert loaded.x == 1 and loaded._fields == ("x", "y") and repr(loaded) == "Point(x=1, y=PosixPath('/p'))"
    assert type(loaded).__module__ == "statetrainer.checkpoint.decoding"  # built here, not imported


def test_defaultdict_keeps_a_builtin_factory_and_drops_any_other(tmp_path):
    assert _round_trip(tmp_path, collections.defaultdict(int, a=1)).default_factory is int
    loaded = _round_trip(tmp_path, collections.defaultdict(lambda: 0, a=1), warn=True)
    assert loaded == {"a": 1} and loaded.default_factory is None


INERT = [
    ("class", nn.Linear, "torch.nn.modules.linear.Linear"),
    ("class", Config, f"{__name__}.Config"),
    ("function", nn.functional.relu, "torch.nn.functional.relu"),
    ("function", print, "builtins.print"),
    ("module", nn.MSELoss(), "torch.nn.modules.loss.MSELoss"),
    ("enum", Mode.TRAIN, f"{__name__}.Mode"),
    ("enum", Level.HIGH, f"{__name__}.Level"),
    ("dataclass", Config(), f"{__name__}.Config"),
    ("object", torch.Generator(), "torch._C.Generator"),
]


@pytest.mark.parametrize("kind, value, type_name", INERT, ids=[f"{k}-{t}" for k, _, t in INERT])
def test_values_only_code_could_rebuild_come_back_as_placeholders(tmp_path, kind, value, type_name):
    loaded = _round_trip(tmp_path, {"inner": [value]}, warn=True)["inner"][0]
    assert type(loaded) is Placeholder and (loaded.kind, loaded.type_name) == (kind, type_name)
    assert loaded.text == repr(value)


def test_placeholders_keep_what_is_safe_to_keep(tmp_path):
    enum_member, config = _round_trip(tmp_path, [Mode.TRAIN, Config(width=9)], warn=True)
    assert enum_member.details == {"name": "TRAIN", "value": "train"}
    assert enum_member.describe() == f"an Enum member ({__name__}.Mode.TRAIN)"
    assert config.details == {"fields": {"width": 9, "root": pathlib.Path("/data")}}


def test_a_placeholder_is_written_back_as_the_same_record(tmp_path):
    first = _round_trip(tmp_path, {"loss": nn.L1Loss()}, warn=True)
    assert _round_trip(tmp_path, first) == first  # and no warning: nothing new was lost


def test_the_warning_names_each_place_described(tmp_path):
    with pytest.warns(UserWarning) as record:
        io.save({"state_dict": {}, "callbacks": {"Cb": {"fn": len, "ok": pathlib.Path("/x")}},
                 "hyper_parameters": {"loss": nn.L1Loss()}}, tmp_path / "w.ckpt")
    assert [str(w.message) for w in record] == [
        "the checkpoint records checkpoint['callbacks']['Cb']['fn'] (a function (builtins.len)) as a description "
        "only: reading the file gives a statetrainer Placeholder there, not the object (nothing in a checkpoint is "
        "imported or called when it is read)."]  # hyper-parameters: save_hyperparameters has warned already


def test_plain_parts_are_not_copied_and_the_input_is_not_changed():
    weights = {"w": torch.zeros(2)}
    value = {"state_dict": weights, "p": [pathlib.Path("/x")]}
    encoded, described = encode(value)
    assert encoded["state_dict"] is weights and encoded is not value and described == []
    assert value["p"] == [pathlib.Path("/x")] and encoded["p"] == [{TAG: "path", "type": "PosixPath", "text": "/x"}]


def test_a_container_holding_itself_is_described_not_followed(tmp_path):
    loop: list = [1]
    loop.append(loop)
    loaded = _round_trip(tmp_path, loop, warn=True)
    assert loaded[0] == 1 and loaded[1].text == "<list holding itself>"


# ---------------------------------------------------------------- a file crafted to use the records


MALICIOUS = {
    "class os.system": {TAG: "class", "type": "os.system", "repr": "<function system>"},
    "function subprocess.call": {TAG: "function", "type": "subprocess.call", "repr": "call",
                                 "args": ["touch", "MARKER"]},
    "object with a reduce": {TAG: "object", "type": "posix.system", "repr": "x", "__reduce__": ["touch MARKER"]},
    "enum of an unimported module": {TAG: "enum", "type": "antigravity.Fly", "repr": "Fly.UP", "name": "UP",
                                     "value": {TAG: "class", "type": "this.s", "repr": "s"}},
    "module": {TAG: "module", "type": "webbrowser.open", "repr": "x"},
    "dataclass": {TAG: "dataclass", "type": "this.Zen", "repr": "Zen()", "fields": {"cmd": "touch MARKER"}},
    "namedtuple with dunder fields": {TAG: "namedtuple", "type": "os.system", "fields": ["__reduce__", "__class__"],
                                      "values": ["touch MARKER", "x"]},
    "unknown kind": {TAG: "import", "module": "this"},
    "not a text kind": {TAG: ["os", "system"]},
}


@pytest.mark.parametrize("name", list(MALICIOUS))
def test_records_naming_code_are_never_imported_or_called(tmp_path, name, monkeypatch):
    marker = tmp_path / "MARKER"
    monkeypatch.chdir(tmp_path)
    calls = []
    monkeypatch.setattr(subprocess, "call", lambda *a, **k: calls.append(a))
    named = {"antigravity", "this", "webbrowser"}  # modules the records name; importing one would show
    assert not named & set(sys.modules)
    torch.save({"state_dict": {}, "hp": MALICIOUS[name]}, tmp_path / "evil.ckpt")
    loaded = io.load(tmp_path / "evil.ckpt")["hp"]
    assert not marker.exists() and calls == [] and not named & set(sys.modules)
    if name == "namedtuple with dunder fields":
        assert loaded == ("touch MARKER", "x") and loaded.__class__ is type(loaded)
        assert not any(isinstance(item, property) for item in vars(type(loaded)).values())  # no field became one
    else:
        assert type(loaded) is Placeholder


def test_a_malicious_record_decodes_to_an_inert_description():
    loaded = decode({"x": dict(MALICIOUS["class os.system"])})["x"]
    assert (loaded.kind, loaded.type_name) == ("class", "os.system")
    with pytest.raises(TypeError):
        loaded()  # a placeholder cannot be called


@pytest.mark.parametrize("record, problem", [
    ({TAG: "datetime", "iso": 5}, r"'datetime' record \(TypeError: field 'iso' is a int, not str\)"),
    ({TAG: "mapping", "type": "dict", "items": [[[1], 2]]}, r"'mapping' record \(TypeError: unhashable type: 'list'\)"),
    ({TAG: "mapping", "type": "zipfile", "items": []},
     r"'mapping' record \(ValueError: field 'type' is 'zipfile'; known: \['Counter', 'OrderedDict', 'defaultdict', "
     r"'dict'\]\)"),
    ({TAG: "ndarray", "dtype": "O", "shape": [1], "data": [1]},
     r"'ndarray' record \(ValueError: dtype 'O' is not a numeric or text dtype\)"),
    ({TAG: "path", "type": "PosixPath"}, r"'path' record \(KeyError: \"no field 'text'\"\)"),
])
def test_malformed_records_are_a_checkpoint_error_naming_the_place(tmp_path, record, problem):
    torch.save({"state_dict": {}, "callbacks": {"Cb": {"when": record}}}, tmp_path / "bad.ckpt")
    with pytest.raises(CheckpointError, match=r"^checkpoint '.*bad.ckpt', entry \['callbacks'\]\['Cb'\]\['when'\] "
                                              r"holds a malformed " + problem + r"; the file was not written by "
                                              r"statetrainer or has been altered.$"):
        io.load(tmp_path / "bad.ckpt")


# ---------------------------------------------------------------- any mix of kinds


_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=4), st.binary(max_size=3),
    st.builds(pathlib.Path, st.sampled_from(["/a", "b/c", "."])),
    st.datetimes(), st.timedeltas(), st.dates(),
    st.builds(np.float32, st.floats(width=32, allow_nan=False)), st.builds(np.int64, st.integers(-5, 5)),
    st.just(TAG),
)
_keys = st.one_of(st.text(max_size=3), st.integers(), st.just(TAG), st.builds(pathlib.Path, st.just("/k")))
_values = st.recursive(_leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.tuples(inner, inner), st.dictionaries(_keys, inner, max_size=3),
    st.builds(collections.Counter, st.dictionaries(st.text(max_size=2), st.integers(), max_size=2)),
    st.builds(lambda d: collections.defaultdict(list, d), st.dictionaries(st.text(max_size=2), inner, max_size=2)),
    st.frozensets(st.integers(), max_size=3),
), max_leaves=10)


@settings(max_examples=60, deadline=None)
@given(_values)
def test_every_mix_of_data_kinds_round_trips_through_a_weights_only_file(value):
    import io as pyio
    encoded, described = encode({"v": value})
    assert described == [] and is_plain(encoded)
    buffer = pyio.BytesIO()
    torch.save(encoded, buffer)
    buffer.seek(0)
    assert decode(torch.load(buffer, weights_only=True))["v"] == value


def test_a_record_of_an_unknown_kind_stays_the_same_placeholder_when_written_again(tmp_path):
    torch.save({"state_dict": {}, "v": {TAG: "uuid", "hex": "12ab"}}, tmp_path / "new.ckpt")
    first = io.load(tmp_path / "new.ckpt")["v"]
    assert (first.kind, first.type_name) == ("unknown", "uuid") and "12ab" in first.text
    assert _round_trip(tmp_path, first) == first
