"""Warm-up, repeated runs, and the figures reported for them (median, p95, mean, min, max).

A path and its floor are timed in alternation (path, floor, path, floor, ...) after their
warm-ups, so that both see the same caches, the same database size and the same machine load.
"""
from __future__ import annotations

import gc
import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable


@dataclass
class Stats:
    n: int
    median_ms: float
    p95_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float
    cpu_median_ms: float | None = None  # this process's CPU time: steadier than wall time on a busy machine

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def percentile(sorted_values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        return math.nan
    k = (len(sorted_values) - 1) * p
    lo, hi = math.floor(k), math.ceil(k)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def stats(samples_s: list[float], cpu_s: list[float] | None = None) -> Stats:
    ms = sorted(s * 1000 for s in samples_s)
    cpu = percentile(sorted(c * 1000 for c in cpu_s), 0.5) if cpu_s else None
    return Stats(len(ms), percentile(ms, 0.5), percentile(ms, 0.95), sum(ms) / len(ms), ms[0], ms[-1], cpu)


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds of this process, result)."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, time.process_time() - c0, out


def measure_pair(path: Callable[[], Any], floor: Callable[[], Any] | None, repeat: int, warmup: int,
                 budget_s: float = math.inf, min_runs: int = 5,
                 before: Callable[[], Any] | None = None) -> tuple[Stats, Stats | None]:
    """``repeat`` timed runs of each, or fewer (never under ``min_runs``) once ``budget_s`` is spent:
    a path that takes seconds at district scale must not hold the whole run for an hour."""
    before = before or (lambda: None)  # untimed set-up before every call (e.g. undo the last publication)
    for _ in range(warmup):
        before()
        path()
        if floor is not None:
            before()
            floor()
    gc.collect()
    a: list[float] = []
    a_cpu: list[float] = []
    b: list[float] = []
    b_cpu: list[float] = []
    t0 = time.perf_counter()
    for i in range(repeat):
        if i >= min_runs and time.perf_counter() - t0 > budget_s:
            break
        before()
        wall, cpu, _ = timed(path)
        a.append(wall)
        a_cpu.append(cpu)
        if floor is not None:
            before()
            wall, cpu, _ = timed(floor)
            b.append(wall)
            b_cpu.append(cpu)
    return stats(a, a_cpu), (stats(b, b_cpu) if floor is not None else None)
