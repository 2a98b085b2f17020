"""The export form: formats, target folder (completed), GGUF type, verify / force / overwrite."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Checkbox, Label, Select, SelectionList

from .path_input import PathInput

FORMAT_HELP = {"mlx": "MLX adapter (mlx-vlm)", "peft": "PEFT adapter (transformers)",
               "merged": "merged safetensors", "gguf": "GGUF + mmproj (llama.cpp)",
               "gguf-lora": "GGUF LoRA (llama.cpp)", "ollama": "Ollama Modelfile"}


class ExportForm(Vertical):
    def __init__(self, default_out: Path, **kwargs):
        super().__init__(**kwargs)
        self.default_out = default_out

    def compose(self) -> ComposeResult:
        yield Label("Formats (space toggles)")
        yield SelectionList(*[(f"{name} — {text}", name, name == "peft")
                              for name, text in FORMAT_HELP.items()], id="formats")
        yield Label("Folder")
        yield PathInput(str(self.default_out), dirs_only=True, id="out", compact=True)
        yield Label("GGUF type")
        yield Select([(q, q) for q in ("q8_0", "q4_k_m", "f16", "f32")], value="q8_0",
                     allow_blank=False, id="quant", compact=True)
        yield Checkbox("verify: load back and compare", True, id="verify", compact=True)
        yield Checkbox("overwrite the folder", False, id="overwrite", compact=True)
        yield Checkbox("force: export despite a failed check", False, id="force", compact=True)

    def values(self) -> dict:
        """formats, out, ExportOptions and force; ConfigError from the library for bad choices."""
        from sdft_local.export import ExportOptions, parse_formats

        formats = parse_formats(self.query_one("#formats", SelectionList).selected)
        options = ExportOptions(quant=self.query_one("#quant", Select).value,
                                verify=self.query_one("#verify", Checkbox).value,
                                overwrite=self.query_one("#overwrite", Checkbox).value)
        out = Path(self.query_one("#out", PathInput).value.strip()).expanduser()
        return {"formats": formats, "out": out, "options": options,
                "force": self.query_one("#force", Checkbox).value}
