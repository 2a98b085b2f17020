"""The student runtime: what synthesis and the check ask of the base (or tuned) model.

Owns the `Student` protocol (greedy `generate`, `session` for a dialogue about one photo that
encodes the image once and reuses the KV cache of the shared prefix, `yes_no`,
`option_logprobs`, `token_logprobs`), its torch and MLX implementations and `make_student`.
All token bookkeeping (prompt ids, 3-D rope positions, prefix reuse, batching of options) is
shared numpy code; a backend only runs a forward pass on a cache. The bookkeeping and the forward
are public (`vision_inputs`, `encode`, `answer_tokens`, `positions`, `forward`) so that callers can
batch across prompts. It does not train or export.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

from ..errors import BackendError, ConfigError
from .chat import load_image, render_prompt
from .registry import is_apple_silicon, resolve_model

IMAGE_PAD = "<|image_pad|>"
END_OF_TURN = "<|im_end|>"
BACKENDS = ("auto", "torch", "mlx")


@dataclass(frozen=True)
class AnswerLogprobs:
    """Teacher-forced log-softmax rows for an answer: row i predicts `token_ids[i]`."""

    token_ids: np.ndarray  # (n,) the answer's tokens, ending with the end-of-turn token
    logprobs: np.ndarray  # (n, vocab) float32

    @property
    def total(self) -> float:
        return float(self.logprobs[np.arange(len(self.token_ids)), self.token_ids].sum())


class Student(Protocol):
    """A loaded student model answering questions about one photo at a time."""

    name: str
    backend: str

    def generate(self, image, messages: list[dict], *, max_new_tokens: int = 64) -> str: ...

    def session(self, image=None, *, system: str | None = None) -> "ChatSession": ...

    def yes_no(self, image, messages: list[dict]) -> float: ...

    def option_logprobs(self, image, messages: list[dict], options: list[str], *,
                        batch_size: int = 16) -> list[float]: ...

    def token_logprobs(self, image, messages: list[dict], answer: str) -> AnswerLogprobs: ...


def make_student(model: str | Path, backend: str = "auto", adapter: str | Path | None = None,
                 *, device: str = "auto") -> "Student":
    """Load `model` (an id or folder, see `resolve_model`) as a Student on `backend`.

    `auto` is MLX on Apple Silicon and torch elsewhere. `adapter` is a PEFT adapter folder for
    torch, an MLX adapter folder for MLX. `device` applies to torch only.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "auto":
        backend = "mlx" if is_apple_silicon() else "torch"
    path = resolve_model(model)
    label = path.name if Path(str(model)).expanduser().exists() else str(model)
    if adapter is not None:
        label += f"+{Path(adapter).name}"
    if backend == "mlx":
        return MlxStudent(path, adapter=adapter, label=label)
    return TorchStudent(path, adapter=adapter, device=device, label=label)


def mrope_positions(ids: np.ndarray, grids: Sequence[Sequence[int]], image_token: int,
                    merge: int) -> np.ndarray:
    """Qwen2-VL's 3-D rotary positions (3, T): text counts up; an image takes a t×h×w block
    (for inference and training alike).

    Mirrors transformers' `Qwen2VLModel.get_rope_index` for one sequence of text and images.
    """
    ids = np.asarray(ids)
    out = np.zeros((3, len(ids)), np.int32)
    grid_iter, cur, t = iter(grids), 0, 0
    while t < len(ids):
        if ids[t] != image_token:
            out[:, t] = cur
            cur, t = cur + 1, t + 1
            continue
        gt, gh, gw = (int(x) for x in next(grid_iter))
        h, w = gh // merge, gw // merge
        block = np.stack(np.meshgrid(np.arange(gt), np.arange(h), np.arange(w), indexing="ij"))
        n = gt * h * w
        out[:, t: t + n] = block.reshape(3, n) + cur
        cur, t = cur + max(gh, gw) // merge, t + n
    return out


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float32)
    m = x.max(axis=-1, keepdims=True)
    return x - (m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True)))


@dataclass
class _Vision:
    """One photo, processed once: pixel inputs and how many image tokens it becomes."""

    inputs: dict[str, np.ndarray]  # pixel_values (patches, dim), image_grid_thw (1, 3)
    n_tokens: int


@dataclass
class _Stream:
    """A KV cache and the token ids it holds, for one conversation."""

    vision: _Vision | None
    cache: Any = None
    fed: list[int] = field(default_factory=list)
    next_pos: int = 0


def answer_start_ids(tokenizer, word: str, other: str) -> list[int]:
    """The tokens an answer `word` can start with: the first token of each of its spellings
    ("yes", "Yes", "YES", each with and without a leading space), unless a spelling of `other`
    starts with it too. A tokenizer that writes "yes" as "y" + "es" is read on "y": the first
    answer token is where a yes/no is decided, and counting only one-token spellings would read a
    model that answers in that spelling as saying neither."""
    def starts(w: str) -> set[int]:
        spellings = {p + v for p in ("", " ") for v in (w, w.capitalize(), w.upper())}
        return {ids[0] for ids in (tokenizer(v, add_special_tokens=False)["input_ids"] for v in spellings) if ids}

    return sorted(starts(word) - starts(other))


class _Runtime(ABC):
    """Backend-independent student logic over four primitives: new, crop, repeat, forward.

    Public attributes for callers that batch on their own: `yes_ids` / `no_ids` (the
    tokens a yes / a no can start with, see `answer_start_ids`), `pad_id`, `end_id` (end of turn), `image_token_id`.
    """

    backend = ""

    def __init__(self, processor, label: str):
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.name = f"{self.backend}:{label}"
        self.image_token_id = self.tokenizer.convert_tokens_to_ids(IMAGE_PAD)
        self.end_id = self.tokenizer.convert_tokens_to_ids(END_OF_TURN)
        self.eos_ids = {self.end_id, self.tokenizer.convert_tokens_to_ids("<|endoftext|>")}
        self.pad_id = self.tokenizer.pad_token_id or 0
        self.yes_ids = answer_start_ids(self.tokenizer, "yes", "no")
        self.no_ids = answer_start_ids(self.tokenizer, "no", "yes")

    # -- public API -------------------------------------------------------------------------

    def generate(self, image, messages: list[dict], *, max_new_tokens: int = 64) -> str:
        stream = _Stream(self.vision_inputs(image))
        ids = self.encode(messages, stream.vision, add_generation_prompt=True)
        return self._decode(self._greedy(stream, ids, max_new_tokens))

    def session(self, image=None, *, system: str | None = None) -> "ChatSession":
        return ChatSession(self, image, system=system)

    def yes_no(self, image, messages: list[dict]) -> float:
        return self._yes_share(self._prompt_logits(image, messages)[1])

    def option_logprobs(self, image, messages: list[dict], options: list[str], *,
                        batch_size: int = 16) -> list[float]:
        """Sum of log-probs of each option as the whole answer (its tokens + end of turn)."""
        stream, last = self._prompt_logits(image, messages)
        first = log_softmax(last)
        token_lists = [self.answer_tokens(o) for o in options]
        scores: list[float] = []
        for i in range(0, len(token_lists), max(1, batch_size)):
            scores += self._score_batch(stream, first, token_lists[i:i + batch_size])
        return scores

    def token_logprobs(self, image, messages: list[dict], answer: str) -> AnswerLogprobs:
        stream, last = self._prompt_logits(image, messages)
        tokens = np.array(self.answer_tokens(answer))
        rows = [last[None]]
        if len(tokens) > 1:
            pos = self._text_positions(stream.next_pos, 1, len(tokens) - 1)
            rows.append(self.forward(tokens[None, :-1], pos, stream.cache, None, True)[0])
        return AnswerLogprobs(tokens, log_softmax(np.concatenate(rows)))

    # -- token bookkeeping and forward, public for batching across prompts (check/batch.py) --

    def vision_inputs(self, image) -> _Vision | None:
        """Process `image` (PIL image or path) once: pixel inputs + its image-token count.

        None for a text-only prompt. For a batch, concatenate the rows' `inputs["pixel_values"]`
        along axis 0 and stack their `inputs["image_grid_thw"]` (n_images, 3), in row order.
        """
        if image is None:
            return None
        out = self.processor.image_processor(images=[load_image(image)], return_tensors="np")
        inputs = {k: np.asarray(out[k]) for k in ("pixel_values", "image_grid_thw")}
        merge = self.processor.image_processor.merge_size
        return _Vision(inputs, int(np.prod(inputs["image_grid_thw"][0])) // merge**2)

    def encode(self, messages: list[dict], vision: _Vision | None, *,
               add_generation_prompt: bool | None) -> np.ndarray:
        """Token ids (L,) int64 of `messages` rendered with the chat template.

        With `vision`, the image slot of the first user turn holds `vision.n_tokens` image
        pads. `add_generation_prompt` as in `render_prompt` (None: iff the last turn is a user's).
        """
        prompt = render_prompt(self.processor, messages, with_image=vision is not None,
                               add_generation_prompt=add_generation_prompt)
        if vision is not None:
            # What the processor does: one image_pad per merged patch.
            prompt = prompt.replace(IMAGE_PAD, IMAGE_PAD * vision.n_tokens)
        return np.array(self.tokenizer(prompt, add_special_tokens=False)["input_ids"], np.int64)

    def answer_tokens(self, text: str) -> list[int]:
        """The token ids of `text` as a whole assistant answer: its tokens + end of turn."""
        return self.tokenizer(text, add_special_tokens=False)["input_ids"] + [self.end_id]

    def positions(self, ids: np.ndarray, vision: _Vision | None) -> np.ndarray:
        """Qwen2-VL's 3-D rope positions (3, L) int64 for one sequence `ids` from `encode`."""
        grids = [] if vision is None else [vision.inputs["image_grid_thw"][0]]
        return mrope_positions(ids, grids, self.image_token_id,
                               self.processor.image_processor.merge_size).astype(np.int64)

    # -- shared machinery -------------------------------------------------------------------

    def _yes_share(self, logits: np.ndarray) -> float:
        """P(yes) / (P(yes) + P(no)) from one next-token logits row."""
        if not self.yes_ids or not self.no_ids:
            raise BackendError(f"{self.name}: the tokenizer has no token that starts yes or no")
        p = np.exp(log_softmax(logits).astype(np.float64))
        return float(p[self.yes_ids].sum() / (p[self.yes_ids].sum() + p[self.no_ids].sum()))

    def _prompt_logits(self, image, messages) -> tuple[_Stream, np.ndarray]:
        stream = _Stream(self.vision_inputs(image))
        ids = self.encode(messages, stream.vision, add_generation_prompt=True)
        return stream, self._advance(stream, ids)

    def _advance(self, stream: _Stream, ids: np.ndarray) -> np.ndarray:
        """Make the cache hold `ids` and return the logits row after the last one.

        Only tokens after the longest common prefix with what the cache already holds are
        run; a prefix that would cut the image in two is dropped so the image is re-encoded.
        """
        keep = min(_common_prefix(stream.fed, ids), len(ids) - 1)
        positions = self.positions(ids, stream.vision)
        image_end = _image_end(ids, self.image_token_id)
        if keep < image_end or stream.cache is None:
            keep = 0
        if keep == 0:
            stream.cache = self._new_cache()
        elif keep < len(stream.fed):
            self._crop(stream.cache, keep, len(stream.fed))
        vision = stream.vision.inputs if keep == 0 and stream.vision is not None else None
        logits = self.forward(ids[None, keep:], positions[:, None, keep:], stream.cache, vision,
                               False)
        stream.fed, stream.next_pos = [int(t) for t in ids], int(positions[:, -1].max()) + 1
        return logits[0, -1]

    def _step(self, stream: _Stream, token: int) -> np.ndarray:
        pos = self._text_positions(stream.next_pos, 1, 1)
        logits = self.forward(np.array([[token]]), pos, stream.cache, None, False)
        stream.fed.append(token)
        stream.next_pos += 1
        return logits[0, -1]

    def _greedy(self, stream: _Stream, ids: np.ndarray, max_new_tokens: int) -> list[int]:
        logits = self._advance(stream, ids)
        out: list[int] = []
        while len(out) < max_new_tokens:
            out.append(int(np.argmax(logits)))
            if out[-1] in self.eos_ids or len(out) == max_new_tokens:
                break
            logits = self._step(stream, out[-1])
        return out

    def _score_batch(self, stream: _Stream, first: np.ndarray, token_lists) -> list[float]:
        scores = [float(first[t[0]]) for t in token_lists]
        width = max(len(t) for t in token_lists) - 1
        if width == 0:
            return scores
        batch = np.full((len(token_lists), width), self.pad_id, np.int64)
        for row, tokens in enumerate(token_lists):
            batch[row, :len(tokens) - 1] = tokens[:-1]
        # Right padding needs no mask: causal attention keeps pads out of earlier positions.
        cache = self._repeat(stream.cache, len(token_lists))
        pos = self._text_positions(stream.next_pos, len(token_lists), width)
        logp = log_softmax(self.forward(batch, pos, cache, None, True))
        for row, tokens in enumerate(token_lists):
            n = len(tokens) - 1
            scores[row] += float(logp[row, np.arange(n), tokens[1:]].sum())
        return scores

    @staticmethod
    def _text_positions(start: int, batch: int, length: int) -> np.ndarray:
        return np.broadcast_to(np.arange(start, start + length), (3, batch, length)).copy()

    def _decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True).strip()

    # -- backend primitives -----------------------------------------------------------------

    @abstractmethod
    def _new_cache(self):
        """An empty KV cache for a batch of one."""

    @abstractmethod
    def _crop(self, cache, keep: int, held: int) -> None:
        """Shrink `cache` from `held` to its first `keep` tokens."""

    @abstractmethod
    def _repeat(self, cache, times: int):
        """A new cache holding `cache`'s single row `times` times (the original is untouched)."""

    @abstractmethod
    def forward(self, ids: np.ndarray, positions: np.ndarray, cache, vision: dict | None,
                all_rows: bool) -> np.ndarray:
        """Run `ids` (B, L) at `positions` (3, B, L); float32 logits (B, L, V), or (B, 1, V)
        for the last position only when `all_rows` is False.

        `cache`: a backend KV cache extended in place, or None to run without one (a fresh
        batch of whole sequences; right padding needs no mask since attention is causal).
        `vision`: None, or the pixel inputs of every image in `ids` in row order
        (`pixel_values` concatenated along axis 0, `image_grid_thw` stacked (n_images, 3)).
        """


class ChatSession:
    """A dialogue about one photo: later turns reuse the cached prefix (image included)."""

    def __init__(self, runtime: _Runtime, image=None, *, system: str | None = None):
        self._runtime = runtime
        self._stream = _Stream(runtime.vision_inputs(image))
        self._messages: list[dict] = [{"role": "system", "content": system}] if system else []

    @property
    def messages(self) -> list[dict]:
        return [dict(m) for m in self._messages]

    def ask(self, question: str, *, max_new_tokens: int = 64) -> str:
        """Add a user turn, answer it greedily, record the answer, and return it."""
        self._messages.append({"role": "user", "content": question})
        ids = self._runtime.encode(self._messages, self._stream.vision, add_generation_prompt=True)
        answer = self._runtime._decode(self._runtime._greedy(self._stream, ids, max_new_tokens))
        self._messages.append({"role": "assistant", "content": answer})
        return answer

    def add(self, role: str, content: str) -> None:
        """Record a turn without generating (e.g. an answer written by another model)."""
        self._messages.append({"role": role, "content": content})

    def replace_last_answer(self, content: str) -> None:
        """Swap the last assistant answer (e.g. for a template negative); the cache follows."""
        if not self._messages or self._messages[-1]["role"] != "assistant":
            raise ValueError("the session has no assistant answer to replace")
        self._messages[-1] = {"role": "assistant", "content": content}

    def truncate(self, n_messages: int) -> None:
        """Keep only the first `n_messages` messages (a system turn counts as one).

        The next turn reuses the cached prefix up to where the conversations differ; the
        image sits before the first user text, so it stays cached even after `truncate(0)`.
        """
        if not 0 <= n_messages <= len(self._messages):
            raise ValueError(f"truncate({n_messages}): the session holds "
                             f"{len(self._messages)} messages; pass 0..{len(self._messages)}")
        del self._messages[n_messages:]

    def yes_no(self, question: str) -> float:
        """P(yes) / (P(yes) + P(no)) of the first answer token to `question` as the next user
        turn, run on the cached prefix; the turn is not recorded."""
        messages = self._messages + [{"role": "user", "content": question}]
        ids = self._runtime.encode(messages, self._stream.vision, add_generation_prompt=True)
        return self._runtime._yes_share(self._runtime._advance(self._stream, ids))


def _common_prefix(a: list[int], b: np.ndarray) -> int:
    n = min(len(a), len(b))
    if n == 0:
        return 0
    diff = np.nonzero(np.asarray(a[:n]) != b[:n])[0]
    return int(diff[0]) if len(diff) else n


def _image_end(ids: np.ndarray, image_token_id: int) -> int:
    hits = np.nonzero(ids == image_token_id)[0]
    return int(hits[-1]) + 1 if len(hits) else 0


class TorchStudent(_Runtime):
    """Student on transformers (+ peft for an adapter); CUDA, MPS or CPU."""

    backend = "torch"

    def __init__(self, path: Path, *, adapter=None, device: str = "auto", dtype=None,
                 label: str | None = None):
        from .loaders import load_torch_student

        self.model, processor = load_torch_student(path, device=device, dtype=dtype)
        if adapter is not None:
            self.model = _with_peft_adapter(self.model, Path(adapter))
        self.device = next(self.model.parameters()).device
        super().__init__(processor, label or Path(path).name)

    def _new_cache(self):
        from transformers import DynamicCache

        return DynamicCache()

    def _crop(self, cache, keep: int, held: int) -> None:
        cache.crop(keep - held)

    def _repeat(self, cache, times: int):
        from transformers import DynamicCache

        return DynamicCache(ddp_cache_data=[
            (layer.keys.repeat_interleave(times, 0), layer.values.repeat_interleave(times, 0))
            for layer in cache.layers
        ])

    def forward(self, ids, positions, cache, vision, all_rows: bool) -> np.ndarray:
        import torch

        kwargs = {
            "input_ids": torch.from_numpy(np.ascontiguousarray(ids)).to(self.device),
            "position_ids": torch.from_numpy(np.ascontiguousarray(positions)).to(self.device),
            "past_key_values": cache, "use_cache": True, "logits_to_keep": 0 if all_rows else 1,
        }
        if vision is not None:
            kwargs["pixel_values"] = torch.from_numpy(vision["pixel_values"]).to(self.device)
            kwargs["image_grid_thw"] = torch.from_numpy(vision["image_grid_thw"]).to(self.device)
        with torch.inference_mode():
            return self.model(**kwargs).logits.float().cpu().numpy()


def _with_peft_adapter(model, adapter: Path):
    from peft import PeftModel

    from ..errors import ModelError

    if not (adapter / "adapter_config.json").is_file():
        raise ModelError(f"{adapter}: not a PEFT adapter folder (no adapter_config.json)")
    return PeftModel.from_pretrained(model, str(adapter), is_trainable=False).eval()


class MlxStudent(_Runtime):
    """Student on mlx-vlm's Qwen2-VL classes (Metal on Apple Silicon, mlx-cpu elsewhere)."""

    backend = "mlx"

    def __init__(self, path: Path, *, adapter=None, label: str | None = None):
        from .loaders import load_mlx_student

        self.model, processor = load_mlx_student(path, adapter=adapter)
        super().__init__(processor, label or Path(path).name)

    def _new_cache(self):
        from mlx_vlm.models.cache import make_prompt_cache

        return make_prompt_cache(self.model.language_model)

    def _crop(self, cache, keep: int, held: int) -> None:
        for layer in cache:
            layer.trim(held - keep)

    def _repeat(self, cache, times: int):
        import mlx.core as mx
        from mlx_vlm.models.cache import KVCache

        out = []
        for layer in cache:
            copy = KVCache()
            keys, values = layer.state
            copy.state = (mx.repeat(keys, times, axis=0), mx.repeat(values, times, axis=0))
            out.append(copy)
        return out

    def forward(self, ids, positions, cache, vision, all_rows: bool) -> np.ndarray:
        import mlx.core as mx

        ids_mx = mx.array(ids)
        if vision is None:
            embeds = self.model.language_model.model.embed_tokens(ids_mx)
        else:
            embeds = self.model.get_input_embeddings(
                ids_mx, mx.array(vision["pixel_values"]),
                image_grid_thw=mx.array(vision["image_grid_thw"]),
            ).inputs_embeds
        out = self.model.language_model(ids_mx, inputs_embeds=embeds, cache=cache,
                                        position_ids=mx.array(positions))
        logits = out.logits if all_rows else out.logits[:, -1:, :]
        return np.array(logits.astype(mx.float32))
