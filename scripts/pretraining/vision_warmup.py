"""The first pretraining stage: teach the demo model's vision tower to see the world, directly.

Learning to see only through the language model is slow from scratch: the language model first
learns formats and priors and sends the vision tower weak, noisy gradients (1100 dialogue steps
left colour at chance). This stage trains the vision tower and its merger against the scene
specs with small linear heads (the colour and kind of a one-kind scene, colours and kinds present,
count, position, written word), each image costing a fifth of a dialogue step. The heads see the
16 merged image tokens only through their mean and maximum, an order-blind summary: the language
model barely tells image tokens apart by place (mrope's height and width bands rotate by under
0.1 rad across a 4x4 grid at theta 1e6), so where a thing is must be written into the token
itself, and heads on the flattened tokens could read it off the token index instead (they reached
1.0 on position while the language model stayed at chance). The heads are discarded; the dialogue
stage (`pretrain.py`) starts from the trained tower. Owns `scene_targets`, the heads and
`warm_up_vision`. It does not touch the language model.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from . import mix
from sdft_local.world.draw import KINDS
from .pretrain import IGNORE
from sdft_local.world.questions import clear_position
from sdft_local.world.scene import ITEM_COLORS, POSITIONS, WORDS, Scene, make_scene, position_of, render_scene

# Class heads (cross-entropy; -100 where the scene has no single answer) and presence heads (multi-hot).
CLASS_HEADS = {"colour": len(ITEM_COLORS), "kind": len(KINDS), "count": 6, "position": len(POSITIONS),
               "word": len(WORDS)}
PRESENCE_HEADS = {"colours": len(ITEM_COLORS), "kinds": len(KINDS)}
POS_WEIGHT = 4.0  # few positives per multi-hot row: weigh them up so the heads do not settle on "none"


@dataclass(frozen=True)
class VisionTargets:
    """What a scene's image shows, as head targets."""

    colour: int  # the one item colour, when the scene has exactly one
    kind: int  # the one item kind, when the scene has exactly one
    count: int  # number of items - 1
    position: int  # region of a single, clearly placed item
    word: int  # index of the written word
    colours: np.ndarray  # (9,) multi-hot
    kinds: np.ndarray  # (19,) multi-hot


def scene_targets(scene: Scene) -> VisionTargets:
    colours = np.zeros(len(ITEM_COLORS), np.float32)
    kinds = np.zeros(len(KINDS), np.float32)
    for item in scene.items:
        colours[ITEM_COLORS.index(item.color)] = 1
        kinds[KINDS.index(item.kind)] = 1
    one_colour = len({i.color for i in scene.items}) == 1
    one_kind = len(scene.kinds) == 1
    single = len(scene.items) == 1 and clear_position(scene.items[0])
    return VisionTargets(
        ITEM_COLORS.index(scene.items[0].color) if one_colour else IGNORE,
        KINDS.index(scene.items[0].kind) if one_kind else IGNORE,
        len(scene.items) - 1 if scene.items else IGNORE,
        POSITIONS.index(position_of(scene.items[0])) if single else IGNORE,
        WORDS.index(scene.word.text) if scene.word is not None else IGNORE,
        colours, kinds,
    )


def warmup_scenes(seed: int, step: int, batch_size: int) -> list[Scene]:
    """The scenes of warm-up step `step`: a pure function of (seed, step), drawn like the mix's."""
    rng = random.Random(f"sdft-demo-vision:{seed}:{step}")
    layouts, weights = tuple(mix.LAYOUT_WEIGHTS), tuple(mix.LAYOUT_WEIGHTS.values())
    return [make_scene(rng.choices(layouts, weights=weights)[0], rng) for _ in range(batch_size)]


def make_heads(hidden: int, seed: int = 0):
    import torch

    torch.manual_seed(seed)
    sizes = CLASS_HEADS | PRESENCE_HEADS
    return torch.nn.ModuleDict({name: torch.nn.Linear(2 * hidden, n) for name, n in sizes.items()})


def pooled(feats, images: int):
    """(images * tokens, hidden) merged features -> (images, 2 * hidden): mean and max over each image's tokens."""
    import torch

    per_image = feats.reshape(images, -1, feats.shape[-1])
    return torch.cat([per_image.mean(1), per_image.amax(1)], -1)


def vision_loss(model, heads, processor, scenes: list[Scene]):
    """Summed head losses on `scenes` and each head's accuracy (top-1, or per-label for presence)."""
    import torch
    import torch.nn.functional as F

    pixels = processor.image_processor(images=[render_scene(s) for s in scenes], return_tensors="pt")
    feats = model.model.visual(pixels["pixel_values"], grid_thw=pixels["image_grid_thw"]).pooler_output
    summary = pooled(feats, len(scenes))
    targets = [scene_targets(s) for s in scenes]
    loss, acc = 0.0, {}
    for name in CLASS_HEADS:
        y = torch.tensor([getattr(t, name) for t in targets])
        mask = y != IGNORE
        if mask.any():
            logits = heads[name](summary)
            loss = loss + F.cross_entropy(logits, y, ignore_index=IGNORE)
            acc[name] = float((logits.argmax(-1)[mask] == y[mask]).float().mean())
    for name in PRESENCE_HEADS:
        y = torch.from_numpy(np.stack([getattr(t, name) for t in targets]))
        logits = heads[name](summary)
        weight = torch.full((y.shape[1],), POS_WEIGHT)
        loss = loss + F.binary_cross_entropy_with_logits(logits, y, pos_weight=weight)
        acc[name] = float(((logits > 0).float() == y).float().mean())
    return loss, acc


def warm_up_vision(model, processor, heads, opt, *, steps: int, batch_size: int, lr: float, seed: int = 0,
                   start: int = 0):
    """Train the vision tower + merger and `heads` with `opt` for steps `start`..`steps`;
    yields (step, loss, accuracy per head)."""
    import torch

    params = [p for group in opt.param_groups for p in group["params"]]
    for step in range(start, steps):
        for group in opt.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / 50) * (0.1 + 0.9 * (1 - step / steps))
        loss, acc = vision_loss(model, heads, processor, warmup_scenes(seed, step, batch_size))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        yield step + 1, float(loss.detach()), acc
