"""Each kind of bad photo: exit code 1, a message naming the file, and an unchanged store."""

import os
import re
import sqlite3

import pytest
from click.testing import CliRunner

from sdft_local.cli import cli

from .conftest import photo
from .test_ingest import _png_header_only


def _bad_files(d):
    (d / "empty.jpg").write_bytes(b"")
    (d / "notes.jpg").write_text("this is a shopping list, not a photo\n" * 20)
    _png_header_only(d / "bomb.png", 30000, 30000)
    photo(d / "whole.jpg", 3, size=(300, 200), quality=95)
    data = (d / "whole.jpg").read_bytes()
    (d / "truncated.jpg").write_bytes(data[: len(data) // 2])
    photo(d / "tiny.png", 4, size=(20, 20))
    (d / "whole.jpg").unlink()
    heic = d / "phone.heic"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic" + os.urandom(200))
    return sorted(p for p in d.iterdir())


def _snapshot(root):
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*")
                   if p.is_file() and not p.name.startswith("project.db"))
    conn = sqlite3.connect(root / "project.db")
    rows = [list(r) for t in ("entities", "photos") for r in conn.execute(f"SELECT * FROM {t}")]
    conn.close()
    return files, rows


@pytest.fixture()
def project(home, tmp_path):
    runner = CliRunner()
    assert runner.invoke(cli, ["init", "p"]).exit_code == 0
    assert runner.invoke(cli, ["entity", "add", "Biscuit", "--kind", "dog"]).exit_code == 0
    good = photo(tmp_path / "good.png", 1)
    assert runner.invoke(cli, ["photos", "add", "Biscuit", str(good)]).exit_code == 0
    return home / "projects" / "p"


def test_each_bad_photo_is_refused_by_name(project, tmp_path):
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    reasons = {"empty.jpg": "empty", "notes.jpg": "not an image", "bomb.png": "decompression bomb",
               "truncated.jpg": "truncated", "tiny.png": "too small", "phone.heic": "HEIC|decoded"}
    for path in _bad_files(bad_dir):
        before = _snapshot(project)
        result = CliRunner().invoke(cli, ["photos", "add", "Biscuit", str(path)])
        assert result.exit_code == 1, (path.name, result.output)
        assert path.name in result.output
        assert re.search(reasons[path.name], result.output), (path.name, result.output)
        assert _snapshot(project) == before, path.name


def test_batch_stores_good_files_and_reports_bad_ones(project, tmp_path):
    d = tmp_path / "mixed"
    d.mkdir()
    photo(d / "ok1.png", 11)
    photo(d / "ok2.jpg", 12)
    (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    result = CliRunner().invoke(cli, ["photos", "add", "Biscuit", str(d), "--json"])
    assert result.exit_code == 1
    assert "broken.png" in result.output
    listed = CliRunner().invoke(cli, ["photos", "list", "Biscuit", "--json"])
    assert '"source": "ok1.png"' in listed.output and '"source": "ok2.jpg"' in listed.output
