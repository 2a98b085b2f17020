"""`run_check`: the check stage end to end, as a generator of progress records.

Owns picking the run and its adapter (converted to the backend's format when the run was trained
on the other one), the order of work — the base model's side from the cache or computed once,
then the tuned model's retention, bleed and knowledge — the gate, and storing the report in the
project's checks table (`latest_check` reads it back for export). It does not score or judge
anything itself (see `retention.py`, `knowledge.py`, `gate.py`).
"""

from __future__ import annotations

import gc
import hashlib
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

from ..paths import cache_dir
from ..training.runs import run_adapter
from .baseline import BaseCache, cache_key, compute_base_suite
from .batch import BatchScorer
from .config import CheckConfig, resolve_check_config
from .gate import judge
from .knowledge import measure_knowledge, plan_knowledge
from .probes import general_suite
from .report import CheckFinished, CheckProgressed, CheckReport, CheckStarted
from .retention import BleedSide, bleed_report, measure_bleed, measure_retention

ADAPTER_FORMAT = {"torch": "peft", "mlx": "mlx"}


@dataclass(frozen=True)
class StoredCheck:
    id: int
    run_id: int | None
    verdict: str
    report: dict
    created: float


def run_check(store, run: int | str | None = None, config: CheckConfig | None = None, *,
              record: bool = True) -> Iterator[object]:
    """Check a run's adapter (`run`: id or name; None = the project's current adapter).

    Yields `CheckStarted`, `CheckProgressed` ... and finally `CheckFinished(report, check_id)`;
    with `record` the report is stored in the checks table. Stop iterating to cancel.
    """
    from ..models.registry import resolve_model
    from ..training.run import pick_backend

    started = time.time()
    config = config or resolve_check_config(store.project.settings)
    row, adapter_dir = run_adapter(store, run)
    model_dir, backend = resolve_model(store.project.base_model), pick_backend(config.backend)
    suite = general_suite(config.image_probes, config.text_probes, config.probe_seed)
    yield CheckStarted(row.id, row.name, store.project.base_model, backend, len(suite.items))
    names = [e.name for e in store.entities()]
    bleed_photos = suite.photos(config.bleed_photos) if names else []
    facts = _FactsSide(store)
    base = yield from _base_side(model_dir, backend, suite, names, bleed_photos, config, facts)
    adapter = adapter_for_backend(adapter_dir, backend)
    student, retention, knowledge = yield from _tuned_side(store, model_dir, backend, adapter, suite, base,
                                                           bleed_photos, config, facts)
    report = CheckReport(
        row.id, row.name, store.project.base_model, backend, student, _relative(store, adapter_dir),
        suite.version, time.time(), time.time() - started, knowledge, retention,
        judge(knowledge, retention, config.gate, row.config), config.to_dict())
    yield CheckFinished(report, record_check(store, report) if record else None)


def base_knowledge(store, config: CheckConfig | None = None) -> Iterator[object]:
    """Generator returning the base model's `KnowledgeReport` (the "before" of a before/after)."""
    from ..models.registry import resolve_model
    from ..training.run import pick_backend

    config = config or resolve_check_config(store.project.settings)
    model_dir, backend = resolve_model(store.project.base_model), pick_backend(config.backend)
    suite = general_suite(config.image_probes, config.text_probes, config.probe_seed)
    student = yield from _loaded(model_dir, backend, None, "loading base model")
    plans = plan_knowledge(store, suite.photos(config.easy_negatives), config.fact_options)
    knowledge = yield from measure_knowledge(BatchScorer(student, config.batch_size), plans,
                                             recall_tokens=config.recall_tokens)
    return knowledge


class _FactsSide:
    """The open fact questions of a check and the facts card they are asked with."""

    def __init__(self, store):
        from ..facts import cards_of, system_prompt
        from .knowledge import DISTRACTOR_FACTS
        from .open_facts import open_fact_plans, plans_key

        self.plans = open_fact_plans(store, DISTRACTOR_FACTS)
        self.card = system_prompt(cards_of(store))
        self.key = [plans_key(store, self.plans), self.card]

    def measure(self, scorer, tokens: int):
        """Generator returning {entity: (accuracy, accuracy with the card, examples)}."""
        from .open_facts import measure_open_facts

        out = {}
        for plan in self.plans:
            out[plan.name] = yield from measure_open_facts(scorer, plan, self.card, tokens=tokens,
                                                           stage=f"open facts: {plan.name}")
        return out


def _tuned_side(store, model_dir, backend, adapter, suite, base, bleed_photos, config, facts):
    """The tuned model's retention (with bleed when there are entities) and knowledge."""
    from .open_facts import attach_open_facts

    base_suite, base_bleed, base_facts = base
    tuned = yield from _loaded(model_dir, backend, adapter, "loading tuned model")
    scorer = BatchScorer(tuned, config.batch_size)
    retention = yield from measure_retention(scorer, suite, base_suite, config.gate.above_chance)
    names = [e.name for e in store.entities()]
    if names:
        side = yield from measure_bleed(scorer, names, bleed_photos, recall_tokens=config.recall_tokens,
                                        stage="bleed")
        retention = replace(retention, bleed=bleed_report(base_bleed, side, len(bleed_photos)))
    plans = plan_knowledge(store, suite.photos(config.easy_negatives), config.fact_options)
    knowledge = yield from measure_knowledge(scorer, plans, recall_tokens=config.recall_tokens)
    tuned_facts = yield from facts.measure(scorer, config.recall_tokens)
    knowledge = attach_open_facts(knowledge, facts.plans, base_facts, tuned_facts)
    return tuned.name, retention, knowledge


def _base_side(model_dir, backend, suite, names, bleed_photos, config, facts: _FactsSide):
    """The base model's results from the cache, computing (and caching) what is missing."""
    cache = BaseCache(model_dir, backend)
    suite_key = cache_key("suite", suite.version, config.answer_tokens, config.kl_top_k)
    bleed_key = cache_key("bleed", suite.version, names, config.bleed_photos, config.recall_tokens)
    facts_key = cache_key("open-facts", facts.key, config.recall_tokens)
    base_suite, bleed = cache.load_suite(suite_key), cache.load_json(bleed_key)
    base_facts = cache.load_json(facts_key)
    if base_suite is not None and (bleed is not None or not names) and base_facts is not None:
        return base_suite, _bleed_side(bleed), base_facts
    student = yield from _loaded(model_dir, backend, None, "loading base model")
    scorer = BatchScorer(student, config.batch_size)
    if base_suite is None:
        base_suite = yield from compute_base_suite(
            scorer, suite.items, suite.prompts(), answer_tokens=config.answer_tokens, keep=config.kl_top_k)
        cache.save_suite(suite_key, base_suite)
    side = _bleed_side(bleed)
    if names and bleed is None:
        side = yield from measure_bleed(scorer, names, bleed_photos, recall_tokens=config.recall_tokens,
                                        stage="base bleed")
        cache.save_json(bleed_key, {"yes_rate": side.yes_rate, "name_rate": side.name_rate,
                                    "examples": list(side.examples)})
    if base_facts is None:
        base_facts = yield from facts.measure(scorer, config.recall_tokens)
        cache.save_json(facts_key, base_facts)
    del student, scorer
    gc.collect()  # free the base weights before the tuned model loads
    return base_suite, side, base_facts


def _bleed_side(cached: dict | None) -> BleedSide | None:
    if cached is None:
        return None
    return BleedSide(cached["yes_rate"], cached["name_rate"], tuple(cached["examples"]))


def _loaded(model_dir: Path, backend: str, adapter: Path | None, stage: str):
    """Generator: load a student, reporting the stage (loading a 2B model takes a while)."""
    from ..models.student import make_student

    yield CheckProgressed(stage, 0, 1)
    student = make_student(model_dir, backend, adapter=adapter)
    yield CheckProgressed(stage, 1, 1)
    return student


# --- runs and adapters ----------------------------------------------------------------------------


def adapter_for_backend(adapter_dir: Path, backend: str) -> Path:
    """The adapter in the format `backend` loads: as is, or converted once into the cache."""
    from ..export.adapters import adapter_format, read_adapter, write_mlx, write_peft

    want = ADAPTER_FORMAT[backend]
    if adapter_format(adapter_dir) == want:
        return adapter_dir
    digest = hashlib.sha256()
    for path in sorted(p for p in adapter_dir.iterdir() if p.is_file()):
        digest.update(path.name.encode() + path.read_bytes())
    target = cache_dir() / "check" / "adapters" / f"{digest.hexdigest()[:20]}-{want}"
    if not target.is_dir():
        from .. import atomic

        adapter = read_adapter(adapter_dir)
        atomic.write_folder(target, lambda tmp: write_peft(adapter, tmp) if want == "peft" else write_mlx(adapter, tmp))
    return target


def _relative(store, path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(store.root.resolve()))
    except ValueError:
        return str(path)


# --- the checks table ----------------------------------------------------------------------------


def record_check(store, report: CheckReport) -> int:
    with store.transaction():
        return store.db["checks"].insert({
            "run_id": report.run_id, "report": report.to_json(), "verdict": report.verdict,
            "created": report.created}).last_pk


def latest_check(store, run_id: int) -> StoredCheck | None:
    """The newest stored check of a run (what export consults), or None if it was never checked."""
    rows = list(store.db.query(
        "SELECT * FROM checks WHERE run_id = ? ORDER BY created DESC, id DESC LIMIT 1", [run_id]))
    if not rows:
        return None
    r = rows[0]
    return StoredCheck(r["id"], r["run_id"], r["verdict"], json.loads(r["report"]), r["created"])


def load_report(stored: StoredCheck) -> CheckReport:
    return CheckReport.from_dict(stored.report)
