"""Turning a conversation about one photo into model inputs, framework-neutral.

Owns the message format every stage uses — a list of `{"role": ..., "content": str}` with the
image given separately — and its rendering through the model's own chat template, with the image
placed once, at the start of the first user turn. Returns numpy arrays; `to_torch` and `to_mx`
convert them. It does not run models (see `student.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROLES = ("system", "user", "assistant")


def render_prompt(processor, messages: list[dict], *, with_image: bool,
                  add_generation_prompt: bool | None = None) -> str:
    """The chat-template text of `messages`; a generation prompt is added after a user turn."""
    _check_messages(messages)
    if add_generation_prompt is None:
        add_generation_prompt = messages[-1]["role"] == "user"
    structured = _with_image_slot(messages) if with_image else list(messages)
    return processor.tokenizer.apply_chat_template(
        structured, tokenize=False, add_generation_prompt=add_generation_prompt,
    )


def build_inputs(processor, messages: list[dict], image=None, *,
                 add_generation_prompt: bool | None = None) -> dict[str, Any]:
    """Token ids, attention mask and (with an image) pixel values as numpy arrays, batch of one.

    `image` is a PIL image or a path. The keys are exactly what the HF forward takes
    (input_ids, attention_mask, mm_token_type_ids, and pixel_values + image_grid_thw with an image).
    """
    prompt = render_prompt(processor, messages, with_image=image is not None,
                           add_generation_prompt=add_generation_prompt)
    return encode_prompt(processor, prompt, image)


def encode_prompt(processor, prompt: str, image=None) -> dict[str, Any]:
    """Encode an already rendered prompt (the processor expands the image placeholder)."""
    images = [load_image(image)] if image is not None else None
    out = processor(text=[prompt], images=images, return_tensors="np")
    return {key: out[key] for key in out.keys()}


def load_image(image):
    """An RGB PIL image from a PIL image or a path."""
    from PIL import Image

    if isinstance(image, (str, Path)):
        with Image.open(image) as img:
            return img.convert("RGB")
    return image.convert("RGB") if image.mode != "RGB" else image


def to_torch(inputs: dict[str, Any], device=None) -> dict[str, Any]:
    import torch

    return {k: torch.from_numpy(v).to(device) for k, v in inputs.items()}


def to_mx(inputs: dict[str, Any]) -> dict[str, Any]:
    import mlx.core as mx

    return {k: mx.array(v) for k, v in inputs.items()}


def _with_image_slot(messages: list[dict]) -> list[dict]:
    first_user = next(i for i, m in enumerate(messages) if m["role"] == "user")
    out = list(messages)
    text = messages[first_user]["content"]
    out[first_user] = {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}
    return out


def _check_messages(messages: list[dict]) -> None:
    if not messages:
        raise ValueError("messages is empty; give at least one user turn")
    for m in messages:
        if m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise ValueError(f"bad message {m!r}: need role in {ROLES} and text content")
    if not any(m["role"] == "user" for m in messages):
        raise ValueError("messages has no user turn")
