"""Resolving ids and folders: built-ins, local folders, pickle refusal, hub cache, offline errors."""

from __future__ import annotations

import shutil

import pytest

from sdft_local.errors import ConfigError, ModelError
from sdft_local.models import registry
from sdft_local.models.registry import (MLX_2B_ID, TORCH_2B_ID, DownloadProgressed,
                                        default_model_for, list_models, resolve_model)


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """An empty Hugging Face cache, so no test sees (or fills) the user's real one."""
    import huggingface_hub.constants as constants

    cache = tmp_path / "hf" / "hub"
    cache.mkdir(parents=True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def test_tiny_random_is_built_once_then_cached(sdft_home):
    path = resolve_model("tiny-random")
    assert path == sdft_home / "models" / "tiny-random"
    stamp = (path / "model.safetensors").stat().st_mtime_ns
    assert resolve_model("tiny-random") == path
    assert (path / "model.safetensors").stat().st_mtime_ns == stamp
    info = {m.id: m for m in list_models()}["tiny-random"]
    assert info.cached and info.path == path


def test_tiny_random_is_rebuilt_when_incomplete(sdft_home):
    path = resolve_model("tiny-random")
    (path / "model.safetensors").unlink()
    assert not {m.id: m for m in list_models()}["tiny-random"].cached
    assert (resolve_model("tiny-random") / "model.safetensors").is_file()


def test_local_folder_resolves_to_absolute_path(tmp_path, tiny_model_dir, monkeypatch):
    shutil.copytree(tiny_model_dir, tmp_path / "my-model")
    monkeypatch.chdir(tmp_path)
    assert resolve_model("my-model") == tmp_path / "my-model"
    assert resolve_model("./my-model/").is_absolute()


def test_missing_folder_names_the_fix(tmp_path):
    with pytest.raises(ModelError, match="no such model folder.*config.json"):
        resolve_model(tmp_path / "nope")


def test_folder_without_config_is_refused(tmp_path):
    with pytest.raises(ModelError, match="no config.json"):
        resolve_model(tmp_path)


def test_pickle_only_weights_are_refused(tmp_path, tiny_model_dir):
    folder = tmp_path / "pickled"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    with pytest.raises(ModelError, match=r"pickle.*pytorch_model\.bin.*safetensors"):
        resolve_model(folder)


def test_missing_shard_is_reported(tmp_path, tiny_model_dir):
    folder = tmp_path / "sharded"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "model.safetensors.index.json").write_text(
        '{"weight_map": {"a": "model.safetensors", "b": "model-00002-of-00002.safetensors"}}')
    with pytest.raises(ModelError, match="model-00002-of-00002"):
        resolve_model(folder)


def test_offline_hub_id_not_cached_gives_the_fix(hf_cache):
    with pytest.raises(ModelError) as err:
        resolve_model("someone/not-downloaded", offline=True)
    assert "hf download someone/not-downloaded" in str(err.value)
    assert "HF_HOME" in str(err.value)


def test_hub_id_in_cache_resolves_offline(hf_cache, tiny_model_dir):
    repo = hf_cache / "models--someone--tiny"
    commit = "0" * 40
    shutil.copytree(tiny_model_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    path = resolve_model("someone/tiny", offline=True)
    assert path == repo / "snapshots" / commit
    assert registry._hub_cached("someone/tiny") == path


def test_demo_is_reported_when_not_shipped():
    if (registry._demo_dir() / "config.json").is_file():
        assert (resolve_model("demo") / "config.json").is_file()
    else:
        with pytest.raises(ModelError, match="demo model is not built"):
            resolve_model("demo")


def test_list_models_covers_builtins(hf_cache):
    models = {m.id: m for m in list_models()}
    assert set(models) == {"tiny-random", "demo", TORCH_2B_ID, MLX_2B_ID}
    assert models[MLX_2B_ID].backend == "mlx" and models[TORCH_2B_ID].backend == "torch"
    assert not models[TORCH_2B_ID].cached and models[TORCH_2B_ID].path is None


def test_default_model_for_backend(monkeypatch):
    assert default_model_for("mlx") == MLX_2B_ID
    assert default_model_for("torch") == TORCH_2B_ID
    monkeypatch.setattr(registry, "is_apple_silicon", lambda: True)
    assert default_model_for() == MLX_2B_ID
    with pytest.raises(ConfigError, match="auto, torch, mlx"):
        default_model_for("jax")


def test_download_progress_is_reported_not_printed(capsys):
    seen: list[DownloadProgressed] = []
    bar_class = registry._progress_bar_class("org/m", seen.append)
    with bar_class(total=10, desc="Fetching") as bar:
        bar.update(4)
        bar.update(6)
    assert [(p.done, p.total) for p in seen] == [(4.0, 10.0), (10.0, 10.0)]
    assert seen[0].model_id == "org/m" and seen[0].desc == "Fetching"
    assert capsys.readouterr() == ("", "")


def test_registry_import_is_light():
    import subprocess
    import sys

    code = ("import sys, sdft_local.models.registry, sdft_local.models.chat, "
            "sdft_local.models.loaders, sdft_local.models.tiny, sdft_local.models.student; "
            "print(sorted(m for m in ('torch','transformers','mlx','mlx_vlm') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_each_model_carries_its_recommended_training_settings():
    from sdft_local.models.registry import DEMO_ID, TINY_ID, TORCH_2B_ID, recommended_training
    from sdft_local.training.config import TrainConfig, resolve_config

    demo = resolve_config({}, DEMO_ID)
    assert demo.learning_rate == recommended_training(DEMO_ID)["learning_rate"] != TrainConfig().learning_rate
    assert resolve_config({}, TORCH_2B_ID).learning_rate == 2e-4
    assert resolve_config({}, TINY_ID) == resolve_config({}, "/some/folder") == TrainConfig()
    # the project's settings over the model's, the flags over both
    assert resolve_config({"train": {"learning_rate": 5e-4}}, DEMO_ID).learning_rate == 5e-4
    assert resolve_config({"train": {"learning_rate": 5e-4}}, DEMO_ID, learning_rate=3e-4).learning_rate == 3e-4
    assert resolve_config({}, DEMO_ID, epochs=None).epochs == demo.epochs
