"""The MLX student: mlx-vlm's Qwen2-VL classes with mlx-vlm's LoRA layers, our own step and loss.

mlx-vlm's trainer casts its loss mask to bool, so per-turn float weights need our own loop; its
model classes, LoRA layers (`LoRALinear`, also over `QuantizedLinear` for QLoRA) and adapter
format are reused. Owns attaching LoRA with the canonical initialization, optional quantization of
a float base (QLoRA), per-instance gradient checkpointing, the forward from cached image features
to the final norm, the (optionally compiled) step with CE at counted positions only and SelfAug
with LoRA scaled to zero for the base pass, AdamW with bias correction (torch's AdamW exactly),
and canonical numpy state. Adapters are saved as `adapters.safetensors` + `adapter_config.json`.
It does not order data, schedule, or checkpoint (see `loop.py`).
"""

from __future__ import annotations

import json
import math
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import TrainingError
from ..models.processor import read_model_config
from .config import TrainConfig
from .lora import canonical_key, starting_lora, target_shapes
from .losses import objective, token_ce

LM_PREFIX = "language_model.model."
QUANT_GROUP = 64


class MlxStudent:
    backend = "mlx"

    def __init__(self, model_path: str | Path, config: TrainConfig, *, init: dict | None = None):
        import mlx.core as mx
        import mlx.optimizers as optim

        self.config, self.mx = config, mx
        mx.random.seed(config.seed)  # LoRA dropout draws from the global key
        self.model, self.processor, self.text_config = _load(model_path, config)
        self.lm = self.model.language_model
        self.out_weight = _output_weight(self.lm)
        shapes = target_shapes(self.text_config, config.lora_targets)
        self.set_lora_arrays(starting_lora(shapes, config.lora_rank, config.seed, init))
        if config.grad_checkpoint:
            checkpoint_layers(self.lm.model.layers)
        self.optimizer = optim.AdamW(
            learning_rate=config.learning_rate, betas=list(config.adam_betas), eps=config.adam_eps,
            weight_decay=config.weight_decay, bias_correction=True)
        self.model.train()
        self._grads = None
        self._step_fn = self._make_step()

    # -- forward -------------------------------------------------------------------------------

    def image_features(self, pixel_values: np.ndarray, grid_thw: np.ndarray):
        mx = self.mx
        tower = self.model.vision_tower
        pixels = mx.array(pixel_values).astype(tower.patch_embed.proj.weight.dtype)
        features = tower(pixels, mx.array(np.asarray(grid_thw).reshape(1, 3)), output_hidden_states=False)
        features = mx.stop_gradient(features.astype(self.out_weight.dtype))
        mx.eval(features)
        return features

    def join_features(self, features: list):
        return self.mx.concatenate(features, 0) if features else None

    def _hidden(self, ids, positions, image_index, features):
        embeds = self.lm.model.embed_tokens(ids)
        batch, length, hidden_size = embeds.shape
        if features is not None:
            flat = embeds.reshape(batch * length, hidden_size)
            flat[image_index] = features.astype(flat.dtype)
            embeds = flat.reshape(batch, length, hidden_size)
        out = self.lm.model(ids, inputs_embeds=embeds, position_ids=positions)
        return out.reshape(batch * length, hidden_size)

    def _base_hidden(self, arrays, features):
        with lora_disabled(self.model):
            hidden = self._hidden(arrays["ids"], arrays["pos"], arrays["img"], features)
        return self.mx.stop_gradient(hidden[arrays["kl"]])

    def _arrays(self, batch) -> dict:
        mx = self.mx
        return {"ids": mx.array(batch.input_ids), "pos": mx.array(batch.position_ids),
                "img": mx.array(batch.image_index.astype(np.int32)),
                "ce": mx.array(batch.ce_index.astype(np.int32)), "tgt": mx.array(batch.ce_targets),
                "w": mx.array(batch.ce_weights), "kl": mx.array(batch.kl_index.astype(np.int32))}

    def _loss(self, arrays, features, base, total_weight, total_kl):
        hidden = self._hidden(arrays["ids"], arrays["pos"], arrays["img"], features)
        loss, ce, kl_sum = objective(hidden, self.out_weight, arrays["ce"], arrays["tgt"], arrays["w"], total_weight,
                                     base_hidden=base, kl_index=arrays["kl"], selfaug=self.config.selfaug,
                                     total_kl=total_kl, impl=self.config.kernel_impl)
        return loss, ce, self.mx.array(0.0) if kl_sum is None else kl_sum

    def _make_step(self):
        import mlx.nn as nn

        def loss_fn(arrays, features, base, total_weight, total_kl):
            return self._loss(arrays, features, base, total_weight, total_kl)

        step = nn.value_and_grad(self.model, loss_fn)
        compile_step = self.config.compile
        if compile_step is None:
            compile_step = self.mx.metal.is_available()
        if not compile_step:
            return step
        # One trace per batch shape. The model is state (value_and_grad swaps its parameters in
        # and out) and so is the global key that LoRA dropout draws from.
        state = [self.model.state, self.mx.random.state]
        return self.mx.compile(step, inputs=state, outputs=state)

    # -- steps ---------------------------------------------------------------------------------

    def micro_step(self, batch, features, total_weight: float, total_kl: int):
        from mlx.utils import tree_map

        mx = self.mx
        arrays = self._arrays(batch)
        base = None
        if self.config.selfaug and batch.kl_index.size:
            base = self._base_hidden(arrays, features)
        (_, ce, kl_sum), grads = self._step_fn(
            arrays, features, base, mx.array(total_weight, mx.float32), mx.array(max(total_kl, 1), mx.float32))
        self._grads = grads if self._grads is None else tree_map(lambda a, b: a + b, self._grads, grads)
        mx.eval(ce, kl_sum, self._grads)
        return np.array(ce, copy=True), float(kl_sum.item())

    def eval_batch(self, batch, features) -> np.ndarray:
        mx = self.mx
        arrays = self._arrays(batch)
        self.model.eval()
        try:
            hidden = self._hidden(arrays["ids"], arrays["pos"], arrays["img"], features)
            ce = token_ce(hidden[arrays["ce"]], self.out_weight, arrays["tgt"], self.config.kernel_impl)
            mx.eval(ce)
            return np.array(ce, copy=True)
        finally:
            self.model.train()

    def apply_update(self, lr: float) -> float:
        import mlx.optimizers as optim

        mx = self.mx
        grads, self._grads = self._grads, None
        grads, norm = optim.clip_grad_norm(grads, self.config.grad_clip or math.inf)
        norm = float(norm.item())
        if math.isfinite(norm):
            self.optimizer.learning_rate = lr
            self.optimizer.update(self.model, grads)
            mx.eval(self.model.trainable_parameters(), self.optimizer.state)
        return norm

    def discard_grads(self) -> None:
        self._grads = None

    # -- state as canonical numpy ----------------------------------------------------------------

    def _lora_layers(self) -> dict:
        layers = {canonical_key(int(name.split(".")[1]), name.split(".")[-1]): module
                  for name, module in self.lm.model.named_modules()
                  if hasattr(module, "lora_a") and name.startswith("layers.")}
        if not layers:
            raise TrainingError("no LoRA layers were attached; the model is not a Qwen2-VL language model")
        return layers

    def lora_arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for key, layer in self._lora_layers().items():
            out[f"{key}.lora_A"] = np.array(layer.lora_a.astype(self.mx.float32)).T.copy()
            out[f"{key}.lora_B"] = np.array(layer.lora_b.astype(self.mx.float32)).T.copy()
        return out

    def set_lora_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        mx = self.mx
        for key, layer in self._lora_layers().items():
            layer.lora_a = mx.array(np.ascontiguousarray(arrays[f"{key}.lora_A"].T))
            layer.lora_b = mx.array(np.ascontiguousarray(arrays[f"{key}.lora_B"].T))
        mx.eval(self.model.trainable_parameters())

    def optimizer_arrays(self) -> tuple[dict[str, np.ndarray], int]:
        from mlx.utils import tree_flatten

        state = self.optimizer.state
        out = {}
        for name, value in tree_flatten(state):
            key = _canonical_state_key(name)
            if key:
                out[key] = np.array(value.astype(self.mx.float32)).T.copy()
        return out, int(state["step"].item()) if out else 0

    def set_optimizer_arrays(self, arrays: dict[str, np.ndarray], step: int) -> None:
        from mlx.utils import tree_flatten

        mx = self.mx
        if not arrays:
            return
        self.optimizer.init(self.model.trainable_parameters())
        state = self.optimizer.state
        for name, _ in tree_flatten(state):
            key = _canonical_state_key(name)
            if key:
                _set_path(state, name, mx.array(np.ascontiguousarray(arrays[key].T)))
        state["step"] = mx.array(step, mx.uint64)
        mx.eval(state)

    def rng_state(self) -> dict[str, np.ndarray]:
        return {"mlx_key": np.array(self.mx.random.state[0], copy=True)}

    def set_rng_state(self, state: dict[str, np.ndarray]) -> None:
        self.mx.random.state[0] = self.mx.array(state["mlx_key"])

    def save_adapter(self, folder: Path) -> None:
        """mlx-vlm's format: adapters.safetensors (trainable weights) + adapter_config.json."""
        from mlx.utils import tree_flatten

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        weights = dict(tree_flatten(self.model.trainable_parameters()))
        self.mx.save_safetensors(str(folder / "adapters.safetensors"), weights)
        (folder / "adapter_config.json").write_text(json.dumps(self.model._vlm_adapter_config, indent=2))

    def peak_memory_mb(self) -> float:
        from .torch_backend import peak_rss_mb

        return max(self.mx.get_peak_memory() / 2**20, peak_rss_mb())

    @staticmethod
    def is_oom(err: BaseException) -> bool:
        text = str(err).lower()
        return "malloc" in text or "out of memory" in text or "insufficient memory" in text


# --- helpers --------------------------------------------------------------------------------------


@contextmanager
def lora_disabled(model):
    """The base model's forward: every LoRA update scaled to zero, dropout off (eval mode)."""
    layers = [m for _, m in model.named_modules() if hasattr(m, "lora_a")]
    scales = [layer.scale for layer in layers]
    was_training = model.training
    model.eval()
    for layer in layers:
        layer.scale = 0.0
    try:
        yield
    finally:
        for layer, scale in zip(layers, scales):
            layer.scale = scale
        model.train(was_training)


_CHECKPOINTED: dict[type, type] = {}


def checkpoint_layers(layers) -> None:
    """Recompute each decoder layer's activations in the backward pass.

    mlx-vlm's helper patches the layer *class* for every model in the process; this swaps each
    instance to a subclass instead, so other models are unaffected and parameter names stay.
    """
    for layer in layers:
        cls = type(layer)
        if cls not in _CHECKPOINTED:
            _CHECKPOINTED[cls] = type(f"Checkpointed{cls.__name__}", (cls,), {"__call__": _checkpointed(cls.__call__)})
        layer.__class__ = _CHECKPOINTED[cls]


def _checkpointed(original):
    import mlx.core as mx

    def call(self, *args):
        keep = [isinstance(a, (mx.array, tuple)) for a in args]

        def inner(params, *arrays):
            it = iter(arrays)
            self.update(params)
            return original(self, *[next(it) if k else a for a, k in zip(args, keep)])

        return mx.checkpoint(inner)(self.trainable_parameters(), *[a for a, k in zip(args, keep) if k])

    return call


def _load(model_path, config: TrainConfig):
    """(model with LoRA attached and the base frozen, processor, text config)."""
    import mlx.core as mx
    from mlx_vlm.trainer.peft.utils import get_peft_model

    from ..models.loaders import load_mlx_student

    model, processor = load_mlx_student(model_path)
    text_config = _text_config(read_model_config(model_path))
    if config.dtype != "auto":
        model.set_dtype(getattr(mx, config.dtype))
    if config.qlora_bits:
        _quantize_language_layers(model, config.qlora_bits)
    quantization = _quantization(model)
    names = [LM_PREFIX + k for k in target_shapes(text_config, config.lora_targets)]
    get_peft_model(model, names, rank=config.lora_rank, alpha=config.lora_alpha,
                   dropout=config.lora_dropout, verbose=False)
    if quantization:
        # mlx-vlm re-quantizes these layers of a fresh base before loading the adapter.
        model._vlm_adapter_config["base_quantization"] = quantization
    return model, processor, text_config


def _text_config(config: dict) -> dict:
    return {**config, **config.get("text_config", {})}


def _output_weight(lm):
    import mlx.core as mx
    import mlx.nn as nn

    layer = lm.model.embed_tokens if lm.args.tie_word_embeddings else lm.lm_head
    if isinstance(layer, (nn.QuantizedEmbedding, nn.QuantizedLinear)):
        weight = mx.dequantize(layer.weight, layer.scales, layer.biases, group_size=layer.group_size,
                               bits=layer.bits, mode=getattr(layer, "mode", "affine"))
    else:
        weight = layer.weight
    weight = mx.stop_gradient(weight)
    mx.eval(weight)
    return weight


def _quantize_language_layers(model, bits: int) -> None:
    """QLoRA: quantize the decoder's linear layers of a float base (vision and embeddings stay)."""
    import mlx.nn as nn

    def wanted(name, module):
        return (name.startswith(LM_PREFIX + "layers.") and isinstance(module, nn.Linear)
                and module.weight.shape[-1] % QUANT_GROUP == 0)

    nn.quantize(model, group_size=QUANT_GROUP, bits=bits, class_predicate=wanted)


def _quantization(model) -> dict:
    """{layer name: bits, group size, mode} of the base's quantized layers, before LoRA wraps them."""
    from mlx_vlm.trainer.common.model import _quantization_config

    return _quantization_config(model)


def _canonical_state_key(name: str) -> str | None:
    # "language_model.model.layers.0.self_attn.q_proj.lora_a.m" -> "layers.0.self_attn.q_proj.lora_A.m"
    if not name.startswith(LM_PREFIX) or ".lora_" not in name:
        return None
    path, moment = name[len(LM_PREFIX):].rsplit(".", 1)
    return path.replace(".lora_a", ".lora_A").replace(".lora_b", ".lora_B") + "." + moment


def _set_path(tree, dotted: str, value) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[parts[-1]] = value
