"""The tiny tokenizer and chat rendering: Qwen2-VL's special tokens, template and image slot."""

from __future__ import annotations

import numpy as np
import pytest

from sdft_local.models.chat import build_inputs, render_prompt
from sdft_local.models.tokenizer import IMAGE_PLACEHOLDER, SPECIAL_TOKENS


def test_round_trip(processor):
    tok = processor.tokenizer
    text = "Is this Biscuit? Yes, the brown dog is 4 years old. Ünïcode ok!"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text
    assert len(ids) < len(text.encode()) // 2  # merges were learned, not just bytes


def test_special_tokens_follow_the_vocab_in_qwen_order(processor):
    tok = processor.tokenizer
    ids = tok.convert_tokens_to_ids(list(SPECIAL_TOKENS))
    assert ids == list(range(ids[0], ids[0] + len(SPECIAL_TOKENS)))
    assert ids[-1] == len(tok) - 1
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    assert tok("<|im_start|>user", add_special_tokens=False)["input_ids"][0] == ids[1]


def test_image_placeholder_once_in_first_user_turn(processor):
    messages = [
        {"role": "user", "content": "Describe this photo."},
        {"role": "assistant", "content": "A dog on a sofa."},
        {"role": "user", "content": "Is there a teapot here?"},
    ]
    prompt = render_prompt(processor, messages, with_image=True)
    assert prompt.count(IMAGE_PLACEHOLDER) == 1
    assert f"<|im_start|>user\n{IMAGE_PLACEHOLDER}Describe this photo.<|im_end|>" in prompt
    assert prompt.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>")
    assert prompt.endswith("<|im_start|>assistant\n")
    closed = render_prompt(processor, messages[:2], with_image=True)
    assert closed.endswith("A dog on a sofa.<|im_end|>\n")


def test_build_inputs_expands_image_tokens(processor, photo):
    x = build_inputs(processor, [{"role": "user", "content": "What is shown here?"}], photo)
    assert set(x) == {"input_ids", "attention_mask", "mm_token_type_ids", "pixel_values",
                      "image_grid_thw"}
    assert all(isinstance(v, np.ndarray) for v in x.values())
    t, h, w = x["image_grid_thw"][0]
    image_id = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert (t, h, w) == (1, 6, 8)  # 84x112 px → 6x8 patches of 14
    assert (x["input_ids"][0] == image_id).sum() == t * h * w // 4
    assert x["mm_token_type_ids"][0].sum() == t * h * w // 4


def test_text_only_inputs_have_no_pixels(processor):
    x = build_inputs(processor, [{"role": "user", "content": "Hello"}])
    assert "pixel_values" not in x and x["input_ids"].shape[0] == 1


@pytest.mark.parametrize("messages", [[], [{"role": "robot", "content": "x"}],
                                      [{"role": "assistant", "content": "only me"}]])
def test_bad_messages_are_refused(processor, messages):
    with pytest.raises(ValueError):
        render_prompt(processor, messages, with_image=False)
