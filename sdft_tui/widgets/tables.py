"""A DataTable that reloads from fresh rows without flicker and keeps the cursor on its row."""

from __future__ import annotations

from typing import Sequence

from rich.text import Text
from textual.widgets import DataTable


class KeyedTable(DataTable):
    """Rows are `(key, cells)`; `show_rows` redraws only when something changed."""

    def __init__(self, *columns: str, widths: dict[str, int] | None = None, **kwargs):
        """`widths` fixes some columns' widths; the others fit their content."""
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._shown: list[tuple[str, tuple]] = []
        for label in columns:
            self.add_column(label, width=(widths or {}).get(label))

    def show_rows(self, rows: Sequence[tuple[str, Sequence]]) -> bool:
        rows = [(str(key), tuple(cells)) for key, cells in rows]
        if rows == self._shown:
            return False
        selected = self.selected_key
        self.clear()
        for key, cells in rows:
            self.add_row(*(Text(c) if isinstance(c, str) else c for c in cells), key=key)
        self._shown = rows
        keys = [key for key, _ in rows]
        if selected in keys:
            self.move_cursor(row=keys.index(selected))
        return True

    @property
    def selected_key(self) -> str | None:
        if not self._shown or self.cursor_row >= len(self._shown):
            return None
        return self._shown[self.cursor_row][0]
