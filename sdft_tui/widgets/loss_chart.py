"""Loss per turn: one sparkline per series (total, caption, negative, entity), smoothed, with its
last smoothed value and its range as the axis; live during a run, or a past run's total curve.

Per-step losses are noisy (each step sees two dialogues): the sparkline shows an exponential
moving average, and the label gives the smoothed value and the lowest and highest raw loss.
"""

from __future__ import annotations

from typing import Sequence

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, Sparkline

SERIES = ("total", "caption", "negative", "entity")
SMOOTHING = 0.1  # weight of the newest step in the moving average


def smooth(values: Sequence[float], alpha: float = SMOOTHING) -> list[float]:
    """The exponential moving average of `values` (the first value starts it)."""
    out: list[float] = []
    for v in values:
        out.append(v if not out else alpha * v + (1 - alpha) * out[-1])
    return out


def value_line(name: str, values: Sequence[float]) -> str:
    if not values:
        return f"{name:>8}  –"
    return f"{name:>8} {smooth(values)[-1]:7.4f}  [{min(values):.2f} – {max(values):.2f}]"


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
        self.history["total"].append(total)
        for name, value in per_turn.items():
            if name in self.history:
                self.history[name].append(value)
        self._draw()

    def show_run(self, losses: Sequence[float]) -> None:
        """A past run: its total loss per step (per-turn losses are not kept after a run)."""
        self.history = {name: [] for name in SERIES}
        self.history["total"] = list(losses)
        self._draw()

    def clear(self) -> None:
        self.show_run([])

    def _draw(self) -> None:
        for name in SERIES:
            values = self.history[name]
            self.query_one(f"#loss-{name}", Sparkline).data = smooth(values)
            self.query_one(f"#loss-{name}-value", Label).update(value_line(name, values))
