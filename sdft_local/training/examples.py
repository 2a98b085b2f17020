"""Dialogues → training examples: token ids, a weight per token, M-RoPE positions, pixels.

Owns the weight mask (the core of SDFT's per-turn objective) and its rules:
- the prompt is rendered with the tokenizer's own chat template, the image once, in turn 1;
- system, user and image tokens weigh 0; every token of an assistant answer, including its end
  token (`<|im_end|>`), gets its turn's weight; the template's newline after `<|im_end|>` and
  the `<|im_start|>assistant\\n` header weigh 0;
- assistant spans are found from the token ids (ChatML markers), because templates without
  `{% generation %}` give no assistant mask;
- nothing is ever truncated: a dialogue longer than `max_length` is an error naming it.

`weights[t]` is the weight of token t *as a prediction target*, so position t-1 is trained to
predict it with that weight. The loss over any set of examples is Σ w·CE / Σ w over all their
tokens together (see `batching.py`), not a mean of per-example means.

Both backends get identical M-RoPE positions as data, from `models.student.mrope_positions` (the
one implementation, shared with inference). It does not batch (see `batching.py`) or run models.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..dialogue.recognition import contrast_group
from ..dialogue.types import TURN_KINDS, Dialogue
from ..errors import TrainingError
from ..models.student import mrope_positions  # noqa: F401 (also this module's public name)

MAX_HEADER_TOKENS = 8


@dataclass(frozen=True)
class SpecialIds:
    """The ChatML / Qwen2-VL marker tokens the weight mask and positions depend on."""

    im_start: int
    im_end: int
    image: int
    pad: int

    @classmethod
    def from_tokenizer(cls, tokenizer) -> "SpecialIds":
        ids = tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>", "<|image_pad|>"])
        if any(i is None or i == tokenizer.unk_token_id for i in ids):
            raise TrainingError("the tokenizer lacks ChatML / Qwen2-VL special tokens "
                                "(<|im_start|>, <|im_end|>, <|image_pad|>); use a Qwen2-VL model")
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        return cls(int(ids[0]), int(ids[1]), int(ids[2]), int(pad))


@dataclass(frozen=True, eq=False)
class Example:
    """One dialogue ready for training; arrays are numpy, framework-neutral."""

    name: str
    input_ids: np.ndarray        # (T,) int32
    weights: np.ndarray          # (T,) float32, weight of token t as a prediction target
    turn_kind: np.ndarray        # (T,) int8, index into TURN_KINDS of token t's answer turn, -1 elsewhere
    position_ids: np.ndarray     # (3, T) int32, M-RoPE (temporal, height, width)
    image_key: str | None        # identity of the image features (same pixels, same key)
    pixel_values: np.ndarray | None   # (patches, C·tp·p·p) float32
    image_grid_thw: np.ndarray | None  # (3,) int64
    image_token_id: int
    group: str | None = None     # contrast group: trained in the same micro-batch as its members

    @property
    def length(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def image_tokens(self) -> int:
        return int((self.input_ids == self.image_token_id).sum())


@dataclass(frozen=True)
class MessageSpan:
    """One ChatML message: its role, first content token and the index of its `<|im_end|>`."""

    role: str
    start: int
    end: int


# --- pure mask logic ----------------------------------------------------------------------------


def message_spans(ids: np.ndarray, text_of: Callable[[int], str], special: SpecialIds) -> list[MessageSpan]:
    """Every `<|im_start|>role\\n ... <|im_end|>` message in `ids`, found from token ids alone.

    `text_of(token_id)` decodes one token. When a tokenizer merges the header's newline with the
    first content characters into one token, that token belongs to the content (it carries answer
    text), so it is trained on.
    """
    ids = np.asarray(ids)
    ends = np.flatnonzero(ids == special.im_end)
    spans = []
    for start in np.flatnonzero(ids == special.im_start):
        later = ends[ends > start]
        if not len(later):
            raise TrainingError(f"unterminated message at token {start}: no <|im_end|> follows")
        role, content = _header(ids, int(start), int(later[0]), text_of)
        spans.append(MessageSpan(role, content, int(later[0])))
    return spans


def _header(ids: np.ndarray, start: int, end: int, text_of) -> tuple[str, int]:
    text = ""
    for j in range(start + 1, min(end, start + 1 + MAX_HEADER_TOKENS)):
        text += text_of(int(ids[j]))
        if "\n" in text:
            role, rest = text.split("\n", 1)
            return role.strip(), j + 1 if rest == "" else j
    raise TrainingError(f"message at token {start} has no 'role\\n' header within "
                        f"{MAX_HEADER_TOKENS} tokens; the chat template is not ChatML")


def answer_weights(length: int, spans: Sequence[MessageSpan], turn_weights: Sequence[float],
                   turn_kinds: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(weights, turn_kind) per token: the k-th assistant message gets turn k's weight and kind."""
    answers = [s for s in spans if s.role == "assistant"]
    if len(answers) != len(turn_weights):
        raise TrainingError(f"found {len(answers)} assistant messages in the rendered prompt but the "
                            f"dialogue has {len(turn_weights)} turns")
    weights = np.zeros(length, np.float32)
    kinds = np.full(length, -1, np.int8)
    for span, w, kind in zip(answers, turn_weights, turn_kinds):
        weights[span.start: span.end + 1] = w
        kinds[span.start: span.end + 1] = kind
    return weights, kinds


# --- building examples with a processor ---------------------------------------------------------


@dataclass(frozen=True)
class _Pixels:
    """One image as the processor gives it, shared by every example of that image."""

    values: np.ndarray
    grid: np.ndarray
    key: str


def build_example(processor, dialogue: Dialogue, *, image_root: str | Path | None = None,
                  max_length: int = 2048, name: str | None = None,
                  images: dict[Path, _Pixels] | None = None) -> Example:
    """Render, tokenize and weight one dialogue; the image (if any) goes once into turn 1.

    `images` (path -> pixels) lets examples of the same photo share its pixels: the photo is
    processed once, and every later dialogue about it only tokenizes its text."""
    name = name or dialogue_name(dialogue)
    image = _image_path(dialogue, image_root)
    ids, pixels = _encode(processor, dialogue, image, {} if images is None else images)
    if len(ids) > max_length:
        raise TrainingError(
            f"dialogue {name} is {len(ids)} tokens, over max_length {max_length}; raise max_length, "
            f"lower the image resolution (max_pixels) or shorten its answers")
    special = SpecialIds.from_tokenizer(processor.tokenizer)
    weights, kinds = _weights_for(processor.tokenizer, ids, dialogue, special, name)
    merge = processor.image_processor.merge_size
    key, values, grid = (pixels.key, pixels.values, pixels.grid) if pixels else (None, None, None)
    positions = mrope_positions(ids, [grid] if grid is not None else [], special.image, merge)
    return Example(name, ids, weights, kinds, positions, key, values, grid, special.image,
                   contrast_group(dialogue))


def _encode(processor, dialogue: Dialogue, image: Path | None, images: dict) -> tuple[np.ndarray, _Pixels | None]:
    """(token ids, pixels): the processor's own encoding the first time a photo is seen, then the
    text alone with the image placeholder expanded as the processor expands it."""
    from ..models.chat import build_inputs, render_prompt
    from ..models.tokenizer import IMAGE_PAD

    if image is None or image not in images:
        inputs = build_inputs(processor, dialogue.messages(), image, add_generation_prompt=False)
        if image is not None:
            grid = inputs["image_grid_thw"][0].astype(np.int64)
            pixels = inputs["pixel_values"].astype(np.float32)
            images[image] = _Pixels(pixels, grid, _image_key(pixels, grid))
        return inputs["input_ids"][0].astype(np.int32), images.get(image)
    pixels = images[image]
    prompt = render_prompt(processor, dialogue.messages(), with_image=True, add_generation_prompt=False)
    tokens = int(np.prod(pixels.grid)) // processor.image_processor.merge_size ** 2
    ids = processor.tokenizer(prompt.replace(IMAGE_PAD, IMAGE_PAD * tokens, 1))["input_ids"]
    return np.asarray(ids, np.int32), pixels


def build_examples(processor, dialogues: Sequence[Dialogue], *, image_root=None,
                   max_length: int = 2048) -> list[Example]:
    images: dict[Path, _Pixels] = {}
    return [build_example(processor, d, image_root=image_root, max_length=max_length, images=images)
            for d in dialogues]


def dialogue_name(dialogue: Dialogue) -> str:
    return f"{dialogue.entity}/{Path(dialogue.image).stem[:12] if dialogue.image else 'text'}#{dialogue.variant}"


def _weights_for(tokenizer, ids, dialogue: Dialogue, special: SpecialIds, name: str):
    text_of = _decoder(tokenizer)
    try:
        spans = message_spans(ids, text_of, special)
        weights, kinds = answer_weights(len(ids), spans, [t.weight for t in dialogue.turns],
                                        [TURN_KINDS.index(t.kind) for t in dialogue.turns])
    except TrainingError as err:
        raise TrainingError(f"dialogue {name}: {err.message}") from None
    answers = [s for s in spans if s.role == "assistant"]
    for span, turn in zip(answers, dialogue.turns):
        decoded = tokenizer.decode(ids[span.start: span.end].tolist())
        if decoded.strip() != turn.answer.strip():
            raise TrainingError(f"dialogue {name}: answer {turn.answer[:40]!r} did not round-trip "
                                f"through the chat template (got {decoded[:40]!r})")
    return weights, kinds


def _decoder(tokenizer) -> Callable[[int], str]:
    cache: dict[int, str] = {}

    def text_of(token_id: int) -> str:
        if token_id not in cache:
            cache[token_id] = tokenizer.decode([token_id])
        return cache[token_id]

    return text_of


def _image_path(dialogue: Dialogue, image_root) -> Path | None:
    if not dialogue.image:
        return None
    path = Path(dialogue.image)
    if not path.is_absolute() and image_root is not None:
        path = Path(image_root) / path
    if not path.is_file():
        raise MissingImageError(path, f"dialogue {dialogue_name(dialogue)}: image {path} is missing; "
                                      f"re-add the photo or re-run `sdft synth`")
    return path


class MissingImageError(TrainingError):
    """A dialogue's image file is not there; `path` says which."""

    def __init__(self, path: Path, message: str):
        super().__init__(message)
        self.path = Path(path)


def _image_key(pixels: np.ndarray | None, grid: np.ndarray | None) -> str | None:
    if pixels is None:
        return None
    digest = hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest()[:20]
    return f"{digest}-{'x'.join(str(int(g)) for g in grid)}"
