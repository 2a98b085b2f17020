"""Teacher-forced scoring of many prompts at once, on a loaded student (torch or MLX).

Owns `BatchScorer`: yes/no probabilities, option log-probabilities and per-token answer
log-probs for lists of (image, messages) prompts. Prompts are sorted by length and run in
right-padded batches; the tokens a batch starts with (chat header, system turn) run once and are
shared through the cache. Right padding needs no attention mask (causal attention keeps pads out
of the positions that are read); options, which continue each prompt's cache rows after the
longest prompt, get one that hides the pads in between. Each method is a generator that yields
(prompts done, total) and returns its results (see `staged`). Token bookkeeping and the plain
forward pass are the student runtime's (`models/student.py`); this module adds only what batching
across prompts needs. It does not generate text or load models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Generator, Sequence

import numpy as np

from ..models.student import log_softmax

Progress = Generator[tuple[int, int], None, Any]  # yields (prompts done, total)


@dataclass(frozen=True)
class Prompt:
    """A question about one photo (or none): the image and the chat messages before the answer."""

    image: Any  # PIL image, a path, or None for text-only
    messages: tuple[dict, ...]

    @classmethod
    def ask(cls, image, question: str, system: str | None = None) -> "Prompt":
        head = ({"role": "system", "content": system},) if system else ()
        return cls(image, head + ({"role": "user", "content": question},))


@dataclass
class _Sequence:
    index: int  # which result it feeds
    ids: np.ndarray  # prompt + answer tokens (the answer's last token is not fed)
    positions: np.ndarray  # (3, L)
    vision: dict | None
    start: int  # row predicting the first answer token
    answer: np.ndarray  # answer token ids (may be empty: only the prompt's last row is read)


def staged(stage: str, gen: Progress):
    """Run a scorer generator as one named progress stage; return its result."""
    from .report import CheckProgressed

    while True:
        try:
            done, total = next(gen)
        except StopIteration as stop:
            return stop.value
        yield CheckProgressed(stage, done, total)


class _Primitives:
    """The student runtime's token bookkeeping and forward pass, plus the two things batching
    options across prompts needs beyond it: picking cache rows, and a forward whose keys can hide
    the pads between a short prompt and the options appended after the longest one."""

    def __init__(self, student):
        self.student = student
        self.pad_id = student.pad_id
        self.yes_ids, self.no_ids = student.yes_ids, student.no_ids
        self.eos_ids = set(student.eos_ids)
        self._answers: dict[str, np.ndarray] = {}

    def vision(self, image):
        return self.student.vision_inputs(image)

    def prompt_ids(self, messages, vision) -> np.ndarray:
        return self.student.encode(list(messages), vision, add_generation_prompt=True)

    def answer_ids(self, text: str) -> np.ndarray:
        if text not in self._answers:  # options repeat a lot (colours, numbers, yes/no)
            self._answers[text] = np.asarray(self.student.answer_tokens(text), np.int64)
        return self._answers[text]

    def positions(self, ids, vision) -> np.ndarray:
        return self.student.positions(ids, vision)

    def decode(self, tokens: list[int]) -> str:
        return self.student.tokenizer.decode(tokens, skip_special_tokens=True).strip()

    def forward(self, ids, positions, vision, cache=None) -> np.ndarray:
        return self.student.forward(ids, positions, cache, vision, True)


class _TorchPrimitives(_Primitives):
    def new_cache(self):
        from transformers import DynamicCache

        return DynamicCache()

    def take_rows(self, cache, rows: np.ndarray):
        import torch
        from transformers import DynamicCache

        index = torch.from_numpy(rows).to(self.student.device)
        return DynamicCache(ddp_cache_data=[(layer.keys[index], layer.values[index])
                                            for layer in cache.layers])

    def forward_masked(self, ids, positions, cache, keep: np.ndarray) -> np.ndarray:
        """`keep` (B, cached + L): which keys each row may see (causality is added by the model)."""
        import torch

        device = self.student.device
        with torch.inference_mode():
            return self.student.model(
                input_ids=torch.from_numpy(ids).to(device),
                position_ids=torch.from_numpy(positions).to(device),
                attention_mask=torch.from_numpy(keep.astype(np.int64)).to(device),
                past_key_values=cache, use_cache=True).logits.float().cpu().numpy()


class _MlxPrimitives(_Primitives):
    def new_cache(self):
        from mlx_vlm.models.cache import make_prompt_cache

        return make_prompt_cache(self.student.model.language_model)

    def take_rows(self, cache, rows: np.ndarray):
        import mlx.core as mx
        from mlx_vlm.models.cache import KVCache

        index, out = mx.array(rows), []
        for layer in cache:
            keys, values = layer.state
            copy = KVCache()
            copy.state = (keys[index], values[index])
            out.append(copy)
        return out

    def forward_masked(self, ids, positions, cache, keep: np.ndarray) -> np.ndarray:
        import mlx.core as mx

        length, span = ids.shape[1], keep.shape[1]
        causal = np.arange(span)[None, :] <= (span - length + np.arange(length))[:, None]
        mask = mx.array(keep[:, None, None, :] & causal[None, None])
        lm = self.student.model.language_model
        # The language model's own __call__ drops `mask`; its inner model and output head do not.
        hidden = lm.model(mx.array(ids), mask=mask, cache=cache, position_ids=mx.array(positions))
        head = lm.model.embed_tokens.as_linear if lm.args.tie_word_embeddings else lm.lm_head
        return np.array(head(hidden).astype(mx.float32))


class BatchScorer:
    """Scores prompts in batches of `batch_size` prompts.

    Within a batch, the tokens every prompt starts with (chat header and system turn, up to the
    first image) run once and are shared through the cache; the rest runs as one right-padded
    forward.
    """

    def __init__(self, student, batch_size: int = 16):
        self.prims = (_MlxPrimitives if student.backend == "mlx" else _TorchPrimitives)(student)
        self.batch_size = max(1, int(batch_size))
        self._prefixes: dict[tuple[int, ...], Any] = {}
        self.image_token_id = student.image_token_id

    def yes_probs(self, prompts: Sequence[Prompt]) -> Progress:
        """P(yes) / (P(yes) + P(no)) of the first answer token, per prompt."""
        out = np.zeros(len(prompts))
        yes, no = self.prims.yes_ids, self.prims.no_ids

        def take(seq: _Sequence, rows: np.ndarray) -> None:
            p = np.exp(log_softmax(rows[0]).astype(np.float64))
            out[seq.index] = p[yes].sum() / (p[yes].sum() + p[no].sum())

        yield from self._run(self._sequences(prompts, [""] * len(prompts), answer=False), take)
        return out

    def option_scores(self, prompts: Sequence[Prompt], options: Sequence[Sequence[str]]) -> Progress:
        """Per prompt, (sum of log-probs, token count) of each option as the whole answer.

        Each prompt runs once; then every option of every prompt in the batch continues from its
        own prompt's cache rows in one more forward, with the pads between that prompt's end and
        the batch width hidden from it.
        """
        out: list[Any] = [None] * len(prompts)
        tokens = [[self.prims.answer_ids(o) for o in opts] for opts in options]
        order = sorted(self._sequences(prompts, [""] * len(prompts), answer=False), key=lambda s: len(s.ids))
        for i in range(0, len(order), self.batch_size):
            batch = order[i:i + self.batch_size]
            for seq, result in zip(batch, self._options_batch(batch, [tokens[s.index] for s in batch])):
                out[seq.index] = result
            yield min(i + self.batch_size, len(order)), len(order)
        return out

    def answer_logprobs(self, prompts: Sequence[Prompt], answers: Sequence[str],
                        reduce: Callable[[int, np.ndarray, np.ndarray], Any]) -> Progress:
        """Teacher-forced log-softmax rows of each answer (its tokens + end of turn).

        `reduce(index, token_ids, logprobs (n, V))` is called once per prompt so that full rows
        never pile up; its return values come back in prompt order.
        """
        out: list[Any] = [None] * len(prompts)

        def take(seq: _Sequence, rows: np.ndarray) -> None:
            out[seq.index] = reduce(seq.index, seq.answer, log_softmax(rows))

        yield from self._run(self._sequences(prompts, answers), take)
        return out

    def greedy(self, prompts: Sequence[Prompt], max_new_tokens: int) -> Progress:
        """Greedy answers (decoded, stripped), as `student.generate` gives them, a batch at a time:
        every step feeds one token per row, with the pads after each prompt hidden."""
        out: list[str] = [""] * len(prompts)
        order = sorted(self._sequences(prompts, [""] * len(prompts), answer=False), key=lambda s: len(s.ids))
        for i in range(0, len(order), self.batch_size):
            batch = order[i:i + self.batch_size]
            for seq, tokens in zip(batch, self._greedy_batch(batch, max_new_tokens)):
                out[seq.index] = self.prims.decode(tokens)
            yield min(i + self.batch_size, len(order)), len(order)
        return out

    def _greedy_batch(self, batch: list[_Sequence], max_new_tokens: int) -> list[list[int]]:
        logits, cache, shared = self._prefill(batch)
        width = shared + logits.shape[1]
        keep = np.ones((len(batch), width), bool)
        for row, seq in enumerate(batch):
            keep[row, len(seq.ids):] = False
        step = np.array([int(np.argmax(logits[row, s.start - shared])) for row, s in enumerate(batch)])
        pos = np.array([s.positions.max() + 1 for s in batch])
        out, live = [[int(t)] for t in step], [int(t) not in self.prims.eos_ids for t in step]
        while any(live) and max(len(o) for o in out) < max_new_tokens:
            keep = np.concatenate([keep, np.ones((len(batch), 1), bool)], axis=1)
            positions = np.broadcast_to(pos[None, :, None], (3, len(batch), 1)).copy()
            step = self.prims.forward_masked(step[:, None], positions, cache, keep)[:, 0].argmax(-1)
            pos += 1
            for row, token in enumerate(step):
                if live[row]:
                    out[row].append(int(token))
                    live[row] = int(token) not in self.prims.eos_ids
        return out

    # -- machinery -----------------------------------------------------------------------------

    def _sequences(self, prompts: Sequence[Prompt], answers: Sequence[str], answer: bool = True):
        visions: dict[int, Any] = {}
        seqs = []
        for index, (prompt, text) in enumerate(zip(prompts, answers)):
            key = id(prompt.image)
            if key not in visions:
                visions[key] = self.prims.vision(prompt.image)
            vision = visions[key]
            head = self.prims.prompt_ids(prompt.messages, vision)
            tail = self.prims.answer_ids(text) if answer else np.zeros(0, np.int64)
            ids = np.concatenate([head, tail[:-1]]) if len(tail) else head
            seqs.append(_Sequence(index, ids, self.prims.positions(ids, vision),
                                  None if vision is None else vision.inputs, len(head) - 1, tail))
        return seqs

    def _run(self, seqs: list[_Sequence], take: Callable[[_Sequence, np.ndarray], None]):
        order = sorted(seqs, key=lambda s: len(s.ids))
        for i in range(0, len(order), self.batch_size):
            batch = order[i:i + self.batch_size]
            logits, _, shared = self._prefill(batch)
            for row, seq in enumerate(batch):
                start = seq.start - shared
                take(seq, logits[row, start:start + max(1, len(seq.answer))])
            yield min(i + self.batch_size, len(order)), len(order)

    def _prefill(self, batch: list[_Sequence]):
        """Run the batch on a cache holding their shared start: (logits of the rest, cache, shared)."""
        shared = self._shared_start(batch)
        ids, positions, vision = self._pack(batch, shared)
        if shared:
            cache = self.prims.take_rows(self._prefix_cache(batch[0], shared), np.zeros(len(batch), np.int64))
        else:
            cache = self.prims.new_cache()
        return self.prims.forward(ids, positions, vision, cache), cache, shared

    def _shared_start(self, batch: list[_Sequence]) -> int:
        """Tokens all rows begin with, stopping before any image token and the last prompt token."""
        first = batch[0].ids
        n = min(min(len(s.ids) for s in batch) - 1, *(s.start for s in batch))
        for seq in batch[1:]:
            diff = np.nonzero(seq.ids[:n] != first[:n])[0]
            n = int(diff[0]) if len(diff) else n
        images = np.nonzero(first[:n] == self.image_token_id)[0]
        return int(images[0]) if len(images) else max(0, n)

    def _prefix_cache(self, seq: _Sequence, shared: int):
        key = tuple(int(t) for t in seq.ids[:shared])
        if key not in self._prefixes:
            cache = self.prims.new_cache()
            self.prims.forward(seq.ids[None, :shared], seq.positions[:, None, :shared], None, cache)
            self._prefixes[key] = cache
        return self._prefixes[key]

    def _options_batch(self, batch: list[_Sequence], tokens: list[list[np.ndarray]]):
        logits, cache, shared = self._prefill(batch)
        width_cached = shared + logits.shape[1]
        pairs = [(row, t) for row, opts in enumerate(tokens) for t in opts]
        sums = [float(log_softmax(logits[row, batch[row].start - shared])[t[0]]) for row, t in pairs]
        width = max(len(t) for _, t in pairs) - 1
        if width > 0:
            feed = np.full((len(pairs), width), self.prims.pad_id, np.int64)
            keep = np.ones((len(pairs), width_cached + width), bool)
            pos = np.zeros((3, len(pairs), width), np.int64)
            for r, (row, t) in enumerate(pairs):
                feed[r, :len(t) - 1] = t[:-1]
                keep[r, len(batch[row].ids):width_cached] = False
                pos[:, r] = batch[row].positions.max() + 1 + np.arange(width)
            rows = self.prims.take_rows(cache, np.array([row for row, _ in pairs]))
            lp = log_softmax(self.prims.forward_masked(feed, pos, rows, keep))
            for r, (_, t) in enumerate(pairs):
                sums[r] += float(lp[r, np.arange(len(t) - 1), t[1:]].sum())
        counts = [len(t) for _, t in pairs]
        bounds = np.cumsum([0] + [len(opts) for opts in tokens])
        return [(np.array(sums[a:b]), np.array(counts[a:b])) for a, b in zip(bounds[:-1], bounds[1:])]

    def _pack(self, batch: list[_Sequence], shared: int = 0):
        """Right-padded ids and positions of the batch from token `shared` on, and its pixels."""
        width = max(len(s.ids) for s in batch)
        ids = np.full((len(batch), width), self.prims.pad_id, np.int64)
        positions = np.zeros((3, len(batch), width), np.int64)
        for row, seq in enumerate(batch):
            n = len(seq.ids)
            ids[row, :n] = seq.ids
            positions[:, row, :n] = seq.positions
            positions[:, row, n:] = seq.positions.max() + 1 + np.arange(width - n)
        visions = [s.vision for s in batch if s.vision is not None]
        vision = None if not visions else {
            "pixel_values": np.concatenate([v["pixel_values"] for v in visions]),
            "image_grid_thw": np.concatenate([v["image_grid_thw"] for v in visions]),
        }
        return ids[:, shared:], positions[:, :, shared:], vision
