"""An Input that completes file-system paths (and a few fixed words) as you type.

The suggestion appears greyed after the cursor; Tab or → accepts it. Completion only reads
directory listings; it never creates or changes anything.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from textual.binding import Binding
from textual.suggester import Suggester
from textual.widgets import Input


def complete_path(value: str, *, dirs_only: bool = False) -> str | None:
    """`value` extended to the first matching entry of its folder ('/' appended to folders)."""
    if not value:
        return None
    expanded = Path(os.path.expanduser(value))
    folder, prefix = (expanded, "") if value.endswith(os.sep) else (expanded.parent, expanded.name)
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return None
    for name in names:
        if not name.startswith(prefix) or (name.startswith(".") and not prefix.startswith(".")):
            continue
        is_dir = (folder / name).is_dir()
        if dirs_only and not is_dir:
            continue
        rest = name[len(prefix):] + (os.sep if is_dir else "")
        return value + rest if rest else None
    return None


class PathSuggester(Suggester):
    def __init__(self, words: Iterable[str] = (), *, dirs_only: bool = False):
        super().__init__(use_cache=False, case_sensitive=True)
        self.words = tuple(words)
        self.dirs_only = dirs_only

    async def get_suggestion(self, value: str) -> str | None:
        for word in self.words:
            if value and word.startswith(value) and word != value:
                return word
        return complete_path(value, dirs_only=self.dirs_only)


class PathInput(Input):
    """Input with path completion; Tab accepts the suggestion, else moves focus as usual."""

    BINDINGS = [Binding("tab", "complete", "Complete", show=False)]

    def __init__(self, value: str = "", *, words: Iterable[str] = (), dirs_only: bool = False, **kw):
        super().__init__(value, suggester=PathSuggester(words, dirs_only=dirs_only), **kw)

    def action_complete(self) -> None:
        if self.cursor_at_end and self._suggestion and self._suggestion != self.value:
            self.action_cursor_right()
        else:
            self.screen.focus_next()
