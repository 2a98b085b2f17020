"""OpenBLAS for mlx-cpu on Linux: find the library and build the environment that preloads it.

The Linux mlx-cpu wheel links the netlib reference BLAS (about 6 GFLOP/s here). Preloading a
system OpenBLAS (Debian: libopenblas0-pthread) makes its `cblas_sgemm` win symbol resolution,
about 30x faster, with no change to MLX itself. The preload must be in place when the process
starts: this module finds the library, builds the environment for a child process, and lets a
benchmark script restart itself with it (`reexec_with_openblas`); library code never calls that.
Does not own any kernel.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
    "/usr/lib64/libopenblas.so.0",
    "/usr/lib/libopenblas.so.0",
)


def find_openblas() -> str | None:
    """Path of a system OpenBLAS shared library, or None (always None off Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    return next((path for path in _CANDIDATES if Path(path).is_file()), None)


def openblas_preloaded() -> bool:
    """True when this process was started with a system OpenBLAS in LD_PRELOAD."""
    preload = os.environ.get("LD_PRELOAD", "")
    return any("libopenblas" in Path(item).name for item in preload.replace(":", " ").split())


def mlx_cpu_blas_env(base: dict[str, str] | None = None) -> dict[str, str] | None:
    """A copy of `base` (default: os.environ) that preloads OpenBLAS, or None if none is found."""
    path = find_openblas()
    if path is None:
        return None
    env = dict(os.environ if base is None else base)
    items = [item for item in env.get("LD_PRELOAD", "").split() if item]
    if path not in items:
        env["LD_PRELOAD"] = " ".join([path, *items])
    return env


REEXEC_FLAG = "SDFT_REEXECUTED_WITH_OPENBLAS"


def reexec_with_openblas() -> None:
    """Restart this script with OpenBLAS preloaded (children inherit it), once, when it exists.

    For entry points that measure MLX on Linux CPU (benchmarks); a library never calls this.
    """
    if openblas_preloaded() or os.environ.get(REEXEC_FLAG):
        return
    env = mlx_cpu_blas_env()
    if env is not None:
        env[REEXEC_FLAG] = "1"
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
