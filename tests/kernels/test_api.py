"""Entry points: impl switch and its environment override, dispatch, validation, probe."""

import numpy as np
import pytest
import torch

import sdft_kernels
from sdft_kernels.api import IMPL_ENV, resolve_impl
from sdft_kernels.blas import mlx_cpu_blas_env, openblas_preloaded


def _inputs(n=6, h=8, v=50):
    gen = torch.Generator().manual_seed(0)
    hidden = torch.randn(n, h, generator=gen, requires_grad=True)
    weight = torch.randn(v, h, generator=gen)
    return hidden, weight, torch.randint(0, v, (n,), generator=gen)


def test_auto_is_fused_and_env_overrides_only_auto(monkeypatch):
    monkeypatch.delenv(IMPL_ENV, raising=False)
    assert resolve_impl("auto") == "fused"
    monkeypatch.setenv(IMPL_ENV, "reference")
    assert resolve_impl("auto") == "reference"
    assert resolve_impl("fused") == "fused"
    monkeypatch.setenv(IMPL_ENV, "Fused ")
    assert resolve_impl("auto") == "fused"


def test_bad_impl_values_are_named(monkeypatch):
    with pytest.raises(ValueError, match="'fast'"):
        resolve_impl("fast")
    monkeypatch.setenv(IMPL_ENV, "triton")
    with pytest.raises(ValueError, match=IMPL_ENV):
        resolve_impl("auto")


@pytest.mark.parametrize(
    ("forced", "node"), [("fused", "LinearCrossEntropy"), ("reference", "Nll")]
)
def test_env_switch_picks_the_torch_path(monkeypatch, forced, node):
    monkeypatch.setenv(IMPL_ENV, forced)
    hidden, weight, targets = _inputs()
    ce = sdft_kernels.linear_cross_entropy(hidden, weight, targets)
    assert node in type(ce.grad_fn).__name__


def test_both_paths_agree_through_the_public_names():
    hidden, weight, targets = _inputs()
    base = hidden.detach() + 0.5
    for fn, args in ((sdft_kernels.linear_cross_entropy, (hidden, weight, targets)),
                     (sdft_kernels.linear_kl, (hidden, base, weight))):
        fused, ref = fn(*args, impl="fused", vocab_chunk=7), fn(*args, impl="reference")
        assert fused.dtype == ref.dtype == torch.float32
        torch.testing.assert_close(fused, ref, rtol=1e-5, atol=1e-5)


def test_unknown_framework_is_rejected():
    with pytest.raises(TypeError, match="numpy"):
        sdft_kernels.linear_cross_entropy(np.zeros((2, 3)), np.zeros((4, 3)), np.zeros(2, int))


@pytest.mark.parametrize(
    ("hidden_shape", "weight_shape", "targets", "match"),
    [
        ((4, 8), (50, 9), torch.zeros(4, dtype=torch.long), "hidden size 8"),
        ((4, 8, 1), (50, 8), torch.zeros(4, dtype=torch.long), "2-D"),
        ((4, 8), (50, 8), torch.zeros(5, dtype=torch.long), r"expected \(4,\)"),
        ((4, 8), (50, 8), torch.zeros(4), "integer token ids"),
    ],
)
def test_shape_and_dtype_errors_name_the_value(hidden_shape, weight_shape, targets, match):
    with pytest.raises((ValueError, TypeError), match=match):
        hidden, weight = torch.zeros(hidden_shape), torch.zeros(weight_shape)
        sdft_kernels.linear_cross_entropy(hidden, weight, targets)


def test_chunk_sizes_and_base_shape_are_checked():
    hidden, weight, targets = _inputs()
    with pytest.raises(ValueError, match="chunk_size=0"):
        sdft_kernels.linear_cross_entropy(hidden, weight, targets, chunk_size=0)
    with pytest.raises(ValueError, match="vocab_chunk=-1"):
        sdft_kernels.linear_kl(hidden, hidden, weight, vocab_chunk=-1)
    with pytest.raises(ValueError, match="base_hidden"):
        sdft_kernels.linear_kl(hidden, hidden[:2], weight)


def test_available_reports_what_is_installed():
    info = sdft_kernels.available()
    assert info["torch"] is True and info["torch_version"] == torch.__version__
    assert info["cuda"] == torch.cuda.is_available()
    assert info["triton"] is False or info["cuda"] is True
    assert info["mlx_cpu_openblas"] == (info["mlx"] and not info["metal"] and openblas_preloaded())


def test_openblas_env_prepends_the_library_once():
    env = mlx_cpu_blas_env({"LD_PRELOAD": "/x/libfoo.so"})
    if env is None:
        pytest.skip("no system OpenBLAS here (Debian: apt install libopenblas0-pthread)")
    first, *rest = env["LD_PRELOAD"].split()
    assert "libopenblas" in first and rest == ["/x/libfoo.so"]
    assert mlx_cpu_blas_env(env)["LD_PRELOAD"] == env["LD_PRELOAD"]
