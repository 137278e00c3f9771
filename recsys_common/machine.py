"""Machine description recorded with every benchmark and evaluation result."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

_CPUINFO = Path("/proc/cpuinfo")
_MEMINFO = Path("/proc/meminfo")
_KIB = 1024


def _cpu_model() -> str:
    if _CPUINFO.exists():
        for line in _CPUINFO.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    if _MEMINFO.exists():
        for line in _MEMINFO.read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) * _KIB / 2**30, 1)
    return float("nan")


def machine_info() -> dict[str, object]:
    """CPU model, cores, memory, OS and Python version, the UTC date of the measurement and the load
    average (1, 5, 15 minutes) when it was taken: the machine is shared."""
    return {
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
    }
