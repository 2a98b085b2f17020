"""Stored dialogues: reading the dialogues table, for review and for training.

Owns `DialogueRecord` (a stored dialogue with its photo, split, status and provenance),
`list_dialogues` and `get_dialogue` (what review shows), `load_dialogues` (what training reads:
live dialogues of training photos, each with the absolute path of its photo) and the statuses.
Synthesis writes the table (`synth.run.write_photo`); review edits it (`synth.review`). Training
reads it from here, so it needs nothing of synthesis.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable

from .dialogue.types import Dialogue, Turn
from .errors import ConfigError, NotFoundError
from .store import Store

LIVE_STATUSES = ("ok", "edited")
STATUSES = ("ok", "edited", "rejected")


@dataclass(frozen=True)
class DialogueRecord:
    id: int
    photo_id: int
    entity: str
    variant: int
    status: str
    split: str
    image: str  # absolute path of the photo file
    turns: tuple[Turn, ...]
    provenance: dict
    updated: float

    def to_dialogue(self, system: str | None = None) -> Dialogue:
        return Dialogue(self.image, self.entity, self.turns, self.variant, system)


_SELECT = """
SELECT d.*, e.name AS entity_name, p.split AS split, p.sha256 AS sha256
FROM dialogues d JOIN entities e ON e.id = d.entity_id JOIN photos p ON p.id = d.photo_id
"""


def list_dialogues(store: Store, *, entity: str | None = None,
                   status: str | Iterable[str] | None = None, split: str | None = None,
                   photo: str | int | None = None) -> list[DialogueRecord]:
    where, args = [], []
    if entity is not None:
        where.append("d.entity_id = ?")
        args.append(store.entity(entity).id)
    if status is not None:
        statuses = check_statuses(status)
        where.append(f"d.status IN ({', '.join('?' * len(statuses))})")
        args += statuses
    if split is not None:
        where.append("p.split = ?")
        args.append(split)
    if photo is not None:
        where.append("d.photo_id = ?")
        args.append(store.photo(photo).id)
    sql = (_SELECT + (" WHERE " + " AND ".join(where) if where else "")
           + " ORDER BY d.photo_id, d.variant")
    return [_record(store, r) for r in store.db.query(sql, args)]


def check_statuses(status: str | Iterable[str]) -> list[str]:
    statuses = [status] if isinstance(status, str) else list(status)
    bad = [s for s in statuses if s not in STATUSES]
    if bad:
        raise ConfigError(f"unknown status {bad[0]!r}; use one of {', '.join(STATUSES)}")
    return statuses


def _record(store: Store, row: dict) -> DialogueRecord:
    return DialogueRecord(
        row["id"], row["photo_id"], row["entity_name"], row["variant"], row["status"],
        row["split"], str(store.photo_path(row["sha256"]).resolve()),
        Dialogue.turns_from_json(row["turns"]), json.loads(row["provenance"]), row["updated"])


def get_dialogue(store: Store, dialogue_id: int) -> DialogueRecord:
    rows = list(store.db.query(_SELECT + " WHERE d.id = ?", [dialogue_id]))
    if not rows:
        raise NotFoundError(f"no dialogue with id {dialogue_id}; see `sdft dialogues list`")
    return _record(store, rows[0])


def load_dialogues(store: Store, status: str | Iterable[str] = LIVE_STATUSES, *,
                   entity: str | None = None) -> list[Dialogue]:
    """The dialogues training uses: training-split photos only, rejected ones never."""
    statuses = [s for s in check_statuses(status) if s != "rejected"]
    if not statuses:
        return []
    records = list_dialogues(store, entity=entity, status=statuses, split="train")
    return [r.to_dialogue() for r in records]
