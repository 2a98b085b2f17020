"""The torch student: transformers' Qwen2-VL with a PEFT LoRA on the language model.

Owns loading for training (device auto: cuda, mps, cpu; bf16 on CUDA), attaching LoRA to the
chosen projections with the canonical initialization, the forward that takes cached image
features and stops at the final norm, the step (CE at counted positions only, optional SelfAug
with the adapter switched off for the base pass), AdamW with clipping, and conversion of LoRA /
optimizer / RNG state to and from canonical numpy. Adapters are saved in PEFT's format.
It does not order data, schedule, or checkpoint (see `loop.py`).
"""

from __future__ import annotations

import math
import resource
import sys
import warnings
from pathlib import Path

import numpy as np

from ..errors import TrainingError
from .config import TrainConfig
from .lora import canonical_key, starting_lora, target_shapes
from .losses import objective, token_ce

# SelfAug's base-model hidden states at an example's KL positions never change during a run (the
# base is frozen, image features are cached): kept per example up to this many bytes, they save
# the base forward (about 30% of a step) in every epoch after the first.
BASE_CACHE_BYTES = 512 * 2**20


class TorchStudent:
    backend = "torch"

    def __init__(self, model_path: str | Path, config: TrainConfig, *, init: dict | None = None):
        import torch

        from ..models.loaders import pick_device

        self.config, self.torch = config, torch
        torch.manual_seed(config.seed)  # LoRA dropout draws from the global generator
        self.device = pick_device(config.device)
        base, self.processor, self.model = _load(model_path, config, self.device)
        self.lm, self.visual = base.model.language_model, base.model.visual
        self.out_weight = base.get_output_embeddings().weight
        self.modules = _lora_modules(self.model)
        self.text_config = base.config.text_config.to_dict()
        shapes = target_shapes(self.text_config, config.lora_targets)
        self.set_lora_arrays(starting_lora(shapes, config.lora_rank, config.seed, init))
        self.params = [p for _, p in self._named_params()]
        self.optimizer = torch.optim.AdamW(
            self.params, lr=config.learning_rate, betas=config.adam_betas, eps=config.adam_eps,
            weight_decay=config.weight_decay)
        if config.grad_checkpoint:
            base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        self.model.train()
        self._base_cache: dict[int, object] = {}  # dataset index -> base hidden at its KL positions
        self._base_cache_bytes = 0

    # -- forward -------------------------------------------------------------------------------

    def image_features(self, pixel_values: np.ndarray, grid_thw: np.ndarray):
        torch = self.torch
        with torch.no_grad():
            pixels = torch.from_numpy(pixel_values).to(self.device, self.visual.dtype)
            grid = torch.from_numpy(np.asarray(grid_thw).reshape(1, 3)).to(self.device)
            return self.visual(pixels, grid_thw=grid).pooler_output.to(self.out_weight.dtype)

    def join_features(self, features: list):
        return self.torch.cat(features, 0) if features else None

    def _hidden(self, batch, features):
        torch = self.torch
        ids = torch.from_numpy(batch.input_ids).to(self.device, torch.long)
        embeds = self.lm.embed_tokens(ids)
        hidden_size = embeds.shape[-1]
        if features is not None:
            flat = embeds.reshape(-1, hidden_size).clone()
            flat[torch.from_numpy(batch.image_index).to(self.device)] = features.to(flat.dtype)
            embeds = flat.view_as(embeds)
        positions = torch.from_numpy(batch.position_ids).to(self.device, torch.long)
        out = self.lm(inputs_embeds=embeds, position_ids=positions, use_cache=False)
        return out.last_hidden_state.reshape(-1, hidden_size)

    def _base_hidden(self, batch, features):
        with self.model.disable_adapter(), self.torch.no_grad():
            return self._hidden(batch, features)

    def _base_at_kl(self, batch, features, kl_idx):
        """The base model's hidden states at `batch.kl_index`, from the per-example cache when
        every row is there, else from a base forward (whose rows are then cached)."""
        cache = self._base_cache
        if all(i in cache for i in batch.indices):
            return self.torch.cat([cache[i] for i in batch.indices])
        base = self._base_hidden(batch, features)[kl_idx]
        counts = np.bincount(batch.kl_index // batch.shape[1], minlength=len(batch.indices))
        for i, rows in zip(batch.indices, self.torch.split(base, counts.tolist())):
            size = rows.numel() * rows.element_size()
            if i not in cache and self._base_cache_bytes + size <= BASE_CACHE_BYTES:
                cache[i] = rows.clone()
                self._base_cache_bytes += size
        return base

    def _index(self, array: np.ndarray):
        return self.torch.from_numpy(array).to(self.device)

    # -- steps ---------------------------------------------------------------------------------

    def micro_step(self, batch, features, total_weight: float, total_kl: int):
        """Backward of this micro-batch's share of the step objective; returns (CE per position, Σ KL)."""
        hidden = self._hidden(batch, features)
        kl_idx = base = None
        if self.config.selfaug and batch.kl_index.size:
            kl_idx = self._index(batch.kl_index)
            base = self._base_at_kl(batch, features, kl_idx)
        loss, ce, kl_sum = objective(
            hidden, self.out_weight, self._index(batch.ce_index), self._index(batch.ce_targets).long(),
            self._index(batch.ce_weights), total_weight, base_hidden=base, kl_index=kl_idx,
            selfaug=self.config.selfaug, total_kl=total_kl, impl=self.config.kernel_impl)
        loss.backward()
        return ce.detach().float().cpu().numpy(), 0.0 if kl_sum is None else float(kl_sum.detach())

    def eval_batch(self, batch, features) -> np.ndarray:
        self.model.eval()
        try:
            with self.torch.no_grad():
                hidden = self._hidden(batch, features)
                ce = token_ce(hidden[self._index(batch.ce_index)], self.out_weight,
                              self._index(batch.ce_targets).long(), self.config.kernel_impl)
            return ce.float().cpu().numpy()
        finally:
            self.model.train()

    def apply_update(self, lr: float) -> float:
        """Clip, then step AdamW at `lr`; returns the pre-clip gradient norm. A non-finite norm
        leaves the weights untouched (the caller stops the run)."""
        max_norm = self.config.grad_clip or math.inf
        norm = float(self.torch.nn.utils.clip_grad_norm_(self.params, max_norm))
        if math.isfinite(norm):
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return norm

    def discard_grads(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)

    # -- state as canonical numpy ----------------------------------------------------------------

    def _named_params(self):
        for key, module in self.modules.items():
            yield f"{key}.lora_A", module.lora_A["default"].weight
            yield f"{key}.lora_B", module.lora_B["default"].weight

    def lora_arrays(self) -> dict[str, np.ndarray]:
        return {k: p.detach().float().cpu().numpy().copy() for k, p in self._named_params()}

    def set_lora_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        with self.torch.no_grad():
            for key, param in self._named_params():
                param.copy_(self.torch.from_numpy(np.asarray(arrays[key])).to(param))

    def optimizer_arrays(self) -> tuple[dict[str, np.ndarray], int]:
        out, step = {}, 0
        for key, param in self._named_params():
            state = self.optimizer.state.get(param)
            if state:
                out[f"{key}.m"] = state["exp_avg"].float().cpu().numpy().copy()
                out[f"{key}.v"] = state["exp_avg_sq"].float().cpu().numpy().copy()
                step = int(state["step"])
        return out, step

    def set_optimizer_arrays(self, arrays: dict[str, np.ndarray], step: int) -> None:
        torch = self.torch
        for key, param in self._named_params():
            if f"{key}.m" in arrays:
                self.optimizer.state[param] = {
                    "step": torch.tensor(float(step)),
                    "exp_avg": torch.from_numpy(arrays[f"{key}.m"]).to(param),
                    "exp_avg_sq": torch.from_numpy(arrays[f"{key}.v"]).to(param),
                }

    def rng_state(self) -> dict[str, np.ndarray]:
        state = {"torch_cpu": self.torch.get_rng_state().numpy().copy()}
        if self.device.startswith("cuda"):
            state["torch_cuda"] = self.torch.cuda.get_rng_state().numpy().copy()
        return state

    def set_rng_state(self, state: dict[str, np.ndarray]) -> None:
        self.torch.set_rng_state(self.torch.from_numpy(state["torch_cpu"]))
        if "torch_cuda" in state and self.device.startswith("cuda"):
            self.torch.cuda.set_rng_state(self.torch.from_numpy(state["torch_cuda"]))

    def save_adapter(self, folder: Path) -> None:
        """PEFT format: adapter_model.safetensors + adapter_config.json."""
        self.model.save_pretrained(str(folder), safe_serialization=True)

    def peak_memory_mb(self) -> float:
        if self.device.startswith("cuda"):
            return self.torch.cuda.max_memory_allocated() / 2**20
        return peak_rss_mb()

    @staticmethod
    def is_oom(err: BaseException) -> bool:
        return "out of memory" in str(err).lower() or type(err).__name__ == "OutOfMemoryError"


def _load(model_path, config: TrainConfig, device: str):
    """(base model, processor, the same model wrapped by PEFT with LoRA on the chosen projections)."""
    from peft import LoraConfig, get_peft_model

    from ..models.loaders import load_torch_student

    base, processor = load_torch_student(model_path, device=device, dtype=train_dtype(device, config.dtype))
    lora = LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=_target_regex(config.lora_targets), bias="none")
    with warnings.catch_warnings():  # peft still asks transformers the deprecated way
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return base, processor, get_peft_model(base, lora)


def train_dtype(device: str, dtype: str) -> str:
    """bf16 where the device computes it natively (CUDA with bf16), else fp32. MPS stays fp32 by
    default: its fp16 would need loss scaling and its bf16 support depends on the macOS version."""
    import torch

    if dtype != "auto":
        return dtype
    if device.startswith("cuda") and torch.cuda.is_bf16_supported():
        return "bfloat16"
    return "float32"


def peak_rss_mb() -> float:
    """This process's peak resident memory (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _target_regex(targets) -> str:
    return rf".*language_model\.layers\.\d+\.(self_attn|mlp)\.({'|'.join(targets)})"


def _lora_modules(model) -> dict:
    found = {}
    for name, module in model.named_modules():
        if hasattr(module, "lora_A") and "language_model.layers." in name:
            tail = name.split("language_model.layers.", 1)[1].split(".")
            found[canonical_key(int(tail[0]), tail[2])] = module
    if not found:
        raise TrainingError("no LoRA layers were attached; the model is not a Qwen2-VL language model")
    return dict(sorted(found.items()))
