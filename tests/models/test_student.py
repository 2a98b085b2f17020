"""The student runtime on the tiny model: torch and MLX agree, the KV-reuse path equals cold
generation, batched option scoring equals unbatched and teacher-forced scoring."""

from __future__ import annotations

import numpy as np
import pytest

from sdft_local.errors import ConfigError
from sdft_local.models.student import TorchStudent, log_softmax, make_student, mrope_positions
from tests.models.conftest import make_photo

CAPTION = [{"role": "user", "content": "Describe this photo."}]
QUESTION = [{"role": "user", "content": "Is there a dog in this photo?"}]
OPTIONS = ["A dog.", "A red cat on a sofa.", "Yes", "two"]


@pytest.fixture(scope="module")
def torch_student(tiny_model_dir):
    return TorchStudent(tiny_model_dir, device="cpu", label="tiny")


@pytest.fixture(scope="module")
def mlx_student(tiny_model_dir):
    pytest.importorskip("mlx_vlm")
    from sdft_local.models.student import MlxStudent

    return MlxStudent(tiny_model_dir, label="tiny")


@pytest.fixture(params=["torch", pytest.param("mlx", marks=pytest.mark.mlx)])
def student(request):
    return request.getfixturevalue(f"{request.param}_student")


def _count_forwards(student, monkeypatch):
    """Record (tokens fed, whether pixels were passed) for every forward of `student`."""
    calls = []
    forward = student.forward

    def counting(ids, positions, cache, vision, all_rows):
        calls.append((ids.shape[1], vision is not None))
        return forward(ids, positions, cache, vision, all_rows)

    monkeypatch.setattr(student, "forward", counting)
    return calls


def test_rope_positions_match_transformers(torch_student, processor):
    import torch

    from sdft_local.models.chat import build_inputs

    x = build_inputs(processor, QUESTION, make_photo(3, width=140, height=56))
    ref, _ = torch_student.model.model.get_rope_index(
        torch.from_numpy(x["input_ids"]), torch.from_numpy(x["mm_token_type_ids"]),
        image_grid_thw=torch.from_numpy(x["image_grid_thw"]))
    got = mrope_positions(x["input_ids"][0], [x["image_grid_thw"][0]], processor.image_token_id, 2)
    assert np.array_equal(got, ref[:, 0].numpy())
    assert not np.array_equal(got[1], got[2])  # a 2x5 merged grid: rows and columns differ


def test_greedy_matches_transformers_generate(torch_student, processor):
    import torch

    from sdft_local.models.chat import build_inputs, to_torch

    photo = make_photo(0)
    x = to_torch(build_inputs(processor, CAPTION, photo))
    with torch.inference_mode():
        out = torch_student.model.generate(**x, max_new_tokens=10, do_sample=False)
    expected = processor.decode(out[0, x["input_ids"].shape[1]:], skip_special_tokens=True)
    got = torch_student.generate(photo, CAPTION, max_new_tokens=10)
    assert got == expected.strip() and len(got) > 5


def test_answers_depend_on_the_photo(torch_student):
    a = torch_student.generate(make_photo(0), CAPTION, max_new_tokens=8)
    b = torch_student.generate(make_photo(1), CAPTION, max_new_tokens=8)
    assert a != b


@pytest.mark.mlx
def test_mlx_greedy_equals_torch(torch_student, mlx_student):
    for seed, messages in [(0, CAPTION), (1, QUESTION)]:
        photo = make_photo(seed)
        assert (mlx_student.generate(photo, messages, max_new_tokens=8)
                == torch_student.generate(photo, messages, max_new_tokens=8))


def test_session_reuses_prefix_and_equals_cold(student, monkeypatch):
    photo = make_photo(4)
    calls = _count_forwards(student, monkeypatch)
    session = student.session(photo)
    first = session.ask("Describe this photo.", max_new_tokens=6)
    turn2 = len(calls)
    second = session.ask("Is there a teapot here?", max_new_tokens=6)
    monkeypatch.undo()
    history = session.messages[:-1]
    assert history[1] == {"role": "assistant", "content": first}
    assert second == student.generate(photo, history, max_new_tokens=6)
    assert [with_pixels for _, with_pixels in calls].count(True) == 1  # image encoded once
    full = len(student.encode(history, student.vision_inputs(photo), add_generation_prompt=True))
    assert calls[turn2][0] < full // 2  # turn 2 ran only the new suffix


def test_session_with_replaced_answer_equals_cold(student):
    photo = make_photo(5)
    session = student.session(photo, system="You describe photos.")
    session.ask("Is there a teapot here?", max_new_tokens=4)
    session.replace_last_answer("No, there is no teapot.")
    answer = session.ask("What color is the car?", max_new_tokens=6)
    history = session.messages[:-1]
    assert history[0] == {"role": "system", "content": "You describe photos."}
    assert history[2] == {"role": "assistant", "content": "No, there is no teapot."}
    assert answer == student.generate(photo, history, max_new_tokens=6)
    with pytest.raises(ValueError):
        student.session(photo).replace_last_answer("x")


def test_yes_no_is_a_probability_that_reads_the_photo(student):
    a = student.yes_no(make_photo(0), QUESTION)
    b = student.yes_no(make_photo(1), QUESTION)
    assert 0.0 < a < 1.0 and abs(a - b) > 1e-3


@pytest.mark.mlx
def test_yes_no_equal_across_backends(torch_student, mlx_student):
    for seed in (0, 1, 2):
        photo = make_photo(seed)
        assert abs(torch_student.yes_no(photo, QUESTION) - mlx_student.yes_no(photo, QUESTION)) <= 1e-4


def test_yes_no_counts_the_first_token_of_every_spelling(torch_student):
    tok = torch_student.tokenizer
    for ids, word in ((torch_student.yes_ids, "yes"), (torch_student.no_ids, "no")):
        starts = {tok.decode([i]).strip().lower() for i in ids}
        assert starts and all(word.startswith(s) for s in starts)
        for spelling in (word, word.capitalize(), " " + word):
            assert tok(spelling, add_special_tokens=False)["input_ids"][0] in ids
    assert not set(torch_student.yes_ids) & set(torch_student.no_ids)


def test_a_yes_spelled_in_two_tokens_is_read_on_its_first():
    from sdft_local.models.student import answer_start_ids

    vocab = {"y": 1, "es": 2, "Yes": 3, "n": 4, "o": 5, "No": 6, "N": 7, "Y": 8, " ": 9, "ES": 10, "O": 11}

    def tokenizer(text, add_special_tokens=False):
        ids, rest = [], text
        while rest:
            piece = next(p for p in sorted(vocab, key=len, reverse=True) if rest.startswith(p))
            ids.append(vocab[piece])
            rest = rest[len(piece):]
        return {"input_ids": ids}

    yes, no = answer_start_ids(tokenizer, "yes", "no"), answer_start_ids(tokenizer, "no", "yes")
    assert 1 in yes and 3 in yes and 4 in no and 6 in no
    assert 9 not in yes and 9 not in no  # a leading space starts both: it decides nothing


def test_option_logprobs_batched_equals_unbatched_and_teacher_forced(student):
    photo = make_photo(6)
    batched = student.option_logprobs(photo, CAPTION, OPTIONS)
    single = student.option_logprobs(photo, CAPTION, OPTIONS, batch_size=1)
    forced = [student.token_logprobs(photo, CAPTION, o).total for o in OPTIONS]
    assert np.allclose(batched, single, atol=1e-4) and np.allclose(batched, forced, atol=1e-4)
    assert len(set(np.round(batched, 3))) == len(OPTIONS)


def test_token_logprobs_rows_are_distributions(student):
    out = student.token_logprobs(make_photo(7), CAPTION, "A brown dog.")
    n = len(out.token_ids)
    assert out.logprobs.shape == (n, out.logprobs.shape[1]) and out.logprobs.shape[1] >= 677
    assert np.allclose(np.exp(out.logprobs).sum(axis=1), 1.0, atol=1e-4)
    assert out.token_ids[-1] == student.end_id


@pytest.mark.mlx
def test_token_logprobs_equal_across_backends(torch_student, mlx_student):
    photo = make_photo(8)
    a = torch_student.token_logprobs(photo, CAPTION, "A small plant in a blue pot.")
    b = mlx_student.token_logprobs(photo, CAPTION, "A small plant in a blue pot.")
    assert np.array_equal(a.token_ids, b.token_ids)
    assert np.abs(a.logprobs - b.logprobs).max() <= 1e-4


def _padded_batch(student, rows):
    """Right-padded (ids, positions, vision) for whole (image, question, answer) sequences,
    as a caller batching across prompts builds them; plus each row's (start, answer ids)."""
    seqs, visions = [], []
    for image, question, answer in rows:
        vision = student.vision_inputs(image)
        prompt = student.encode([{"role": "user", "content": question}], vision,
                                add_generation_prompt=True)
        answer_ids = np.array(student.answer_tokens(answer))
        ids = np.concatenate([prompt, answer_ids[:-1]])
        seqs.append((ids, student.positions(ids, vision), len(prompt), answer_ids))
        visions.append(vision.inputs)
    width = max(len(ids) for ids, *_ in seqs)
    ids = np.full((len(rows), width), student.pad_id, np.int64)
    positions = np.zeros((3, len(rows), width), np.int64)
    for r, (row_ids, pos, _, _) in enumerate(seqs):
        n = len(row_ids)
        ids[r, :n], positions[:, r, :n] = row_ids, pos
        positions[:, r, n:] = pos.max() + 1 + np.arange(width - n)
    vision = {"pixel_values": np.concatenate([v["pixel_values"] for v in visions]),
              "image_grid_thw": np.concatenate([v["image_grid_thw"] for v in visions])}
    return ids, positions, vision, [(start, a) for _, _, start, a in seqs]


def test_forward_scores_a_padded_batch_of_prompts_without_cache(student):
    rows = [(make_photo(11), "Describe this photo.", "A dog on a sofa."),
            (make_photo(12, width=140, height=56), "Is there a teapot here?", "No."),
            (make_photo(13), "What color is the car?", "It is a bright red car in the rain.")]
    ids, positions, vision, answers = _padded_batch(student, rows)
    assert len({int((row != student.pad_id).sum()) for row in ids}) == 3  # padding is real
    assert vision["image_grid_thw"].shape == (3, 3)
    logits = student.forward(ids, positions, None, vision, True)
    for r, ((image, question, answer), (start, answer_ids)) in enumerate(zip(rows, answers)):
        got = log_softmax(logits[r, start - 1:start - 1 + len(answer_ids)])
        ref = student.token_logprobs(image, [{"role": "user", "content": question}], answer)
        assert np.array_equal(ref.token_ids, answer_ids)
        assert np.abs(got - ref.logprobs).max() <= 1e-4


def test_session_truncate_then_ask_equals_a_cold_session(student, monkeypatch):
    photo = make_photo(14)
    session = student.session(photo)
    session.ask("Describe this photo.", max_new_tokens=6)
    session.ask("Is there a teapot here?", max_new_tokens=4)
    calls = _count_forwards(student, monkeypatch)
    session.truncate(0)
    assert session.messages == []
    answer = session.ask("What color is the car?", max_new_tokens=6)
    monkeypatch.undo()
    assert answer == student.session(photo).ask("What color is the car?", max_new_tokens=6)
    assert calls and not any(with_pixels for _, with_pixels in calls)  # the image stayed cached
    session.ask("Is there a dog?", max_new_tokens=4)
    session.truncate(2)
    retry = session.ask("Is there a cat here?", max_new_tokens=6)
    history = session.messages[:-1]
    assert [m["content"] for m in history] == ["What color is the car?", answer,
                                               "Is there a cat here?"]
    assert retry == student.generate(photo, history, max_new_tokens=6)
    with pytest.raises(ValueError, match="truncate"):
        session.truncate(5)


def test_session_yes_no_equals_student_yes_no_and_is_not_recorded(student):
    photo = make_photo(15)
    session = student.session(photo)
    question = QUESTION[0]["content"]
    assert abs(session.yes_no(question) - student.yes_no(photo, QUESTION)) <= 1e-5
    session.ask("Describe this photo.", max_new_tokens=6)
    history = session.messages
    scores = []
    for q in (question, "Is the car red?"):
        scores.append(session.yes_no(q))
        ref = student.yes_no(photo, history + [{"role": "user", "content": q}])
        assert abs(scores[-1] - ref) <= 1e-5 and 0.0 < ref < 1.0
    assert session.messages == history and abs(scores[0] - scores[1]) > 1e-4
    after = session.ask("What color is the car?", max_new_tokens=6)
    expected = history + [{"role": "user", "content": "What color is the car?"}]
    assert after == student.generate(photo, expected, max_new_tokens=6)


def test_text_only_generation_works(student):
    assert student.generate(None, [{"role": "user", "content": "Hello"}], max_new_tokens=3) is not None


def test_make_student_names_provenance(sdft_home):
    student = make_student("tiny-random", backend="torch", device="cpu")
    assert student.name == "torch:tiny-random" and student.backend == "torch"
    with pytest.raises(ConfigError, match="auto, torch, mlx"):
        make_student("tiny-random", backend="onnx")


@pytest.fixture(scope="module")
def peft_adapter(tmp_path_factory, tiny_model_dir):
    """A rank-4 PEFT LoRA on q/v with random lora_B (a zero lora_B would change nothing)."""
    import torch
    from peft import LoraConfig, get_peft_model

    from sdft_local.models.loaders import load_torch_student

    model, _ = load_torch_student(tiny_model_dir, device="cpu")
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8,
                                                  target_modules=["q_proj", "v_proj"]))
    torch.manual_seed(0)
    for name, param in peft_model.named_parameters():
        if "lora_B" in name:
            param.data.normal_(0, 0.5)
    folder = tmp_path_factory.mktemp("peft") / "adapter"
    peft_model.save_pretrained(folder)
    return folder


def _mlx_adapter_from_peft(peft_dir, out_dir, rank=4, alpha=8):
    """The MLX layout of the same LoRA (NOTES.md): transposed A and B, scale = alpha / rank."""
    import json
    import re

    from safetensors.numpy import load_file, save_file

    weights, keys = {}, set()
    for key, value in load_file(str(peft_dir / "adapter_model.safetensors")).items():
        layer, proj, ab = re.search(r"layers\.(\d+)\.self_attn\.(\w+)\.lora_([AB])", key).groups()
        module = f"language_model.model.layers.{layer}.self_attn.{proj}"
        weights[f"{module}.lora_{ab.lower()}"] = value.T.copy()
        keys.add(module)
    out_dir.mkdir()
    save_file(weights, str(out_dir / "adapters.safetensors"))
    config = {"fine_tune_type": "lora", "lora_parameters": {
        "rank": rank, "dropout": 0.0, "scale": alpha / rank, "keys": sorted(keys)}}
    (out_dir / "adapter_config.json").write_text(json.dumps(config))
    return out_dir


def test_peft_adapter_changes_the_answers(tiny_model_dir, torch_student, peft_adapter):
    tuned = make_student(tiny_model_dir, backend="torch", adapter=peft_adapter, device="cpu")
    assert tuned.name == f"torch:{tiny_model_dir.name}+adapter"
    photo = make_photo(9)
    base = torch_student.token_logprobs(photo, CAPTION, "A dog.").logprobs
    with_adapter = tuned.token_logprobs(photo, CAPTION, "A dog.").logprobs
    assert np.abs(base - with_adapter).max() > 1e-2


@pytest.mark.mlx
def test_mlx_adapter_matches_peft_adapter(tmp_path, tiny_model_dir, peft_adapter, mlx_student):
    mlx_dir = _mlx_adapter_from_peft(peft_adapter, tmp_path / "mlx_adapter")
    torch_tuned = make_student(tiny_model_dir, backend="torch", adapter=peft_adapter, device="cpu")
    mlx_tuned = make_student(tiny_model_dir, backend="mlx", adapter=mlx_dir)
    photo = make_photo(10)
    a = torch_tuned.token_logprobs(photo, CAPTION, "A dog on a sofa.").logprobs
    b = mlx_tuned.token_logprobs(photo, CAPTION, "A dog on a sofa.").logprobs
    base = mlx_student.token_logprobs(photo, CAPTION, "A dog on a sofa.").logprobs
    assert np.abs(a - b).max() <= 1e-4 and np.abs(b - base).max() > 1e-2
