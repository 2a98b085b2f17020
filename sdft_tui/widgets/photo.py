"""Photo previews: terminal graphics (Kitty or Sixel) where the terminal has them, half blocks else.

`detect_graphics` must run before the app starts, because textual-image asks the terminal and
Textual owns stdin afterwards. Tests and snapshots use half blocks, which render the same anywhere.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label


def detect_graphics() -> str:
    """'auto' when the terminal speaks an image protocol, else 'halfcell'."""
    if not (sys.__stdout__ and sys.__stdout__.isatty() and sys.__stdin__ and sys.__stdin__.isatty()):
        return "halfcell"
    import textual_image.widget  # noqa: F401  (queries the terminal once, caches the answer)
    from textual_image.renderable import HalfcellImage, Image, UnicodeImage

    return "halfcell" if Image in (HalfcellImage, UnicodeImage) else "auto"


def image_widget_class(graphics: str):
    from textual_image.widget import HalfcellImage, Image

    return Image if graphics == "auto" else HalfcellImage


class PhotoPreview(Vertical):
    """One photo, scaled to fit, with a caption below it."""

    def compose(self) -> ComposeResult:
        yield image_widget_class(getattr(self.app, "graphics", "halfcell"))(id="photo-image")
        yield Label("", id="photo-caption")

    def show(self, path: Path | None, caption: str = "") -> None:
        image = self.query_one("#photo-image")
        image.image = str(path) if path is not None and path.is_file() else None
        self.query_one("#photo-caption", Label).update(Text(caption))
