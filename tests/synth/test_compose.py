"""Turn-3 composition: validation-driven retries, the template fallback, and the registry."""

import subprocess
import sys

import pytest

from sdft_local.dialogue.answers import EntityRequest, check_answer
from sdft_local.errors import ConfigError, SynthesisError
from sdft_local.synth.backends import BACKENDS, ChatBackend, PromptedBackend, make_backend
from sdft_local.synth.compose import compose_entity_answer
from sdft_local.synth.config import BackendConfig, SynthConfig, backend_from_settings
from sdft_local.synth.prompts import entity_messages
from sdft_local.synth.template import TemplateBackend

REQUEST = EntityRequest("Biscuit", "dog", ("4 years old", "loves tennis balls"),
                        "What does Biscuit love?", "loves tennis balls", "A dog on grass.", ("Max",))


class Scripted(PromptedBackend):
    """A backend that replays fixed replies and records what it was asked."""

    name = "scripted"

    def __init__(self, replies):
        self.replies, self.calls = list(replies), []

    def chat(self, messages, image, options):
        self.calls.append((messages, image, options))
        return self.replies.pop(0)


def test_invalid_answers_are_retried_hotter_with_new_seeds():
    backend = Scripted(["The dog loves balls.", "<think>hmm</think>This is Mochi. Biscuit loves tennis balls.",
                        "<think>ok</think>I see a dog on grass. This is Biscuit. Biscuit loves tennis balls."])
    answer = compose_entity_answer(backend, REQUEST, None, SynthConfig(), seed=5)
    assert answer.text == "I see a dog on grass. This is Biscuit. Biscuit loves tennis balls."
    assert answer.source == "scripted" and answer.attempts == 3 and not answer.fallback
    assert "does not name Biscuit" in answer.problems[0]
    assert "names another entity (Mochi)" in answer.problems[1]  # copied the worked example
    options = [c[2] for c in backend.calls]
    assert [o.temperature for o in options] == [0.2, 0.8, 0.8]
    assert len({o.seed for o in options}) == 3 and [o.attempt for o in options] == [0, 1, 2]
    assert backend.calls[0][0] == backend.calls[1][0]  # same prompt: engines keep it cached
    assert answer.meta() == {"attempts": 3, "rejected": list(answer.problems)}


def test_never_valid_answers_fall_back_to_the_template_or_fail():
    backend = Scripted(["no idea"] * 3)
    answer = compose_entity_answer(backend, REQUEST, None, SynthConfig(), seed=1)
    assert answer.fallback and answer.source == "template" and len(answer.problems) == 3
    assert check_answer(answer.text, REQUEST).ok and answer.meta()["fallback"] == "template"
    with pytest.raises(SynthesisError, match="scripted gave no usable answer.*--on-invalid"):
        compose_entity_answer(Scripted(["no idea"] * 3), REQUEST, None,
                              SynthConfig(on_invalid="error"), seed=1)


def test_images_reach_only_backends_that_see_them(tmp_path):
    blind = Scripted(["This is Biscuit. Biscuit loves tennis balls."])
    compose_entity_answer(blind, REQUEST, tmp_path / "p.png", SynthConfig(), seed=1)
    assert blind.calls[0][1] is None
    assert "Caption: A dog on grass." in blind.calls[0][0][-1]["content"]


def test_template_backend_is_deterministic_and_always_valid():
    backend = TemplateBackend()
    assert isinstance(backend, ChatBackend)
    first = compose_entity_answer(backend, REQUEST, None, SynthConfig(), seed=3)
    assert first == compose_entity_answer(backend, REQUEST, None, SynthConfig(), seed=3)
    assert first.attempts == 1 and not first.fallback and check_answer(first.text, REQUEST).ok


def test_prompt_puts_example_before_request_and_avoids_project_names():
    messages = entity_messages(REQUEST, with_image=False)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert "Subject: Biscuit, a dog." in messages[-1]["content"]
    assert "Fact: loves tennis balls." in messages[-1]["content"]  # the one asked, alone
    who = EntityRequest("Biscuit", "dog", ("4 years old", "loves tennis balls"), "Who is this?")
    assert "Facts: 4 years old; loves tennis balls." in entity_messages(who, with_image=False)[-1]["content"]
    clash = EntityRequest("Mochi", "cat", (), "Who is this?", others=("Pepper",))
    assert "Juniper" in entity_messages(clash, with_image=False)[1]["content"]
    no_caption = EntityRequest("Biscuit", "dog", (), "Who is this?")
    last = entity_messages(no_caption, with_image=False)[-1]["content"]
    assert "Caption: A photo of a dog." in last and "The answer must name Biscuit." in last
    assert "Look at the attached photo." in entity_messages(no_caption, with_image=True)[-1]["content"]


def test_unknown_backend_lists_the_valid_ones():
    with pytest.raises(ConfigError) as err:
        make_backend(BackendConfig(name="gpt"))
    assert all(name in str(err.value) for name in BACKENDS)
    assert set(BACKENDS) == {"template", "llama-cpp", "llama-cpp-vlm", "mlx-vlm", "transformers",
                             "openai"}


@pytest.mark.parametrize("name,flag", [("llama-cpp", "--synth-model"), ("mlx-vlm", "--synth-model"),
                                       ("transformers", "--synth-model"), ("llama-cpp-vlm", "--synth-model")])
def test_model_backends_need_a_model(name, flag):
    with pytest.raises(ConfigError, match=flag):
        BackendConfig(name=name)


def test_settings_precedence_flags_over_saved_over_defaults():
    saved = {"synth": {"name": "llama-cpp", "model": "/m.gguf", "n_ctx": 1024}}
    assert backend_from_settings({}).name == "template"
    cfg = backend_from_settings(saved, n_ctx=4096)
    assert (cfg.name, cfg.model, cfg.n_ctx) == ("llama-cpp", "/m.gguf", 4096)
    remote = backend_from_settings({}, endpoint={"base_url": "http://h/v1", "model": "m",
                                                 "api_key_env": "K", "send_photos": None})
    assert remote.name == "openai" and remote.endpoint.api_key_env == "K"
    assert not remote.endpoint.send_photos
    cleared = backend_from_settings({"synth": {"endpoint": {"base_url": "http://h/v1", "model": "m",
                                                            "api_key_env": "K"}}},
                                    endpoint={"api_key_env": ""})
    assert cleared.endpoint.api_key_env is None


def test_importing_synthesis_loads_no_model_library():
    code = ("import sys, sdft_local.synth, sdft_local.synth.run, sdft_local.cli.synth; "
            "print([m for m in ('torch', 'transformers', 'llama_cpp', 'mlx', 'mlx_vlm') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
