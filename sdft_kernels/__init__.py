"""Loss kernels for sdft-local: the output projection fused with the loss, for torch and MLX.

With Qwen2-VL's vocabulary of 151,936 a 1,000-token dialogue has 0.6 GB of fp32 logits and as much
again for their gradient. The functions here compute per-position cross-entropy and forward
KL(p_base || p_tuned) straight from the hidden states and the projection weight, in chunks of
positions and of vocabulary, so the full logits never exist (the approach of Liger-Kernel and
Cut-Cross-Entropy). Each fused path has a plain full-logits reference beside it.

Owns: the public entry points, framework dispatch and the fused/reference switch. Does not own
the weighting of positions (callers gather the positions that count and weight the result) and
imports nothing from `sdft_local`: the package stands alone. torch and mlx are imported only when
an array of theirs is passed in.
"""

from sdft_kernels.api import IMPL_ENV, IMPLS, linear_cross_entropy, linear_kl
from sdft_kernels.probe import available

__all__ = ["IMPLS", "IMPL_ENV", "available", "linear_cross_entropy", "linear_kl"]
