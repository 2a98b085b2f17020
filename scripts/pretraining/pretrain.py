"""Pretraining the demo model on the demo world: deterministic, resumable, torch on CPU.

Owns `PretrainConfig`, `pretrain_demo` (a generator of progress records: build the initial model
with the models package's factory and a demo-world tokenizer, train the language model on dialogues from
`mix.sample_dialogue` with the loss on assistant answers only (each answer counting once), after
stage 1 (`vision_warmup.py`) trained the vision tower on its own; checkpoint, evaluate, and finally
write the shipped model folder with its `pretrain_report.json`), `encode_dialogue` and
`probe_accuracy` (multiple choice by option log-probability, the check stage's rule). Micro-batch
j of step s is drawn from a `random.Random` seeded by (seed, s, j), so a resumed run trains on
exactly the data an uninterrupted one would. It does not define the world or the mix.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from sdft_local import atomic
from sdft_local.errors import ConfigError
from sdft_local.world import questions
from sdft_local.world.scene import render_scene

from . import mix

IGNORE = -100
SHIPPED_FILES = ("config.json", "generation_config.json", "preprocessor_config.json", "processor_config.json",
                 "tokenizer.json", "tokenizer_config.json", "chat_template.jinja")


@dataclass(frozen=True)
class PretrainConfig:
    """What a pretraining run computes; saved in the report."""

    vision_steps: int = 1200  # stage 1: the vision tower against the scene specs (0: skip)
    vision_batch: int = 32
    vision_lr: float = 2e-3
    steps: int = 2200  # stage 2: the language model on dialogues (the vision tower stays frozen)
    # Stage 2 leaves the vision tower as stage 1 made it: the language model's early, noisy gradients
    # scrambled it otherwise (held-out kind accuracy of stage 1's heads fell from 0.77 to 0.13).
    freeze_vision: bool = True
    batch_size: int = 16
    lr: float = 2e-3
    min_lr_ratio: float = 0.05
    warmup: int = 100
    schedule_steps: int | None = None  # horizon of the cosine decay (None: `steps`)
    anneal_steps: int = 0  # the last steps decay linearly from the cosine's value to min_lr_ratio * lr
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    seed: int = 0
    # Two threads on an otherwise idle 2-core machine (0.5 s per step); with other work running,
    # one thread avoids barrier waits (two were 5-7x slower per step then) but changes the float sums.
    threads: int = 2
    checkpoint_every: int = 50
    eval_every: int = 400
    eval_items: int = 24  # per probe family, at a seed the training stream never uses
    eval_seed: int = 7

    def __post_init__(self):
        if self.vision_steps < 0 or self.vision_batch < 1:
            raise ConfigError(f"PretrainConfig vision_steps={self.vision_steps} / vision_batch={self.vision_batch}: "
                              "need vision_steps >= 0 and vision_batch >= 1")
        for name in ("steps", "batch_size", "warmup", "threads", "checkpoint_every", "eval_items"):
            if getattr(self, name) < 1:
                raise ConfigError(f"PretrainConfig.{name}={getattr(self, name)} must be at least 1")
        if self.schedule_steps is not None and self.schedule_steps < self.steps:
            raise ConfigError(f"PretrainConfig.schedule_steps={self.schedule_steps} must be >= steps={self.steps}")
        if not 0 <= self.anneal_steps < self.steps:
            raise ConfigError(f"PretrainConfig.anneal_steps={self.anneal_steps} must be within 0..steps-1")
        if not 0 < self.lr < 1 or not 0 <= self.min_lr_ratio <= 1:
            raise ConfigError(f"PretrainConfig lr={self.lr} / min_lr_ratio={self.min_lr_ratio} out of range")


@dataclass(frozen=True)
class PretrainProgressed:
    step: int
    total: int
    loss: float
    lr: float
    tokens_per_s: float
    elapsed_s: float


@dataclass(frozen=True)
class VisionProgressed:
    step: int
    total: int
    loss: float
    accuracy: dict  # vision head -> accuracy on this step's scenes
    elapsed_s: float


@dataclass(frozen=True)
class PretrainEvaluated:
    step: int
    accuracy: dict  # probe family -> accuracy on held-out items


@dataclass(frozen=True)
class PretrainFinished:
    model_dir: Path
    report: dict


def learning_rate(config: PretrainConfig, step: int) -> float:
    """Linear warmup, cosine decay over `schedule_steps`, then a linear anneal over the last steps."""
    start = config.steps - config.anneal_steps
    if config.anneal_steps and step >= start:
        top, floor = _cosine(config, start), config.lr * config.min_lr_ratio
        return top + (floor - top) * (step - start + 1) / config.anneal_steps
    return _cosine(config, step)


def _cosine(config: PretrainConfig, step: int) -> float:
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    horizon = config.schedule_steps or config.steps
    t = (step - config.warmup) / max(1, horizon - config.warmup)
    return config.lr * (config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def build_initial_model(folder: Path) -> Path:
    """The untrained demo model: the tiny factory's folder at the demo shape and tokenizer."""
    from sdft_local.models.tiny import build_tiny_qwen2vl

    if not (folder / "model.safetensors").is_file():
        build_tiny_qwen2vl(folder, spec=mix.demo_spec(), corpus=mix.demo_corpus_lines())
    return folder


def pretrain_demo(out_dir: str | Path, work_dir: str | Path,
                  config: PretrainConfig = PretrainConfig()) -> Iterator[object]:
    """Train (or resume) into `work_dir`, then write the model folder `out_dir`; yields records."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        yield from _pretrain(Path(out_dir), Path(work_dir), config)
    finally:
        torch.set_num_threads(threads)


def _pretrain(out_dir: Path, work_dir: Path, config: PretrainConfig) -> Iterator[object]:
    import torch

    torch.manual_seed(config.seed)
    work_dir.mkdir(parents=True, exist_ok=True)
    init_dir = build_initial_model(work_dir / "init")
    model, processor = _load(init_dir)
    vision = {}
    if not (work_dir / "checkpoint.pt").is_file():
        vision = yield from _vision_stage(model, processor, config, work_dir / "vision.pt")
    if config.freeze_vision:
        model.model.visual.requires_grad_(False)
    opt = torch.optim.AdamW(_param_groups(model, config.weight_decay), lr=config.lr, betas=(0.9, 0.98))
    state = _resume(work_dir / "checkpoint.pt", model, opt)
    state.setdefault("vision", vision)
    clock = time.monotonic() - state["elapsed_s"]
    for step in range(state["step"], config.steps):
        loss, tokens = _train_step(model, opt, processor, config, step)
        state["elapsed_s"] = time.monotonic() - clock
        state["losses"].append(loss)
        state["tokens"] += tokens
        # Saved before the record is yielded: a caller that stops on it can resume from it.
        if (step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps:
            _save_checkpoint(work_dir / "checkpoint.pt", model, opt, step + 1, state)
        yield PretrainProgressed(step + 1, config.steps, loss, learning_rate(config, step), state["tokens"] /
                                 max(state["elapsed_s"], 1e-9), state["elapsed_s"])
        if (step + 1) % config.eval_every == 0 and step + 1 < config.steps:
            yield PretrainEvaluated(step + 1, _evaluate(model, processor, config))
    accuracy = _evaluate(model, processor, config)
    yield PretrainEvaluated(config.steps, accuracy)
    report = _report(model, config, state, accuracy)
    yield PretrainFinished(write_model_folder(model, init_dir, out_dir, report), report)


def _vision_stage(model, processor, config: PretrainConfig, path: Path):
    """Stage 1 (resumable from `path`); returns its summary for the report."""
    import torch

    from .vision_warmup import make_heads, vision_loss, warm_up_vision, warmup_scenes

    if config.vision_steps == 0:
        return {}
    heads = make_heads(model.config.text_config.hidden_size, seed=config.seed)
    saved = torch.load(path, weights_only=True) if path.is_file() else None
    if saved is not None:
        model.load_state_dict(saved["model"])
        heads.load_state_dict(saved["heads"])
    start, elapsed = (saved["step"], saved["elapsed_s"]) if saved else (0, 0.0)
    if start < config.vision_steps:
        params = list(model.model.visual.parameters()) + list(heads.parameters())
        opt = torch.optim.AdamW(params, lr=config.vision_lr, weight_decay=0.01, betas=(0.9, 0.98))
        if saved is not None:
            opt.load_state_dict(saved["optimizer"])
        clock = time.monotonic() - elapsed
        for step, loss, acc in warm_up_vision(model, processor, heads, opt, steps=config.vision_steps,
                                              batch_size=config.vision_batch, lr=config.vision_lr,
                                              seed=config.seed, start=start):
            elapsed = time.monotonic() - clock
            if step % config.checkpoint_every == 0 or step == config.vision_steps:
                _atomic_save(path, {"model": model.state_dict(), "heads": heads.state_dict(),
                                    "optimizer": opt.state_dict(), "step": step, "elapsed_s": elapsed})
            yield VisionProgressed(step, config.vision_steps, loss, acc, elapsed)
    model.train()
    with torch.no_grad():
        _, held_out = vision_loss(model, heads, processor, warmup_scenes(config.eval_seed + 1000, 0, 128))
    return {"steps": config.vision_steps, "seconds": round(elapsed, 1),
            "held_out_head_accuracy": {k: round(v, 4) for k, v in held_out.items()}}


def _load(folder: Path):
    import torch
    from transformers import Qwen2VLForConditionalGeneration

    from sdft_local.models.processor import load_processor

    model = Qwen2VLForConditionalGeneration.from_pretrained(str(folder), dtype=torch.float32,
                                                            use_safetensors=True, local_files_only=True)
    return model.train(), load_processor(folder)


def _param_groups(model, weight_decay: float):
    decay, plain = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (plain if p.ndim < 2 or "norm" in name or "embed_tokens" in name else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]


def _train_step(model, opt, processor, config: PretrainConfig, step: int) -> tuple[float, int]:
    import torch

    batch = collate([encode_dialogue(processor, d) for d in step_dialogues(config, step)],
                    processor.tokenizer.pad_token_id)
    for group in opt.param_groups:
        group["lr"] = learning_rate(config, step)
    loss = answer_mean_loss(model, batch)
    loss.backward()
    torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], config.grad_clip)
    opt.step()
    opt.zero_grad(set_to_none=True)
    return float(loss.detach()), int(batch["attention_mask"].sum())


def answer_mean_loss(model, batch: dict):
    """Cross-entropy averaged over each answer's tokens, then over the answers of the batch.

    Every answer counts once, whatever its length: with a plain token mean the one-word answers
    that depend on the image ("red", "three", "yes") were a twentieth of the signal, outweighed by
    sentence forms the question alone predicts.
    """
    import torch

    labels = batch["labels"]
    logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits[:, :-1]
    target = labels[:, 1:]
    ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), target.reshape(-1),
                                           ignore_index=IGNORE, reduction="none").view(target.shape)
    weights, answers = answer_weights(target.numpy())
    return (ce * torch.from_numpy(weights)).sum() / max(answers, 1)


def answer_weights(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """(weights, answers): 1/len for each token of a run of labelled tokens (one answer), else 0."""
    weights = np.zeros(labels.shape, np.float32)
    answers = 0
    for row, out in zip(labels != IGNORE, weights):
        edges = np.flatnonzero(np.diff(np.concatenate([[0], row.astype(np.int8), [0]])))
        for start, end in zip(edges[::2], edges[1::2]):
            out[start:end] = 1.0 / (end - start)
            answers += 1
    return weights, answers


def step_dialogues(config: PretrainConfig, step: int) -> list[mix.Dialogue]:
    """The dialogues of optimizer step `step`: a pure function of (seed, step)."""
    return [mix.sample_dialogue(random.Random(f"sdft-demo-pretrain:{config.seed}:{step}:{j}"))
            for j in range(config.batch_size)]


def data_fingerprint(config: PretrainConfig, samples: int = 64) -> str:
    """A hash of the training dialogues at `samples` steps spread over the run.

    Stored in the report, so a test can tell when the world, the questions or the mix no longer
    produce the data the shipped model was trained on (it must then be pretrained again).
    """
    import hashlib

    h = hashlib.sha256()
    for step in range(0, config.steps, max(1, config.steps // samples)):
        h.update(repr([(d.scene, d.turns) for d in step_dialogues(config, step)]).encode())
    return h.hexdigest()[:16]


def encode_dialogue(processor, dialogue: mix.Dialogue) -> dict:
    """Model inputs of one dialogue (numpy, batch of one) with `labels` on assistant answers only.

    The labels cover each answer's tokens and its `<|im_end|>`; system, user, image tokens and
    the assistant headers are ignored.
    """
    from sdft_local.models.chat import build_inputs

    image = None if dialogue.scene is None else render_scene(dialogue.scene)
    inputs = build_inputs(processor, dialogue.messages(), image, add_generation_prompt=False)
    inputs["labels"] = assistant_labels(processor.tokenizer, inputs["input_ids"][0])[None]
    return inputs


def assistant_labels(tokenizer, ids: np.ndarray) -> np.ndarray:
    """`ids` where a token belongs to an assistant answer (its end token included), else -100."""
    from sdft_local.training.examples import SpecialIds, message_spans

    special = SpecialIds.from_tokenizer(tokenizer)
    cache: dict[int, str] = {}

    def text_of(token_id: int) -> str:
        if token_id not in cache:
            cache[token_id] = tokenizer.decode([token_id])
        return cache[token_id]

    labels = np.full(len(ids), IGNORE, np.int64)
    for span in message_spans(ids, text_of, special):
        if span.role == "assistant":
            labels[span.start: span.end + 1] = ids[span.start: span.end + 1]
    return labels


def collate(rows: list[dict], pad_id: int) -> dict:
    """Right-pad rows into torch tensors; pixels of the rows with images are concatenated in order."""
    import torch

    length = max(r["input_ids"].shape[1] for r in rows)
    out = {}
    for key, fill in (("input_ids", pad_id), ("attention_mask", 0), ("mm_token_type_ids", 0), ("labels", IGNORE)):
        arr = np.full((len(rows), length), fill, np.int64)
        for b, r in enumerate(rows):
            arr[b, : r[key].shape[1]] = r[key][0]
        out[key] = torch.from_numpy(arr)
    with_image = [r for r in rows if "pixel_values" in r]
    if with_image:
        out["pixel_values"] = torch.from_numpy(np.concatenate([r["pixel_values"] for r in with_image]))
        out["image_grid_thw"] = torch.from_numpy(np.concatenate([r["image_grid_thw"] for r in with_image]))
    return out


def probe_accuracy(model, processor, items, batch_size: int = 32) -> float:
    """Share of `items` whose best option by log-probability (option + end of turn) is the answer."""
    from sdft_local.models.chat import build_inputs

    rows, owners = [], []
    for k, item in enumerate(items):
        for option in item.options:
            messages = [{"role": "user", "content": item.question}, {"role": "assistant", "content": option}]
            inputs = build_inputs(processor, messages, item.image, add_generation_prompt=False)
            inputs["labels"] = assistant_labels(processor.tokenizer, inputs["input_ids"][0])[None]
            rows.append(inputs)
            owners.append((k, option))
    scores = _sequence_logprobs(model, rows, processor.tokenizer.pad_token_id, batch_size)
    best: dict[int, tuple[float, str]] = {}
    for (k, option), score in zip(owners, scores):
        if k not in best or score > best[k][0]:
            best[k] = (score, option)
    return sum(best[k][1] == item.answer for k, item in enumerate(items)) / max(1, len(items))


def _sequence_logprobs(model, rows: list[dict], pad_id: int, batch_size: int) -> list[float]:
    import torch

    was_training = model.training
    model.eval()
    scores: list[float] = []
    with torch.no_grad():
        for i in range(0, len(rows), batch_size):
            batch = collate(rows[i: i + batch_size], pad_id)
            labels = batch.pop("labels")
            logits = model(**batch).logits[:, :-1].float()
            target = labels[:, 1:]
            logp = torch.log_softmax(logits, -1).gather(-1, target.clamp(min=0)[..., None])[..., 0]
            scores += (logp * (target != IGNORE)).sum(-1).tolist()
    model.train(was_training)
    return scores


def evaluate(model, processor, n: int, seed: int) -> dict:
    """Accuracy per probe family on `n` held-out items each, plus their mean as "average"."""
    acc = {f: probe_accuracy(model, processor, questions.probe_items(f, n, seed)) for f in questions.PROBE_FAMILIES}
    acc["average"] = sum(acc.values()) / len(acc)
    return {k: round(v, 4) for k, v in acc.items()}


def _evaluate(model, processor, config: PretrainConfig) -> dict:
    return evaluate(model, processor, config.eval_items, config.eval_seed)


def _resume(path: Path, model, opt) -> dict:
    import torch

    if not path.is_file():
        return {"step": 0, "elapsed_s": 0.0, "tokens": 0, "losses": []}
    saved = torch.load(path, weights_only=True)
    model.load_state_dict(saved["model"])
    opt.load_state_dict(saved["optimizer"])
    return saved["state"]


def _save_checkpoint(path: Path, model, opt, step: int, state: dict) -> None:
    state["step"] = step
    _atomic_save(path, {"model": model.state_dict(), "optimizer": opt.state_dict(), "state": state})


def _atomic_save(path: Path, obj: dict) -> None:
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic.write_bytes(path, buffer.getvalue())


def _report(model, config: PretrainConfig, state: dict, accuracy: dict) -> dict:
    losses = state["losses"]
    tail = losses[-100:]
    return {
        "world_version": questions.PROBE_VERSION,
        "config": asdict(config),
        "parameters": sum(p.numel() for p in model.parameters()),
        "vision_stage": state.get("vision", {}),
        "steps": config.steps,
        "train_seconds": round(state["elapsed_s"] + state.get("vision", {}).get("seconds", 0.0), 1),
        "tokens_seen": state["tokens"],
        "final_loss": round(sum(tail) / max(1, len(tail)), 4),
        "first_loss": round(losses[0], 4) if losses else None,
        "eval": {"items_per_family": config.eval_items, "seed": config.eval_seed, "accuracy": accuracy},
        "data_fingerprint": data_fingerprint(config),
    }


def write_model_folder(model, init_dir: Path, out_dir: Path, report: dict) -> Path:
    """`out_dir` = the init folder's config/tokenizer/processor files + trained weights + report.

    Weights are saved under the legacy hub key names (transformers' own save) in float32; the
    folder is assembled beside `out_dir` and renamed into place when complete.
    """
    def fill(tmp: Path) -> None:
        saved = tmp / "hf"
        model.save_pretrained(str(saved), safe_serialization=True)
        shutil.move(str(saved / "model.safetensors"), tmp / "model.safetensors")
        shutil.rmtree(saved)
        for name in SHIPPED_FILES:
            shutil.copy(init_dir / name, tmp / name)
        (tmp / "pretrain_report.json").write_text(json.dumps(report, indent=2) + "\n", "utf-8")
        tmp.chmod(0o755)
        for f in tmp.iterdir():
            f.chmod(0o644)

    out_dir = out_dir.resolve()
    atomic.write_folder(out_dir, fill)
    return out_dir
