"""Availability probe: which frameworks and accelerators the kernels can use here.

Owns `available()`. Does not choose an implementation (that is `sdft_kernels.api`); it only
reports, importing a framework only when its package is installed.
"""

from __future__ import annotations

import importlib
import importlib.util
import os

from sdft_kernels.api import IMPL_ENV
from sdft_kernels.blas import openblas_preloaded


def available() -> dict:
    """What is present: torch, mlx, Metal, CUDA, Triton, and how mlx-cpu gets its BLAS."""
    torch_info, mlx_info = _torch_info(), _mlx_info()
    return {
        **torch_info,
        **mlx_info,
        "triton": torch_info["cuda"] and importlib.util.find_spec("triton") is not None,
        "impl_override": os.environ.get(IMPL_ENV) or None,
    }


def _torch_info() -> dict:
    if importlib.util.find_spec("torch") is None:
        return {"torch": False, "torch_version": None, "cuda": False, "mps": False}
    torch = importlib.import_module("torch")
    return {
        "torch": True,
        "torch_version": torch.__version__,
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
    }


def _mlx_info() -> dict:
    if importlib.util.find_spec("mlx") is None:
        return {"mlx": False, "mlx_version": None, "metal": False, "mlx_cpu_openblas": False}
    mx = importlib.import_module("mlx.core")
    metal = mx.metal.is_available()
    return {
        "mlx": True,
        "mlx_version": mx.__version__,
        "metal": metal,
        "mlx_cpu_openblas": (not metal) and openblas_preloaded(),
    }
