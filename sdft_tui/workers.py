"""The one loop every thread worker runs: iterate a library generator, post a message per record.

Cancellation follows the library's contract: the caller stops iterating (and closes the
generator, so its `finally` blocks run). Workers open their own `Store`, because a SQLite
connection's transaction state must not be shared with the UI thread.
"""

from __future__ import annotations

from typing import Callable, Iterator

from textual.message import Message
from textual.message_pump import MessagePump
from textual.worker import get_current_worker


def drain(target: MessagePump, records: Iterator, to_message: Callable[[object], Message]) -> bool:
    """Post `to_message(record)` to `target` for each record; False if the worker was cancelled.

    A record already produced is always posted: its effect (a stored photo, a saved checkpoint)
    has happened, and the screen must not show less than the store holds.
    """
    worker = get_current_worker()
    try:
        for record in records:
            target.post_message(to_message(record))
            if worker.is_cancelled:
                return False
        return True
    finally:
        close = getattr(records, "close", None)
        if close is not None:
            close()
