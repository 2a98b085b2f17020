"""`sdft train` over a real project: runs recorded in the store, --json, --eval-only, --resume."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from sdft_local.cli import cli
from sdft_local.store import Store
from sdft_local.training.runs import list_runs

from .conftest import sdft_dialogue


@pytest.fixture()
def project(tiny_model_dir, photos, sdft_home):
    from sdft_local.ingest import ingest_photos

    store = Store.create("proj", str(tiny_model_dir))
    entity = store.add_entity("Biscuit", "dog")
    results = list(ingest_photos(store, entity, photos[:2]))
    assert all(r.ok for r in results)
    now = time.time()
    with store.transaction():
        for i, photo in enumerate(store.photos()):
            for variant in range(2):
                turns = sdft_dialogue(photo.sha256, i, variant).turns_json()
                store.db["dialogues"].insert({
                    "photo_id": photo.id, "entity_id": entity.id, "variant": variant, "turns": turns,
                    "provenance": "{}", "status": "ok", "created": now, "updated": now})
    yield store
    store.close()


def invoke(*args):
    result = CliRunner().invoke(cli, [*args, "--project", "proj"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_train_records_the_run_and_eval_only_reports_its_loss(project):
    base = invoke("train", "--eval-only", "--json", "--backend", "torch")
    assert base["adapter"] is None and base["examples"] == 4
    assert set(base["turn_loss"]) == {"caption", "negative", "entity"}

    done = invoke("train", "--json", "--backend", "torch", "--steps", "6", "--lr", "1e-2",
                  "--batch-size", "2", "--dropout", "0", "--name", "first")
    assert done["ok"] and done["state"] == "finished" and done["steps"] == 6
    run = list_runs(project)[0]
    assert (run.name, run.state, run.backend, run.adapter_path) == ("first", "finished", "torch", "runs/1/adapter")
    assert (project.root / "runs/1/adapter/adapter_model.safetensors").is_file()
    assert json.loads((project.root / "runs/1/adapter/sdft_train.json").read_text())["config"]["lora_dropout"] == 0
    assert run.metrics["history"] == pytest.approx(done["metrics"]["history"])

    tuned = invoke("train", "--eval-only", "--json")
    assert tuned["adapter"].endswith("runs/1/adapter")
    assert tuned["loss"] < base["loss"]
    assert invoke("train", "--list", "--json")["runs"][0]["state"] == "finished"


def test_interrupted_run_resumes_from_the_cli(project):
    from sdft_local.training import TrainConfig, TrainProgress, train

    config = TrainConfig(backend="torch", steps=6, checkpoint_every=2, batch_size=2)
    records = train(project, config)
    for record in records:
        if isinstance(record, TrainProgress) and record.step == 3:
            records.close()
    assert list_runs(project)[0].state == "interrupted"
    clash = CliRunner().invoke(cli, ["train", "--resume", "--lr", "1e-3", "--project", "proj"])
    assert clash.exit_code == 2 and "drop --lr" in clash.output
    done = invoke("train", "--resume", "--json")
    assert done["state"] == "finished" and done["run_id"] == 1 and len(done["metrics"]["history"]) == 6
    assert list_runs(project)[0].state == "finished"


def test_training_without_dialogues_is_a_clear_error(sdft_home, tiny_model_dir):
    Store.create("empty", str(tiny_model_dir)).close()
    result = CliRunner().invoke(cli, ["train", "--project", "empty"])
    assert result.exit_code == 1
    assert "no dialogues to train on" in result.stderr and "sdft synth" in result.stderr


def test_from_run_entity_and_turn_weights_flags(project):
    invoke("train", "--json", "--backend", "torch", "--steps", "2", "--name", "first")
    done = invoke("train", "--json", "--backend", "torch", "--steps", "2", "--from-run", "first",
                  "--entity", "Biscuit", "--turn-weights", "0,0,1", "--replay", "0.5")
    saved = json.loads((project.root / f"runs/{done['run_id']}/config.json").read_text())["config"]
    assert saved["init_adapter"] == str(project.root / "runs/1/adapter")
    assert saved["entities"] == ["Biscuit"] and saved["turn_weights"] == [0.0, 0.0, 1.0]
    assert saved["replay"] == 0.5
    bad = CliRunner().invoke(cli, ["train", "--turn-weights", "0.2,0.5", "--project", "proj"])
    assert bad.exit_code == 2 and "not three comma-separated numbers" in bad.output
    missing = CliRunner().invoke(cli, ["train", "--from-run", "nope", "--project", "proj"])
    assert missing.exit_code == 1 and "no run named 'nope'" in missing.output
    unknown = CliRunner().invoke(cli, ["train", "--entity", "Rex", "--project", "proj"])
    assert unknown.exit_code == 1 and "no dialogues for entity 'Rex'" in unknown.output
    lone = CliRunner().invoke(cli, ["train", "--replay", "0.5", "--project", "proj"])
    assert lone.exit_code != 0 and "replay 0.5 needs entities" in lone.output
    assert len(list_runs(project)) == 2  # the refused runs left no row behind


def test_an_entity_removed_while_training_reads_its_photos_says_the_project_changed(project, monkeypatch):
    from sdft_local.errors import TrainingError
    from sdft_local.training import TrainConfig, train
    from sdft_local.training import run as run_module

    real = run_module.select_dialogues

    def remove_meanwhile(dialogues, config):  # another process runs `sdft entity remove` now
        chosen = real(dialogues, config)
        project.remove_entity("Biscuit")
        return chosen

    monkeypatch.setattr(run_module, "select_dialogues", remove_meanwhile)
    with pytest.raises(TrainingError) as err:
        list(train(project, TrainConfig(backend="torch", steps=2, scenes=2, views=0)))
    assert "the project changed during training" in err.value.message
    assert "sdft train --resume" in err.value.message and "re-run `sdft synth`" not in err.value.message
