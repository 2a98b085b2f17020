"""Messages the app's workers and screens post, named in the past tense.

Each wraps a library record (a `PhotoResult`, a progress event) or a plain fact, so screens react
to what happened without knowing which thread or screen made it happen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message


@dataclass
class ProjectOpened(Message):
    """The app switched to project `name`."""

    name: str


@dataclass
class StageProgressed(Message):
    """A long stage (adding photos, synthesis, training, check, export, chat) yielded `record`: a
    library record (`PhotoResult`, `TrainProgress`, ...) or a str status line."""

    stage: str
    record: Any


@dataclass
class StageFinished(Message):
    """A long stage ended; `cancelled` when the user stopped it, `error` when it failed."""

    stage: str
    cancelled: bool = False
    error: BaseException | None = None
