"""Reviewing stored dialogues: list, show, edit a turn, reject or restore, regenerate one, export.

Owns edits that keep the previous text in the provenance (reading the stored dialogues —
`DialogueRecord`, `list_dialogues`, `load_dialogues` — is `sdft_local.dialogues`'), and the JSONL export in
the conversational format other trainers read (TRL/LLaMA-Factory style `messages` with image
placeholders and an `images` list; each assistant message carries its loss `weight`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable

from .. import atomic
from ..dialogue.types import Dialogue
from ..errors import ConfigError, ExportError
from ..store import Store
from .backends import ChatBackend
from .config import SynthConfig
from ..dialogues import LIVE_STATUSES, DialogueRecord, check_statuses, get_dialogue, list_dialogues
from .run import Job, photo_dialogues, provenance_for, write_photo


# --- edits ----------------------------------------------------------------------------------------


def edit_turn(store: Store, dialogue_id: int, turn: int, *, answer: str | None = None,
              question: str | None = None) -> DialogueRecord:
    """Replace a turn's answer and/or question (turn 1..3); the dialogue becomes 'edited'."""
    record = get_dialogue(store, dialogue_id)
    if not 1 <= turn <= len(record.turns):
        raise ConfigError(f"turn {turn} does not exist; dialogues have turns 1..{len(record.turns)}")
    if not (answer or question):
        raise ConfigError("nothing to change; give a new --answer and/or --question")
    old = record.turns[turn - 1]
    new = replace(old, answer=_text(answer, old.answer), question=_text(question, old.question),
                  source="edited", meta={**old.meta, "edited_from": old.source})
    turns = record.turns[: turn - 1] + (new,) + record.turns[turn:]
    edit = {"turn": turn, "at": time.time(), "previous": {"question": old.question,
                                                          "answer": old.answer}}
    provenance = {**record.provenance, "edits": [*record.provenance.get("edits", []), edit]}
    _update(store, dialogue_id, turns=Dialogue.turns_to_json(turns),
            provenance=json.dumps(provenance), status="edited")
    return get_dialogue(store, dialogue_id)


def _text(value: str | None, old: str) -> str:
    if value is None:
        return old
    value = value.strip()
    if not value:
        raise ConfigError("the new text is empty; give some text or leave the option out")
    return value


def set_status(store: Store, dialogue_id: int, status: str) -> DialogueRecord:
    """'rejected' keeps a dialogue out of training; 'ok' restores it."""
    check_statuses(status)
    get_dialogue(store, dialogue_id)
    _update(store, dialogue_id, status=status)
    return get_dialogue(store, dialogue_id)


def _update(store: Store, dialogue_id: int, **values) -> None:
    with store.transaction():
        store.db["dialogues"].update(dialogue_id, {**values, "updated": time.time()})


def regenerate_dialogue(store: Store, dialogue_id: int, config: SynthConfig, *,
                        backend: ChatBackend, student) -> DialogueRecord:
    """Write one dialogue again with fresh choices (same photo and variant, status 'ok'), even
    one a person edited: asking for it by id is explicit."""
    record = get_dialogue(store, dialogue_id)
    entity = store.entity(record.entity)
    photo = store.photo(record.photo_id)
    generation = int(record.provenance.get("generation", 0)) + 1
    job = Job(entity, photo, (record.variant,), {record.variant: generation}, keep_below=10**6)
    dialogues = photo_dialogues(store, job, store.entities(), config, backend, student)
    write_photo(store, job, dialogues, provenance_for(student, backend, job, config),
                replace_edited=True)
    return next(r for r in list_dialogues(store, photo=photo.id) if r.variant == record.variant)


# --- export ---------------------------------------------------------------------------------------


def chat_record(record: DialogueRecord, system: str | None = None) -> dict:
    """One JSONL line: messages with an image placeholder in the first user turn, the photo's
    path in `images`, and each assistant message's loss `weight`."""
    messages = [{"role": "system", "content": [{"type": "text", "text": system}]}] if system else []
    for i, turn in enumerate(record.turns):
        parts = [{"type": "text", "text": turn.question}]
        if i == 0:
            parts.insert(0, {"type": "image"})
        messages.append({"role": "user", "content": parts})
        messages.append({"role": "assistant", "content": [{"type": "text", "text": turn.answer}],
                         "weight": turn.weight, "turn_kind": turn.kind})
    return {"id": f"{record.entity}-{record.photo_id}-{record.variant}", "images": [record.image],
            "messages": messages, "entity": record.entity, "status": record.status}


@dataclass(frozen=True)
class ExportSummary:
    path: str
    dialogues: int
    photos: int


def export_jsonl(store: Store, path: str | Path, *, entity: str | None = None,
                 status: str | Iterable[str] = LIVE_STATUSES, split: str | None = "train",
                 system: str | None = None) -> ExportSummary:
    """Write the selected dialogues as JSONL; the file appears only when complete."""
    records = list_dialogues(store, entity=entity, status=status, split=split)
    if not records:
        raise ExportError("no dialogues match; run `sdft synth` first or relax --status/--split")
    target = Path(path).expanduser()
    lines = "".join(json.dumps(chat_record(r, system), ensure_ascii=False) + "\n" for r in records)
    try:
        atomic.write_text(target, lines)
    except OSError as err:
        raise ExportError(f"cannot write {target}: {err.strerror}; pick a writable path") from None
    return ExportSummary(str(target.resolve()), len(records), len({r.photo_id for r in records}))
