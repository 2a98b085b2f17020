"""The library calls behind each long-stage screen, as generators a worker can drain.

Each function composes public `sdft_local` entry points exactly as the CLI verb does (settings
resolved from the project, models opened, the stage's own generator iterated) and adds str status
lines where the library is silent (loading a model). No pipeline logic lives here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator


@dataclass(frozen=True)
class ChatAnswered:
    """One model's answer in the try-it chat: `model` is "base" or "tuned"."""

    model: str
    student: str
    answer: str


def synth_records(store, regenerate: bool = False) -> Iterator:
    """`sdft synth` (or `--regenerate`): dialogues for every training photo that needs them."""
    from sdft_local.synth import SynthFinished, synthesize_project

    for record in synthesize_project(store, regenerate=regenerate):
        if isinstance(record, SynthFinished) and record.photos == 0:
            yield f"All {record.skipped} training photos have their dialogues (g rewrites them)."
        else:
            yield record


def regenerate_records(store, dialogue_id: int) -> Iterator:
    """`sdft dialogues edit ID --regenerate`: one dialogue written again with fresh choices."""
    from sdft_local.synth import regenerate_one

    yield f"Loading the synthesis model for {store.project.name} …"
    yield from regenerate_one(store, dialogue_id)


def train_records(store, config, resume: bool | int = False) -> Iterator:
    """`sdft train` (or `--resume`): TrainStarted, TrainProgress..., TrainFinished."""
    from sdft_local.training import train

    yield "Loading the base model and building examples …"
    yield from train(store, config, resume=resume)


def check_records(store, run: int | None = None) -> Iterator:
    """`sdft check`: CheckStarted, CheckProgressed..., CheckFinished (stored in the project)."""
    from sdft_local.check import run_check

    yield "Loading models …"
    yield from run_check(store, run)


def export_records(store, run: int | None, formats, out, options, force: bool) -> Iterator:
    """`sdft export`: the export's steps, each verification, and its result."""
    from sdft_local.export import export_run

    yield "Preparing the export …"
    yield from export_run(store, run, formats, out, options, force=force)


def chat_records(store, image: str | None, question: str, max_new_tokens: int = 96, *,
                 facts_card: bool = False) -> Iterator:
    """The base model's answer, then the tuned model's (the project's current adapter); with
    `facts_card`, both are given the entities' facts as their system message."""
    from sdft_local.check.runner import adapter_for_backend
    from sdft_local.facts import cards_of, system_prompt
    from sdft_local.models.student import make_student
    from sdft_local.training.run import pick_backend
    from sdft_local.training.runs import current_adapter

    system = system_prompt(cards_of(store)) if facts_card else None
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": question}]
    backend = pick_backend("auto")
    base_model = store.project.base_model
    yield f"Loading the base model {base_model} …"
    base = make_student(base_model, backend)
    yield _answer("base", base, image, messages, max_new_tokens)
    found = current_adapter(store)
    if found is None:
        yield "No trained adapter yet: train one to compare (t on the project screen)."
        return
    del base
    yield f"Loading the tuned model ({found[0].name}) …"
    tuned = make_student(base_model, backend, adapter=adapter_for_backend(found[1], backend))
    yield _answer("tuned", tuned, image, messages, max_new_tokens)


def _answer(side: str, student, image, messages, max_new_tokens: int) -> ChatAnswered:
    """One model's answer, cleaned like stored answers (no control characters)."""
    from sdft_local.text import printable

    answer = student.generate(image, messages, max_new_tokens=max_new_tokens)
    return ChatAnswered(side, student.name, printable(answer))
