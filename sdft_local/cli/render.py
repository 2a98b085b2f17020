"""Rendering of multi-stage record streams (the demo, the whole pipeline) on stderr.

One rich progress bar per stage, advanced by any record that carries (done | step, total); the
records themselves pass through to the caller unchanged. Single-stage verbs render their own.
"""

from __future__ import annotations

from typing import Iterable, Iterator

from .common import console, esc


def render_records(records: Iterable[object], *, quiet: bool = False) -> Iterator[object]:
    """Yield every record, drawing stage headers and progress bars unless `quiet`."""
    if quiet:
        yield from records
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ..pipeline import StageFinished, StageStarted

    err = console()
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                  TimeElapsedColumn(), console=err, transient=True) as bar:
        task = None
        for record in records:
            if isinstance(record, StageStarted):
                task = bar.add_task(record.stage, total=None, info="")
            elif isinstance(record, StageFinished):
                bar.remove_task(task)
                err.print(f"[green]✓[/] {esc(record.stage)} ({record.seconds:.1f} s)")
            elif task is not None:
                _advance(bar, task, record)
            yield record


def _advance(bar, task, record) -> None:
    done = getattr(record, "done", getattr(record, "step", None))
    total = getattr(record, "total", None)
    info = f"loss {record.loss:.3f}" if hasattr(record, "loss") and isinstance(record.loss, float) else ""
    if isinstance(done, int) and isinstance(total, int) and total > 0:
        bar.update(task, completed=done, total=total, info=info or getattr(record, "stage", ""))
