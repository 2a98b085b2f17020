"""Resident-memory helpers the benchmarks share (Linux /proc): the peak a block of work adds."""

from __future__ import annotations

from pathlib import Path


def mb(nbytes: int) -> float:
    return round(nbytes / 2**20, 1)


def status_bytes(field: str) -> int:
    """A `/proc/self/status` size field (VmRSS, VmHWM, ...) in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} missing from /proc/self/status")


def reset_peak() -> int:
    """Reset the high-water mark to the current resident size and return that size."""
    Path("/proc/self/clear_refs").write_text("5")
    return status_bytes("VmRSS")
