"""Backend-neutral LoRA bookkeeping: names, initialization and the student protocol.

Both backends expose their LoRA weights in one canonical form — key `layers.{i}.{block}.{proj}`,
`lora_A` (r, in) and `lora_B` (out, r), PEFT's orientation — so that they start from identical
weights for the same seed, checkpoints are framework-neutral numpy, and equivalence tests can
move weights between them. `lora_A` is drawn like PEFT and mlx-vlm do (uniform ±1/√in, the
Kaiming-uniform bound both use), `lora_B` starts at zero, so a fresh adapter changes nothing.
It does not touch any framework.
"""

from __future__ import annotations

import zlib
from typing import Protocol, Sequence

import numpy as np

from ..errors import TrainingError

BLOCK_OF = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn",
            "o_proj": "self_attn", "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp"}


def canonical_key(layer: int, proj: str) -> str:
    return f"layers.{layer}.{BLOCK_OF[proj]}.{proj}"


def target_shapes(text_config: dict, targets: Sequence[str]) -> dict[str, tuple[int, int]]:
    """(in, out) of every adapted projection, from the language model's config."""
    h, inter = text_config["hidden_size"], text_config["intermediate_size"]
    kv = text_config["num_key_value_heads"] * (h // text_config["num_attention_heads"])
    dims = {"q_proj": (h, h), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (h, h),
            "gate_proj": (h, inter), "up_proj": (h, inter), "down_proj": (inter, h)}
    return {canonical_key(i, p): dims[p]
            for i in range(text_config["num_hidden_layers"]) for p in targets}


def init_lora(shapes: dict[str, tuple[int, int]], rank: int, seed: int) -> dict[str, np.ndarray]:
    """Fresh canonical LoRA weights: each key draws from its own stream, so order never matters."""
    out = {}
    for key, (fan_in, fan_out) in shapes.items():
        rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
        bound = 1.0 / np.sqrt(fan_in)
        out[f"{key}.lora_A"] = rng.uniform(-bound, bound, (rank, fan_in)).astype(np.float32)
        out[f"{key}.lora_B"] = np.zeros((fan_out, rank), np.float32)
    return out


def starting_lora(shapes: dict[str, tuple[int, int]], rank: int, seed: int,
                  init: dict[str, np.ndarray] | None = None, source: str = "the starting adapter") -> dict[str, np.ndarray]:
    """`init` when it fits this model, rank and targets exactly; a fresh `init_lora` when None."""
    fresh = init_lora(shapes, rank, seed)
    if init is None:
        return fresh
    missing = sorted(set(fresh) - set(init))
    extra = sorted(set(init) - set(fresh))
    wrong = [k for k in fresh if k in init and tuple(init[k].shape) != fresh[k].shape]
    if missing or extra or wrong:
        detail = (f"it lacks {missing[0]}" if missing else f"it has {extra[0]}, not a target here" if extra else
                  f"{wrong[0]} is {tuple(init[wrong[0]].shape)}, this run needs {fresh[wrong[0]].shape}")
        raise TrainingError(f"{source} does not fit this run's LoRA (rank {rank}, {len(shapes)} projections): "
                            f"{detail}; train with the adapter's own rank and targets")
    return {k: np.asarray(init[k], np.float32) for k in fresh}


class TrainableStudent(Protocol):
    """What the training loop needs from a backend (torch or MLX)."""

    backend: str
    processor: object

    def image_features(self, pixel_values: np.ndarray, grid_thw: np.ndarray): ...
    def join_features(self, features: list): ...
    def micro_step(self, batch, features, total_weight: float, total_kl: int) -> tuple[np.ndarray, float]: ...
    def eval_batch(self, batch, features) -> np.ndarray: ...
    def apply_update(self, lr: float) -> float: ...
    def discard_grads(self) -> None: ...
    def lora_arrays(self) -> dict[str, np.ndarray]: ...
    def set_lora_arrays(self, arrays: dict[str, np.ndarray]) -> None: ...
    def optimizer_arrays(self) -> tuple[dict[str, np.ndarray], int]: ...
    def set_optimizer_arrays(self, arrays: dict[str, np.ndarray], step: int) -> None: ...
    def rng_state(self) -> dict[str, np.ndarray]: ...
    def set_rng_state(self, state: dict[str, np.ndarray]) -> None: ...
    def save_adapter(self, folder) -> None: ...
    def peak_memory_mb(self) -> float: ...
    def is_oom(self, err: BaseException) -> bool: ...
