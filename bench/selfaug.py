"""SelfAug's base pass: cached per example (what `sdft train` does) against a base forward every
step (the obvious way); prints JSON.

Both runs train the demo project the same way (the demo model's recommended settings, SelfAug
λ = 2, recognition dialogues, on dialogues synthesized once with the template) for `--epochs`
epochs, in this process, one after the other. Reported: seconds per run and their ratio, and how
far the two loss histories are apart (identical in the first epoch, where nothing is cached yet;
after it they drift apart by rounding, 1e-5 to 1e-3 relative here, since a cached row's base pass
ran in another batch shape; the data order is the same).

Usage: python bench/selfaug.py [--epochs 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SDFT_HOME"] = str(Path(tmp) / "home")
        os.environ["SDFT_SYNTH_BACKEND"] = "template"
        store = _project()
        runs = {name: _train(store, name, cache, args.epochs)
                for name, cache in (("cached", True), ("every_step", False))}
        store.close()
    a, b = (np.array(runs[k].pop("history")) for k in ("cached", "every_step"))
    per_epoch = runs["cached"]["steps_per_epoch"]
    rel = np.abs(a - b) / np.maximum(np.abs(b), 1e-9)
    print(json.dumps({
        "runs": runs, "speedup": round(runs["every_step"]["seconds"] / runs["cached"]["seconds"], 2),
        "max_rel_diff_first_epoch": float(rel[:per_epoch].max()),
        "max_rel_diff_after": float(rel[per_epoch:].max()) if len(rel) > per_epoch else None,
    }, indent=2))


def _project():
    from sdft_local.demo.run import HELDOUT_FRACTION, add_demo_entities
    from sdft_local.pipeline import PipelineOptions, run_pipeline
    from sdft_local.store import Store

    store = Store.create("bench-selfaug", "demo", {"heldout_fraction": HELDOUT_FRACTION})
    for _ in add_demo_entities(store):
        pass
    for _ in run_pipeline(store, PipelineOptions(stages=("synthesize",), student_backend="torch")):
        pass
    return store


def _train(store, name: str, cache: bool, epochs: float) -> dict:
    from sdft_local.training import TrainFinished, TrainStarted, resolve_config, train
    from sdft_local.training import torch_backend

    saved = torch_backend.BASE_CACHE_BYTES
    torch_backend.BASE_CACHE_BYTES = saved if cache else 0
    config = resolve_config(store.project.settings, store.project.base_model, backend="torch",
                            checkpoint_every=0, epochs=epochs, selfaug=2.0)
    try:
        start, records = time.perf_counter(), list(train(store, config, name=name))
    finally:
        torch_backend.BASE_CACHE_BYTES = saved
    started = next(r for r in records if isinstance(r, TrainStarted))
    done = [r for r in records if isinstance(r, TrainFinished)][-1]
    return {"seconds": round(time.perf_counter() - start, 1), "steps": done.steps,
            "steps_per_epoch": round(done.steps / epochs), "examples": started.examples,
            "history": done.metrics["history"]}


if __name__ == "__main__":
    main()
