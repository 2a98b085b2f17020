"""Turns 1 and 2 of a dialogue, answered by the base model itself (self-substitution).

Owns the conversation with the student on one photo: the caption request, then turn-2 candidates
tried in order until the base model's answer is a usable negative — a "No, ..." that names what
was asked about, or a bare "No." — and else a template negative. An answer that is unclear, or
denies something else ("No, there is no suman here." when asked about Pixel), is never trained on,
whatever P(no) says: the turn would teach the model to answer the question with that text.
What happened is recorded in the turn's `meta`. One `ChatSession` per photo serves every variant:
the photo is encoded once, and each variant rewinds to just after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from ..dialogue.answers import trim_unfinished
from ..dialogue.plan import NegativeOption, Subject, answer_polarity, caption_question, negative_options
from ..dialogue.types import Turn
from ..text import printable
from .config import SynthConfig


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    check: str  # "text" | "rejected"


def judge_negative(answer: str, target: str) -> Verdict:
    """A negative by the text that names the target (any of its words), or is three words at most."""
    if answer_polarity(answer, target) != "negative":
        return Verdict(False, "rejected")
    words = set(re.findall(r"[a-z']+", answer.lower()))
    named = set(re.findall(r"[a-z]+", target.lower())) - {"of", "a", "an", "the"}
    return Verdict(True, "text") if named & words or len(words) <= 3 else Verdict(False, "rejected")


def student_turns(session, student_name: str, subject: Subject, others: Iterable[str],
                  config: SynthConfig, photo_key: str, variant: int) -> tuple[Turn, Turn]:
    """Turns 1–2 of one variant; `session` is rewound to its start (the photo stays cached)."""
    session.truncate(_start(session))
    question = caption_question(config.dialogue, photo_key, variant)
    caption = _whole_sentences(session, session.ask(question, max_new_tokens=config.caption_tokens))
    first = Turn("caption", question, caption, config.dialogue.caption_weight, student_name)
    options = negative_options(subject, others, config.dialogue, photo_key, variant,
                               avoid_text=caption)
    return first, _negative_turn(session, student_name, options, config)


def _whole_sentences(session, answer: str) -> str:
    """The answer without a last sentence the token budget cut off (training on it would teach
    the model to stop mid-sentence) or characters that cannot round-trip; the session records
    the same text."""
    trimmed = trim_unfinished(printable(answer))
    if trimmed != answer:
        session.replace_last_answer(trimmed)
    return trimmed


def _start(session) -> int:
    messages = session.messages
    return 1 if messages and messages[0]["role"] == "system" else 0


def _negative_turn(session, student_name: str, options: list[NegativeOption],
                   config: SynthConfig) -> Turn:
    weight = config.dialogue.negative_weight
    tried: list[dict] = []
    for option in options:
        # yes_no first: it feeds the question into the cache, which `ask` then reuses.
        p_yes = session.yes_no(option.question)
        answer = session.ask(option.question, max_new_tokens=config.negative_tokens)
        verdict = judge_negative(answer, option.target)
        if verdict.accepted:
            answer = _whole_sentences(session, answer)
            meta = _meta(option, verdict.check, p_yes, len(tried) + 1, tried)
            return Turn("negative", option.question, answer, weight, student_name, meta)
        tried.append({"target": option.target, "answer": answer, "p_yes": round(p_yes, 4)})
        session.truncate(len(session.messages) - 2)
    fallback = options[0]
    session.add("user", fallback.question)
    session.add("assistant", fallback.template_answer)
    meta = _meta(fallback, "template", None, len(tried), tried) | {"fallback": "template"}
    return Turn("negative", fallback.question, fallback.template_answer, weight, "template", meta)


def _meta(option: NegativeOption, check: str, p_yes: float | None, attempts: int,
          tried: list[dict]) -> dict:
    meta = {"target": option.target, "category": option.category, "hard": option.hard,
            "check": check, "attempts": attempts}
    if p_yes is not None:
        meta["p_yes"] = round(p_yes, 4)
    if tried:
        meta["tried"] = tried
    return meta
