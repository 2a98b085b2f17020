"""Learning quality on the demo pets: plain LoRA SFT vs SDFT and its variants; prints JSON.

One project holds the demo entities (Biscuit, and Pixel as its hard negative) on the demo model.
Dialogues are synthesized once, as `sdft demo` does. Then every method trains on them, for every
seed, with the demo's training settings, and `run_check` measures the adapter. It reports held-out
weighted recognition and fact accuracy (pooled over the entities, and Biscuit's own), the
retention ratio and KL(base || tuned) on the general probes, and the gate's verdict. The methods:

- `sft`: the entity turn alone, weight 1. This is plain LoRA on the answers about the entity.
- `sdft`: caption / negative / entity turns weighted 0.2 / 0.3 / 0.5, as the paper has it.
- `sdft_selfaug`: `sdft` plus the SelfAug KL term (lambda 2, the demo model's setting).
- `sdft_recognition`: `sdft` plus the recognition dialogues (weight 0.5: "is this <name>?" asked
  first on every training photo, its augmented views and drawn scenes, yes and no alike).
- `default`: `sdft_recognition` plus SelfAug, what `sdft train` does on the demo model.
- `default_no_negative`, `default_no_views`: `default` without turn 2, or without the augmented views.

`--new-entity` also teaches Mango, a pet drawn by the benchmark (no demo project has it), beside Pixel.

`--incremental` also teaches Biscuit alone, then Pixel starting from Biscuit's adapter (SDFT +
SelfAug, as the demo trains), once on Pixel's dialogues only and once with half of Biscuit's
replayed (`--replay 0.5`).
Biscuit's scores before and after the second step show what it keeps. `--markdown FILE` writes
the tables, mean ± standard deviation over seeds, with the command that made them.

Usage: python bench/learning.py [--model demo] [--seeds 0,1,2] [--methods sft,sdft,...]
[--incremental] [--markdown docs/results.md] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Every method on the same dialogues and seeds; "default" is what `sdft train` and `sdft demo` do.
SDFT, SFT = (0.2, 0.3, 0.5), (0.0, 0.0, 1.0)
METHODS = {
    "sft": {"turn_weights": SFT, "turns": ("entity",), "selfaug": 0.0, "recognition": 0.0},
    "sdft": {"turn_weights": SDFT, "selfaug": 0.0, "recognition": 0.0},
    "sdft_selfaug": {"turn_weights": SDFT, "selfaug": 2.0, "recognition": 0.0},
    "sdft_recognition": {"turn_weights": SDFT, "selfaug": 0.0, "recognition": 0.5},
    "default": {"turn_weights": SDFT, "selfaug": 2.0, "recognition": 0.5},
    "default_no_negative": {"turn_weights": SDFT, "turns": ("caption", "entity"), "selfaug": 2.0,
                            "recognition": 0.5},
    "default_no_views": {"turn_weights": SDFT, "selfaug": 2.0, "recognition": 0.5, "views": 0},
    "default_anchors": {"turn_weights": SDFT, "selfaug": 2.0, "recognition": 0.5, "anchors": 2},
}
VERDICTS = ("pass", "warn", "fail")
FOCUS = "Biscuit"  # the entity the tables single out; the other one is its hard negative
METRICS = ("recognition", "positives", "name_recall", "fact_accuracy", f"{FOCUS}_recognition",
           "retention", "kl_per_token", "bleed_yes_rate")
# An entity of no demo project: drawn here, trained with the default settings beside Pixel.
NEW_ENTITY_METRICS = ("Mango_recognition", "Mango_positives", "Mango_name_recall", "Mango_fact_accuracy",
                      "retention", "kl_per_token")


def new_entity():
    from sdft_local.world.draw import COLORS, PetLook
    from sdft_local.demo.entities import DemoEntity

    look = PetLook(species="dog", body=COLORS["white"], pattern="patch", pattern_rgb=COLORS["black"],
                   accessory="bow", accessory_rgb=COLORS["blue"])
    return DemoEntity("Mango", "dog", "a white dog with a black patch and a blue bow", look,
                      ("is 6 years old.", "loves carrots.", "lives in Porto."), 36)


def main() -> None:
    args = _parse()
    os.environ["SDFT_HOME"] = str(args.home or tempfile.mkdtemp(prefix="sdft-learning-"))
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from sdft_local.store import Store

    started = time.perf_counter()
    from sdft_local.demo.run import HELDOUT_FRACTION

    store = Store.create("learning", args.model, {"heldout_fraction": HELDOUT_FRACTION})
    try:
        synth_s = _prepare(store, args.backend)
        base = dict(_demo_train_flags(), backend=args.backend, **({"steps": args.steps} if args.steps else {}))
        rows = [_method_row(store, method, seed, base) for method in args.methods for seed in args.seeds]
        incremental = [_incremental(store, seed, base) for seed in args.seeds] if args.incremental else []
        fresh = [_new_entity_row(seed, base, args.model) for seed in args.seeds] if args.new_entity else []
        result = {
            "model": args.model, "backend": args.backend, "seeds": args.seeds,
            "machine": f"{platform.machine()} {platform.system()}", "threads": args.threads,
            "train_settings": base, "synthesize_s": round(synth_s, 1),
            "dialogues": store.db.execute("select count(*) from dialogues").fetchone()[0],
            "runs": rows, "summary": _summary(rows, "method", METRICS),
            "incremental": incremental,
            "incremental_summary": _summary(incremental, "step", INCREMENTAL_METRICS) if incremental else {},
            "new_entity": fresh, "new_entity_summary": _summary(fresh, "method", NEW_ENTITY_METRICS) if fresh else {},
            "base_model_probes": _pretrain_accuracy(args.model),
            "seconds": round(time.perf_counter() - started, 1),
        }
    finally:
        store.close()
    print(json.dumps(result, indent=2))
    if args.markdown:
        args.markdown.write_text(markdown(result, " ".join(["python", "bench/learning.py", *sys.argv[1:]])),
                                 "utf-8")


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="demo")
    p.add_argument("--backend", default="torch", choices=("auto", "torch", "mlx"))
    p.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1, 2])
    p.add_argument("--methods", type=lambda s: s.split(","), default=list(METHODS))
    p.add_argument("--steps", type=int, default=None, help="training steps (default: the demo's epochs)")
    p.add_argument("--incremental", action="store_true")
    p.add_argument("--new-entity", action="store_true", help="also teach Mango, an entity drawn here, beside Pixel")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--home", type=Path, default=None, help="SDFT_HOME for the project (default: a temp dir)")
    p.add_argument("--markdown", type=Path, default=None)
    args = p.parse_args()
    unknown = [m for m in args.methods if m not in METHODS]
    if unknown:
        p.error(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    return args


def _demo_train_flags() -> dict:
    """The demo's training settings; every method sets its own turn weights and SelfAug."""
    from sdft_local.models.registry import recommended_training

    flags = recommended_training("demo")
    flags.pop("selfaug", None)
    return flags


def _pretrain_accuracy(model: str) -> dict | None:
    """The base model's held-out probe accuracy from its pretraining report, when it has one."""
    from sdft_local.models.registry import resolve_model

    report = resolve_model(model) / "pretrain_report.json"
    return json.loads(report.read_text())["eval"] if report.is_file() else None


def _prepare(store, backend: str) -> float:
    """Add the demo entities and synthesize their dialogues once; returns the synthesis seconds."""
    from sdft_local.demo.run import add_demo_entities
    from sdft_local.pipeline import PipelineOptions, run_pipeline

    _drain(add_demo_entities(store))
    t0 = time.perf_counter()
    _drain(run_pipeline(store, PipelineOptions(stages=("synthesize",), student_backend=backend)))
    return time.perf_counter() - t0


def _drain(records):
    """Exhaust a generator; returns its return value."""
    while True:
        try:
            next(records)
        except StopIteration as stop:
            return stop.value


def _train_and_check(store, name: str, flags: dict):
    """Train a run named `name` with `flags`; returns (check report, train seconds, adapter folder)."""
    from sdft_local.check.config import resolve_check_config
    from sdft_local.check.report import CheckFinished
    from sdft_local.check.runner import run_check
    from sdft_local.training import TrainFinished, resolve_config, train

    t0 = time.perf_counter()
    done = [r for r in train(store, resolve_config(store.project.settings, **flags), name=name)
            if isinstance(r, TrainFinished)][-1]
    train_s = time.perf_counter() - t0
    check = resolve_check_config(store.project.settings, backend=flags["backend"])
    report = [r for r in run_check(store, done.run_id, check, record=False) if isinstance(r, CheckFinished)][-1]
    return report.report, train_s, done.adapter_path


def _new_entity_row(seed: int, base: dict, model: str) -> dict:
    """Mango (drawn here) and Pixel in a project of their own, trained with the default settings."""
    from sdft_local.demo.entities import PIXEL
    from sdft_local.demo.run import HELDOUT_FRACTION, add_demo_entities
    from sdft_local.pipeline import PipelineOptions, run_pipeline
    from sdft_local.store import Store

    store = Store.create(f"new-entity-{seed}", model, {"heldout_fraction": HELDOUT_FRACTION})
    try:
        _drain(add_demo_entities(store, (new_entity(), PIXEL)))
        _drain(run_pipeline(store, PipelineOptions(stages=("synthesize",), student_backend=base["backend"])))
        report, train_s, _ = _train_and_check(store, f"mango-seed{seed}", {**base, **METHODS["default"], "seed": seed})
    finally:
        store.close()
    return {"method": "default", "seed": seed, "train_s": round(train_s, 1), **scores(report)}


def _method_row(store, method: str, seed: int, base: dict) -> dict:
    report, train_s, _ = _train_and_check(store, f"{method}-seed{seed}", {**base, **METHODS[method], "seed": seed})
    return {"method": method, "seed": seed, "train_s": round(train_s, 1), **scores(report)}


INCREMENTAL_METRICS = ("Biscuit_recognition", "Biscuit_fact_accuracy", "Pixel_recognition",
                       "Pixel_fact_accuracy", "retention", "kl_per_token")


def _incremental(store, seed: int, base: dict) -> dict:
    """Biscuit alone, then Pixel on top of Biscuit's adapter, without and with half of Biscuit's
    dialogues replayed; the scores after each step."""
    flags = {**base, **METHODS["default"], "seed": seed}
    first, _, adapter = _train_and_check(store, f"biscuit-seed{seed}", {**flags, "entities": ("Biscuit",)})
    then = {**flags, "entities": ("Pixel",), "init_adapter": str(adapter)}
    second, _, _ = _train_and_check(store, f"then-pixel-seed{seed}", then)
    replayed, _, _ = _train_and_check(store, f"then-pixel-replay-seed{seed}", {**then, "replay": 0.5})
    return {"seed": seed, "steps": [{"step": "1: Biscuit", **scores(first)},
                                    {"step": "2: Pixel from step 1", **scores(second)},
                                    {"step": "2: same, Biscuit's replayed at 0.5", **scores(replayed)}]}


def scores(report) -> dict:
    """The numbers a row shows, from one `CheckReport`."""
    knowledge, retention = report.knowledge, report.retention
    out = {
        "recognition": _weighted(knowledge.recognition), "fact_accuracy": knowledge.fact_accuracy,
        "positives": knowledge.recognition.positive_accuracy if knowledge.recognition else None,
        "name_recall": knowledge.name_recall,
        **_open_facts(knowledge.open_facts),
        "retention": retention.ratio, "kl_per_token": retention.kl_per_token,
        "bleed_yes_rate": retention.bleed.yes_rate_tuned if retention.bleed else None,
        "verdict": report.verdict,
        # what the gate objected to, so a warning or a failure can be told apart in the JSON
        "gate_reasons": [f"{r.level} {r.metric} {r.value:.3g} (limit {r.threshold:.3g})" for r in report.gate.reasons],
    }
    for entity in knowledge.entities:
        out[f"{entity.name}_recognition"] = _weighted(entity.recognition)
        out[f"{entity.name}_fact_accuracy"] = entity.fact_accuracy
        out[f"{entity.name}_positives"] = entity.recognition.positive_accuracy if entity.recognition else None
        out[f"{entity.name}_name_recall"] = entity.name_recall
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}


OPEN_FACTS = ("open_facts_base", "open_facts_lora", "open_facts_card", "open_facts_both")


def _open_facts(o) -> dict:
    """Facts stated in open answers: base, LoRA alone, the facts card alone (on the base), both."""
    values = (o.base, o.tuned, o.card, o.tuned_card) if o else (None,) * 4
    return dict(zip(OPEN_FACTS, values))


def _weighted(recognition) -> float | None:
    return None if recognition is None else recognition.weighted_accuracy


def _summary(rows: list[dict], key: str, metrics) -> dict:
    """Mean and standard deviation of each metric per `key` value (methods, or incremental steps)."""
    flat = [s for r in rows for s in r.get("steps", [r])]
    out = {}
    for group in dict.fromkeys(r[key] for r in flat):
        mine = [r for r in flat if r[key] == group]
        out[group] = {m: _mean_std([r.get(m) for r in mine]) for m in (*metrics, *OPEN_FACTS)}
        out[group]["verdicts"] = {v: sum(r["verdict"] == v for r in mine) for v in VERDICTS}
    return out


def _mean_std(values) -> dict | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"mean": round(statistics.fmean(values), 4),
            "std": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0}


def markdown(result: dict, command: str) -> str:
    """The results page: the methods table, the incremental table, and how to reproduce them."""
    lines = ["# Learning quality on the demo pets", "",
             f"Model `{result['model']}`, backend {result['backend']}, seeds {result['seeds']}, "
             f"{result['dialogues']} dialogues, training {_settings(result['train_settings'])}. "
             f"Mean ± standard deviation over seeds; recognition and facts on held-out photos.", "",
             "| method | recognition | positives | name recall | facts | Biscuit recognition | retention | "
             "KL/token | bleed yes | gate pass / warn / fail |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for method, s in result["summary"].items():
        cells = [_cell(s[m]) for m in METRICS]
        lines.append(f"| {method} | {' | '.join(cells)} | {_verdicts(s)} |")
    lines += ["", "Facts in open answers (the check's judge on greedy answers to each fact, asked by name and "
              "about a held-out photo): the base model, the LoRA alone, the facts card alone (the base model "
              "with the facts as its system message) and both.", "",
              "| method | base | LoRA alone | card alone | LoRA + card |", "|---|---|---|---|---|"]
    for method, s in result["summary"].items():
        lines.append(f"| {method} | {' | '.join(_cell(s[m]) for m in OPEN_FACTS)} |")
    if result["base_model_probes"]:
        probes = result["base_model_probes"]
        accuracy = probes["accuracy"]
        lines += ["", f"The base model on held-out general probes ({probes['items_per_family']} per family, "
                      f"from its pretraining report):", "",
                  "| " + " | ".join(accuracy) + " |", "|" + "---|" * len(accuracy),
                  "| " + " | ".join(f"{v:.2f}" for v in accuracy.values()) + " |"]
    if result["incremental"]:
        lines += _table("Incremental (SDFT + SelfAug): Biscuit first, then Pixel starting from Biscuit's "
                        "adapter, on Pixel's dialogues only or with half of Biscuit's replayed.",
                        ("step", "Biscuit recognition", "Biscuit facts", "Pixel recognition", "Pixel facts",
                         "retention", "KL/token"), result["incremental_summary"], INCREMENTAL_METRICS)
    if result["new_entity"]:
        lines += _table("A new entity (Mango, a white dog with a black patch and a blue bow, drawn by the "
                        "benchmark) taught beside Pixel with the default settings:",
                        ("method", "Mango recognition", "Mango positives", "Mango name recall", "Mango facts",
                         "retention", "KL/token"), result["new_entity_summary"], NEW_ENTITY_METRICS)
    lines += ["", f"Reproduce ({result['seconds'] / 60:.0f} min on {result['machine']}):", "", "```",
              command, "```", ""]
    return "\n".join(lines)


def _table(title: str, header: tuple[str, ...], summary: dict, metrics) -> list[str]:
    """A markdown table of `summary` (mean ± sd per metric), one row per group, with the verdicts."""
    lines = ["", title, "", "| " + " | ".join(header) + " | gate pass / warn / fail |",
             "|---" * (len(header) + 1) + "|"]
    for group, s in summary.items():
        lines.append(f"| {group} | {' | '.join(_cell(s[m]) for m in metrics)} | {_verdicts(s)} |")
    return lines


def _verdicts(stat: dict) -> str:
    """How many runs the gate passed, warned about and failed, e.g. "0 / 2 / 1"."""
    return " / ".join(str(stat["verdicts"][v]) for v in VERDICTS)


def _cell(stat: dict | None) -> str:
    return "–" if stat is None else f"{stat['mean']:.3f} ± {stat['std']:.3f}"


def _settings(flags: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in flags.items() if k != "backend")


if __name__ == "__main__":
    main()
