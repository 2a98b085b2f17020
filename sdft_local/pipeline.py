"""The whole path as one generator: synthesize → train → check → export, stage by stage.

Owns the order of the stages and the records that frame them (`StageStarted`, `StageFinished`);
each stage's own records pass through unchanged, so a client (the CLI's `demo`, the terminal app)
renders them as it renders a single stage. It does no work of its own: every stage is the library
entry point the matching CLI verb calls. Stop iterating to stop between (or inside) stages.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from .store import Store

STAGES = ("synthesize", "train", "check", "export")


@dataclass(frozen=True)
class StageStarted:
    stage: str
    index: int
    total: int


@dataclass(frozen=True)
class StageFinished:
    stage: str
    seconds: float
    last: object  # the stage's final record (SynthFinished, TrainFinished, CheckFinished, ...)


@dataclass(frozen=True)
class PipelineOptions:
    """What the whole path needs besides the project; every field has the CLI verbs' default."""

    stages: tuple[str, ...] = STAGES
    student_backend: str = "auto"
    synth_backend: str | None = None  # None: the project's saved choice, else a local model found here
    train_flags: dict = field(default_factory=dict)  # TrainConfig fields, over project settings
    check_flags: dict = field(default_factory=dict)  # CheckConfig fields, over project settings
    export_formats: tuple[str, ...] = ("peft", "gguf")
    export_dir: Path | None = None
    export_quant: str = "q8_0"

    def __post_init__(self):
        unknown = [s for s in self.stages if s not in STAGES]
        if unknown:
            from .errors import ConfigError

            raise ConfigError(f"unknown stage(s) {', '.join(unknown)}; choose from {', '.join(STAGES)}")


def run_pipeline(store: Store, options: PipelineOptions = PipelineOptions()) -> Iterator[object]:
    """Run the chosen stages in order, yielding framing records around each stage's own records."""
    makers: dict[str, Callable[[], Iterator[object]]] = {
        "synthesize": lambda: _synthesize(store, options),
        "train": lambda: _train(store, options),
        "check": lambda: _check(store, options),
        "export": lambda: _export(store, options),
    }
    chosen = [s for s in STAGES if s in options.stages]
    for index, stage in enumerate(chosen):
        yield StageStarted(stage, index, len(chosen))
        started, last = time.perf_counter(), None
        for record in makers[stage]():
            last = record
            yield record
        yield StageFinished(stage, time.perf_counter() - started, last)


def _synthesize(store: Store, options: PipelineOptions) -> Iterator[object]:
    from .synth import backend_from_settings, synthesize_project

    backend_config = backend_from_settings(store.project.settings, name=options.synth_backend)
    yield from synthesize_project(store, backend_config=backend_config, student_backend=options.student_backend)


def _train(store: Store, options: PipelineOptions) -> Iterator[object]:
    from .training import resolve_config, train

    flags = {"backend": options.student_backend, **options.train_flags}
    yield from train(store, resolve_config(store.project.settings, store.project.base_model, **flags))


def _check(store: Store, options: PipelineOptions) -> Iterator[object]:
    from .check.config import resolve_check_config
    from .check.runner import run_check

    flags = {"backend": options.student_backend, **options.check_flags}
    yield from run_check(store, None, resolve_check_config(store.project.settings, **flags))


def _export(store: Store, options: PipelineOptions) -> Iterator[object]:
    from .export import ExportOptions, export_run

    out = options.export_dir or store.root / "exports" / "latest"
    export_options = ExportOptions(quant=options.export_quant, overwrite=True)
    yield from export_run(store, None, options.export_formats, out, export_options)
