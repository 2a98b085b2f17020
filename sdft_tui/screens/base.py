"""What every screen shares: worker failures go to the app's one error handler.

(Textual itself cancels a screen's workers when the screen goes away; a thread worker's loop in
`workers.drain` then stops after the current record.)
"""

from __future__ import annotations

from typing import TypeVar

from textual.screen import ModalScreen, Screen
from textual.worker import Worker, WorkerState

ResultType = TypeVar("ResultType")


class ReportsWorkerErrors:
    """Mixin: a worker that raised is reported by `SdftApp.report_error`, never crashes the app."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.app.report_error(event.worker.error)


class SdftScreen(ReportsWorkerErrors, Screen):
    pass


class SdftModal(ReportsWorkerErrors, ModalScreen[ResultType]):
    pass
