"""The training loop shared by both backends, as a generator of progress records.

Owns the step sequence (micro-batches from `DataOrder`, one objective normalized over the whole
step, learning rate from `schedule`), the per-photo image-feature cache, checkpoints every N steps
and at the end (and when the caller stops the run), resume from the latest checkpoint, and the
stop rules: a non-finite loss or gradient skips the update, saves the (still good) weights as
the run's adapter and raises; an out-of-memory error becomes a `TrainingError` with what to
change. The caller stops the run by no longer iterating. It does not pick backends, read the
store or build examples (see `run.py`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from ..errors import TrainingError
from .batching import Batch, DataOrder, collate
from .checkpoint import latest_checkpoint, restore, save_adapter_folder, save_checkpoint
from .config import TrainConfig
from .examples import Example
from .losses import StepTotals
from .progress import CheckpointSaved, TrainFinished, TrainProgress, TrainStarted
from .schedule import lr_at, warmup_steps

ADAPTER_DIR = "adapter"
OOM_HINT = ("out of memory while training; lower batch_size (raise grad_accum to keep the "
            "effective batch), turn on grad_checkpoint, lower the photos' max_pixels, or on MLX "
            "use a 4-bit base (qlora_bits=4)")


class FeatureCache:
    """Image features per photo: computed once when `enabled` (the vision tower is frozen)."""

    def __init__(self, student, examples: Sequence[Example], enabled: bool = True):
        self.student, self.examples, self.enabled = student, examples, enabled
        self.store: dict[str, object] = {}
        self.computed = 0

    def features(self, batch: Batch):
        out = []
        for i in batch.indices:
            example = self.examples[i]
            if example.image_key is None:
                continue
            feature = self.store.get(example.image_key) if self.enabled else None
            if feature is None:
                feature = self.student.image_features(example.pixel_values, example.image_grid_thw)
                self.computed += 1
                if self.enabled:
                    self.store[example.image_key] = feature
            out.append(feature)
        return self.student.join_features(out)


@dataclass
class RunContext:
    """What the loop needs besides the student: where to write, and the record saved with the adapter."""

    run_dir: Path
    run_id: int | None = None
    record: dict | None = None
    resume: bool = False


def run_training(student, examples: Sequence[Example], config: TrainConfig, ctx: RunContext,
                 pad_id: int) -> Iterator[object]:
    """Train `student` on `examples`; yields TrainStarted, TrainProgress, CheckpointSaved, TrainFinished."""
    run = _Run(student, examples, config, ctx, pad_id)
    yield run.started()
    done = run.start  # updates applied so far
    try:
        for step in range(run.start, run.total):
            totals = run.forward_backward(step)
            if not math.isfinite(totals.objective(config.selfaug)):
                # These weights gave a non-finite loss: go back to the last ones whose loss was
                # finite, the weights after `step - 1` updates.
                student.set_lora_arrays(run.good)
                done = run.start  # the failed run keeps its adapter, not a checkpoint
                yield from run.stop(step, max(0, step - 1), f"the loss was {totals.objective(config.selfaug)}")
            run.good = student.lora_arrays()
            lr, norm = run.update(step)
            if not math.isfinite(norm):
                # The update was not applied: the weights after `step` updates, whose loss was finite.
                done = run.start
                yield from run.stop(step, step, f"the gradient norm was {norm} (the loss, "
                                                f"{totals.objective(config.selfaug):.4f}, was finite)")
            done = step + 1
            yield run.progress(step, totals, lr, norm)
            if config.checkpoint_every and done % config.checkpoint_every == 0 and done < run.total:
                yield CheckpointSaved(done, str(run.checkpoint(done)))
    except GeneratorExit:
        # The caller stopped the run (the app's Escape): keep the steps done, so a resume goes on
        # from here rather than from the last periodic checkpoint.
        if done > run.start and done < run.total:
            run.checkpoint(done)
        raise
    yield run.finish()


class _Run:
    """The state of one training session: data order, feature cache, history, clock."""

    def __init__(self, student, examples, config: TrainConfig, ctx: RunContext, pad_id: int):
        self.student, self.examples, self.config, self.ctx, self.pad_id = student, examples, config, ctx, pad_id
        self.order = DataOrder([e.length for e in examples], config.batch_size, config.seed,
                               config.length_bucketing, [e.group for e in examples])
        self.total = self.order.total_steps(config.epochs, config.grad_accum, config.steps)
        self.state = _resume_state(student, ctx) if ctx.resume else _fresh_state()
        self.start = self.state.get("step", 0)
        self.cache = FeatureCache(student, examples, config.cache_vision)
        self.clock = _Clock(self.state["elapsed"], self.start, self.total)
        self.good = student.lora_arrays()

    def started(self) -> TrainStarted:
        return TrainStarted(self.ctx.run_id, str(self.ctx.run_dir), self.student.backend, self.total,
                            self.start, len(self.examples), sum(e.length for e in self.examples))

    def batches(self, step: int) -> list[Batch]:
        accum = self.config.grad_accum
        indices = [self.order.micro_batch(step * accum + j) for j in range(accum)]
        return [collate([self.examples[i] for i in idx], idx, self.pad_id) for idx in indices]

    def forward_backward(self, step: int) -> StepTotals:
        batches = self.batches(step)
        return _guarded(lambda: _accumulate(self.student, batches, self.cache), self.student)

    def update(self, step: int) -> tuple[float, float]:
        c = self.config
        lr = lr_at(step, self.total, c.learning_rate, warmup_steps(self.total, c.warmup_ratio), c.min_lr_ratio)
        return lr, _guarded(lambda: self.student.apply_update(lr), self.student)

    def progress(self, step: int, totals: StepTotals, lr: float, norm: float) -> TrainProgress:
        self.state["history"].append(totals.loss)
        self.state["tokens"] += totals.tokens
        self.clock.tokens(totals.tokens)
        done = step + 1
        return TrainProgress(
            step=done, total=self.total, loss=totals.loss, turn_loss=totals.turn_loss(), kl=totals.kl,
            lr=lr, grad_norm=norm, tokens_per_s=self.clock.tokens_per_s(),
            peak_memory_mb=self.student.peak_memory_mb(), eta_s=self.clock.eta(done),
            epoch=done * self.config.grad_accum / self.order.per_epoch)

    def checkpoint(self, step: int) -> Path:
        payload = {"history": self.state["history"], "tokens": self.state["tokens"],
                   "elapsed": self.clock.elapsed(), "backend": self.student.backend}
        return save_checkpoint(self.ctx.run_dir, step, student=self.student, state=payload,
                               keep=self.config.keep_checkpoints)

    def save_adapter(self, steps: int, outcome: str) -> Path:
        record = {**(self.ctx.record or {}), "run_id": self.ctx.run_id, "step": steps,
                  "outcome": outcome, "history": list(self.state["history"])}
        return save_adapter_folder(self.ctx.run_dir / ADAPTER_DIR, self.student, record)

    def finish(self) -> TrainFinished:
        self.checkpoint(self.total)
        adapter = self.save_adapter(self.total, "finished")
        return TrainFinished(self.ctx.run_id, "finished", self.total, str(adapter), self.clock.elapsed(),
                             self.metrics())

    def stop(self, step: int, kept: int, what: str):
        """Keep the student's current weights (those after `kept` updates, whose loss was finite)
        as the run's adapter, labelled with that step, then raise naming what was non-finite."""
        self.student.discard_grads()
        adapter = self.save_adapter(kept, "failed")
        yield TrainFinished(self.ctx.run_id, "failed", kept, str(adapter), self.clock.elapsed(),
                            {"history": list(self.state["history"]), "stopped_at": step + 1})
        raise TrainingError(
            f"training became non-finite at step {step + 1}: {what}; the run stopped and kept the "
            f"weights after step {kept}, the last with a finite loss, at {adapter}; lower "
            f"learning_rate or keep grad_clip on")

    def metrics(self) -> dict:
        history = self.state["history"]
        tail = history[-5:]
        return {"steps": self.total, "first_loss": history[0] if history else None,
                "final_loss": sum(tail) / len(tail) if tail else None, "history": list(history),
                "tokens": self.state["tokens"], "peak_memory_mb": self.student.peak_memory_mb(),
                "vision_computed": self.cache.computed, "backend": self.student.backend}


def evaluate_examples(student, examples: Sequence[Example], config: TrainConfig, pad_id: int) -> StepTotals:
    """Σ w·CE / Σ w of the student over all examples (no training, no dropout)."""
    order = DataOrder([e.length for e in examples], config.batch_size, config.seed, config.length_bucketing)
    cache = FeatureCache(student, examples, True)
    totals = StepTotals()
    for m in range(order.per_epoch):
        idx = order.micro_batch(m)
        batch = collate([examples[i] for i in idx], idx, pad_id)
        ce = _guarded(lambda: student.eval_batch(batch, cache.features(batch)), student)
        totals.add(ce, batch.ce_weights, batch.ce_kind, tokens=batch.tokens)
    return totals


def _accumulate(student, batches: list[Batch], cache: FeatureCache) -> StepTotals:
    totals = StepTotals()
    weight = sum(b.weight for b in batches)
    kl_total = sum(int(b.kl_index.size) for b in batches)
    for batch in batches:
        ce, kl_sum = student.micro_step(batch, cache.features(batch), weight, kl_total)
        kl_count = int(batch.kl_index.size) if student.config.selfaug else 0
        totals.add(ce, batch.ce_weights, batch.ce_kind, kl_sum, kl_count, batch.tokens)
    return totals


def _guarded(fn, student):
    try:
        return fn()
    except MemoryError:
        raise TrainingError(OOM_HINT) from None
    except RuntimeError as err:
        if student.is_oom(err):
            raise TrainingError(f"{OOM_HINT} ({err})") from None
        raise


def _resume_state(student, ctx: RunContext) -> dict:
    checkpoint = latest_checkpoint(ctx.run_dir)
    if checkpoint is None:
        return _fresh_state()
    if checkpoint.state.get("backend", student.backend) != student.backend:
        raise TrainingError(f"run {ctx.run_dir.name} was trained with {checkpoint.state['backend']}; "
                            f"resume it with --backend {checkpoint.state['backend']}")
    restore(student, checkpoint)
    return {k: checkpoint.state[k] for k in ("history", "elapsed", "tokens", "step")}


def _fresh_state() -> dict:
    return {"history": [], "elapsed": 0.0, "tokens": 0}


class _Clock:
    """Wall time across resumes, and throughput of this session's steps."""

    def __init__(self, elapsed_before: float, start: int, total: int):
        self.before, self.started, self.start, self.total = elapsed_before, time.perf_counter(), start, total
        self.session_tokens = 0

    def elapsed(self) -> float:
        return self.before + time.perf_counter() - self.started

    def tokens(self, n: int) -> None:
        self.session_tokens += n

    def tokens_per_s(self) -> float:
        return self.session_tokens / max(1e-9, time.perf_counter() - self.started)

    def eta(self, done: int) -> float:
        rate = (time.perf_counter() - self.started) / max(1, done - self.start)
        return rate * (self.total - done)
