"""Atomic export folders: complete or absent, whatever interrupts the export."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sdft_local.errors import ExistsError
from sdft_local.export import ExportOptions, export_mlx_adapter
from sdft_local.export.staging import publish, staged_folder, sweep_stale


def test_folder_appears_only_when_complete(tmp_path):
    target = tmp_path / "out"
    with staged_folder(target) as staging:
        (staging / "a.txt").write_text("a")
        assert not target.exists() and staging.parent == tmp_path
    assert (target / "a.txt").read_text() == "a"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_an_error_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with staged_folder(tmp_path / "out") as staging:
            (staging / "half.bin").write_bytes(b"x")
            raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []


def test_a_caller_that_stops_iterating_leaves_nothing(tiny_model_dir, peft_dir, tmp_path):
    events = export_mlx_adapter(tiny_model_dir, peft_dir, tmp_path / "out", ExportOptions(verify=False))
    next(events)  # ExportStarted
    next(events)  # the first step; the staging folder now exists
    assert any(".sdft-export-" in p.name for p in tmp_path.iterdir())
    events.close()
    assert list(tmp_path.iterdir()) == []


def test_overwrite_replaces_and_refusal_keeps(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    (target / "manifest.json").write_text("{}")  # an earlier export
    with pytest.raises(ExistsError):
        with staged_folder(target):
            pass
    assert (target / "old.txt").exists()
    with staged_folder(target, overwrite=True) as staging:
        (staging / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_an_empty_target_folder_is_not_in_the_way(tmp_path):
    (tmp_path / "out").mkdir()
    with staged_folder(tmp_path / "out") as staging:
        (staging / "x").write_text("x")
    assert (tmp_path / "out" / "x").exists()


def test_sweep_removes_only_folders_of_dead_processes(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / f".out.sdft-export-{dead}-ab12cd34"
    live = tmp_path / f".out.sdft-export-{os.getpid()}-ab12cd34"
    other = tmp_path / ".hidden-user-folder"
    for folder in (stale, live, other):
        folder.mkdir()
    assert sweep_stale(tmp_path) == [stale]
    assert live.exists() and other.exists()


def test_publish_refuses_a_target_that_appeared_meanwhile(tmp_path):
    staging = tmp_path / ".t.sdft-export-1-00"
    staging.mkdir()
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "f").write_text("someone else's")
    with pytest.raises(ExistsError):
        publish(staging, tmp_path / "t", overwrite=False)
    assert (tmp_path / "t" / "f").read_text() == "someone else's"
