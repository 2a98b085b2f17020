"""Model backends on the tiny Qwen2-VL: each gives the same greedy text as the student itself,
sees the photo when it should, and samples reproducibly from its seed."""

import re
import shutil

import pytest

from sdft_local.synth.backends import GenerationOptions, make_backend
from sdft_local.synth.config import BackendConfig

from .conftest import write_photo

QUESTION = [{"role": "user", "content": "Who is this?"}]
GREEDY = GenerationOptions(max_tokens=8, temperature=0.0)
SAMPLED = GenerationOptions(max_tokens=8, temperature=0.9, seed=3)


def printable(text: str) -> str:
    """Engines differ only in how they show a half-decoded UTF-8 byte (dropped or '�')."""
    return re.sub(r"[^\x20-\x7e]", "", text).strip()


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    return write_photo(folder / "a.png", 3), write_photo(folder / "b.png", 4)


def check_backend(backend, student, photos):
    a, b = photos
    text = backend.chat(QUESTION, a, GREEDY)
    assert printable(text) == printable(student.generate(str(a), QUESTION, max_new_tokens=8))
    assert printable(backend.chat(QUESTION, b, GREEDY)) != printable(text)  # the photo is used
    assert backend.chat(QUESTION, a, SAMPLED) == backend.chat(QUESTION, a, SAMPLED)
    assert backend.capabilities.sees_images


def test_transformers_vlm_backend_matches_the_student(tiny_model_dir, student, photos):
    backend = make_backend(BackendConfig(name="transformers", model=str(tiny_model_dir)))
    assert backend.name == f"transformers:{tiny_model_dir.name}"
    check_backend(backend, student, photos)


def test_transformers_text_model_backend(tiny_model_dir, tmp_path, student):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    text = Qwen2Config(vocab_size=704, hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                       num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=True)
    folder = tmp_path / "text-model"
    Qwen2ForCausalLM(text).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        if (tiny_model_dir / name).exists():
            shutil.copy(tiny_model_dir / name, folder / name)
    backend = make_backend(BackendConfig(name="transformers", model=str(folder)))
    assert not backend.capabilities.sees_images
    reply = backend.chat(QUESTION, None, GREEDY)
    assert reply == backend.chat(QUESTION, None, GREEDY)
    assert backend.chat(QUESTION, None, SAMPLED) == backend.chat(QUESTION, None, SAMPLED)


@pytest.mark.mlx
def test_mlx_vlm_backend_matches_the_student(tiny_model_dir, student, photos, monkeypatch):
    pytest.importorskip("mlx_vlm")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    backend = make_backend(BackendConfig(name="mlx-vlm", model=str(tiny_model_dir)))
    check_backend(backend, student, photos)


@pytest.mark.llama
def test_llama_cpp_vision_backend_matches_the_student(tiny_model_dir, tmp_path, student, photos):
    pytest.importorskip("llama_cpp")
    from sdft_local.export.gguf_text import write_text_gguf
    from sdft_local.export.gguf_vision import write_mmproj_gguf
    from sdft_local.export.merge import MergedWeights
    from sdft_local.export.tensors import BaseWeights

    weights = MergedWeights(BaseWeights(tiny_model_dir), None)
    write_text_gguf(weights, tiny_model_dir, tmp_path / "text.gguf", ftype="f32")
    write_mmproj_gguf(weights, tiny_model_dir, tmp_path / "mmproj.gguf", ftype="f32")
    backend = make_backend(BackendConfig(name="llama-cpp-vlm", model=str(tmp_path / "text.gguf"),
                                         mmproj=str(tmp_path / "mmproj.gguf"), n_ctx=512,
                                         n_threads=1))
    try:
        assert backend.name == "llama-cpp-vlm:text.gguf+mmproj.gguf"
        a, b = photos
        text = backend.chat(QUESTION, a, GREEDY)
        assert printable(text) == printable(student.generate(str(a), QUESTION, max_new_tokens=8))
        assert printable(backend.chat(QUESTION, b, GREEDY)) != printable(text)
    finally:
        backend.close()
