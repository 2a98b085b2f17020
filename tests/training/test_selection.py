"""Training options that choose what is learned: per-turn weights (SFT and ablations), an entity
filter, and starting from an earlier adapter (teaching a new entity on top of an old one)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sdft_local.errors import ConfigError, TrainingError
from sdft_local.training import TrainConfig, TrainFinished, train
from sdft_local.training.checkpoint import read_adapter
from sdft_local.training.examples import build_example
from sdft_local.training.run import select_dialogues

FAST = dict(backend="torch", lora_dropout=0.0, checkpoint_every=0, warmup_ratio=0.0, batch_size=2)


def finished(records) -> TrainFinished:
    return [r for r in records if isinstance(r, TrainFinished)][-1]


def test_turn_weights_reweight_and_turns_choose_what_stays(dialogues, processor):
    sft = select_dialogues(dialogues, TrainConfig(turn_weights=(0, 0, 1), turns=("entity",)))
    assert [[t.kind for t in d.turns] for d in sft] == [["entity"]] * len(dialogues)
    assert sft[0].turns[0].weight == 1.0 and sft[0].turns[0].answer == dialogues[0].turns[2].answer
    # Weight 0 means what it means in a stored dialogue: the turn stays, as context without loss.
    no_negative = select_dialogues(dialogues, TrainConfig(turn_weights=(0.2, 0, 0.5)))
    assert [(t.kind, t.weight) for t in no_negative[0].turns] == [("caption", 0.2), ("negative", 0.0),
                                                                  ("entity", 0.5)]
    negative = build_example(processor, no_negative[0])
    assert "teapot" in processor.tokenizer.decode(negative.input_ids)
    assert "teapot" not in processor.tokenizer.decode(negative.input_ids[negative.weights > 0])
    cut = select_dialogues(dialogues, TrainConfig(turns=("caption", "entity")))
    assert [t.kind for t in cut[0].turns] == ["caption", "entity"]
    # The image moves into the first remaining user turn, and only the entity answer carries weight.
    example = build_example(processor, sft[0])
    text = processor.tokenizer.decode(example.input_ids)
    assert example.image_tokens > 0 and text.index("<|image_pad|>") < text.index("Do you know who this is?")
    answer = processor.tokenizer.decode(example.input_ids[example.weights > 0])
    assert answer.startswith("This is Biscuit") and "teapot" not in text
    assert select_dialogues(dialogues, TrainConfig()) == list(dialogues)


def test_entity_filter_and_its_errors(dialogues):
    other = [replace(d, entity="Pixel") for d in dialogues[:1]]
    assert {d.entity for d in select_dialogues(dialogues + other, TrainConfig(entities=("Pixel",)))} == {"Pixel"}
    with pytest.raises(TrainingError, match="no dialogues for entity 'Rex'; entities with dialogues: Biscuit"):
        select_dialogues(dialogues, TrainConfig(entities=("Rex",)))


def test_replay_adds_a_seeded_share_of_the_other_entities(dialogues):
    pixel = [replace(d, entity="Pixel", variant=i) for i, d in enumerate(dialogues[:2])]
    biscuit = list(dialogues) * 2  # enough of the other entity to sample from
    chosen = select_dialogues(biscuit + pixel, TrainConfig(entities=("Pixel",), replay=0.5, seed=3))
    replayed = [d for d in chosen if d.entity == "Biscuit"]
    assert chosen[:2] == pixel and len(replayed) == round(0.5 * len(biscuit))
    assert chosen == select_dialogues(biscuit + pixel, TrainConfig(entities=("Pixel",), replay=0.5, seed=3))
    picks = {tuple(id(d) for d in select_dialogues(biscuit + pixel, TrainConfig(entities=("Pixel",),
                                                                                replay=0.5, seed=s)))
             for s in range(8)}
    assert len(picks) > 1  # the seed chooses which ones
    everything = select_dialogues(biscuit + pixel, TrainConfig(entities=("Pixel",), replay=1.0))
    assert sorted(map(id, everything)) == sorted(map(id, biscuit + pixel))
    assert select_dialogues(biscuit + pixel, TrainConfig(entities=("Pixel",))) == pixel


@pytest.mark.parametrize("bad, match", [(dict(replay=1.5, entities=("Pixel",)), "replay 1.5 must be within 0..1"),
                                        (dict(replay=0.5), "replay 0.5 needs entities")])
def test_bad_replay_is_refused(bad, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**bad)


@pytest.mark.parametrize("weights", [(0, 0, 0), (0.2, 0.5), (0.2, -1, 0.5), (0.2, 11, 0.5)])
def test_bad_turn_weights_are_refused(weights):
    with pytest.raises(ConfigError, match="turn_weights"):
        TrainConfig(turn_weights=weights)


@pytest.mark.parametrize("turns", [(), ("entity", "entity"), ("answer",)])
def test_bad_turns_are_refused(turns):
    with pytest.raises(ConfigError, match="turns"):
        TrainConfig(turns=turns)


def test_every_weight_is_checked_by_one_rule():
    from sdft_local.dialogue.config import DialogueConfig
    from sdft_local.dialogue.types import Turn

    for make in (lambda w: TrainConfig(recognition=w), lambda w: TrainConfig(turn_weights=(w, 0.3, 0.5)),
                 lambda w: DialogueConfig(caption_weight=w), lambda w: Turn("caption", "q", "a", w)):
        make(0.0) and make(10.0)
        with pytest.raises((ValueError, ConfigError), match=r"within 0\.\.10"):
            make(10.5)


def test_config_round_trips_the_new_options():
    config = TrainConfig(turn_weights=[0, 0.3, 0.5], entities=["Pixel"], init_adapter="/x/adapter", replay=0.5)
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert config.to_dict()["turn_weights"] == [0.0, 0.3, 0.5]


def test_training_starts_from_an_earlier_adapter(tiny_model_dir, dialogues, tmp_path):
    first = finished(train(dialogues, TrainConfig(steps=4, learning_rate=1e-2, **FAST),
                           model=tiny_model_dir, run_dir=tmp_path / "a"))
    start = read_adapter(first.adapter_path)
    assert max(float(np.abs(v).max()) for k, v in start.items() if k.endswith("lora_B")) > 0
    # A vanishing learning rate keeps the starting weights: the run really began from them.
    tiny_lr = TrainConfig(steps=1, learning_rate=1e-12, init_adapter=str(first.adapter_path), **FAST)
    second = read_adapter(finished(train(dialogues, tiny_lr, model=tiny_model_dir,
                                         run_dir=tmp_path / "b")).adapter_path)
    assert set(second) == set(start)
    assert max(float(np.abs(second[k] - start[k]).max()) for k in start) < 1e-6
    wrong = replace(tiny_lr, lora_rank=4)
    with pytest.raises(TrainingError, match=r"init_adapter .*adapter.*rank 4.*train with the adapter's own rank"):
        list(train(dialogues, wrong, model=tiny_model_dir, run_dir=tmp_path / "c"))
