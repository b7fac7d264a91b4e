"""Shared by the scripts the distributed tests start: flags, results files, a start line without torch.distributed."""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def parse(extra=()) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--mode", default="")
    parser.add_argument("--strategy", default="ddp")
    parser.add_argument("--devices", default="2")
    parser.add_argument("--num-nodes", type=int, default=1)
    parser.add_argument("--env", default="auto", choices=("auto", "custom"))
    parser.add_argument("--accelerator", default="cpu")
    for name in extra:
        parser.add_argument(name)
    args = parser.parse_args()
    args.devices = int(args.devices) if args.devices.isdigit() else args.devices
    return args


def write(out: str, name: str, data: dict) -> None:
    path = Path(out) / f"{name}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def wait_for_files(paths: list[Path], limit_s: float = 60.0) -> None:
    """Block until every path exists (a start line for ranks that must begin together)."""
    deadline = time.monotonic() + limit_s
    while not all(p.exists() for p in paths):
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {limit_s}s for {paths}")
        time.sleep(0.05)


def start_line(out: str, rank: int, world: int) -> None:
    Path(out, f"ready{rank}").touch()
    wait_for_files([Path(out, f"ready{r}") for r in range(world)])
