"""The numbers behind the tables: medians, ratios to the hand loop, the per-step / per-fit split.

No torch import (run.py stays light). A run is one worker result (worker.py) with "round", "case"
("model/data") and "key" ("contender@case") added by run.py; its long fit is at the top level and
its short fit under "short".
"""
from __future__ import annotations

import statistics

from report import TARGET_CASE, TARGETS


def key(contender: str, case: str) -> str:
    return f"{contender}@{case}"


def _quartiles(xs: list[float]) -> tuple[float, float]:
    if len(xs) < 2:
        return xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[2]


def _stats(xs: list[float]) -> dict:
    q1, q3 = _quartiles(xs)
    return {"median": statistics.median(xs), "q1": q1, "q3": q3, "min": min(xs), "max": max(xs)}


def per_step_us(run: dict, field: str) -> float:
    """The whole fit's time divided by its steps, in microseconds (the issue's 'us/step')."""
    return run[field] / run["steps"] * 1e6


def split(run: dict) -> tuple[float, float] | None:
    """(marginal CPU us per step, fixed CPU ms per fit) from one process's long and short fits.

    marginal = (T_long - T_short) / (steps_long - steps_short); fixed = T_short - steps_short * marginal.
    """
    short = run.get("short")
    if not short or short["steps"] >= run["steps"]:
        return None
    marginal = (run["cpu_s"] - short["cpu_s"]) / (run["steps"] - short["steps"])
    return marginal * 1e6, (short["cpu_s"] - short["steps"] * marginal) * 1e3


def _same_weights(run: dict, hand: dict) -> bool:
    """The long fit's weights equal the hand loop's (same round, same case), and so do the short fit's."""
    if run["digest"] != hand["digest"]:
        return False
    short, hand_short = run.get("short"), hand.get("short")
    return (short is None) == (hand_short is None) and (short is None or short["digest"] == hand_short["digest"])


def _one(mine: list[dict], hand: dict[int, dict]) -> dict:
    """One contender on one case: its own medians and its per-round comparisons with the hand loop."""
    first = mine[0]
    splits = [s for s in map(split, mine) if s is not None]
    return {
        "contender": first["contender"], "case": first["case"], "model": first["model"], "data": first["data"],
        "model_desc": first["model_desc"],
        "rounds": len(mine), "steps": first["steps"],
        "cpu": _stats([per_step_us(r, "cpu_s") for r in mine]), "wall": _stats([per_step_us(r, "wall_s") for r in mine]),
        "per_round_ratio_cpu": statistics.median(r["cpu_s"] / hand[r["round"]]["cpu_s"] for r in mine),
        "per_round_ratio_wall": statistics.median(r["wall_s"] / hand[r["round"]]["wall_s"] for r in mine),
        "marginal_us": statistics.median(s[0] for s in splits) if splits else None,
        "fixed_ms": statistics.median(s[1] for s in splits) if splits else None,
        "same_weights_as_hand": all(_same_weights(r, hand[r["round"]]) for r in mine),
        "val_loss": first["val_loss"],
    }


def _relative(s: dict, ref: dict) -> None:
    """Ratios and differences to the hand loop of the same case, and the target verdict."""
    s["ratio_cpu"] = s["cpu"]["median"] / ref["cpu"]["median"]
    s["ratio_wall"] = s["wall"]["median"] / ref["wall"]["median"]
    s["ratio_cpu_best"] = s["cpu"]["min"] / ref["cpu"]["min"]
    if s["marginal_us"] is not None and ref["marginal_us"]:
        s["ratio_marginal"] = s["marginal_us"] / ref["marginal_us"]
        s["extra_marginal_us"] = s["marginal_us"] - ref["marginal_us"]
        s["extra_fixed_ms"] = s["fixed_ms"] - ref["fixed_ms"]
    limit = TARGETS.get(s["contender"]) if s["case"] == TARGET_CASE else None
    s["target"] = None if limit is None else {"limit": limit, "met": s["ratio_cpu"] <= limit}


def summarize(runs: list[dict]) -> dict:
    """key -> summary of that contender on that case (in first-seen order)."""
    out = {}
    for k in dict.fromkeys(r["key"] for r in runs):
        mine = [r for r in runs if r["key"] == k]
        hand = {r["round"]: r for r in runs if r["key"] == key("hand", mine[0]["case"])}
        out[k] = _one(mine, hand)
    for s in out.values():
        _relative(s, out[key("hand", s["case"])])
    return out


def all_agree(summary: dict) -> bool:
    return all(s["same_weights_as_hand"] for s in summary.values())
