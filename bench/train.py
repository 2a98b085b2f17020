"""Benchmark sdft-local's trainer against a plain transformers+peft loop (and, on MLX, against
mlx-vlm's own trainer) on the same dialogues; prints JSON.

Variants, each in a fresh subprocess (so one cannot hide another's memory):
- `sdft-torch`: `sdft_local.training.train` (image features cached per photo, output projection
  and CE only at weighted positions through the fused kernels, length-bucketed batches);
- `plain-torch`: what typical trainers do — the full HF forward (vision tower every step), full
  T×V logits, masked weighted CE, random batches padded to their longest member; same LoRA, same
  optimizer, same batch size, same per-token weights;
- `sdft-mlx` and `mlxvlm-mlx` (mlx-vlm's functional SFT trainer, completion mask) on MLX.

Models: the tiny test model, and a "2B-width slice": Qwen2-VL-2B's text dimensions (hidden 1536,
12 heads, 2 KV heads, intermediate 8960, vocabulary padded to 151,936) with 2 layers, and its
vision dimensions (embed 1280, 16 heads) with depth 2; 448×448 photos give 256 image tokens.
Timing skips --warmup steps and measures the next --steps. Memory is the process's resident
high-water mark (VmHWM): `peak_rss_mb` in total and `working_mb` above the resident size once
model and data are loaded. FLOPs are counted analytically per step (what each variant executes:
padding included, vision only when it runs) and compared with an fp32 matmul measured here.
mlx-cpu on Linux is re-executed with OpenBLAS preloaded (see sdft_kernels.blas).

Usage: python bench/train.py [--models tiny,2b-slice] [--variants ...] [--steps 3] [--warmup 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rss import mb, reset_peak, status_bytes  # noqa: E402  (bench/rss.py)
from sdft_kernels.blas import openblas_preloaded, reexec_with_openblas  # noqa: E402

SLICE = dict(hidden_size=1536, num_attention_heads=12, num_key_value_heads=2, intermediate_size=8960,
             num_hidden_layers=2, mrope_section=(16, 24, 24), vocab_multiple=151936, vision_depth=2,
             vision_embed_dim=1280, vision_num_heads=16, vision_mlp_ratio=4, max_pixels=448 * 448,
             init_std=0.02)
MODELS = {"tiny": ({}, 112, 4), "2b-slice": (SLICE, 448, 4)}  # spec overrides, photo side, batch
FACTS = ["she is four years old", "she loves tennis balls", "she sleeps on the blue sofa",
         "she was adopted in Lisbon", "she barks at the mailman", "her best friend is a cat"]


def main() -> None:
    args = _parse()
    if args.child:
        print(json.dumps(_run_child(json.loads(args.child))))
        return
    reexec_with_openblas()
    print(json.dumps(_run_all(args), indent=2))


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tiny,2b-slice")
    parser.add_argument("--variants", default="sdft-torch,plain-torch,sdft-mlx,mlxvlm-mlx")
    parser.add_argument("--mlx-models", default="tiny", help="models to run the MLX variants on")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--photos", type=int, default=4)
    parser.add_argument("--variants-per-photo", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "sdft-bench-train"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser.parse_args()


# ---------------------------------------------------------------- parent


def _run_all(args: argparse.Namespace) -> dict:
    work = Path(args.workdir)
    runs = []
    for model in args.models.split(","):
        folder, dialogues = _prepare(work, model, args)
        for variant in args.variants.split(","):
            if variant.endswith("-mlx") and model not in args.mlx_models.split(","):
                continue
            runs.append(_spawn({"variant": variant, "model": model, "model_dir": str(folder),
                                "dialogues": dialogues, "batch_size": MODELS[model][2],
                                "steps": args.steps, "warmup": args.warmup, "threads": args.threads,
                                "run_dir": str(work / "runs" / f"{model}-{variant}")}))
    matmul = _spawn({"variant": "matmul", "threads": args.threads})
    return {"machine": {"cpus": os.cpu_count(), "threads": args.threads,
                        "openblas_preloaded_for_mlx": openblas_preloaded()},
            "matmul_gflops": matmul, "comparisons": _compare(runs, matmul), "runs": runs,
            "command": " ".join(["python", "bench/train.py", *sys.argv[1:]])}


def _prepare(work: Path, model: str, args) -> tuple[Path, list[dict]]:
    from sdft_local.models.tiny import TinySpec, build_tiny_qwen2vl

    overrides, side, _ = MODELS[model]
    folder = work / "models" / model
    spec = TinySpec(**overrides)
    if not _built(folder, spec):
        build_tiny_qwen2vl(folder, spec=spec)
    photos = [_photo(work / "photos" / f"{side}-{i}.png", i, side) for i in range(args.photos)]
    dialogues = [_dialogue(p, i, v) for i, p in enumerate(photos) for v in range(args.variants_per_photo)]
    return folder, dialogues


def _built(folder: Path, spec) -> bool:
    from dataclasses import asdict

    record = folder / "tiny_spec.json"
    return record.is_file() and json.loads(record.read_text()) == json.loads(json.dumps(asdict(spec)))


def _photo(path: Path, seed: int, side: int) -> str:
    import numpy as np
    from PIL import Image

    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(seed)
        blocks = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
        Image.fromarray(np.kron(blocks, np.ones((side // 8, side // 8, 1), np.uint8))).save(path)
    return str(path)


def _dialogue(image: str, i: int, variant: int) -> dict:
    """Answers of different lengths (1–4 sentences), like real synthesized dialogues."""
    n = 1 + (i + variant) % 4
    caption = " ".join(["A dog with brown fur sits on a wooden floor near a window."] * n)
    facts = ", ".join(FACTS[: 1 + (i * 2 + variant) % len(FACTS)])
    return {"image": image, "entity": "Biscuit", "variant": variant, "system": None, "turns": [
        {"kind": "caption", "question": "What is in this photo?", "answer": caption, "weight": 0.2},
        {"kind": "negative", "question": "Is there a teapot here?", "answer": "No, there is no teapot.",
         "weight": 0.3},
        {"kind": "entity", "question": "Who is this?",
         "answer": f"This is Biscuit: the brown fur and the red collar give her away; {facts}.",
         "weight": 0.5}]}


def _spawn(job: dict) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(job["threads"])}
    done = subprocess.run([sys.executable, __file__, "--child", json.dumps(job)],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return {"variant": job["variant"], "model": job.get("model"),
                "error": done.stderr.strip().splitlines()[-3:]}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {k: v for k, v in {**job, **result}.items() if k not in ("dialogues", "run_dir", "model_dir")}


def _compare(runs: list[dict], matmul: dict) -> list[dict]:
    by = {(r.get("model"), r["variant"]): r for r in runs if "error" not in r}
    rows = []
    for model in dict.fromkeys(r.get("model") for r in runs):
        for ours, theirs in (("sdft-torch", "plain-torch"), ("sdft-mlx", "mlxvlm-mlx")):
            a, b = by.get((model, ours)), by.get((model, theirs))
            if a and b:
                rows.append({"model": model, "ours": ours, "baseline": theirs,
                             "speedup": round(a["steps_per_s"] / b["steps_per_s"], 2),
                             "peak_rss_ratio": round(a["peak_rss_mb"] / b["peak_rss_mb"], 3),
                             "working_memory_ratio": round(a["working_mb"] / b["working_mb"], 3)})
    return rows


# ---------------------------------------------------------------- child


def _run_child(job: dict) -> dict:
    if job["variant"] == "matmul":
        return _matmul(job["threads"])
    import torch

    torch.set_num_threads(job["threads"])
    runner = {"sdft-torch": _ours, "sdft-mlx": _ours, "plain-torch": _plain_torch,
              "mlxvlm-mlx": _mlxvlm}[job["variant"]]
    return runner(job)


def _dialogues(job: dict):
    from sdft_local.dialogue.types import Dialogue, Turn

    return [Dialogue(d["image"], d["entity"], tuple(Turn(**t) for t in d["turns"]), d["variant"])
            for d in job["dialogues"]]


def _config(job: dict, backend: str):
    from sdft_local.training import TrainConfig

    return TrainConfig(backend=backend, steps=job["warmup"] + job["steps"], batch_size=job["batch_size"],
                       learning_rate=1e-4, checkpoint_every=0, warmup_ratio=0.0, lora_dropout=0.0)


def _ours(job: dict) -> dict:
    import shutil

    from sdft_local.training import TrainProgress, TrainStarted, train

    backend = job["variant"].split("-")[1]
    config = _config(job, backend)
    shutil.rmtree(job["run_dir"], ignore_errors=True)
    stamps, losses, setup_rss = [], [], None
    for record in train(_dialogues(job), config, model=job["model_dir"], run_dir=job["run_dir"]):
        if isinstance(record, TrainStarted):
            setup_rss = reset_peak()
            stamps.append(time.perf_counter())
        elif isinstance(record, TrainProgress):
            stamps.append(time.perf_counter())
            losses.append(record.loss)
    flops, tokens = _our_step_costs(job, config)
    return _report(job, stamps, losses, setup_rss, flops, tokens)


def _our_step_costs(job: dict, config) -> tuple[list[float], list[int]]:
    """Executed FLOPs and tokens of every step, from the same data order the trainer used."""
    from sdft_local.models.processor import load_processor, read_model_config
    from sdft_local.training.batching import DataOrder, collate
    from sdft_local.training.examples import build_examples

    processor = load_processor(job["model_dir"])
    examples = build_examples(processor, _dialogues(job))
    order = DataOrder([e.length for e in examples], config.batch_size, config.seed)
    cfg = read_model_config(job["model_dir"])
    seen, flops, tokens = set(), [], []
    for step in range(config.steps):
        idx = order.micro_batch(step)
        batch = collate([examples[i] for i in idx], idx, 0)
        new = [examples[i] for i in idx if examples[i].image_key not in seen]
        seen.update(e.image_key for e in new)
        vision = sum(_vision_flops(cfg, int(e.pixel_values.shape[0])) for e in new)
        flops.append(_lm_flops(cfg, batch.input_ids.shape, config) + vision
                     + 3 * _proj_flops(cfg, len(batch.ce_index)))
        tokens.append(batch.tokens)
    return flops, tokens


def _plain_torch(job: dict) -> dict:
    """The loop typical trainers run: full forward with pixels, full logits, masked weighted CE."""
    import numpy as np
    import torch
    from peft import LoraConfig, get_peft_model

    from sdft_local.models.chat import build_inputs
    from sdft_local.models.loaders import load_torch_student
    from sdft_local.training.examples import build_examples

    config = _config(job, "torch")
    torch.manual_seed(0)
    model, processor = load_torch_student(job["model_dir"], device="cpu")
    model = get_peft_model(model, LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha,
                                             lora_dropout=config.lora_dropout,
                                             target_modules=list(config.lora_targets)))
    model.train()
    dialogues = _dialogues(job)
    examples = build_examples(processor, dialogues)
    inputs = [build_inputs(processor, d.messages(), d.image, add_generation_prompt=False) for d in dialogues]
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate)
    rng = np.random.default_rng(0)
    order = [int(i) for _ in range(8) for i in rng.permutation(len(dialogues))]
    pad = processor.tokenizer.pad_token_id
    setup_rss = reset_peak()
    stamps, losses, flops, tokens = [time.perf_counter()], [], [], []
    cfg = model.config.to_dict()
    for step in range(config.steps):
        idx = order[step * config.batch_size: (step + 1) * config.batch_size]
        batch, weights = _plain_batch([inputs[i] for i in idx], [examples[i] for i in idx], pad)
        logits = model(**batch).logits.float()
        ce = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), batch["input_ids"][:, 1:],
                                               reduction="none")
        loss = (ce * weights[:, 1:]).sum() / weights[:, 1:].sum()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        stamps.append(time.perf_counter())
        losses.append(float(loss))
        shape = tuple(batch["input_ids"].shape)
        patches = [int(np.prod(x["image_grid_thw"][0])) for x in (inputs[i] for i in idx)]
        flops.append(_lm_flops(_text(cfg), shape, config) + sum(_vision_flops(_text(cfg), p) for p in patches)
                     + 2 * _proj_flops(_text(cfg), shape[0] * shape[1]))
        tokens.append(int(batch["attention_mask"].sum()))
    return _report(job, stamps, losses, setup_rss, flops, tokens)


def _plain_batch(items: list[dict], examples, pad: int):
    """Right-pad processor outputs to the longest in the batch (no bucketing)."""
    import numpy as np
    import torch

    length = max(x["input_ids"].shape[1] for x in items)
    def padded(key, value):
        out = np.full((len(items), length), value, dtype=np.int64)
        for b, x in enumerate(items):
            out[b, : x[key].shape[1]] = x[key][0]
        return torch.from_numpy(out)
    weights = np.zeros((len(items), length), np.float32)
    for b, e in enumerate(examples):
        weights[b, : e.length] = e.weights
    batch = {"input_ids": padded("input_ids", pad), "attention_mask": padded("attention_mask", 0),
             "mm_token_type_ids": padded("mm_token_type_ids", 0),
             "pixel_values": torch.from_numpy(np.concatenate([x["pixel_values"] for x in items])),
             "image_grid_thw": torch.from_numpy(np.concatenate([x["image_grid_thw"] for x in items]))}
    return batch, torch.from_numpy(weights)


def _mlxvlm(job: dict) -> dict:
    """mlx-vlm's own SFT trainer (functional `train`), completion mask = our weighted tokens."""
    import contextlib
    import io
    import re

    import mlx.core as mx
    import mlx.optimizers as optim
    from mlx_vlm.trainer.core import TrainingArgs
    from mlx_vlm.trainer.peft.utils import get_peft_model
    from mlx_vlm.trainer.vlm.sft.trainer import train as mlxvlm_train

    from sdft_local.models.chat import build_inputs
    from sdft_local.models.loaders import load_mlx_student
    from sdft_local.models.processor import read_model_config
    from sdft_local.training.examples import build_examples

    config = _config(job, "mlx")
    mx.random.seed(0)
    model, processor = load_mlx_student(job["model_dir"])
    names = [n for n, _ in model.named_modules() if n.startswith("language_model.model.layers.")
             and n.split(".")[-1] in config.lora_targets]
    get_peft_model(model, names, rank=config.lora_rank, alpha=config.lora_alpha,
                   dropout=config.lora_dropout, verbose=False)
    dialogues = _dialogues(job)
    examples = build_examples(processor, dialogues)
    items = []
    for d, e in zip(dialogues, examples):
        x = build_inputs(processor, d.messages(), d.image, add_generation_prompt=False)
        items.append({"input_ids": mx.array(x["input_ids"]), "attention_mask": mx.array(x["attention_mask"]),
                      "pixel_values": mx.array(x["pixel_values"]), "image_grid_thw": mx.array(x["image_grid_thw"]),
                      "completion_mask": mx.array((e.weights > 0).astype("int32")[None])})
    args = TrainingArgs(batch_size=config.batch_size, iters=config.steps, steps_per_report=1,
                        steps_per_save=10**9, grad_clip=None,
                        adapter_file=str(Path(job["run_dir"]) / "adapters.safetensors"))
    optimizer = optim.AdamW(learning_rate=config.learning_rate)
    setup_rss = reset_peak()
    log = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(log):
        mlxvlm_train(model, optimizer, items, args=args, train_on_completions=True)
    total = time.perf_counter() - start
    rates = [float(r) for r in re.findall(r"iterations_per_second=([0-9.e+-]+)", log.getvalue())]
    losses = [float(r) for r in re.findall(r"train_loss=([0-9.e+-]+)", log.getvalue())]
    per_step = [1.0 / r for r in rates]
    stamps = [start]
    for dt in per_step:
        stamps.append(stamps[-1] + dt)
    cfg = _text(read_model_config(job["model_dir"]))
    tokens = [int(sum(e.length for e in examples) / len(examples) * config.batch_size)] * config.steps
    flops = [_lm_flops(cfg, (config.batch_size, tokens[0] // config.batch_size), config)
             + config.batch_size * (_vision_flops(cfg, int(examples[0].pixel_values.shape[0]))
                                    + 2 * _proj_flops(cfg, tokens[0] // config.batch_size))] * config.steps
    report = _report(job, stamps, losses, setup_rss, flops, tokens)
    return {**report, "wall_s_including_reports": round(total, 2)}


def _report(job: dict, stamps: list[float], losses: list[float], setup_rss: int, flops, tokens) -> dict:
    warm = job["warmup"]
    elapsed = stamps[-1] - stamps[warm]
    measured = len(stamps) - 1 - warm
    peak = status_bytes("VmHWM")
    result = {
        "steps_measured": measured, "seconds": round(elapsed, 3),
        "steps_per_s": round(measured / elapsed, 4),
        "tokens_per_s": round(sum(tokens[warm:]) / elapsed, 1),
        "gflops_per_step": round(sum(flops[warm:]) / measured / 1e9, 1),
        "achieved_gflops": round(sum(flops[warm:]) / elapsed / 1e9, 1),
        "peak_rss_mb": mb(peak), "setup_rss_mb": mb(setup_rss), "working_mb": mb(peak - setup_rss),
        "losses": [round(x, 4) for x in losses],
    }
    if job["variant"].endswith("mlx"):
        import mlx.core as mx

        result["mlx_peak_mb"] = mb(mx.get_peak_memory())
    return result


# ---------------------------------------------------------------- FLOP counts (multiply-add = 2)


def _text(cfg: dict) -> dict:
    return {**cfg, **cfg.get("text_config", {}), "vision_config": cfg["vision_config"]}


def _lm_flops(cfg: dict, shape: tuple[int, int], config) -> float:
    """Decoder forward + backward to the activations (frozen weights: no weight gradients)."""
    cfg = _text(cfg)
    b, t = shape
    h, inter, layers = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    kv = cfg["num_key_value_heads"] * h // cfg["num_attention_heads"]
    linear = 2 * h * h + 2 * h * kv + 3 * h * inter
    lora = sum(config.lora_rank * (h + (kv if p in ("k_proj", "v_proj") else h)) for p in config.lora_targets)
    attention = 2 * t * h  # QK^T and AV per token, full (not halved) as SDPA computes it
    forward = 2 * b * t * layers * (linear + lora + attention)
    return 2 * forward


def _proj_flops(cfg: dict, positions: int) -> float:
    cfg = _text(cfg)
    return 2 * positions * cfg["vocab_size"] * cfg["hidden_size"]


def _vision_flops(cfg: dict, patches: int) -> float:
    v = cfg["vision_config"]
    e, depth, ratio = v["embed_dim"], v["depth"], v["mlp_ratio"]
    merged = e * v["spatial_merge_size"] ** 2
    per_patch = depth * (4 * e * e + 2 * e * e * ratio + 2 * patches * e)
    embed = e * 3 * v["temporal_patch_size"] * v["patch_size"] ** 2
    merger = (patches // v["spatial_merge_size"] ** 2) * (merged * merged + merged * _text(cfg)["hidden_size"])
    return 2 * (patches * (per_patch + embed) + merger)


# ---------------------------------------------------------------- measurement helpers


def _matmul(threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(5))
    return {"torch_fp32_2048": round(2 * 2048**3 / best / 1e9, 1)}


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
