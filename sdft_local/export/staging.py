"""Writing an export folder so that it appears complete or not at all.

Owns `staged_folder`: files are written into a hidden temporary folder beside the target (same
filesystem, so the final rename is atomic) and renamed into place only when the caller finishes
without error; an interrupted export (exception, the caller dropping the generator, SIGKILL)
leaves nothing at the target. Temporary folders of dead processes are swept on the next export
into the same parent (names and renames: `sdft_local.atomic`). An existing target is refused
unless `overwrite`.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .. import atomic
from ..errors import ExistsError, ExportError


def check_target(target: Path, overwrite: bool) -> Path:
    """The resolved target, refused when it holds anything and `overwrite` is off, and refused
    even with `overwrite` when replacing it would destroy what is not an export: sdft-local's own
    state (SDFT_HOME, or anything in it but a project's `exports/`) and any folder that holds
    files but no export manifest (a home folder, a project's photos, someone's work)."""
    target = Path(target).expanduser().resolve()
    _refuse_state(target)
    if target.exists() and not _is_empty_dir(target):
        if not overwrite:
            raise ExistsError(f"{target} already exists; pass --overwrite to replace it, or choose "
                              "another --out")
        if not (target / "manifest.json").is_file():
            raise ExistsError(f"{target} holds files but is not an earlier export (no manifest.json), "
                              f"so --overwrite will not delete it; choose an empty or new --out folder")
    return target


def _refuse_state(target: Path) -> None:
    from ..paths import sdft_home

    home = sdft_home().resolve()
    if target == home or home.is_relative_to(target):
        raise ExistsError(f"{target} holds sdft-local's data (SDFT_HOME {home}); export elsewhere")
    if target.is_relative_to(home):
        parts = target.relative_to(home).parts
        if not (len(parts) >= 4 and parts[0] == "projects" and parts[2] == "exports"):
            raise ExistsError(f"{target} is inside sdft-local's data (SDFT_HOME {home}); export to a "
                              f"folder outside it, or under a project's exports/ folder")


@contextmanager
def scratch_folder(target: Path) -> Iterator[Path]:
    """A temporary work folder beside `target` (same filesystem: its files can be hard-linked
    into the export), removed on exit."""
    target = Path(target).expanduser().resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = atomic.temp_path(target, "scratch")
    scratch.mkdir()
    try:
        yield scratch
    finally:
        atomic.remove(scratch)


@contextmanager
def staged_folder(target: Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder; on normal exit it replaces `target` atomically."""
    target = check_target(target, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target.parent)
    staging = atomic.temp_path(target, "export")
    staging.mkdir()
    try:
        yield staging
        publish(staging, target, overwrite=overwrite)
    finally:
        atomic.remove(staging)


def publish(staging: Path, target: Path, *, overwrite: bool) -> None:
    """Rename `staging` to `target` (the old target moved aside first, removed after)."""
    check_target(target, overwrite)
    try:
        atomic.replace_folder(staging, target)
    except OSError as err:
        raise ExportError(f"could not move the finished export to {target}: {err}") from None


def sweep_stale(parent: Path) -> list[Path]:
    """Remove temporary folders left in `parent` by processes that no longer run."""
    return atomic.sweep_stale(parent)


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and not any(path.iterdir())
