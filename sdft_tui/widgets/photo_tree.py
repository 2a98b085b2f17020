"""A directory tree that shows only folders and image files (hidden entries left out)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from textual.widgets import DirectoryTree


class PhotoTree(DirectoryTree):
    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        from sdft_local.ingest import IMAGE_SUFFIXES

        return [p for p in paths if not p.name.startswith(".")
                and (self._safe_is_dir(p) or p.suffix.lower() in IMAGE_SUFFIXES)]
