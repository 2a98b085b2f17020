"""The whole path on the tiny model: every stage runs, in order, and leaves its trace in the store."""

import pytest

from sdft_local.ingest import ingest_photos
from sdft_local.pipeline import PipelineOptions, StageFinished, StageStarted, run_pipeline
from sdft_local.store import Store


def _photos(folder, n):
    from PIL import Image, ImageDraw

    paths = []
    for i in range(n):
        im = Image.new("RGB", (112, 84), (40 * i % 255, 120, 200))
        ImageDraw.Draw(im).ellipse([10 + 5 * i, 10, 60 + 5 * i, 60], fill=(230, 120, 20))
        im.save(folder / f"p{i}.png")
        paths.append(folder / f"p{i}.png")
    return paths


@pytest.fixture()
def project(tmp_path, tiny_model_dir):
    store = Store.create("pipe", str(tiny_model_dir))
    ent = store.add_entity("Biscuit", "dog", ["4 years old"])
    list(ingest_photos(store, ent, _photos(tmp_path, 5)))
    yield store
    store.close()


def test_all_stages_run_in_order_and_are_recorded(project, tmp_path):
    options = PipelineOptions(
        student_backend="torch", synth_backend="template",
        train_flags={"steps": 3, "checkpoint_every": 0},
        # three steps on random weights recognize nothing: only this test's gate lets that through
        check_flags={"image_probes": 12, "text_probes": 6, "bleed_photos": 2, "easy_negatives": 2,
                     "gate": {"recognition_warn": 0.0, "recognition_fail": 0.0, "positives_fail": 0.0}},
        export_formats=("peft",), export_dir=tmp_path / "out")
    records = list(run_pipeline(project, options))
    started = [r.stage for r in records if isinstance(r, StageStarted)]
    finished = {r.stage: r for r in records if isinstance(r, StageFinished)}
    assert started == ["synthesize", "train", "check", "export"] == list(finished)
    assert type(finished["train"].last).__name__ == "TrainFinished"
    assert finished["train"].last.state == "finished"
    assert type(finished["check"].last).__name__ == "CheckFinished"
    assert project.db["dialogues"].count == len(project.photos(split="train")) * 3 == 9
    assert project.db["checks"].count == 1 and project.db["exports"].count == 1
    assert (tmp_path / "out" / "manifest.json").is_file()


def test_unknown_stage_is_a_clear_error():
    from sdft_local.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown stage"):
        PipelineOptions(stages=("synthesize", "deploy"))
