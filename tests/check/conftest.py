"""Fixtures for the check tests: one shared SDFT_HOME (so the base model's cached answers are
computed once per backend), projects with two entities and held-out photos, and two adapters made
with peft on the tiny model — a no-op one (lora_B = 0) and an over-trained one (high learning
rate, many steps on one dialogue)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from sdft_local.check import CheckConfig

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
# A reduced suite: every family still present, a fraction of the default item counts.
SMALL = CheckConfig(image_probes=18, text_probes=6, answer_tokens=6, recall_tokens=8, bleed_photos=4,
                    easy_negatives=2, batch_size=16)
OVERTRAINED_ANSWER = "Yes, this is Biscuit, my dog Biscuit."


@pytest.fixture(scope="session")
def check_home(tmp_path_factory) -> Path:
    """SDFT_HOME for the whole check session, set before any session fixture builds a project."""
    home = tmp_path_factory.mktemp("check_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SDFT_HOME", str(home))
        mp.delenv("SDFT_PROJECT", raising=False)
        yield home


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """The tiny model's matrices are too small to share across threads; on a shared 2-core
    machine torch's thread pool makes them ~10x slower, not faster."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def sdft_home(check_home, monkeypatch) -> Path:
    monkeypatch.setenv("SDFT_HOME", str(check_home))
    monkeypatch.delenv("SDFT_PROJECT", raising=False)
    return check_home


def block_photo(seed: int, width: int = 112, height: int = 84):
    """A picture of coloured blocks; different seeds give clearly different pictures."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(3, 4, 3), dtype=np.uint8)
    arr = np.kron(blocks, np.ones((height // 3 + 1, width // 4 + 1, 1), dtype=np.uint8))
    return Image.fromarray(arr[:height, :width], "RGB")


def make_project(project: str, model_dir: Path, tmp: Path, photos: int = 5):
    """A project on the tiny model with Biscuit (dog) and Max (cat), `photos` photos each."""
    from sdft_local.ingest import ingest_photos
    from sdft_local.store import Store

    store = Store.create(project, str(model_dir))
    entities = {"Biscuit": ("dog", ["is 4 years old", "loves tennis balls"]),
                "Max": ("cat", ["sleeps in a laundry basket"])}
    for e, (name, (kind, facts)) in enumerate(entities.items()):
        entity = store.add_entity(name, kind, facts)
        paths = []
        for i in range(photos):
            path = tmp / f"{project}-{name}-{i}.png"
            block_photo(100 * (e + 1) + i).save(path)
            paths.append(path)
        results = list(ingest_photos(store, entity, paths))
        assert all(r.status == "added" for r in results), results
    return store


def add_run(store, adapter_dir: Path, name: str) -> int:
    """Record a finished run whose adapter is a copy of `adapter_dir`, as training does."""
    from sdft_local.training.runs import create_run, update_run

    run = create_run(store, name, {"lora_rank": 8}, "torch")
    target = run.folder(store) / "adapter"
    shutil.copytree(adapter_dir, target)
    update_run(store, run.id, state="finished", adapter_path=str(target.relative_to(store.root)))
    return run.id


def _peft_model(model_dir: Path):
    from peft import LoraConfig, get_peft_model

    from sdft_local.models.loaders import load_torch_student

    model, processor = load_torch_student(model_dir, device="cpu")
    config = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=TARGETS)
    return get_peft_model(model, config), processor


@pytest.fixture(scope="session")
def noop_adapter(tiny_model_dir, tmp_path_factory) -> Path:
    """A fresh PEFT adapter: lora_B starts at zero, so it changes nothing."""
    model, _ = _peft_model(tiny_model_dir)
    out = tmp_path_factory.mktemp("adapters") / "noop"
    model.save_pretrained(str(out), safe_serialization=True)
    return out


@pytest.fixture(scope="session")
def overtrained_adapter(tiny_model_dir, tmp_path_factory) -> Path:
    """60 Adam steps at lr 3e-2 on one dialogue: the model answers every question about Biscuit."""
    import torch

    from sdft_local.models.chat import build_inputs, to_torch

    torch.manual_seed(0)
    model, processor = _peft_model(tiny_model_dir)
    question = [{"role": "user", "content": "Who is this?"}]
    dialogue = question + [{"role": "assistant", "content": OVERTRAINED_ANSWER}]
    photo = block_photo(101)
    prompt_len = build_inputs(processor, question, photo)["input_ids"].shape[1]
    inputs = to_torch(build_inputs(processor, dialogue, photo, add_generation_prompt=False))
    labels = inputs["input_ids"].clone()
    labels[:, :prompt_len] = -100
    model.train()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-2)
    for _ in range(60):
        optimizer.zero_grad()
        model(**inputs, labels=labels).loss.backward()
        optimizer.step()
    out = tmp_path_factory.mktemp("adapters") / "overtrained"
    model.save_pretrained(str(out), safe_serialization=True)
    return out


def run_to_end(store, run, config=SMALL, **kw):
    """(report, check_id, events) of one check."""
    from sdft_local.check import CheckFinished, run_check

    events = list(run_check(store, run, config, **kw))
    assert isinstance(events[-1], CheckFinished)
    return events[-1].report, events[-1].check_id, events


@pytest.fixture(scope="session")
def projects(check_home, tiny_model_dir, tmp_path_factory, noop_adapter, overtrained_adapter):
    """"knowing": two entities with held-out photos; "plain": no entities (retention only).
    Both have the runs "noop" and "over"."""
    from sdft_local.store import Store

    photos = tmp_path_factory.mktemp("photos")
    stores = {"knowing": make_project("knowing", tiny_model_dir, photos),
              "plain": Store.create("plain", str(tiny_model_dir))}
    for store in stores.values():
        add_run(store, noop_adapter, "noop")
        add_run(store, overtrained_adapter, "over")
    yield stores
    for store in stores.values():
        store.close()


@pytest.fixture(scope="session")
def torch_reports(projects):
    """Torch check reports: (project, run) -> (report, check_id, events)."""
    return {(p, r): run_to_end(store, r, SMALL.merged(backend="torch"))
            for p, store in projects.items() for r in ("noop", "over")}
