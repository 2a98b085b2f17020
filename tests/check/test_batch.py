"""Batched scoring across prompts equals the student runtime's one-prompt-at-a-time answers."""

from __future__ import annotations

import numpy as np
import pytest

from sdft_local.check.batch import BatchScorer, Prompt

from .conftest import block_photo


def _finish(gen):
    steps = []
    while True:
        try:
            steps.append(next(gen))
        except StopIteration as stop:
            return stop.value, steps


@pytest.fixture(scope="module")
def prompts():
    photos = [block_photo(i) for i in range(3)]
    questions = ["What colour is the big block?", "Is there a dog here?", "How many blocks are there?",
                 "Name a fruit.", "Describe this picture in detail, please."]
    # Mixed batch: photos shared by several prompts, text-only prompts, different lengths.
    return [Prompt.ask(photos[i % 3] if i % 4 else None, questions[i % 5]) for i in range(7)]


@pytest.mark.parametrize("backend", ["torch", pytest.param("mlx", marks=pytest.mark.mlx)])
def test_batched_scores_equal_per_prompt_scores(tiny_model_dir, prompts, backend):
    from sdft_local.models.student import make_student

    student = make_student(tiny_model_dir, backend)
    scorer = BatchScorer(student, batch_size=3)  # several batches, each padded

    yes, steps = _finish(scorer.yes_probs(prompts))
    assert steps[-1] == (7, 7) and len(steps) == 3
    want = [student.yes_no(p.image, list(p.messages)) for p in prompts]
    np.testing.assert_allclose(yes, want, atol=1e-5)
    assert np.ptp(yes) > 1e-3  # the prompts really differ

    options = [["red", "light blue", "a green square"]] * len(prompts)
    scores, _ = _finish(scorer.option_scores(prompts, options))
    for (sums, counts), p, opts in zip(scores, prompts, options):
        np.testing.assert_allclose(sums, student.option_logprobs(p.image, list(p.messages), opts), atol=1e-4)
        tokenized = student.tokenizer(list(opts), add_special_tokens=False)["input_ids"]
        assert list(counts) == [len(t) + 1 for t in tokenized]  # + the end-of-turn token

    answers = ["red", "", "three blocks and a dog", "an apple", "x y z"]
    got, _ = _finish(scorer.answer_logprobs(prompts[:5], answers, lambda i, ids, lp: (i, ids, lp)))
    for (i, ids, lp), p, a in zip(got, prompts, answers):
        ref = student.token_logprobs(p.image, list(p.messages), a)
        np.testing.assert_array_equal(ids, ref.token_ids)
        np.testing.assert_allclose(lp, ref.logprobs, atol=1e-4)


@pytest.mark.parametrize("backend", ["torch", pytest.param("mlx", marks=pytest.mark.mlx)])
def test_batched_greedy_equals_generate(tiny_model_dir, prompts, backend):
    from sdft_local.models.student import make_student

    student = make_student(tiny_model_dir, backend)
    answers, steps = _finish(BatchScorer(student, batch_size=3).greedy(prompts, 7))
    assert steps[-1] == (7, 7)
    assert answers == [student.generate(p.image, list(p.messages), max_new_tokens=7) for p in prompts]
    assert len(set(answers)) > 1


def test_batched_greedy_stops_each_row_at_its_own_end(tiny_model_dir, prompts):
    from sdft_local.models.student import make_student

    student = make_student(tiny_model_dir, "torch")
    scorer = BatchScorer(student, batch_size=4)
    before = _finish(scorer.greedy(prompts, 7))[0]
    batch = sorted(scorer._sequences(prompts, [""] * 7, answer=False), key=lambda s: len(s.ids))[:4]
    # Declare the third token the first row produces an end token: rows now stop at different steps.
    student.eos_ids = set(student.eos_ids) | {scorer._greedy_batch(batch, 7)[0][2]}
    after = _finish(BatchScorer(student, batch_size=4).greedy(prompts, 7))[0]
    assert after == [student.generate(p.image, list(p.messages), max_new_tokens=7) for p in prompts]
    shorter = [len(a) < len(b) for a, b in zip(after, before)]
    assert any(shorter) and not all(shorter)
