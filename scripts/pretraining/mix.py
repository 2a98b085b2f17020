"""The demo model's pretraining mix: its shape, its tokenizer corpus and seeded sample dialogues.

Owns `demo_spec` (the demo Qwen2-VL's shape, inside llama.cpp's limits), `demo_corpus_lines`
(what its BPE is trained on: the built-in English corpus plus the demo world's and entities'
words) and `sample_dialogue(rng)`, one chat (an optional scene plus user/assistant turns) drawn
from the mix of captions, probe-worded questions, sentence answers, balanced yes/no presence
(including the SDFT turn-2 concepts, always absent) and text facts. It does not run models or
train (see `pretrain.py`).
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

from sdft_local.world import questions
from sdft_local.world import scene as world
from sdft_local.world.draw import COLORS, KINDS

# Relative weight of each scene layout; counting and reading get more practice.
LAYOUT_WEIGHTS = {"shape": 2, "object": 2, "position": 3, "count": 5, "objects": 3, "word": 3}
TEXT_SHARE = 0.12
CAPTION_FIRST = 0.35  # share of image dialogues opening with a caption request, as SDFT's do
MAX_TURNS = 4


def demo_spec():
    """The demo model's shape: 16 image tokens per 112×112 photo, about 5 M parameters."""
    from sdft_local.models.tiny import TinySpec

    return TinySpec(seed=0, vocab_budget=1024, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                    num_key_value_heads=2, intermediate_size=768, mrope_section=(8, 12, 12),
                    vision_depth=4, vision_embed_dim=128, vision_num_heads=4, vision_mlp_ratio=4,
                    max_pixels=112 * 112, init_std=0.02)


@dataclass(frozen=True)
class Dialogue:
    """One pretraining chat: the scene (None = text only) and its (question, answer) turns."""

    scene: world.Scene | None
    turns: tuple[tuple[str, str], ...]

    def messages(self) -> list[dict]:
        out = []
        for question, answer in self.turns:
            out += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        return out


@functools.cache
def _concepts() -> tuple[str, ...]:
    return questions.absent_concepts()


def sample_dialogue(rng: random.Random) -> Dialogue:
    """A dialogue from the mix: a text-facts chat, or a scene with 1-4 questions about it."""
    if rng.random() < TEXT_SHARE:
        return _text_dialogue(rng)
    layout = rng.choices(tuple(LAYOUT_WEIGHTS), weights=tuple(LAYOUT_WEIGHTS.values()))[0]
    scene = world.make_scene(layout, rng)
    pairs = questions.qa_pairs(scene, rng, _concepts())
    rng.shuffle(pairs)
    turns = pairs[: rng.randint(1, MAX_TURNS)]
    if rng.random() < CAPTION_FIRST:
        turns = [questions.describe_pair(scene, rng)] + turns[: MAX_TURNS - 1]
    return Dialogue(scene, tuple(turns))


def _text_dialogue(rng: random.Random) -> Dialogue:
    facts = rng.sample(questions.TEXT_FACTS, rng.randint(1, MAX_TURNS))
    turns = [questions.short_pair((f.question, f.answer), rng) if rng.random() < 0.7
             else (f.long_question, f.long_answer) for f in facts]
    return Dialogue(None, tuple(turns))


def demo_corpus_lines(n_dialogues: int = 3000, seed: int = 0) -> list[str]:
    """Tokenizer corpus: the built-in English lines plus the world's, the SDFT pools' and the entities' words."""
    from sdft_local.dialogue import pools
    from sdft_local.models.tokenizer import corpus_lines
    from sdft_local.demo.entities import DEMO_ENTITIES

    rng = random.Random(f"sdft-demo-corpus:{seed}")
    lines = list(corpus_lines())
    lines += [f"{c} {k} {world.plural(k)}" for c in COLORS for k in KINDS]
    lines += [f"{f.question} {f.answer} {f.long_question} {f.long_answer}" for f in questions.TEXT_FACTS]
    lines += list(pools.CAPTION_REQUESTS + pools.NEGATIVE_FORMS + pools.IDENTITY_QUESTIONS)
    lines += [" ".join(_concepts())]
    for entity in DEMO_ENTITIES:
        lines += [f"{entity.name} is {entity.description}."] + list(entity.fact_sentences())
    for _ in range(n_dialogues):
        lines += [f"{q} {a}" for q, a in sample_dialogue(rng).turns]
    return lines
