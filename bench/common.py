"""Shared by the benchmark scripts: data with a fallback, statistics, the machine line."""

from __future__ import annotations

import os
import platform
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED_DATA = ROOT.parent / "shared" / "data"


def machine() -> str:
    import torch

    return (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"torch {torch.__version__}, {torch.get_num_threads()} torch threads")


def summary(values: list[float], unit: str = "", scale: float = 1.0) -> str:
    """median [min..max] of ``values`` (multiplied by ``scale``)."""
    v = [x * scale for x in values]
    return f"median {statistics.median(v):.1f}{unit} [{min(v):.1f}..{max(v):.1f}] (n={len(v)})"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of ``values``."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * len(s)) - 1))]


def latency_lines(times: dict[str, list[float]]) -> str:
    """One line per measured thing: median, p95, min and max in ms."""
    width = max(map(len, times)) + 2
    return "\n".join(f"{name:<{width}} median {statistics.median(v):6.1f} ms   p95 {percentile(v, 95):6.1f} ms   "
                     f"min {min(v):6.1f}   max {max(v):6.1f}" for name, v in times.items())
