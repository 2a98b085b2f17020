"""Learning quality on the demo pets: plain LoRA SFT vs SDFT and its variants; prints JSON.

One project holds the demo entities (Biscuit, and Pixel as its hard negative) on the demo model.
Dialogues are synthesized once, as `sdft demo` does. Then every method trains on them, for every
seed, with the demo's training settings, and `run_check` measures the adapter. It reports held-out
weighted recognition and fact accuracy (pooled over the entities, and Biscuit's own), the
retention ratio and KL(base || tuned) on the general probes, and the gate's verdict. The methods:

- `sft`: the entity turn alone, weight 1. This is plain LoRA on the answers about the entity.
- `sdft`: caption / negative / entity turns weighted 0.2 / 0.3 / 0.5.
- `sdft_selfaug`: `sdft` plus the SelfAug KL term, lambda 0.5.
- `sdft_no_negative`: `sdft` without the negative turn (0.2 / 0 / 0.5).

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

METHODS = {
    "sft": {"turn_weights": (0.0, 0.0, 1.0), "selfaug": 0.0},
    "sdft": {"turn_weights": (0.2, 0.3, 0.5), "selfaug": 0.0},
    "sdft_selfaug": {"turn_weights": (0.2, 0.3, 0.5), "selfaug": 0.5},
    "sdft_no_negative": {"turn_weights": (0.2, 0.0, 0.5), "selfaug": 0.0},
}
FOCUS = "Biscuit"  # the entity the tables single out; the other one is its hard negative
METRICS = ("recognition", "fact_accuracy", f"{FOCUS}_recognition", f"{FOCUS}_fact_accuracy", "retention",
           "kl_per_token", "bleed_yes_rate")


def main() -> None:
    args = _parse()
    os.environ["SDFT_HOME"] = str(args.home or tempfile.mkdtemp(prefix="sdft-learning-"))
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from sdft_local.store import Store

    started = time.perf_counter()
    store = Store.create("learning", args.model)
    try:
        synth_s = _prepare(store, args.backend)
        base = dict(_demo_train_flags(), backend=args.backend, **({"steps": args.steps} if args.steps else {}))
        rows = [_method_row(store, method, seed, base) for method in args.methods for seed in args.seeds]
        incremental = [_incremental(store, seed, base) for seed in args.seeds] if args.incremental else []
        result = {
            "model": args.model, "backend": args.backend, "seeds": args.seeds,
            "machine": f"{platform.machine()} {platform.system()}", "threads": args.threads,
            "train_settings": base, "synthesize_s": round(synth_s, 1),
            "dialogues": store.db.execute("select count(*) from dialogues").fetchone()[0],
            "runs": rows, "summary": _summary(rows, "method", METRICS),
            "incremental": incremental,
            "incremental_summary": _summary(incremental, "step", INCREMENTAL_METRICS) if incremental else {},
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
    from sdft_local.demo.run import DemoOptions

    flags = dict(DemoOptions().pipeline.train_flags)
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


def _method_row(store, method: str, seed: int, base: dict) -> dict:
    report, train_s, _ = _train_and_check(store, f"{method}-seed{seed}", {**base, **METHODS[method], "seed": seed})
    return {"method": method, "seed": seed, "train_s": round(train_s, 1), **scores(report)}


INCREMENTAL_METRICS = ("Biscuit_recognition", "Biscuit_fact_accuracy", "Pixel_recognition",
                       "Pixel_fact_accuracy", "retention", "kl_per_token")


def _incremental(store, seed: int, base: dict) -> dict:
    """Biscuit alone, then Pixel on top of Biscuit's adapter, without and with half of Biscuit's
    dialogues replayed; the scores after each step."""
    flags = {**base, **METHODS["sdft_selfaug"], "seed": seed}
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
        "retention": retention.ratio, "kl_per_token": retention.kl_per_token,
        "bleed_yes_rate": retention.bleed.yes_rate_tuned if retention.bleed else None,
        "verdict": report.verdict,
    }
    for entity in knowledge.entities:
        out[f"{entity.name}_recognition"] = _weighted(entity.recognition)
        out[f"{entity.name}_fact_accuracy"] = entity.fact_accuracy
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}


def _weighted(recognition) -> float | None:
    return None if recognition is None else recognition.weighted_accuracy


def _summary(rows: list[dict], key: str, metrics) -> dict:
    """Mean and standard deviation of each metric per `key` value (methods, or incremental steps)."""
    flat = [s for r in rows for s in r.get("steps", [r])]
    out = {}
    for group in dict.fromkeys(r[key] for r in flat):
        mine = [r for r in flat if r[key] == group]
        out[group] = {m: _mean_std([r.get(m) for r in mine]) for m in metrics}
        out[group]["passed"] = sum(r["verdict"] != "fail" for r in mine)
        out[group]["runs"] = len(mine)
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
             "| method | recognition | facts | Biscuit recognition | Biscuit facts | retention | KL/token | "
             "bleed yes | gate passed |",
             "|---|---|---|---|---|---|---|---|---|"]
    for method, s in result["summary"].items():
        cells = [_cell(s[m]) for m in METRICS]
        lines.append(f"| {method} | {' | '.join(cells)} | {s['passed']}/{s['runs']} |")
    if result["base_model_probes"]:
        probes = result["base_model_probes"]
        accuracy = probes["accuracy"]
        lines += ["", f"The base model on held-out general probes ({probes['items_per_family']} per family, "
                      f"from its pretraining report):", "",
                  "| " + " | ".join(accuracy) + " |", "|" + "---|" * len(accuracy),
                  "| " + " | ".join(f"{v:.2f}" for v in accuracy.values()) + " |"]
    if result["incremental"]:
        lines += ["", "Incremental (SDFT + SelfAug): Biscuit first, then Pixel starting from Biscuit's adapter, "
                  "on Pixel's dialogues only or with half of Biscuit's replayed.", "",
                  "| step | Biscuit recognition | Biscuit facts | Pixel recognition | Pixel facts | retention | "
                  "KL/token | gate passed |", "|---|---|---|---|---|---|---|---|"]
        for step, s in result["incremental_summary"].items():
            cells = [_cell(s[m]) for m in INCREMENTAL_METRICS]
            lines.append(f"| {step} | {' | '.join(cells)} | {s['passed']}/{s['runs']} |")
    lines += ["", f"Reproduce ({result['seconds'] / 60:.0f} min on {result['machine']}):", "", "```",
              command, "```", ""]
    return "\n".join(lines)


def _cell(stat: dict | None) -> str:
    return "–" if stat is None else f"{stat['mean']:.3f} ± {stat['std']:.3f}"


def _settings(flags: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in flags.items() if k != "backend")


if __name__ == "__main__":
    main()
