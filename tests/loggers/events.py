"""Read TensorBoard event files back: TFRecord framing checked by CRC, records parsed as Event protobufs.

The same framing and protobufs TensorBoard reads (tensorboard's own reader is used in a separate
test when the ``tensorboard`` package is installed).
"""
from __future__ import annotations

import glob
import os
import struct

from tensorboardX.proto.event_pb2 import Event
from tensorboardX.proto.graph_pb2 import GraphDef
from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData
from tensorboardX.record_writer import masked_crc32c


def event_files(log_dir: str) -> list[str]:
    return sorted(glob.glob(os.path.join(log_dir, "events.out.tfevents.*")))


def read_records(path: str) -> list[bytes]:
    records = []
    with open(path, "rb") as handle:
        while header := handle.read(8):
            (length,) = struct.unpack("<Q", header)
            (header_crc,) = struct.unpack("<I", handle.read(4))
            assert header_crc == masked_crc32c(header), f"bad length CRC in {path}"
            data = handle.read(length)
            (data_crc,) = struct.unpack("<I", handle.read(4))
            assert data_crc == masked_crc32c(data), f"bad data CRC in {path}"
            records.append(data)
    return records


def read_events(log_dir: str) -> list[Event]:
    events = []
    for path in event_files(log_dir):
        for record in read_records(path):
            event = Event()
            event.ParseFromString(record)
            events.append(event)
    return events


def scalars(log_dir: str) -> dict[str, list[tuple[int, float]]]:
    """tag -> [(step, value), ...] in file order."""
    found: dict[str, list[tuple[int, float]]] = {}
    for event in read_events(log_dir):
        for value in event.summary.value:
            if value.HasField("simple_value"):
                found.setdefault(value.tag, []).append((event.step, value.simple_value))
    return found


def hparams_plugin(log_dir: str) -> dict[str, HParamsPluginData]:
    """tag (``_hparams_/...``) -> the parsed hparams plugin content."""
    found = {}
    for event in read_events(log_dir):
        for value in event.summary.value:
            if value.metadata.plugin_data.plugin_name == "hparams":
                data = HParamsPluginData()
                data.ParseFromString(value.metadata.plugin_data.content)
                found[value.tag] = data
    return found


def graphs(log_dir: str) -> list[GraphDef]:
    found = []
    for event in read_events(log_dir):
        if event.graph_def:
            graph = GraphDef()
            graph.ParseFromString(event.graph_def)
            found.append(graph)
    return found
