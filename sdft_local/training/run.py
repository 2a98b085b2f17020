"""Entry points: `train` and `evaluate`, over a project store or over dialogues given directly.

Owns choosing the backend (auto = MLX on Apple Silicon, torch elsewhere), building the student
and the examples (a store's dialogues plus its recognition set, see `scenes.py`), and — with a
store — the run's row and folder (`<project>/runs/<id>/`, the resolved config saved as
`config.json`), resuming the newest unfinished run, and picking the current adapter for
evaluation. The step-by-step work is in `loop.py`.
"""

from __future__ import annotations

import json
import random
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Iterator, Sequence

from ..dialogue.types import TURN_KINDS, Dialogue
from ..errors import BackendError, ConfigError, TrainingError
from .config import TrainConfig
from .checkpoint import read_adapter
from .examples import MissingImageError, SpecialIds, build_examples
from .loop import ADAPTER_DIR, RunContext, evaluate_examples, run_training
from .progress import EvalResult, TrainFinished
from .runs import create_run, current_adapter, resumable_run, update_run


def pick_backend(name: str = "auto") -> str:
    from ..models.registry import is_apple_silicon

    if name not in ("auto", "torch", "mlx"):
        raise ConfigError(f"unknown backend {name!r}; choose auto, torch or mlx")
    backend = ("mlx" if is_apple_silicon() else "torch") if name == "auto" else name
    _check_installed(backend)
    return backend


def _check_installed(backend: str) -> None:
    import importlib.util

    needs = {"torch": ("torch", "transformers", "peft"), "mlx": ("mlx", "mlx_vlm")}[backend]
    missing = [m for m in needs if importlib.util.find_spec(m) is None]
    if missing:
        raise BackendError(f"the {backend} backend needs {', '.join(missing)}; "
                           f"install it with `pip install 'sdft-local[{backend}]'`")


def make_student(backend: str, model_path: str | Path, config: TrainConfig, init: dict | None = None):
    if backend == "mlx":
        from .mlx_backend import MlxStudent

        return MlxStudent(model_path, config, init=init)
    from .torch_backend import TorchStudent

    return TorchStudent(model_path, config, init=init)


def train(source, config: TrainConfig | None = None, *, model: str | Path | None = None,
          run_dir: str | Path | None = None, image_root: str | Path | None = None,
          resume: bool | int = False, name: str | None = None) -> Iterator[object]:
    """Train a LoRA adapter; yields TrainStarted, TrainProgress, CheckpointSaved, TrainFinished.

    `source` is a project `Store` (dialogues, base model and run bookkeeping come from it;
    `resume=True` continues the newest unfinished run, an int continues that run) or a sequence of
    `Dialogue` (then `model` and `run_dir` are required; `resume=True` continues from `run_dir`).
    """
    if isinstance(source, (list, tuple)):
        yield from _train_dialogues(source, config or TrainConfig(), model, run_dir, image_root, bool(resume))
    else:
        yield from _train_store(source, config, resume, name)


def _train_dialogues(dialogues: Sequence[Dialogue], config, model, run_dir, image_root, resume):
    if model is None or run_dir is None:
        raise ConfigError("training on dialogues needs model= (a model id or folder) and run_dir=")
    from ..models.registry import resolve_model

    model_path = resolve_model(model)
    backend = pick_backend(config.backend)
    dialogues = select_dialogues(dialogues, config)
    student = _student(backend, model_path, config)
    examples = build_examples(student.processor, dialogues, image_root=image_root, max_length=config.max_length)
    ctx = RunContext(Path(run_dir), None, _record(config, str(model), model_path, backend, len(examples)), resume)
    _write_config(ctx)
    yield from run_training(student, examples, config, ctx, SpecialIds.from_tokenizer(student.processor.tokenizer).pad)


def _train_store(store, config: TrainConfig | None, resume, name):
    from ..models.registry import resolve_model

    if resume is not False:
        run = resumable_run(store, None if resume is True else int(resume))
        # A run saved before recognition dialogues (or anchors) existed resumes on its own data.
        config = TrainConfig.from_dict({"recognition": 0.0, "anchors": 0, **run.config})
    else:
        from .config import resolve_config

        config = config or resolve_config(store.project.settings, store.project.base_model)
    with _project_changes(store):
        dialogues = select_dialogues(_load_dialogues(store), config) + _recognition(store, config)
    model_path = resolve_model(store.project.base_model)
    backend = pick_backend(config.backend)
    if resume is False:
        run = create_run(store, name, config.to_dict(), backend)
    update_run(store, run.id, state="running")
    ctx = RunContext(run.folder(store), run.id, _record(config, store.project.base_model, model_path,
                                                         backend, len(dialogues)), resume is not False)
    yield from _tracked(store, run.id, ctx, lambda: _store_run(dialogues, store, model_path, backend, config, ctx))


def _store_run(dialogues, store, model_path, backend, config, ctx):
    student = _student(backend, model_path, config)
    with _project_changes(store):
        examples = build_examples(student.processor, dialogues, image_root=store.root,
                                  max_length=config.max_length)
    _write_config(ctx)
    yield from run_training(student, examples, config, ctx, SpecialIds.from_tokenizer(student.processor.tokenizer).pad)


@contextmanager
def _project_changes(store):
    """A photo that vanished while the run read its data was removed from the project meanwhile
    (`sdft entity remove`, `sdft photos remove` in another process): say so, and how to go on."""
    try:
        yield
    except (MissingImageError, FileNotFoundError) as err:
        path = Path(getattr(err, "path", None) or err.filename or "")
        if path.exists() or not path.is_relative_to(store.root):
            raise
        raise TrainingError(
            f"the project changed during training: photo {path.name} was removed while the run read "
            f"it; run `sdft train --resume` to go on with the project as it is now (or `sdft train` "
            f"to start afresh)") from None


def _student(backend: str, model_path, config: TrainConfig):
    """The backend's student, its LoRA fresh or `config.init_adapter`'s weights."""
    if config.init_adapter is None:
        return make_student(backend, model_path, config)
    try:
        return make_student(backend, model_path, config, init=read_adapter(config.init_adapter))
    except TrainingError as err:
        raise TrainingError(f"init_adapter {config.init_adapter}: {err.message}") from None


def select_dialogues(dialogues: Sequence[Dialogue], config: TrainConfig) -> list[Dialogue]:
    """The dialogues of `config.entities` (all when empty) plus a `config.replay` share of the
    others, chosen by the seed, reweighted by `config.turn_weights` (a turn weighted 0 stays as
    context, as a stored turn of weight 0 does) and cut to `config.turns`."""
    chosen = list(dialogues)
    if config.entities:
        present = sorted({d.entity for d in chosen})
        absent = [e for e in config.entities if e not in present]
        if absent:
            raise TrainingError(f"no dialogues for entity {absent[0]!r}; entities with dialogues: "
                                f"{', '.join(present) or 'none'}")
        others = [d for d in chosen if d.entity not in config.entities]
        chosen = [d for d in chosen if d.entity in config.entities] + _replayed(others, config)
    if config.turn_weights is not None:
        weight = dict(zip(TURN_KINDS, config.turn_weights))
        chosen = [replace(d, turns=tuple(replace(t, weight=weight[t.kind]) for t in d.turns)) for d in chosen]
    if set(config.turns) != set(TURN_KINDS):
        chosen = [replace(d, turns=tuple(t for t in d.turns if t.kind in config.turns)) for d in chosen]
    return chosen


def _recognition(store, config: TrainConfig) -> list[Dialogue]:
    """The recognition dialogues a store run adds to the stored ones (none when weighted 0)."""
    if config.recognition <= 0:
        return []
    from .scenes import recognition_set

    return recognition_set(store, weight=config.recognition, scenes=config.scenes, views=config.views,
                           seed=config.seed, entities=config.entities, answers=config.recognition_answers,
                           anchors=config.anchors if config.selfaug > 0 else 0,
                           forms=config.recognition_forms)


def _replayed(others: list[Dialogue], config: TrainConfig) -> list[Dialogue]:
    """round(replay * n) of `others`, the same ones for the same seed, in their original order."""
    keep = sorted(random.Random(config.seed).sample(range(len(others)), round(config.replay * len(others))))
    return [others[i] for i in keep]


def _tracked(store, run_id: int, ctx: RunContext, make_records):
    """Mirror the run's outcome into its row: finished, failed, or interrupted (caller stopped)."""
    adapter_rel = str(Path(ctx.run_dir.relative_to(store.root)) / ADAPTER_DIR)
    try:
        for record in make_records():
            if isinstance(record, TrainFinished):
                update_run(store, run_id, state=record.state, metrics=record.metrics, adapter_path=adapter_rel)
            yield record
    except GeneratorExit:
        update_run(store, run_id, state="interrupted")
        raise
    except BaseException as err:
        update_run(store, run_id, state="failed" if isinstance(err, Exception) else "interrupted")
        raise


def evaluate(source, config: TrainConfig | None = None, *, model: str | Path | None = None,
             adapter: str | Path | None = None, image_root: str | Path | None = None) -> EvalResult:
    """Weighted loss (total and per turn) of an adapter, or of the base model, without training.

    With a store and no `adapter`, the project's current adapter is used (the base model when
    the project has none); the run's own LoRA settings are used to rebuild it.
    """
    from ..models.registry import resolve_model

    if not isinstance(source, (list, tuple)):
        store = source
        model, image_root, source = store.project.base_model, store.root, _load_dialogues(store)
        if adapter is None and (found := current_adapter(store)):
            config, adapter = TrainConfig.from_dict(found[0].config).merged(
                backend=config.backend if config else None), found[1]
    config = config or TrainConfig()
    if model is None:
        raise ConfigError("evaluating dialogues needs model= (a model id or folder)")
    backend = pick_backend(config.backend)
    student = make_student(backend, resolve_model(model), config,
                           init=read_adapter(adapter) if adapter is not None else None)
    examples = build_examples(student.processor, source, image_root=image_root, max_length=config.max_length)
    totals = evaluate_examples(student, examples, config, SpecialIds.from_tokenizer(student.processor.tokenizer).pad)
    return EvalResult(totals.loss, totals.turn_loss(), totals.tokens, len(examples),
                      str(adapter) if adapter is not None else None, backend)


def _load_dialogues(store) -> list[Dialogue]:
    from ..dialogues import load_dialogues

    dialogues = list(load_dialogues(store))
    if not dialogues:
        raise TrainingError(f"project {store.project.name!r} has no dialogues to train on; "
                            f"create them with `sdft synth`")
    return dialogues


def _record(config: TrainConfig, base_model: str, model_path, backend: str, dialogues: int) -> dict:
    from .. import __version__

    return {"config": config.to_dict(), "base_model": base_model, "model_path": str(model_path),
            "backend": backend, "dialogues": dialogues, "sdft_version": __version__,
            "created": time.time()}


def _write_config(ctx: RunContext) -> None:
    ctx.run_dir.mkdir(parents=True, exist_ok=True)
    (ctx.run_dir / "config.json").write_text(json.dumps(ctx.record, indent=2, default=str))
