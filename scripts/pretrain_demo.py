"""Pretrain the demo model (built-in id `demo`) on the demo world, with torch on CPU.

A thin command over `scripts.pretraining.pretrain.pretrain_demo`: it lowers its own priority, pins
torch's thread count, logs progress to a file (and stdout), and resumes from the checkpoint in
--work when one is there, so an interrupted run continues with exactly the same data.

    python scripts/pretrain_demo.py                      # writes sdft_local/demo/model
    python scripts/pretrain_demo.py --steps 5 --out /tmp/demo_try --work /tmp/demo_try_work
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import fields
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.pretraining.pretrain import (PretrainConfig, PretrainEvaluated, PretrainFinished,  # noqa: E402
                                      PretrainProgressed, VisionProgressed, pretrain_demo)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "sdft_local" / "demo" / "model")
    p.add_argument("--work", type=Path, default=ROOT / "out" / "pretrain_demo",
                   help="checkpoint and initial-model folder (resumed when present)")
    p.add_argument("--log", type=Path, default=None, help="log file (default: WORK/pretrain.log)")
    p.add_argument("--nice", type=int, default=10)
    p.add_argument("--log-every", type=int, default=10)
    for f in fields(PretrainConfig):
        kind = int if f.default is None else type(f.default)
        p.add_argument(f"--{f.name.replace('_', '-')}", type=kind, default=f.default)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    os.nice(args.nice)
    config = PretrainConfig(**{f.name: getattr(args, f.name) for f in fields(PretrainConfig)})
    args.work.mkdir(parents=True, exist_ok=True)
    log_path = args.log or args.work / "pretrain.log"
    with open(log_path, "a", encoding="utf-8") as log_file:
        def log(msg: str) -> None:
            line = f"[{time.strftime('%H:%M:%S')}] {msg}"
            print(line, flush=True)
            log_file.write(line + "\n")
            log_file.flush()

        log(f"config {config}")
        for event in pretrain_demo(args.out, args.work, config):
            if isinstance(event, VisionProgressed) and (event.step % args.log_every == 0 or event.step == 1):
                acc = " ".join(f"{k} {v:.2f}" for k, v in event.accuracy.items())
                log(f"vision {event.step}/{event.total} loss {event.loss:.3f} {acc} elapsed {event.elapsed_s:.0f}s")
            elif isinstance(event, PretrainProgressed) and (event.step % args.log_every == 0 or event.step == 1):
                log(f"step {event.step}/{event.total} loss {event.loss:.4f} lr {event.lr:.2e} "
                    f"{event.tokens_per_s:.0f} tok/s elapsed {event.elapsed_s:.0f}s")
            elif isinstance(event, PretrainEvaluated):
                log(f"eval step {event.step}: {event.accuracy}")
            elif isinstance(event, PretrainFinished):
                log(f"wrote {event.model_dir} (final loss {event.report['final_loss']}, "
                    f"{event.report['train_seconds']}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
