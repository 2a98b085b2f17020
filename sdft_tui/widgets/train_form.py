"""The training settings form: the few settings people change, validated by `TrainConfig` itself."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Grid
from textual.widgets import Input, Label, Select

# (field, label, parser); everything else keeps the project's saved value or the default.
FIELDS = (
    ("steps", "steps (empty: use epochs)", "int?"),
    ("epochs", "epochs", "float"),
    ("learning_rate", "learning rate", "float"),
    ("lora_rank", "LoRA rank", "int"),
    ("lora_alpha", "LoRA alpha", "float"),
    ("batch_size", "batch size", "int"),
    ("selfaug", "SelfAug λ (0: off)", "float"),
    ("checkpoint_every", "checkpoint every N steps", "int"),
)


class TrainForm(Grid):
    def compose(self) -> ComposeResult:
        yield Label("backend")
        yield Select([(b, b) for b in ("auto", "torch", "mlx")], allow_blank=False, value="auto",
                     id="backend", compact=True)
        for name, label, _ in FIELDS:
            yield Label(label)
            yield Input(id=name, compact=True)

    def fill(self, config) -> None:
        self.query_one("#backend", Select).value = config.backend
        for name, _, _ in FIELDS:
            value = getattr(config, name)
            text = "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
            self.query_one(f"#{name}", Input).value = text

    def values(self) -> dict:
        """The form as TrainConfig fields; ConfigError naming the field for text that is no number."""
        values = {"backend": self.query_one("#backend", Select).value}
        for name, label, kind in FIELDS:
            values[name] = _parse(self.query_one(f"#{name}", Input).value.strip(), label, kind)
        return values


def _parse(text: str, label: str, kind: str):
    from sdft_local.errors import ConfigError

    if kind == "int?" and not text:
        return None
    try:
        return float(text) if kind == "float" else int(text)
    except ValueError:
        what = "a number" if kind == "float" else "a whole number"
        raise ConfigError(f"{label}: {text!r} is not {what}") from None
