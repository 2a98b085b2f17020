"""GGUF text model, mmproj, GGUF LoRA and quantization, each run in llama-cpp-python vs transformers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sdft_local.export import llamacpp
from sdft_local.export.adapters import read_peft
from sdft_local.export.gguf_lora import write_lora_gguf
from sdft_local.export.gguf_text import write_text_gguf
from sdft_local.export.gguf_vision import write_mmproj_gguf
from sdft_local.export.merge import MergedWeights
from sdft_local.export.probes import IMAGE_QUESTION
from sdft_local.export.quantize import quantize_gguf, tensor_types
from sdft_local.export.tensors import BaseWeights

from .conftest import QUANT_SPEC, max_diff

pytest.importorskip("llama_cpp")
pytestmark = pytest.mark.llama


def _build(model_dir: Path, peft_dir: Path, out: Path, kinds) -> dict[str, Path]:
    base = BaseWeights(model_dir)
    adapter = read_peft(peft_dir)
    merged, plain = MergedWeights(base, adapter), MergedWeights(base, None)
    files = {}
    for kind in kinds:
        path = out / f"{kind}.gguf"
        if kind.startswith("text-"):
            write_text_gguf(merged, model_dir, path, ftype=kind[5:])
        elif kind.startswith("mmproj-"):
            write_mmproj_gguf(merged, model_dir, path, ftype=kind[7:])
        elif kind == "base-f32":
            write_text_gguf(plain, model_dir, path, ftype="f32")
        elif kind == "lora":
            write_lora_gguf(adapter, base.config, path)
        files[kind] = path
    return files


@pytest.fixture(scope="session")
def ggufs(tiny_model_dir, peft_dir, tmp_path_factory) -> dict[str, Path]:
    return _build(tiny_model_dir, peft_dir, tmp_path_factory.mktemp("gguf"),
                  ["text-f32", "text-f16", "mmproj-f32", "mmproj-f16", "base-f32", "lora"])


@pytest.fixture(scope="session")
def quant_ggufs(quant_model_dir, quant_peft_dir, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("gguf-wide")
    files = _build(quant_model_dir, quant_peft_dir, out, ["text-f16"])
    for quant in ("q8_0", "q4_k_m"):
        files[quant] = out / f"{quant}.gguf"
        quantize_gguf(files["text-f16"], files[quant], quant)
    return files


def _llama_logits(model: Path, ids, *, lora: Path | None = None, exact: bool = True):
    with llamacpp.open_gguf(model, lora=lora, exact=exact) as llm:
        return [llamacpp.teacher_forced_logits(llm, i) for i in ids]


def _agreement(got, want) -> float:
    same = sum(int((g.argmax(-1) == w.argmax(-1)).sum()) for g, w in zip(got, want))
    return same / sum(len(g) for g in got)


def test_f32_gguf_logits_match_transformers(ggufs, reference):
    diff = max_diff(_llama_logits(ggufs["text-f32"], reference.ids), reference.text)
    effect = max_diff(reference.text, reference.base_text)
    print(f"F32 GGUF (LoRA merged) vs transformers + peft: max |Δ logit| {diff:.2e} "
          f"(logits up to {max(np.abs(t).max() for t in reference.text):.1f}, LoRA effect {effect:.2f})")
    assert effect > 0.5
    assert diff <= 1e-3


def _logits_without_norm_eps(model_dir: Path, peft_dir: Path, ids) -> list[np.ndarray]:
    """transformers + peft logits with every RMSNorm epsilon at 0: what llama.cpp computes for qwen2vl."""
    import torch
    from peft import PeftModel

    from sdft_local.models.loaders import load_torch_student

    model, _ = load_torch_student(model_dir, device="cpu", dtype="float32")
    model = PeftModel.from_pretrained(model, str(peft_dir)).eval()
    for module in model.modules():
        if hasattr(module, "variance_epsilon"):
            module.variance_epsilon = 0.0
    with torch.no_grad():
        return [model(input_ids=torch.tensor([list(i)])).logits[0].numpy() for i in ids]


def test_llama_cpp_ignores_the_rms_norm_epsilon(quant_model_dir, quant_peft_dir, quant_ggufs, quant_reference,
                                                tmp_path):
    """The GGUF carries the epsilon (qwen2vl.attention.layer_norm_rms_epsilon) but this llama.cpp
    computes the same logits whatever its value. It matters only where mean(x^2) is near the epsilon,
    as on the wide test model (init std 0.02). There the difference to transformers (about 1e-3) is
    all epsilon: without it the two agree to float32 rounding. If llama.cpp starts reading the
    key, this test fails and the eps-free references below should go."""
    import json
    import shutil

    from gguf import GGUFReader

    changed = tmp_path / "model"
    shutil.copytree(quant_model_dir, changed)
    config = json.loads((changed / "config.json").read_text())
    config["text_config"]["rms_norm_eps"] = config["rms_norm_eps"] = 1e-2
    (changed / "config.json").write_text(json.dumps(config))
    (tmp_path / "gguf").mkdir()
    path = _build(changed, quant_peft_dir, tmp_path / "gguf", ["text-f32"])["text-f32"]
    field = GGUFReader(str(path)).fields["qwen2vl.attention.layer_norm_rms_epsilon"]
    assert float(field.parts[field.data[0]][0]) == pytest.approx(1e-2)
    (tmp_path / "gguf6").mkdir()
    usual = _build(quant_model_dir, quant_peft_dir, tmp_path / "gguf6", ["text-f32"])["text-f32"]
    ids = quant_reference.ids[:2]
    assert max_diff(_llama_logits(path, ids), _llama_logits(usual, ids)) == 0.0
    with_eps = max_diff(_llama_logits(usual, ids), quant_reference.text[:2])
    without = max_diff(_llama_logits(usual, ids), _logits_without_norm_eps(quant_model_dir, quant_peft_dir, ids))
    print(f"wide model, F32 GGUF vs transformers: {with_eps:.2e} with the epsilon, {without:.2e} without")
    assert without <= 1e-5 < with_eps


def test_f16_gguf_logits_match_transformers(ggufs, reference, quant_model_dir, quant_peft_dir, quant_ggufs,
                                            quant_reference):
    """F16 rounds the weights and llama.cpp's matmul inputs to 11 bits, so the error grows with the
    logits: within 1e-3 on the contractive model (logits ~±2, as in trained models; compared
    without the epsilon llama.cpp ignores), and within the export's own tolerance (1e-3 + 1% of
    the largest logit) on the chaotic one."""
    want = _logits_without_norm_eps(quant_model_dir, quant_peft_dir, quant_reference.ids)
    small = max_diff(_llama_logits(quant_ggufs["text-f16"], quant_reference.ids), want)
    small_scale = max(float(np.abs(t).max()) for t in want)
    large = max_diff(_llama_logits(ggufs["text-f16"], reference.ids), reference.text)
    scale = max(float(np.abs(t).max()) for t in reference.text)
    print(f"F16 GGUF vs transformers: {small:.2e} (logits up to {small_scale:.2f}); "
          f"{large:.2e} (logits up to {scale:.1f})")
    assert small <= 1e-3
    assert large <= 1e-3 + 1e-2 * scale


def test_gguf_lora_on_base_gguf_matches_peft(ggufs, reference):
    with_lora = _llama_logits(ggufs["base-f32"], reference.ids, lora=ggufs["lora"])
    without = _llama_logits(ggufs["base-f32"], reference.ids[:2])
    diff = max_diff(with_lora, reference.text)
    print(f"base F32 GGUF + GGUF LoRA vs peft: max |Δ logit| {diff:.2e}")
    assert diff <= 1e-3
    assert max_diff(without, reference.text[:2]) > 0.5  # the LoRA file is really applied


@pytest.mark.parametrize("mmproj", ["mmproj-f32", "mmproj-f16"])
def test_image_chat_first_token_matches_transformers(ggufs, reference, probe_image, mmproj):
    with llamacpp.open_gguf(ggufs["text-f32"], mmproj=ggufs[mmproj]) as llm:
        turn = llamacpp.image_chat(llm, probe_image, IMAGE_QUESTION)
    want = reference.image[-1]
    diff = float(np.abs(turn.logits - want).max())
    print(f"image chat ({mmproj}): llama.cpp token {turn.first_token}, transformers {int(want.argmax())}, "
          f"max |Δ logit| {diff:.2e}, {turn.prompt_tokens} prompt positions")
    assert turn.first_token == int(want.argmax())
    assert diff <= 2e-2


def test_q8_0_greedy_agreement(quant_ggufs, quant_reference):
    got = _llama_logits(quant_ggufs["q8_0"], quant_reference.ids, exact=False)
    agreement = _agreement(got, quant_reference.text)
    print(f"Q8_0 greedy agreement {agreement:.3f} over {sum(len(g) for g in got)} positions; "
          f"types {tensor_types(quant_ggufs['q8_0'])}")
    assert tensor_types(quant_ggufs["q8_0"]).get("Q8_0", 0) >= 14
    assert agreement >= 0.95


def test_q4_k_m_really_uses_q4_k(quant_ggufs, quant_reference):
    types = tensor_types(quant_ggufs["q4_k_m"])
    got = _llama_logits(quant_ggufs["q4_k_m"], quant_reference.ids, exact=False)
    agreement = _agreement(got, quant_reference.text)
    print(f"Q4_K_M greedy agreement {agreement:.3f}; types {types}")
    assert types.get("Q4_K", 0) >= 8
    assert agreement >= 0.8


def test_llama_cpp_tokenizes_like_transformers(ggufs, reference, tiny_model_dir):
    from sdft_local.models.processor import load_tokenizer

    tokenizer = load_tokenizer(tiny_model_dir)
    with llamacpp.open_gguf(ggufs["text-f32"]) as llm:
        for ids in reference.ids:
            text = tokenizer.decode(list(ids))
            assert llm.tokenize(text.encode(), add_bos=False, special=True) == list(ids)


def test_text_gguf_metadata(ggufs, tiny_model_dir):
    from gguf import GGUFReader

    config = BaseWeights(tiny_model_dir).config
    reader = GGUFReader(str(ggufs["text-f16"]))
    field = lambda key: reader.get_field(key).contents()  # noqa: E731
    assert field("general.architecture") == "qwen2vl"
    assert field("qwen2vl.rope.dimension_sections") == [4, 6, 6, 0]
    assert field("tokenizer.ggml.pre") == "qwen2"
    assert len(field("tokenizer.ggml.tokens")) == config["vocab_size"]
    assert len(field("tokenizer.ggml.merges")) > 100
    assert "<|im_start|>" in field("tokenizer.chat_template")
    types = {t.name: t.tensor_type.name for t in reader.tensors}
    assert "output.weight" not in types  # tied embeddings
    assert types["blk.0.attn_norm.weight"] == "F32" and types["blk.0.attn_q.bias"] == "F32"
    assert types["blk.0.attn_q.weight"] == "F16"
    assert types["token_embd.weight"] == "F32"  # the tied logits matrix stays exact


def test_untied_output_head_stays_f32_in_an_f16_file(tmp_path):
    """An untied model's logits come from output.weight: that matrix stays F32, the embedding
    table goes F16, and llama.cpp runs the file like transformers runs the model."""
    from gguf import GGUFReader

    from sdft_local.models.tiny import TinySpec, build_tiny_qwen2vl

    from .conftest import peft_logits, probe_inputs

    model_dir = build_tiny_qwen2vl(tmp_path / "untied", spec=TinySpec(**QUANT_SPEC, tie_word_embeddings=False))
    path = tmp_path / "untied-f16.gguf"
    write_text_gguf(MergedWeights(BaseWeights(model_dir), None), model_dir, path, ftype="f16")
    types = {t.name: t.tensor_type.name for t in GGUFReader(str(path)).tensors}
    assert types["output.weight"] == "F32" and types["token_embd.weight"] == "F16"
    _, probes, text, _ = probe_inputs(model_dir)
    want = peft_logits(model_dir, None, text[:2])
    got = _llama_logits(path, [p.ids for p in probes[:2]])
    assert max_diff(got, want) <= 1e-2 * max(float(np.abs(w).max()) for w in want)


def test_mmproj_and_lora_metadata(ggufs):
    from gguf import GGUFReader

    mmproj = GGUFReader(str(ggufs["mmproj-f16"]))
    value = lambda r, key: r.get_field(key).contents()  # noqa: E731
    assert value(mmproj, "general.architecture") == "clip"
    assert value(mmproj, "clip.projector_type") == "qwen2vl_merger"
    assert value(mmproj, "clip.vision.block_count") == 3
    names = {t.name for t in mmproj.tensors}
    assert {"v.patch_embd.weight", "v.patch_embd.weight.1", "v.blk.2.attn_q.weight",
            "v.post_ln.weight", "mm.0.weight", "mm.2.bias"} <= names
    lora = GGUFReader(str(ggufs["lora"]))
    assert value(lora, "general.type") == "adapter" and value(lora, "adapter.type") == "lora"
    assert value(lora, "adapter.lora.alpha") == pytest.approx(8.0)
    shapes = {t.name: tuple(int(x) for x in t.shape) for t in lora.tensors}
    assert shapes["blk.1.ffn_down.weight.lora_a"] == (256, 4)  # ggml order: (in, r)
    assert not any(name.startswith("v.") for name in shapes)
