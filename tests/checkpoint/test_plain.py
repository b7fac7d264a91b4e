"""check_plain accepts exactly what torch.load(weights_only=True) reads back, and names what it refuses."""
from __future__ import annotations

import collections
import enum
import io as pyio

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from statetrainer.checkpoint.plain import check_plain, is_plain
from statetrainer.errors import CheckpointError


class _Colour(enum.Enum):
    RED = 1


_Point = collections.namedtuple("_Point", "x y")


def _weights_only_round_trip(value) -> bool:
    buffer = pyio.BytesIO()
    torch.save(value, buffer)
    buffer.seek(0)
    try:
        torch.load(buffer, weights_only=True)
    except Exception:
        return False
    return True


_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=5), st.binary(max_size=5),
    st.just(torch.zeros(2)), st.just(torch.nn.Parameter(torch.ones(1))), st.just(torch.float16),
    st.just(torch.device("cpu")), st.just(torch.Size([2, 3])),
    # refused kinds, each of which a weights-only read cannot rebuild
    st.just(np.zeros(2)), st.just(_Colour.RED), st.just(_Point(1, 2)), st.just(frozenset({1})),
    st.just(collections.defaultdict(int)), st.just(range(2)), st.just(slice(1, 2)),
)
_values = st.recursive(_leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.tuples(inner, inner),
    st.dictionaries(st.one_of(st.text(max_size=3), st.integers()), inner, max_size=3),
    st.builds(collections.OrderedDict, st.dictionaries(st.text(max_size=3), inner, max_size=2)),
    st.builds(collections.Counter, st.dictionaries(st.integers(), inner, max_size=2)),
), max_leaves=8)


@settings(max_examples=150, deadline=None)
@given(_values)
def test_check_plain_agrees_with_a_weights_only_round_trip(value):
    assert is_plain(value) == _weights_only_round_trip(value)


@pytest.mark.parametrize("value, where, kind", [
    ({"a": {"b": [1, np.float64(2.0)]}}, "ckpt['a']['b'][1]", "numpy.float64"),
    ({"reason": _Colour.RED}, "ckpt['reason']", f"{__name__}._Colour"),
    ({"hp": collections.defaultdict(list)}, "ckpt['hp']", "collections.defaultdict"),
    ({_Point(1, 2): 3}, "ckpt key _Point(x=1, y=2)", f"{__name__}._Point"),
    ({"f": print}, "ckpt['f']", "builtins.builtin_function_or_method"),
])
def test_refusal_names_the_place_and_the_type(value, where, kind):
    with pytest.raises(CheckpointError) as info:
        check_plain(value, "ckpt")
    assert str(info.value).startswith(f"{where} holds a {kind}, which a weights-only checkpoint cannot store")


def test_a_container_holding_itself_is_refused():
    loop = [1]
    loop.append(loop)
    with pytest.raises(CheckpointError, match=r"^ckpt\[1\] holds a builtins.list"):
        check_plain(loop, "ckpt")


def test_shared_sub_containers_are_fine():
    shared = {"lr": 0.1}
    check_plain({"a": shared, "b": shared, "t": (shared, shared)}, "ckpt")
