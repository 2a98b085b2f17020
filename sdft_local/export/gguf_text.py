"""The Qwen2-VL text model as a GGUF file (architecture `qwen2vl`), written with PyPI `gguf`.

Owns the text hyperparameters read from config.json (root keys or `text_config`, rope in
`rope_scaling` or `rope_parameters`), the GPT-2-style vocabulary block llama.cpp needs (tokens padded
to the model's vocab size, token types, merges, special ids, chat template), the tensor names
(`gguf.get_tensor_name_map(QWEN2VL, n)`) and the F32/F16 write. Vision tensors are skipped (they go
to the mmproj, see `gguf_vision.py`); quantization is llama.cpp's job (see `quantize.py`).

An F16 file keeps the logits matrix (the tied token embedding, or the untied output head) in F32:
every logit is one dot product with it, and llama.cpp multiplies F16 weights with activations
rounded to F16 too. Measured on the wide test model: the largest logit error against transformers
falls from 1.03e-3 to 8.6e-4; the cost, by tensor sizes, is 15% on Qwen2-VL-2B's text GGUF
(3.09 -> 3.55 GB). Quantized files keep their tensor types (llama.cpp picks that matrix's type
itself) and their agreement with the model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ExportError

GGUF_FLOAT_TYPES = ("f32", "f16")


@dataclass(frozen=True)
class TextHParams:
    vocab_size: int
    hidden_size: int
    num_layers: int
    intermediate_size: int
    num_heads: int
    num_kv_heads: int
    rms_norm_eps: float
    rope_theta: float
    max_positions: int
    mrope_section: tuple[int, ...]
    tie_word_embeddings: bool


def text_hparams(config: dict) -> TextHParams:
    """Text-model settings from a Qwen2-VL config.json (any transformers generation)."""
    text = {**config.get("text_config", {}), **{k: v for k, v in config.items() if k != "text_config"}}
    try:
        rope = text.get("rope_scaling") or text.get("rope_parameters") or {}
        mrope = rope.get("mrope_section")
        theta = text.get("rope_theta") or rope.get("rope_theta") or 1000000.0
        params = TextHParams(
            int(text["vocab_size"]), int(text["hidden_size"]), int(text["num_hidden_layers"]),
            int(text["intermediate_size"]), int(text["num_attention_heads"]),
            int(text.get("num_key_value_heads", text["num_attention_heads"])),
            float(text.get("rms_norm_eps", 1e-6)), float(theta),
            int(text.get("max_position_embeddings", 32768)), tuple(int(x) for x in mrope or ()),
            bool(text.get("tie_word_embeddings", False)),
        )
    except KeyError as err:
        raise ExportError(f"config.json has no {err.args[0]!r}; is this a Qwen2-VL model folder?") from None
    if len(params.mrope_section) != 3:
        raise ExportError(f"config.json: mrope_section {list(params.mrope_section)} must have 3 "
                          "entries (rope_scaling.mrope_section of a Qwen2-VL config)")
    return params


def write_text_gguf(weights, model_dir: Path, path: Path, *, ftype: str = "f16",
                    name: str = "sdft-local") -> None:
    """Write the text model of `weights` (canonical names, float32 on read) as GGUF."""
    import gguf

    if ftype not in GGUF_FLOAT_TYPES:
        raise ExportError(f"GGUF float type {ftype!r}; choose one of {', '.join(GGUF_FLOAT_TYPES)}")
    hp = text_hparams(weights.config)
    writer = gguf.GGUFWriter(str(path), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.QWEN2VL])
    _add_metadata(writer, hp, name, ftype)
    add_vocab(writer, Path(model_dir), hp.vocab_size, weights.config)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.QWEN2VL, hp.num_layers)
    logits_matrix = "model.embed_tokens.weight" if hp.tie_word_embeddings else "lm_head.weight"
    for tensor, gguf_name in text_tensor_names(weights, hp, names):
        kind = "f32" if tensor == logits_matrix else ftype
        writer.add_tensor(gguf_name, storage_array(weights.get(tensor), kind))
    _finish(writer)


def text_tensor_names(weights, hp: TextHParams, names) -> list[tuple[str, str]]:
    """(canonical tensor, GGUF tensor) for every text tensor; refuses unknown ones."""
    pairs = []
    for tensor in sorted(weights.names()):
        if tensor.startswith("visual."):
            continue
        if tensor == "lm_head.weight" and hp.tie_word_embeddings:
            continue
        module, _, suffix = tensor.rpartition(".")
        mapped = names.get_name(module)
        if mapped is None:
            raise ExportError(f"tensor {tensor} has no llama.cpp qwen2vl counterpart; the model is "
                              "not a plain Qwen2-VL")
        pairs.append((tensor, f"{mapped}.{suffix}"))
    if not hp.tie_word_embeddings and not any(t == "lm_head.weight" for t, _ in pairs):
        raise ExportError("config says the output head is not tied, but lm_head.weight is missing")
    return pairs


def storage_array(array: np.ndarray, ftype: str) -> np.ndarray:
    """Norms, biases and other 1-D tensors stay F32 (llama.cpp requires it); matrices follow ftype."""
    if ftype == "f16" and array.ndim >= 2:
        return np.ascontiguousarray(array, dtype=np.float16)
    return np.ascontiguousarray(array, dtype=np.float32)


def _add_metadata(writer, hp: TextHParams, name: str, ftype: str) -> None:
    import gguf

    writer.add_type(gguf.GGUFType.MODEL)
    writer.add_name(name)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if ftype == "f16" else gguf.LlamaFileType.ALL_F32)
    writer.add_context_length(hp.max_positions)
    writer.add_embedding_length(hp.hidden_size)
    writer.add_block_count(hp.num_layers)
    writer.add_feed_forward_length(hp.intermediate_size)
    writer.add_head_count(hp.num_heads)
    writer.add_head_count_kv(hp.num_kv_heads)
    writer.add_rope_freq_base(hp.rope_theta)
    writer.add_layer_norm_rms_eps(hp.rms_norm_eps)
    # llama.cpp reads four sections (the fourth is Qwen2.5-VL's and stays 0 here).
    writer.add_rope_dimension_sections(list(hp.mrope_section) + [0] * (4 - len(hp.mrope_section)))


# --- vocabulary ----------------------------------------------------------------------------------

def add_vocab(writer, model_dir: Path, vocab_size: int, config: dict) -> None:
    """GPT-2 BPE vocabulary, Qwen2 pre-tokenizer, special ids and chat template."""
    tokens, types, merges, specials = read_vocab(model_dir, vocab_size)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    for key, token_id in special_ids(model_dir, config, specials).items():
        getattr(writer, f"add_{key}_token_id")(token_id)
    writer.add_add_bos_token(False)
    template = chat_template(model_dir)
    if template:
        writer.add_chat_template(template)


def read_vocab(model_dir: Path, vocab_size: int):
    """(tokens, token types, merges, {special text: id}) from tokenizer.json, padded to vocab_size."""
    tok = _read_json(model_dir / "tokenizer.json")
    model = tok.get("model", {})
    if model.get("type") != "BPE":
        raise ExportError(f"{model_dir}/tokenizer.json: a {model.get('type')} tokenizer; Qwen2-VL's "
                          "byte-level BPE is expected")
    added = {int(a["id"]): a for a in tok.get("added_tokens", [])}
    tokens, types = token_table({int(i): t for t, i in model["vocab"].items()}, added, vocab_size)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    if not merges:
        # gguf silently drops empty arrays, and llama.cpp then rejects a BPE vocab without merges.
        raise ExportError(f"{model_dir}/tokenizer.json has no BPE merges; the tokenizer is broken")
    return tokens, types, merges, {a["content"]: i for i, a in added.items()}


def token_table(vocab: dict[int, str], added: dict[int, dict], vocab_size: int):
    """Every id below vocab_size with its GGUF token type; ids the tokenizer lacks become
    unused `[PADn]` entries (Qwen pads its embedding matrix beyond the tokenizer)."""
    import gguf

    by_id = {**vocab, **{i: a["content"] for i, a in added.items()}}
    if max(by_id) >= vocab_size:
        raise ExportError(f"tokenizer has id {max(by_id)} but the model's vocab_size is {vocab_size}")
    tokens, types = [], []
    for i in range(vocab_size):
        tokens.append(by_id.get(i, f"[PAD{i}]"))
        if i not in by_id:
            types.append(gguf.TokenType.UNUSED)
        elif i in added:
            types.append(gguf.TokenType.CONTROL if added[i].get("special") else gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
    return tokens, types


def special_ids(model_dir: Path, config: dict, specials: dict[str, int]) -> dict[str, int]:
    """bos/eos/pad ids: tokenizer_config's tokens first, config.json's ids second."""
    tok_config = _read_json(model_dir / "tokenizer_config.json", missing_ok=True)
    ids = {}
    for key in ("bos", "eos", "pad"):
        token = tok_config.get(f"{key}_token")
        if isinstance(token, dict):
            token = token.get("content")
        value = specials.get(token) if token else None
        if value is None:
            value = config.get(f"{key}_token_id") or config.get("text_config", {}).get(f"{key}_token_id")
            value = value[0] if isinstance(value, list) else value
        if value is not None:
            ids[key] = int(value)
    return ids


def chat_template(model_dir: Path) -> str | None:
    """The model's chat template: chat_template.jinja, chat_template.json, or tokenizer_config."""
    jinja = model_dir / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text("utf-8")
    legacy = _read_json(model_dir / "chat_template.json", missing_ok=True)
    if legacy.get("chat_template"):
        return legacy["chat_template"]
    template = _read_json(model_dir / "tokenizer_config.json", missing_ok=True).get("chat_template")
    return template if isinstance(template, str) else None


def _read_json(path: Path, missing_ok: bool = False) -> dict:
    if missing_ok and not path.is_file():
        return {}
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ExportError(f"{path} is missing; the model folder is incomplete") from None


def _finish(writer) -> None:
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
