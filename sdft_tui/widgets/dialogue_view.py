"""One stored dialogue beside its photo, turn by turn: question, answer, loss weight, who wrote it,
and why a synthesis model's earlier tries were rejected."""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

KIND_LABEL = {"caption": "caption (foundation)", "negative": "negative (contrastive)",
              "entity": "entity (knowledge)"}


def dialogue_text(record) -> Text:
    text = Text()
    text.append(f"Dialogue {record.id}", style="bold")
    text.append(f" — {record.entity}, photo {record.photo_id} ({record.split}), "
                f"variant {record.variant}, {record.status}\n")
    for i, turn in enumerate(record.turns, 1):
        text.append(f"\n{i}. {KIND_LABEL.get(turn.kind, turn.kind)}", style="bold")
        text.append(f" · weight {turn.weight:g} · by {turn.source}\n", style="dim")
        text.append("Q: ", style="bold cyan")
        text.append(turn.question + "\n")
        text.append("A: ", style="bold green")
        text.append(turn.answer + "\n")
        _rejections(text, turn)
    prov = record.provenance
    edits = len(prov.get("edits", []))
    text.append(f"\nstudent {prov.get('student', '?')} · turn 3 backend "
                f"{prov.get('synth_backend', '?')} · generation {prov.get('generation', 0)}"
                + (f" · {edits} edit(s)" if edits else ""), style="dim")
    return text


def _rejections(text: Text, turn) -> None:
    """Why a model's tries were not kept (grounding, naming, the fact asked), and a fallback."""
    rejected = turn.meta.get("rejected", [])
    if turn.meta.get("fallback") == "template" and rejected:
        text.append("The model's answers were rejected, so the template wrote this one:\n", style="yellow")
    elif rejected:
        text.append("Kept after rejected tries:\n", style="dim")
    for line in rejected:
        text.append(f"  {line}\n", style="yellow" if turn.meta.get("fallback") else "dim")


class DialogueView(VerticalScroll):
    """The photo (so a caption can be judged against it) above the dialogue's turns."""

    def compose(self):
        from .photo import PhotoPreview

        yield PhotoPreview(id="dialogue-photo")
        yield Static("Select a dialogue.", id="dialogue-text")

    def show(self, record) -> None:
        from pathlib import Path

        from .photo import PhotoPreview

        self.query_one(PhotoPreview).show(Path(record.image) if record else None,
                                          f"{record.entity}, photo {record.photo_id}" if record else "")
        self.query_one("#dialogue-text", Static).update(
            dialogue_text(record) if record else Text("No dialogue selected."))
