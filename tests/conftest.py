"""Fixtures shared by every test area.

`tiny_model_dir` builds the tiny random Qwen2-VL once per session (a second or so); the autouse
`sdft_home` fixture points `SDFT_HOME` at a fresh folder for every test, so no test touches the
user's real data or sees another test's state.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from sdft_local.models.tiny import build_tiny_qwen2vl

    return build_tiny_qwen2vl(tmp_path_factory.mktemp("models") / "tiny-random")


@pytest.fixture(autouse=True)
def sdft_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "sdft_home"
    monkeypatch.setenv("SDFT_HOME", str(home))
    return home


@pytest.fixture(scope="session", autouse=True)
def template_turn3():
    """Projects that name no turn-3 backend get the template in tests (a local GGUF otherwise):
    fast and exact. Session-wide and autouse, so session fixtures that synthesize see it too;
    tests of the local default remove the variable."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SDFT_SYNTH_BACKEND", "template")
        yield
