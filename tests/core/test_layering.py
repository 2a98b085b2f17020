"""The core library never imports the UI, and each floor imports only the floors below it
(import-linter contracts, checked statically)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_core_imports_no_ui_and_the_floors_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    exe = str(lint) if lint.exists() else shutil.which("lint-imports")
    if exe is None:
        pytest.fail("lint-imports is missing: install the dev extra (pip install -e '.[dev]')")
    out = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 kept, 0 broken" in out.stdout
    text = " ".join(out.stdout.split())  # the report wraps long contract names
    assert "The core imports no UI KEPT" in text and "over the foundations KEPT" in text
