"""Dialogue → example: the weight mask, the single image, positions, and the length rule."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sdft_local.dialogue.types import TURN_KINDS
from sdft_local.errors import TrainingError
from sdft_local.training.examples import (
    MessageSpan, SpecialIds, answer_weights, build_example, message_spans, mrope_positions,
)

from .conftest import sdft_dialogue, square_photo


def test_weights_cover_each_answer_and_its_end_token(processor, dialogues):
    dialogue = dialogues[1]
    ex = build_example(processor, dialogue)
    tok = processor.tokenizer
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    for turn_no, turn in enumerate(dialogue.turns):
        kind = TURN_KINDS.index(turn.kind)
        idx = np.flatnonzero(ex.turn_kind == kind)
        assert np.all(np.diff(idx) == 1), "each answer is one contiguous span"
        assert tok.decode(ex.input_ids[idx[:-1]].tolist()) == turn.answer
        assert ex.input_ids[idx[-1]] == im_end
        assert np.allclose(ex.weights[idx], turn.weight)
    # Everything else (system, user turns, image tokens, headers, newlines) weighs nothing.
    assert ex.weights[ex.turn_kind < 0].sum() == 0
    counted = ex.weights > 0
    assert counted.sum() == sum(len(tok.encode(t.answer)) + 1 for t in dialogue.turns)
    assert not counted[ex.input_ids == ex.image_token_id].any()


def test_image_appears_once_inside_the_first_user_turn(processor, dialogues):
    ex = build_example(processor, dialogues[0])
    tok = processor.tokenizer
    ids = ex.input_ids
    image_at = np.flatnonzero(ids == ex.image_token_id)
    assert len(image_at) == int(np.prod(ex.image_grid_thw)) // 4 == 4
    assert np.all(np.diff(image_at) == 1)
    starts = np.flatnonzero(ids == tok.convert_tokens_to_ids("<|im_start|>"))
    first_user, first_answer = starts[1], starts[2]
    assert first_user < image_at[0] and image_at[-1] < first_answer
    assert (ids == tok.convert_tokens_to_ids("<|vision_start|>")).sum() == 1


def _fake_ids():
    # <s>=0 ("<|im_start|>"), </s>=1 ("<|im_end|>"), img=2; the merged token 9 = "\n\nHi".
    text = {3: "user", 4: "\n", 5: "assistant", 6: "Hello", 9: "\n\nHi", 7: "!"}
    ids = np.array([0, 3, 4, 2, 2, 6, 1, 4, 0, 5, 4, 6, 7, 1, 4, 0, 3, 4, 6, 1, 0, 5, 9, 7, 1])
    return ids, text.__getitem__, SpecialIds(im_start=0, im_end=1, image=2, pad=1)


def test_message_spans_from_token_ids_alone():
    ids, text_of, special = _fake_ids()
    spans = message_spans(ids, text_of, special)
    assert [s.role for s in spans] == ["user", "assistant", "user", "assistant"]
    assert spans[1] == MessageSpan("assistant", 11, 13)
    # A token that merges the header's newline with answer text belongs to the answer.
    assert spans[3] == MessageSpan("assistant", 22, 24)
    w, kind = answer_weights(len(ids), spans, [0.3, 0.5], [1, 2])
    assert np.allclose(w, [0.0] * 11 + [0.3] * 3 + [0.0] * 8 + [0.5] * 3)
    assert kind[11] == 1 and kind[22] == 2 and kind[:11].max() == -1


def test_wrong_number_of_answers_is_an_error():
    ids, text_of, special = _fake_ids()
    spans = message_spans(ids, text_of, special)
    with pytest.raises(TrainingError, match="found 2 assistant messages .* 3 turns"):
        answer_weights(len(ids), spans, [0.2, 0.3, 0.5], [0, 1, 2])


def test_unterminated_message_is_an_error():
    ids, text_of, special = _fake_ids()
    with pytest.raises(TrainingError, match="unterminated"):
        message_spans(ids[:-1], text_of, special)


def test_too_long_dialogue_is_an_error_naming_it(processor, dialogues):
    length = build_example(processor, dialogues[0]).length
    with pytest.raises(TrainingError, match=rf"dialogue Biscuit/p0#0 is {length} tokens, over max_length 64"):
        build_example(processor, dialogues[0], max_length=64)
    assert build_example(processor, dialogues[0], max_length=length).length == length


def test_missing_photo_is_an_error(processor, dialogues, tmp_path):
    gone = replace(dialogues[0], image=str(tmp_path / "gone.png"))
    with pytest.raises(TrainingError, match="gone.png is missing"):
        build_example(processor, gone)


def test_relative_image_paths_resolve_against_image_root(processor, dialogues, photos):
    relative = replace(dialogues[0], image=photos[0].name)
    ex = build_example(processor, relative, image_root=photos[0].parent)
    assert ex.image_key == build_example(processor, dialogues[0]).image_key


def test_same_pixels_share_an_image_key(processor, dialogues):
    keys = [build_example(processor, d).image_key for d in dialogues]
    assert keys[0] == keys[1] != keys[2] == keys[3]


def test_mrope_positions_match_transformers(processor, tiny_model_dir, tmp_path):
    import torch

    from sdft_local.models.chat import build_inputs
    from sdft_local.models.loaders import load_torch_student

    wide = square_photo(tmp_path / "wide.png", 2, size=(112, 56))  # grid 1×4×8: h ≠ w
    dialogue = sdft_dialogue(wide, 2)
    ex = build_example(processor, dialogue)
    assert ex.image_grid_thw.tolist() == [1, 4, 8]
    model, _ = load_torch_student(tiny_model_dir)
    inputs = build_inputs(processor, dialogue.messages(), wide, add_generation_prompt=False)
    ref, _ = model.model.get_rope_index(
        torch.from_numpy(inputs["input_ids"]), torch.from_numpy(inputs["mm_token_type_ids"]),
        image_grid_thw=torch.from_numpy(inputs["image_grid_thw"]))
    assert np.array_equal(ex.position_ids, ref[:, 0].numpy())
    assert np.array_equal(mrope_positions(np.arange(5) + 10, [], 2, 2), np.tile(np.arange(5), (3, 1)))


def test_dialogues_of_one_photo_share_its_pixels_and_encode_as_alone(processor, dialogues):
    from dataclasses import replace

    from sdft_local.training.examples import build_examples

    again = replace(dialogues[0], turns=dialogues[0].turns[:1], variant=7)
    together = build_examples(processor, [dialogues[0], again])
    alone = [build_example(processor, d) for d in (dialogues[0], again)]
    for shared, single in zip(together, alone):
        assert np.array_equal(shared.input_ids, single.input_ids)
        assert np.array_equal(shared.weights, single.weights)
        assert np.array_equal(shared.position_ids, single.position_ids)
        assert shared.image_key == single.image_key
    assert together[0].pixel_values is together[1].pixel_values  # processed once, not copied


def test_recognition_examples_carry_their_contrast_group(processor, dialogues):
    from sdft_local.dialogue.recognition import LabeledImage, recognition_dialogues
    from sdft_local.training.examples import build_examples

    photo = dialogues[0].image
    asked = [d for d in recognition_dialogues([LabeledImage(photo, dialogues[0].entity)],
                                              [dialogues[0].entity, "Zed"], weight=0.5, forms=1)]
    examples = build_examples(processor, [dialogues[0], *asked])
    assert examples[0].group is None
    groups = [e.group for e, d in zip(examples[1:], asked) if "asked" in d.turns[0].meta]
    assert len(groups) == 2 and groups[0] == groups[1] is not None
