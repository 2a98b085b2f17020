"""`run_demo`: the whole product on the bundled demo model, offline, with a before/after report.

Owns the demo's own steps — a fresh project, the demo entities and their drawn photos, the base
model's knowledge before training — and hands the rest to `pipeline.run_pipeline`. The records it
yields are the pipeline's, framed by the same `StageStarted`/`StageFinished`, then one
`DemoFinished` with everything the report shows. It prints nothing.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

from ..errors import ExistsError
from ..pipeline import PipelineOptions, StageFinished, StageStarted, run_pipeline
from ..store import Store, set_current_project


# The demo draws many photos and holds most of them out: 11 + 7 train as a user's few would, and
# 42 held-out positives (with 59 negatives) put the check's recognition within about ±0.05.
HELDOUT_FRACTION = 0.7


@dataclass(frozen=True)
class DemoOptions:
    project: str = "demo"
    base_model: str = "demo"
    reset: bool = False
    steps: int | None = None  # training steps; None = the pipeline's (project) default
    # No training flags: the demo trains with the base model's recommended settings
    # (models/registry.py), as `sdft train` and the app do on a project of that model.
    pipeline: PipelineOptions = field(default_factory=PipelineOptions)


@dataclass(frozen=True)
class DemoFinished:
    project: str
    project_dir: str
    base_model: str
    before: object  # KnowledgeReport of the base model
    after: object | None  # CheckReport of the tuned model (None if the check was not run)
    train: object | None  # TrainFinished
    export: object | None  # ExportResult
    seconds: float
    export_skipped: str | None = None  # why nothing was exported (the gate failed)
    synth: object | None = None  # SynthFinished: how many dialogues, who wrote turn 3, fallbacks


def run_demo(options: DemoOptions = DemoOptions()) -> Iterator[object]:
    """Create the demo project, then run every stage; the last record is `DemoFinished`."""
    from ..models.registry import resolve_model

    started = time.perf_counter()
    resolve_model(options.base_model)  # fail before creating anything if the model is missing
    store = _fresh_project(options)
    try:
        set_current_project(store.project.name)
        yield from _framed("photos", 0, lambda: add_demo_entities(store))
        before = yield from _framed("before", 0, lambda: _before(store, options))
        finals = {}
        pipeline = _pipeline_options(options)
        learn = replace(pipeline, stages=tuple(s for s in pipeline.stages if s != "export"))
        yield from _collect(run_pipeline(store, learn), finals)
        after = getattr(finals.get("check"), "report", None)
        skipped = None
        if "export" in pipeline.stages:
            skipped = _export_refusal(after)
            if skipped is None:
                yield from _collect(run_pipeline(store, replace(pipeline, stages=("export",))), finals)
        yield DemoFinished(
            store.project.name, str(store.root), options.base_model, before, after, finals.get("train"),
            getattr(finals.get("export"), "result", None), time.perf_counter() - started, skipped,
            finals.get("synthesize"))
    finally:
        store.close()


def _collect(records, finals: dict):
    """Pass a pipeline's records on, keeping each stage's final record in `finals`."""
    for record in records:
        if isinstance(record, StageFinished):
            finals[record.stage] = record.last
        yield record


def _export_refusal(report) -> str | None:
    """Why the demo exports nothing: the check failed (export would refuse it), else None."""
    if report is None or report.gate.passed:
        return None
    return ("the check failed, so nothing was exported (as `sdft export` would refuse it): "
            + "; ".join(r.message for r in report.gate.reasons if r.level == "fail"))


def _pipeline_options(options: DemoOptions) -> PipelineOptions:
    if options.steps is None:
        return options.pipeline
    flags = {**options.pipeline.train_flags, "steps": options.steps}
    return replace(options.pipeline, train_flags=flags)


def _fresh_project(options: DemoOptions) -> Store:
    from ..paths import projects_dir
    from ..store import DB_NAME

    root = projects_dir() / options.project
    if (root / DB_NAME).exists():
        if not options.reset:
            raise ExistsError(
                f"project {options.project!r} already exists; run `sdft demo --reset` to start it "
                f"over, or `sdft demo --project another-name`")
        shutil.rmtree(root)
    return Store.create(options.project, options.base_model, {"heldout_fraction": HELDOUT_FRACTION})


def _framed(stage: str, index: int, work):
    """Frame a demo-only step like a pipeline stage; returns the step's return value."""
    yield StageStarted(stage, index, 1)
    t0 = time.perf_counter()
    result = yield from work()
    yield StageFinished(stage, time.perf_counter() - t0, result)
    return result


def add_demo_entities(store: Store, entities=None):
    """Add drawn entities (default: the demo's) with their facts and photos; yields ingest results,
    returns {name: added}."""
    from ..ingest import ingest_photos
    from .entities import DEMO_ENTITIES, write_entity_photos

    added = {}
    with tempfile.TemporaryDirectory(prefix="sdft-demo-") as tmp:
        for spec in entities or DEMO_ENTITIES:
            entity = store.add_entity(spec.name, spec.kind, spec.fact_sentences())
            paths = write_entity_photos(spec, Path(tmp) / spec.name)
            results = list(ingest_photos(store, entity, paths))
            added[spec.name] = sum(r.status == "added" for r in results)
            yield from results
    return added


def _before(store: Store, options: DemoOptions):
    from ..check.config import resolve_check_config
    from ..check.runner import base_knowledge

    flags = {"backend": options.pipeline.student_backend, **options.pipeline.check_flags}
    return (yield from base_knowledge(store, resolve_check_config(store.project.settings, **flags)))
