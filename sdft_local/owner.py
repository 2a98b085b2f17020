"""Whether the process that owns something (a temp file, a staging folder, a running job) still runs.

Owns `process_alive` and `owner`, the (host, pid) that a record of long-running work keeps. Temp
names carry the pid of their writer (`atomic.py` makes and parses them); every check asks this module.
Standard library only.
"""

from __future__ import annotations

import os
import socket


def process_alive(pid: int) -> bool:
    """True while process `pid` runs on this machine (also when it is another user's)."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner() -> dict:
    """This process as the owner of a record: {"host": ..., "pid": ...}."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def owner_gone(host: str | None, pid: int | None) -> bool:
    """True when the owner is known, on this machine, and no longer runs (on another machine
    nothing can be told, so it is taken to be alive)."""
    return bool(pid) and host == socket.gethostname() and not process_alive(int(pid))
