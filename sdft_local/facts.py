"""The facts card: what the user told about each entity, as text that travels with the adapter.

LoRA learns a look and a style more readily than facts; a system prompt that states the facts
gives them back exactly. Owns `FactsCard` (name, kind, facts of one entity), `cards_of(store)`,
`system_prompt` (the cards as one system message, what Ollama's SYSTEM and the app's chat use)
and the JSON file written beside every export. Pure apart from reading the store's entities.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

CARD_FILE = "facts_card.json"
CARD_VERSION = 1


@dataclass(frozen=True)
class FactsCard:
    name: str
    kind: str
    facts: tuple[str, ...]

    @classmethod
    def from_entity(cls, entity) -> "FactsCard":
        return cls(entity.name, entity.kind, tuple(entity.facts))

    def line(self) -> str:
        facts = "; ".join(f.strip().rstrip(".") for f in self.facts)
        return f"- {self.name}, a {self.kind.strip().lower()}" + (f": {facts}." if facts else ".")


def cards_of(store) -> tuple[FactsCard, ...]:
    return tuple(FactsCard.from_entity(e) for e in store.entities())


def system_prompt(cards: Iterable[FactsCard]) -> str | None:
    """One system message that introduces every entity with its facts (None without entities)."""
    lines = [c.line() for c in cards]
    if not lines:
        return None
    return ("You are a helpful assistant. You know these individuals and recognize them in photos; "
            "answer questions about them from these facts:\n" + "\n".join(lines))


def write_card_file(folder: Path, cards: Iterable[FactsCard]) -> Path:
    cards = tuple(cards)
    data = {"facts_card_version": CARD_VERSION, "entities": [asdict(c) for c in cards],
            "system_prompt": system_prompt(cards)}
    path = Path(folder) / CARD_FILE
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return path


def read_card_file(folder: Path) -> tuple[FactsCard, ...]:
    data = json.loads((Path(folder) / CARD_FILE).read_text("utf-8"))
    return tuple(FactsCard(e["name"], e["kind"], tuple(e["facts"])) for e in data["entities"])
