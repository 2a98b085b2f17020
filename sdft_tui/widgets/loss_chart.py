"""Live loss per turn: one sparkline per series (total, caption, negative, entity) with its last value."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, Sparkline

SERIES = ("total", "caption", "negative", "entity")


class LossChart(Vertical):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.history: dict[str, list[float]] = {name: [] for name in SERIES}

    def compose(self) -> ComposeResult:
        for name in SERIES:
            with Horizontal(classes="loss-row"):
                yield Label(f"{name:>8}  –", id=f"loss-{name}-value", classes="loss-value")
                yield Sparkline([], id=f"loss-{name}", summary_function=max)

    def add(self, total: float, per_turn: dict[str, float]) -> None:
        self._append("total", total)
        for name, value in per_turn.items():
            if name in self.history:
                self._append(name, value)

    def _append(self, name: str, value: float) -> None:
        self.history[name].append(value)
        self.query_one(f"#loss-{name}", Sparkline).data = list(self.history[name])
        self.query_one(f"#loss-{name}-value", Label).update(f"{name:>8} {value:7.4f}")

    def clear(self) -> None:
        for name in SERIES:
            self.history[name] = []
            self.query_one(f"#loss-{name}", Sparkline).data = []
            self.query_one(f"#loss-{name}-value", Label).update(f"{name:>8}  –")
