"""Running exported GGUF files the way their users will: through llama-cpp-python.

Owns opening a GGUF (optionally with a GGUF LoRA and an mmproj) with settings that make a
comparison exact (F32 KV cache for float files, every position's logits kept, the mtmd warm-up on
a large dummy image turned off), teacher-forced logits for a token sequence, and one image chat
turn through llama-cpp-python's `MTMDChatHandler`, which renders the GGUF's own chat template.
Models are always closed explicitly (llama-cpp-python errors at interpreter exit otherwise).
It does not decide what counts as a pass (see `verify.py`).
"""

from __future__ import annotations

import base64
import io
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import ExportError

GGML_TYPE_F32 = 0


@dataclass(frozen=True)
class ImageChatTurn:
    """One image chat turn: the reply text and the logits that chose its first token."""

    text: str
    first_token: int
    prompt_tokens: int
    logits: np.ndarray


@contextmanager
def open_gguf(model: Path, *, lora: Path | None = None, mmproj: Path | None = None,
              n_ctx: int = 1024, exact: bool = True, threads: int | None = None) -> Iterator:
    """A llama_cpp.Llama on `model`, closed on exit. `exact` keeps the KV cache in F32."""
    import llama_cpp

    kwargs = dict(logits_all=True, n_ctx=n_ctx, verbose=False, n_threads=threads)
    if exact:
        kwargs.update(type_k=GGML_TYPE_F32, type_v=GGML_TYPE_F32)
    if lora is not None:
        kwargs["lora_path"] = str(lora)
    try:
        llm = llama_cpp.Llama(model_path=str(model), **kwargs)
    except ValueError as err:
        raise ExportError(f"llama.cpp could not load {Path(model).name}"
                          f"{' with ' + Path(lora).name if lora else ''}: {err}") from None
    try:
        if mmproj is not None:
            llm.chat_handler = _vision_handler(llm, Path(mmproj))
        yield llm
    finally:
        llm.close()


def _vision_handler(llm, mmproj: Path):
    """MTMDChatHandler with its mtmd context made here, without the warm-up pass."""
    from llama_cpp.llama_chat_format import MTMDChatHandler

    from ..models.llamacpp import attach_mmproj

    handler = MTMDChatHandler(clip_model_path=str(mmproj), verbose=False, use_gpu=False)
    if not attach_mmproj(llm, handler, mmproj, use_gpu=False):
        raise ExportError(f"llama.cpp's mtmd could not load {mmproj.name}; the mmproj is invalid")
    return handler


def teacher_forced_logits(llm, ids: list[int]) -> np.ndarray:
    """Logits (len(ids), vocab) after evaluating `ids` from an empty context."""
    llm.reset()
    llm._ctx.kv_cache_clear()
    llm.eval(list(ids))
    return np.array(llm.scores[: len(ids)], dtype=np.float32)


def image_chat(llm, image, question: str, *, max_tokens: int = 1) -> ImageChatTurn:
    """One greedy user turn with an image (PIL) through the chat handler."""
    from llama_cpp._utils import suppress_stdout_stderr

    messages = [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": _data_uri(image)}},
        {"type": "text", "text": question},
    ]}]
    with suppress_stdout_stderr(disable=False):
        reply = llm.create_chat_completion(messages=messages, max_tokens=max_tokens,
                                           temperature=0.0, repeat_penalty=1.0, seed=0)
    n_prompt = int(reply["usage"]["prompt_tokens"])
    # With logits_all, rows of `scores` are indexed by position; the last prompt position chose
    # the first reply token.
    logits = np.array(llm.scores[n_prompt - 1], dtype=np.float32)
    text = reply["choices"][0]["message"]["content"] or ""
    return ImageChatTurn(text, int(logits.argmax()), n_prompt, logits)


def _data_uri(image) -> str:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
