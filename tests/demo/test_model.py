"""The shipped demo model: small, complete, and it really knows the demo world (torch and MLX)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sdft_local.world.questions import PROBE_FAMILIES, probe_items
from sdft_local.models.registry import DEMO_ID, resolve_model

HELD_OUT_SEED = 4242  # neither the pretraining stream nor its report's evaluation used this seed


@pytest.fixture(scope="module")
def demo_dir():
    from sdft_local.errors import ModelError

    try:
        return resolve_model(DEMO_ID)
    except ModelError as err:  # not built in this checkout: scripts/pretrain_demo.py makes it
        pytest.skip(str(err))


@pytest.fixture(scope="module")
def torch_student(demo_dir):
    from sdft_local.models.student import make_student

    return make_student(demo_dir, "torch", device="cpu")


def _accuracy(student, items) -> float:
    right = 0
    for item in items:
        messages = [{"role": "user", "content": item.question}]
        scores = student.option_logprobs(item.image, messages, list(item.options))
        right += item.options[int(np.argmax(scores))] == item.answer
    return right / len(items)


def test_folder_is_small_and_complete(demo_dir):
    names = {p.name for p in demo_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja",
            "preprocessor_config.json", "pretrain_report.json"} <= names
    assert (demo_dir / "model.safetensors").stat().st_size <= 40 * 2**20
    config = json.loads((demo_dir / "config.json").read_text())
    text = config["text_config"]
    assert text["hidden_size"] % 256 == 0 and text["intermediate_size"] % 256 == 0
    head_dim = text["hidden_size"] // text["num_attention_heads"]
    assert head_dim >= 32 and head_dim == 2 * sum(config["rope_scaling"]["mrope_section"])
    assert config["vision_config"]["depth"] >= 3 and config["vision_config"]["mlp_ratio"] != 1
    report = json.loads((demo_dir / "pretrain_report.json").read_text())
    assert set(PROBE_FAMILIES) <= set(report["eval"]["accuracy"])


def test_trained_on_the_data_the_current_code_makes(demo_dir):
    """Changing the world, the questions or the mix without pretraining again fails here."""
    from scripts.pretraining.pretrain import PretrainConfig, data_fingerprint
    from sdft_local.world.questions import PROBE_VERSION

    report = json.loads((demo_dir / "pretrain_report.json").read_text())
    assert report["world_version"] == PROBE_VERSION
    assert report["data_fingerprint"] == data_fingerprint(PretrainConfig(**report["config"]))


def test_colour_questions_on_held_out_scenes(torch_student):
    assert _accuracy(torch_student, probe_items("colour", 20, HELD_OUT_SEED)) >= 0.8


def test_presence_and_text_on_held_out_items(torch_student):
    assert _accuracy(torch_student, probe_items("presence", 8, HELD_OUT_SEED)) >= 0.75
    assert _accuracy(torch_student, probe_items("text", 8, HELD_OUT_SEED)) >= 0.75


def test_says_no_to_an_unrelated_concept_and_captions(torch_student):
    import random

    from sdft_local.world.scene import make_single, render_scene

    rng = random.Random(HELD_OUT_SEED)
    named = 0
    for _ in range(3):
        scene = make_single(rng)
        image = render_scene(scene)
        no = torch_student.generate(image, [{"role": "user", "content": "Is there a teapot in this photo?"}])
        assert no.startswith("No"), no
        assert torch_student.yes_no(image, [{"role": "user", "content": "Is there a teapot in this photo?"}]) < 0.2
        caption = torch_student.generate(image, [{"role": "user", "content": "Describe this image."}])
        named += scene.items[0].kind in caption
    assert named >= 2


def test_mlx_agrees_with_torch(demo_dir, torch_student):
    pytest.importorskip("mlx_vlm")
    from sdft_local.models.student import make_student

    mlx_student = make_student(demo_dir, "mlx")
    for item in probe_items("colour", 3, HELD_OUT_SEED) + probe_items("text", 2, HELD_OUT_SEED):
        messages = [{"role": "user", "content": item.question}]
        ours = mlx_student.option_logprobs(item.image, messages, list(item.options))
        ref = torch_student.option_logprobs(item.image, messages, list(item.options))
        assert np.allclose(ours, ref, atol=2e-3), (item.question, ours, ref)
