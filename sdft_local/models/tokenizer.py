"""The tiny model's own tokenizer: a byte-level BPE in Qwen2-VL's format, built offline.

Owns the built-in training corpus (a caller may pass its own), the Qwen2 pre-tokenizer, the
Qwen2-VL special tokens (in Qwen's order, right after the BPE vocabulary) and the Qwen2-VL chat
template, and writes the files that `transformers.AutoTokenizer` and mlx-vlm read. It needs only
`tokenizers`; it does not load tokenizers of real models (see `processor.py`).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Iterable

# Qwen2's pre-tokenizer: contractions, letter runs, single digits, punctuation runs, whitespace.
QWEN2_PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

# Qwen2-VL's special tokens in Qwen's id order (151643..151656 in the real model).
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

IMAGE_PAD = "<|image_pad|>"  # the processor repeats it once per merged image token
IMAGE_PLACEHOLDER = "<|vision_start|>" + IMAGE_PAD + "<|vision_end|>"

DEFAULT_SYSTEM = "You are a helpful assistant."
# Qwen2-VL-Instruct's chat template, verbatim: ChatML with a default system turn (DEFAULT_SYSTEM)
# and the image placeholder wherever the message content lists an image.
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\n" + DEFAULT_SYSTEM + "<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def corpus_lines() -> list[str]:
    """The built-in English corpus the tiny BPE is trained on (captions, answers, objects...)."""
    text = resources.files("sdft_local.models").joinpath("corpus.txt").read_text("utf-8")
    return [line for line in text.splitlines() if line.strip()]


def build_tokenizer(vocab_budget: int, corpus: Iterable[str] | None = None):
    """A `tokenizers.Tokenizer`: byte-level BPE of at most `vocab_budget` entries + specials.

    The BPE is trained on `corpus` (lines of text), or on the built-in corpus when None.
    """
    from tokenizers import AddedToken

    tok = _train_bpe(vocab_budget, corpus_lines() if corpus is None else corpus)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    return tok


def _train_bpe(vocab_budget: int, corpus: Iterable[str]):
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers import processors, trainers

    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_budget,
        min_frequency=2,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    return tok


def write_tokenizer_files(tok, out_dir: Path, *, model_max_length: int) -> None:
    """Write tokenizer.json, tokenizer_config.json and chat_template.jinja into `out_dir`."""
    out_dir = Path(out_dir)
    (out_dir / "tokenizer.json").write_text(_canonical_json(json.loads(tok.to_str())), "utf-8")
    config = _tokenizer_config(tok, model_max_length)
    (out_dir / "tokenizer_config.json").write_text(_canonical_json(config), "utf-8")
    (out_dir / "chat_template.jinja").write_text(CHAT_TEMPLATE, "utf-8")


def _tokenizer_config(tok, model_max_length: int) -> dict:
    decoder = {
        str(tok.token_to_id(t)): {
            "content": t, "lstrip": False, "normalized": False, "rstrip": False,
            "single_word": False, "special": True,
        }
        for t in SPECIAL_TOKENS
    }
    return {
        "added_tokens_decoder": decoder,
        "additional_special_tokens": list(SPECIAL_TOKENS[1:]),
        "bos_token": None,
        "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": model_max_length,
        "pad_token": "<|endoftext|>",
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }


def _canonical_json(obj) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
