"""Session fixtures of the export tests: tiny models, randomized LoRA adapters, reference logits.

Everything expensive is built once per session: the PEFT adapter (LoRA on every text and vision
Linear, lora_B drawn at random so that no equivalence can hold by accident), its MLX conversion,
the trained model's logits computed directly with transformers + peft (independently of the code
under test), and the GGUF files. Two tiny models: the default one (init std 0.2, logits ~±10),
and a wider, contractive one (hidden 256, init std 0.02) for quantization, because a random
network at init 0.2 amplifies every rounding error ~2× per layer, which no trained model does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
                "attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2"]
QUANT_SPEC = dict(hidden_size=256, num_attention_heads=4, num_key_value_heads=2,
                  intermediate_size=512, mrope_section=(8, 12, 12), init_std=0.02)


@dataclass(frozen=True)
class Reference:
    """The trained model (base + PEFT adapter) and the base alone, on the export probes."""

    text: tuple[np.ndarray, ...]
    image: np.ndarray
    base_text: tuple[np.ndarray, ...]
    ids: tuple[tuple[int, ...], ...]


def make_peft_adapter(model_dir: Path, out: Path, *, targets=LORA_TARGETS, b_std: float = 0.05,
                      seed: int = 0) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model

    from sdft_local.models.loaders import load_torch_student

    model, _ = load_torch_student(model_dir, device="cpu", dtype="float32")
    torch.manual_seed(seed)  # peft draws lora_A from the global generator
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=targets,
                                                  lora_dropout=0.0))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * b_std)
    peft_model.save_pretrained(str(out))
    return out


def peft_logits(model_dir: Path, adapter: Path | None, inputs: list[dict]) -> list[np.ndarray]:
    import torch
    from peft import PeftModel

    from sdft_local.models.chat import to_torch
    from sdft_local.models.loaders import load_torch_student

    model, _ = load_torch_student(model_dir, device="cpu", dtype="float32")
    if adapter is not None:
        model = PeftModel.from_pretrained(model, str(adapter)).eval()
    with torch.no_grad():
        return [model(**to_torch(x)).logits[0].numpy() for x in inputs]


def probe_inputs(model_dir: Path):
    from sdft_local.export.probes import image_inputs, text_probes
    from sdft_local.models.processor import load_processor

    processor = load_processor(model_dir)
    probes = text_probes(processor)
    text = [{"input_ids": np.asarray([p.ids]), "attention_mask": np.ones((1, len(p.ids)), np.int64)}
            for p in probes]
    return processor, probes, text, image_inputs(processor)


def build_reference(model_dir: Path, adapter: Path) -> Reference:
    _, probes, text, image = probe_inputs(model_dir)
    tuned = peft_logits(model_dir, adapter, text + [image])
    base = peft_logits(model_dir, None, text)
    return Reference(tuple(tuned[:-1]), tuned[-1], tuple(base), tuple(p.ids for p in probes))


@pytest.fixture(scope="session")
def peft_dir(tiny_model_dir, tmp_path_factory) -> Path:
    return make_peft_adapter(tiny_model_dir, tmp_path_factory.mktemp("adapters") / "peft")


@pytest.fixture(scope="session")
def mlx_dir(peft_dir, tmp_path_factory) -> Path:
    from sdft_local.export.adapters import read_peft, write_mlx

    out = tmp_path_factory.mktemp("adapters") / "mlx"
    write_mlx(read_peft(peft_dir), out)
    return out


@pytest.fixture(scope="session")
def reference(tiny_model_dir, peft_dir) -> Reference:
    return build_reference(tiny_model_dir, peft_dir)


@pytest.fixture(scope="session")
def quant_model_dir(tmp_path_factory) -> Path:
    from sdft_local.models.tiny import TinySpec, build_tiny_qwen2vl

    return build_tiny_qwen2vl(tmp_path_factory.mktemp("models") / "tiny-wide",
                              spec=TinySpec(**QUANT_SPEC))


@pytest.fixture(scope="session")
def quant_peft_dir(quant_model_dir, tmp_path_factory) -> Path:
    return make_peft_adapter(quant_model_dir, tmp_path_factory.mktemp("adapters") / "peft-wide",
                             targets=LORA_TARGETS[:7], b_std=0.02)


@pytest.fixture(scope="session")
def quant_reference(quant_model_dir, quant_peft_dir) -> Reference:
    return build_reference(quant_model_dir, quant_peft_dir)


@pytest.fixture(scope="session")
def probe_image():
    from sdft_local.export.probes import probe_image as make

    return make()


def max_diff(got, want) -> float:
    return max(float(np.abs(np.asarray(g) - np.asarray(w)).max()) for g, w in zip(got, want))
