"""Both backends compute the same objective: against each other (loss, KL, gradients through
one AdamW step) and against a weighted loss computed by hand from plain full-logit forwards."""

from __future__ import annotations

import numpy as np
import pytest

from sdft_local.training.batching import collate
from sdft_local.training.config import TrainConfig
from sdft_local.training.examples import SpecialIds, build_example
from sdft_local.training.losses import StepTotals

pytest.importorskip("mlx_vlm")
pytestmark = pytest.mark.mlx


def one_step(student, batch, examples, lr=1e-2):
    features = student.join_features([student.image_features(e.pixel_values, e.image_grid_thw) for e in examples])
    ce, kl_sum = student.micro_step(batch, features, batch.weight, int(batch.kl_index.size))
    totals = StepTotals()
    totals.add(ce, batch.ce_weights, batch.ce_kind, kl_sum, int(batch.kl_index.size) if student.config.selfaug else 0)
    norm = student.apply_update(lr)
    return totals, norm, student.lora_arrays(), student.optimizer_arrays()


def randomized_lora(student, seed=5):
    """The canonical init with a non-zero lora_B, so the adapter changes the outputs."""
    rng = np.random.default_rng(seed)
    return {k: v if k.endswith("lora_A") else (0.05 * rng.standard_normal(v.shape)).astype(np.float32)
            for k, v in student.lora_arrays().items()}


@pytest.mark.parametrize("selfaug", [0.0, 0.5])
def test_mlx_and_torch_agree_on_loss_and_one_optimizer_step(tiny_model_dir, dialogues, selfaug):
    from sdft_local.training.mlx_backend import MlxStudent
    from sdft_local.training.torch_backend import TorchStudent

    config = TrainConfig(lora_dropout=0.0, selfaug=selfaug, lora_targets=("q_proj", "v_proj", "o_proj", "down_proj"))
    torch_student = TorchStudent(tiny_model_dir, config)
    mlx_student = MlxStudent(tiny_model_dir, config)
    # Same seed, same canonical init on both sides, before any weights are moved between them.
    assert all(np.array_equal(v, mlx_student.lora_arrays()[k]) for k, v in torch_student.lora_arrays().items())
    init = randomized_lora(torch_student)
    examples = [build_example(torch_student.processor, d) for d in (dialogues[0], dialogues[3])]
    batch = collate(examples, [0, 1], SpecialIds.from_tokenizer(torch_student.processor.tokenizer).pad)
    results = {}
    for student in (torch_student, mlx_student):
        student.set_lora_arrays(init)
        results[student.backend] = one_step(student, batch, examples)
    (t_tot, t_norm, t_lora, (t_mom, t_step)), (m_tot, m_norm, m_lora, (m_mom, m_step)) = results.values()

    assert m_tot.loss == pytest.approx(t_tot.loss, rel=1e-4)
    assert m_tot.turn_loss() == pytest.approx(t_tot.turn_loss(), rel=1e-4)
    assert m_norm == pytest.approx(t_norm, rel=1e-4)
    if selfaug:
        assert t_tot.kl > 1e-4  # the randomized adapter moves the distribution off the base
        assert m_tot.kl == pytest.approx(t_tot.kl, rel=1e-4)
    else:
        assert t_tot.kl is None and m_tot.kl is None
    moved = max(np.abs(t_lora[k] - init[k]).max() for k in init)
    assert moved > 5e-3
    for key in init:
        assert np.linalg.norm(m_lora[key] - t_lora[key]) <= 1e-4 * np.linalg.norm(t_lora[key]), key
    assert t_step == m_step == 1
    # The first moment is 0.1 × the clipped gradient: the gradients agree too.
    for key in t_mom:
        assert np.linalg.norm(m_mom[key] - t_mom[key]) <= 1e-4 * np.linalg.norm(t_mom[key]), key


def test_selfaug_kl_is_zero_for_a_fresh_adapter(tiny_model_dir, dialogues):
    from sdft_local.training.mlx_backend import MlxStudent
    from sdft_local.training.torch_backend import TorchStudent

    config = TrainConfig(lora_dropout=0.0, selfaug=0.5)
    for student in (TorchStudent(tiny_model_dir, config), MlxStudent(tiny_model_dir, config)):
        examples = [build_example(student.processor, dialogues[0])]
        batch = collate(examples, [0], 0)
        totals = one_step(student, batch, examples)[0]
        assert batch.kl_index.size > 50
        assert abs(totals.kl) < 1e-6, student.backend


def _hand_loss(model, processor, dialogue):
    """Σ w·CE and Σ w for one dialogue, from a plain forward and an independently built mask."""
    import torch

    from sdft_local.models.chat import build_inputs, to_torch

    tok = processor.tokenizer
    inputs = build_inputs(processor, dialogue.messages(), dialogue.image, add_generation_prompt=False)
    ids = inputs["input_ids"][0]
    with torch.no_grad():
        logp = torch.log_softmax(model(**to_torch(inputs)).logits[0].double(), -1).numpy()
    num = den = 0.0
    token_ces = []
    for k, turn in enumerate(dialogue.turns):
        # The answer starts right after the prompt that asks for it, and ends with <|im_end|>.
        prefix = build_inputs(processor, dialogue.messages()[: 2 * k + 1], dialogue.image,
                              add_generation_prompt=True)["input_ids"][0]
        start = len(prefix)
        assert np.array_equal(ids[:start], prefix)
        answer = tok.encode(turn.answer) + [tok.convert_tokens_to_ids("<|im_end|>")]
        assert ids[start: start + len(answer)].tolist() == answer
        for p in range(start, start + len(answer)):
            ce = -logp[p - 1, ids[p]]
            num, den = num + turn.weight * ce, den + turn.weight
            token_ces.append(ce)
    return num, den, token_ces


def test_hand_computed_weighted_loss_equals_the_trainers(learnable_model_dir, dialogues):
    from sdft_local.models.loaders import load_torch_student
    from sdft_local.training import evaluate

    model, processor = load_torch_student(learnable_model_dir)
    pair = [dialogues[0], dialogues[3]]
    parts = [_hand_loss(model, processor, d) for d in pair]
    hand = sum(p[0] for p in parts) / sum(p[1] for p in parts)
    mean_of_means = np.mean([p[0] / p[1] for p in parts])
    plain_mean = np.mean([ce for p in parts for ce in p[2]])
    assert abs(hand - mean_of_means) > 1e-3 and abs(hand - plain_mean) > 1e-3
    for backend in ("torch", "mlx"):
        result = evaluate(pair, TrainConfig(backend=backend, batch_size=2), model=learnable_model_dir)
        assert result.loss == pytest.approx(hand, rel=1e-5), backend
        assert result.examples == 2
