"""The general probe suite: questions with checkable answers that need no download.

Owns `ProbeSuite` — image items rendered at run time from the demo world (colours, shapes,
counting, positions, rendered words, presence) plus text-only items, each with its options,
expected answer and family (see `items.py`) — and its version, a hash of every item's text and
pixels, so caches keyed on it can never serve answers to different probes. It does not render
(see `demo/`) or score anything.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .batch import Prompt
from ..world.questions import PROBE_FAMILIES as FAMILIES, ProbeItem, probe_items

SUITE_FORMAT = "1"
TEXT_FAMILY = "text"


@dataclass(frozen=True, eq=False)
class ProbeSuite:
    items: tuple[ProbeItem, ...]
    version: str

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(item.family for item in self.items))

    def prompts(self) -> list[Prompt]:
        return [Prompt.ask(item.image, item.question) for item in self.items]

    def indices(self, family: str) -> list[int]:
        return [i for i, item in enumerate(self.items) if item.family == family]

    def photos(self, n: int) -> list:
        """`n` images from the suite, spread over the image families (unrelated-photo negatives)."""
        with_image = [item for item in self.items if item.image is not None]
        step = max(1, len(with_image) // max(1, n))
        return [item.image for item in with_image[::step][:n]]


def image_families() -> tuple[str, ...]:
    return tuple(f for f in FAMILIES if f != TEXT_FAMILY)


@lru_cache(maxsize=4)
def general_suite(image_probes: int, text_probes: int, seed: int = 0) -> ProbeSuite:
    """`image_probes` items spread evenly over the image families, then `text_probes` text items."""
    families = image_families()
    items: list = []
    for i, family in enumerate(families):
        share = image_probes // len(families) + (i < image_probes % len(families))
        if share:
            items += probe_items(family, share, seed)
    if text_probes:
        items += probe_items(TEXT_FAMILY, text_probes, seed)
    return ProbeSuite(tuple(items), suite_version(items))


def suite_version(items) -> str:
    h = hashlib.sha256(SUITE_FORMAT.encode())
    for item in items:
        h.update(repr((item.family, item.question, tuple(item.options), item.answer)).encode())
        if item.image is not None:
            h.update(np.asarray(item.image.convert("RGB")).tobytes())
    return h.hexdigest()[:16]
