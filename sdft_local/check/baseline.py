"""The base model's side of the check, computed once and cached per base model and probe version.

Owns `fingerprint` (a cheap identity of a model folder's weights and config), `BaseCache` (npz
and JSON files under `$SDFT_HOME/cache/check/<fingerprint>-<backend>/`), `BaseSuite` (the base's
greedy answers to every probe, its kept top-k log-probs teacher-forced on them, and which probes it
answers correctly) and the generators that compute it. A tuned run then needs only its own model.
It does not judge anything (see `retention.py`, `gate.py`).
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .. import atomic
from ..paths import cache_dir
from .batch import BatchScorer, Prompt, staged
from .metrics import top_k

CACHE_FORMAT = "1"  # bump when what is cached, or how it is computed, changes


def fingerprint(model_dir: str | Path) -> str:
    """A stable id of a model folder: config, and each weight file's size, head and tail."""
    h = hashlib.sha256()
    root = Path(model_dir)
    h.update((root / "config.json").read_bytes())
    for path in sorted(root.glob("*.safetensors")):
        size = path.stat().st_size
        h.update(f"{path.name}:{size}".encode())
        with open(path, "rb") as f:
            h.update(f.read(1 << 20))
            f.seek(max(0, size - (1 << 20)))
            h.update(f.read(1 << 20))
    return h.hexdigest()[:16]


def cache_key(*parts) -> str:
    return hashlib.sha256(json.dumps([CACHE_FORMAT, *parts], sort_keys=True).encode()).hexdigest()[:20]


@dataclass(frozen=True, eq=False)
class BaseSuite:
    """The base model on the probe suite: row i of everything belongs to probe item i."""

    answers: tuple[str, ...]  # greedy answers (decoded, stripped)
    correct: np.ndarray  # (n,) bool: the base picks the right option
    top_ids: tuple[np.ndarray, ...]  # per item (tokens, k) int32: kept ids per answer token
    top_lp: tuple[np.ndarray, ...]  # per item (tokens, k) float32: their log-probs

    def argmax(self, item: int) -> np.ndarray:
        """The base's greedy choice at each teacher-forced answer position."""
        return self.top_ids[item][np.arange(len(self.top_ids[item])), self.top_lp[item].argmax(-1)]


class BaseCache:
    """Files of base-model results for one base model on one backend."""

    def __init__(self, model_dir: str | Path, backend: str, root: Path | None = None):
        self.dir = (root or cache_dir() / "check") / f"{fingerprint(model_dir)}-{backend}"

    def load_suite(self, key: str) -> BaseSuite | None:
        path = self.dir / f"suite-{key}.npz"
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as z:
            bounds = z["offsets"]
            cut = lambda a: tuple(a[s:e] for s, e in zip(bounds[:-1], bounds[1:]))  # noqa: E731
            return BaseSuite(tuple(json.loads(str(z["answers"]))), z["correct"].astype(bool),
                             cut(z["ids"]), cut(z["lp"]))

    def save_suite(self, key: str, suite: BaseSuite) -> None:
        offsets = np.cumsum([0] + [len(a) for a in suite.top_ids])
        buffer = io.BytesIO()
        np.savez(buffer, answers=np.array(json.dumps(list(suite.answers))), correct=suite.correct,
                 offsets=offsets, ids=np.concatenate(suite.top_ids), lp=np.concatenate(suite.top_lp))
        atomic.write_bytes(self.dir / f"suite-{key}.npz", buffer.getvalue())

    def load_json(self, key: str):
        path = self.dir / f"{key}.json"
        return json.loads(path.read_text("utf-8")) if path.is_file() else None

    def save_json(self, key: str, value) -> None:
        atomic.write_text(self.dir / f"{key}.json", json.dumps(value))


def greedy_answers(scorer: BatchScorer, prompts: Sequence[Prompt], max_new_tokens: int, stage: str):
    """Generator: the model's greedy answer to each prompt (yields progress, returns answers)."""
    answers = yield from staged(stage, scorer.greedy(prompts, max_new_tokens))
    return tuple(answers)


def compute_base_suite(scorer: BatchScorer, items, prompts: Sequence[Prompt], *, answer_tokens: int,
                       keep: int):
    """Generator: the base model's `BaseSuite` for the probe items (yields CheckProgressed)."""
    answers = yield from greedy_answers(scorer, prompts, answer_tokens, "base answers")

    def kept(_, __, logprobs):
        return top_k(logprobs, keep)

    rows = yield from staged("base log-probs", scorer.answer_logprobs(prompts, answers, kept))
    scores = yield from staged("base options", scorer.option_scores(prompts, [i.options for i in items]))
    correct = np.array([picks_answer(s, item) for s, item in zip(scores, items)], bool)
    return BaseSuite(answers, correct, tuple(r[0] for r in rows), tuple(r[1] for r in rows))


def picks_answer(scores, item) -> bool:
    """Whether the highest-scoring option (sum of log-probs) is the item's answer."""
    sums, _ = scores
    return item.options[int(np.argmax(sums))] == item.answer
