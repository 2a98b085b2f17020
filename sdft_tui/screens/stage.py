"""The base of the long-stage screens (synthesis, training, check, export, chat).

One thread worker at a time per screen iterates a library generator and posts each record as a
`StageProgressed`; `StageFinished` follows, with `cancelled` when the user stopped it (the
generator is closed, so the library's own cleanup runs) or `error` when it raised (the app's
error handler shows the message). Strings in the stream are status lines for the screen.
"""

from __future__ import annotations

from functools import partial
from typing import Callable, Iterator

from textual import work

from ..messages import StageFinished, StageProgressed
from ..widgets.progress import StageProgress
from ..workers import drain
from .base import SdftScreen


class StageScreen(SdftScreen):
    def start(self, stage: str, make_records: Callable[[object], Iterator]) -> None:
        """Run `make_records(store)` in a worker, with a store of its own."""
        if self.running:
            self.notify("Already running; stop it first (Escape).", severity="warning")
            return
        self.run_records(stage, make_records)

    @work(thread=True, exclusive=True, exit_on_error=False, group="stage")
    def run_records(self, stage: str, make_records: Callable[[object], Iterator]) -> None:
        store = self.app.fresh_store()
        try:
            finished = drain(self, make_records(store), partial(StageProgressed, stage))
        except BaseException as err:
            self.post_message(StageFinished(stage, error=err))
            raise
        finally:
            store.close()
        self.post_message(StageFinished(stage, cancelled=not finished))

    def on_stage_finished(self, message: StageFinished) -> None:
        # Runs after the screen's own handler (Textual calls each class's handler in the MRO).
        for progress in self.query(StageProgress):
            progress.stop()

    @property
    def running(self) -> bool:
        return any(w.is_running for w in self.workers if w.group == "stage" and w.node is self)

    def action_stop(self) -> None:
        if self.running:
            self.workers.cancel_group(self, "stage")
            self.notify("Stopping after the current step …", timeout=3)

    def action_back(self) -> None:
        """Escape: stop what runs, else go back."""
        if self.running:
            self.action_stop()
        else:
            self.app.pop_screen()
