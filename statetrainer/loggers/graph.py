"""A TensorBoard GraphDef built from a ``torch.jit.trace`` of the model (no ``tensorboard`` package needed).

tensorboardX's own ``add_graph`` imports ``torch.utils.tensorboard``, which needs the
``tensorboard`` package; statetrainer depends on tensorboardX only, so it builds the graph here.
Every traced operation becomes a node named after the submodule that ran it (``Net/enc/0/aten::linear_0``),
every parameter or buffer a ``Parameter`` node, inputs and outputs ``IO Node`` nodes; edges follow
the traced data flow and each node carries its output shape in ``_output_shapes``.
"""
from __future__ import annotations

import warnings
from typing import Any

import torch
from tensorboardX.proto.attr_value_pb2 import AttrValue
from tensorboardX.proto.graph_pb2 import GraphDef
from tensorboardX.proto.node_def_pb2 import NodeDef
from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboardX.proto.versions_pb2 import VersionDef

__all__ = ["graph_def"]

_SKIPPED = {"prim::Constant", "prim::GetAttr"}


def graph_def(model: torch.nn.Module, example: Any) -> GraphDef:
    """Trace `model` on `example` (a tensor or a tuple of positional arguments) and describe the trace."""
    args = example if isinstance(example, tuple) else (example,)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torch 2.x marks jit.trace deprecated; it works
            traced = torch.jit.trace(model, args, strict=False, check_trace=False)
    finally:
        model.train(was_training)
    return _build(type(model).__name__, traced.inlined_graph)


def _build(root: str, graph: Any) -> GraphDef:
    names: dict[str, str] = {}  # traced value name -> node name that produces it
    attr_paths: dict[str, str] = {}
    nodes: list[NodeDef] = []
    for position, value in enumerate(graph.inputs()):
        if position == 0 and value.type().kind() == "ClassType":  # `self`
            attr_paths[value.debugName()] = ""
            continue
        names[value.debugName()] = f"input/{value.debugName()}"
        nodes.append(_node(names[value.debugName()], "IO Node", [], value))
    for index, node in enumerate(graph.nodes()):
        if node.kind() == "prim::GetAttr":
            _record_attribute(root, node, attr_paths, names, nodes)
        elif node.kind() not in _SKIPPED:
            nodes.append(_op_node(root, index, node, names))
    for position, value in enumerate(graph.outputs()):
        source = names.get(value.debugName())
        nodes.append(_node(f"output/output.{position}", "IO Node", [source] if source else [], value))
    return GraphDef(node=nodes, versions=VersionDef(producer=22))


def _record_attribute(root: str, node: Any, attr_paths: dict, names: dict, nodes: list) -> None:
    owner = attr_paths.get(next(iter(node.inputs())).debugName())
    if owner is None:
        return
    out = node.output()
    path = f"{owner}/{node.s('name')}" if owner else node.s("name")
    if out.type().kind() == "TensorType":
        names[out.debugName()] = f"{root}/{path}"
        nodes.append(_node(f"{root}/{path}", "Parameter", [], out))
    else:
        attr_paths[out.debugName()] = path


def _op_node(root: str, index: int, node: Any, names: dict) -> NodeDef:
    scope = node.scopeName().split("/")[-1].replace("__module.", "").replace(".", "/")
    prefix = f"{root}/{scope}" if scope else root
    name = f"{prefix}/{node.kind()}_{index}"
    inputs = [names[value.debugName()] for value in node.inputs() if value.debugName() in names]
    outputs = list(node.outputs())
    for value in outputs:
        names[value.debugName()] = name
    return _node(name, node.kind(), inputs, outputs[0] if outputs else None)


def _node(name: str, op: str, inputs: list[str], value: Any) -> NodeDef:
    shape = TensorShapeProto()
    sizes = _sizes(value)
    for size in sizes or []:
        shape.dim.add(size=size)
    attr = {"_output_shapes": AttrValue(list=AttrValue.ListValue(shape=[shape]))} if sizes else {}
    return NodeDef(name=name, op=op, input=inputs, attr=attr)


def _sizes(value: Any) -> list[int] | None:
    if value is None or value.type().kind() != "TensorType":
        return None
    try:
        sizes = value.type().sizes()
    except RuntimeError:
        return None
    return list(sizes) if sizes is not None and all(s is not None for s in sizes) else None
