"""Files and folders that appear complete or not at all, under one temporary-name scheme.

Owns the scheme (`.<target>.sdft-<role>-<pid>-<random>`, beside the target, so the final rename
is atomic and a leftover names the process that made it), `write_bytes`/`write_text` (a file via
a temporary sibling, fsynced), `staged` and `write_folder` (a folder built under a temporary name
and renamed over the target, the old one moved aside first and removed after, put back if the
rename fails) and `sweep_stale` (what dead processes left). The store's photos, training
checkpoints, check reports and exports all write through here.
"""

from __future__ import annotations

import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from .owner import process_alive

_TEMP = re.compile(r"^\.(?P<target>.+)\.sdft-(?P<role>[a-z]+)-(?P<pid>\d+)-[0-9a-f]+$")


def temp_path(target: Path, role: str = "new") -> Path:
    """A fresh temporary name beside `target` for this process (`role`: what it is for)."""
    target = Path(target)
    return target.parent / f".{target.name}.sdft-{role}-{os.getpid()}-{os.urandom(4).hex()}"


def temp_owner(name: str) -> int | None:
    """The pid in a temporary name of the scheme, else None."""
    match = _TEMP.match(name)
    return int(match["pid"]) if match else None


def is_temp(name: str) -> bool:
    return temp_owner(name) is not None


def sweep_stale(parent: Path) -> list[Path]:
    """Remove the temporary files and folders in `parent` whose process no longer runs."""
    removed = []
    for entry in Path(parent).iterdir() if Path(parent).is_dir() else ():
        pid = temp_owner(entry.name)
        if pid is not None and not process_alive(pid):
            remove(entry)
            removed.append(entry)
    return removed


def write_bytes(path: Path, data: bytes) -> Path:
    """Write `path` through a temporary sibling (fsynced, then renamed over it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text(path: Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


@contextmanager
def staged(target: Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside `target`; on normal exit it replaces `target`."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = temp_path(target)
    staging.mkdir()
    try:
        yield staging
        fsync_tree(staging)
        replace_folder(staging, target)
    finally:
        remove(staging)


def write_folder(target: Path, fill: Callable[[Path], None]) -> Path:
    """Build a folder with `fill(tmp)` and rename it to `target`, replacing any old one."""
    with staged(target) as tmp:
        fill(tmp)
    return Path(target)


def replace_folder(staging: Path, target: Path) -> None:
    """Rename `staging` to `target`; an old target is moved aside first, put back if the rename
    fails, and removed after."""
    retired = None
    if target.exists() or target.is_symlink():
        retired = temp_path(target, "retired")
        os.replace(target, retired)
    try:
        os.replace(staging, target)
    except OSError:
        if retired is not None:
            os.replace(retired, target)
        raise
    if retired is not None:
        remove(retired)


def remove(path: Path) -> None:
    """Delete a file, link or folder tree if it is there."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def fsync_tree(root: Path) -> None:
    """Flush every file under `root` to disk, then the folders themselves."""
    for folder, _, files in os.walk(root):
        for name in files:
            with open(Path(folder) / name, "rb") as f:
                os.fsync(f.fileno())
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
