"""Writing one turn-3 answer: ask the backend, validate and ground it, retry, fall back if asked to.

Owns the retry policy (first try at the configured temperature, later ones hotter, each with a new
seed), the checks every model answer passes before it is stored (`check_grounded`: the name, the fact
asked, no contradiction, and no claim absent from the facts and caption, nor borrowed from another
entity or the prompt's worked example) and the record of what happened (`ComposedAnswer`: text, who wrote
it, attempts, the problems of rejected tries, whether the template stood in). Backend failures
(`BackendError`: unreachable server, bad key) are not retried here: the remote backend retries
its own transport, and a run must stop rather than fill a project with fallbacks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from pathlib import Path

from ..dialogue.answers import EntityRequest, template_answer
from ..dialogue.grounding import check_grounded
from ..errors import SynthesisError
from .backends import ChatBackend, GenerationOptions
from .config import SynthConfig
from .prompts import example_facts, example_names


@dataclass(frozen=True)
class ComposedAnswer:
    text: str
    source: str
    attempts: int
    fallback: bool
    problems: tuple[str, ...] = ()

    def meta(self) -> dict:
        meta = {"attempts": self.attempts}
        if self.fallback:
            meta["fallback"] = "template"
        if self.problems:
            meta["rejected"] = list(self.problems)
        return meta


def compose_entity_answer(backend: ChatBackend, request: EntityRequest, image: Path | None,
                          config: SynthConfig, seed: int) -> ComposedAnswer:
    """A validated turn-3 answer from `backend`, or the template one (per `config.on_invalid`)."""
    if backend.capabilities.templated:
        text = backend.compose(request, image, GenerationOptions(seed=seed))
        return ComposedAnswer(text, backend.name, 1, False)
    checked = replace(request, others=(*request.others, *_example_names(request)),
                      other_facts=(*request.other_facts, *example_facts(request)))
    problems: list[str] = []
    for attempt in range(config.entity_attempts):
        raw = backend.compose(request, image, _options(config, seed, attempt))
        check = check_grounded(raw, checked, config.bounds)
        if check.ok:
            return ComposedAnswer(check.text, backend.name, attempt + 1, False, tuple(problems))
        problems.append(f"try {attempt + 1}: {'; '.join(check.problems)}")
    return _fallback(backend, request, config, seed, problems)


def _options(config: SynthConfig, seed: int, attempt: int) -> GenerationOptions:
    temperature = config.temperature if attempt == 0 else config.retry_temperature
    return GenerationOptions(config.entity_tokens, temperature, seed + 7919 * attempt, attempt)


def _example_names(request: EntityRequest) -> tuple[str, ...]:
    own = {request.name.lower()}
    return tuple(n for n in example_names() if n.lower() not in own)


def _fallback(backend: ChatBackend, request: EntityRequest, config: SynthConfig, seed: int,
              problems: list[str]) -> ComposedAnswer:
    if config.on_invalid == "error":
        raise SynthesisError(
            f"{backend.name} gave no usable answer to {request.question!r} in "
            f"{config.entity_attempts} tries ({problems[-1]}); use a stronger synthesis model, "
            f"raise the attempts, or allow template fallbacks (--on-invalid template)")
    text = template_answer(request, random.Random(seed))
    return ComposedAnswer(text, "template", config.entity_attempts, True, tuple(problems))
