"""Shared settings for the kernel tests: the `slow` marker, one torch thread for small shapes."""

import sys

import pytest


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "slow: real Qwen2-VL-2B head dimensions (seconds each); deselect with -m 'not slow'",
    )


@pytest.fixture(autouse=True)
def _small_shapes_single_threaded(request):
    """Small-shape tests run thousands of tiny ops; with two threads each op pays a thread
    barrier, which on a shared 2-core machine costs more than the op (measured: 2x slower)."""
    torch = sys.modules.get("torch")
    if torch is None or request.node.get_closest_marker("slow"):
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
