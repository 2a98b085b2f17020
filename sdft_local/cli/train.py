"""`sdft train`: train the project's LoRA adapter, resume a run, list runs, or only evaluate.

Parses flags into a `TrainConfig` (flags over the project's `train` settings over the base
model's recommended settings over defaults),
iterates `sdft_local.training.train` and renders its records with rich on stderr; `--json` prints
the final metrics (or, with `--eval-only`, the weighted loss) as one JSON document on stdout.
"""

from __future__ import annotations

import sys

import click

from .common import Env, common_options, console, esc, stdout_console, table


def _flag(*names, help_field: str | None = None, **kw):
    if help_field:
        from ..training.config import help_text

        text = help_text(help_field)
        kw.setdefault("help", text[:1].upper() + text[1:] + ".")
    return click.option(*names, default=kw.pop("default", None), **kw)


@click.command("train")
@common_options
@_flag("--backend", type=click.Choice(["auto", "torch", "mlx"]), help_field="backend")
@_flag("--steps", type=int, help_field="steps")
@_flag("--epochs", type=float, help_field="epochs")
@_flag("--lr", "learning_rate", type=float, help_field="learning_rate")
@_flag("--rank", "lora_rank", type=int, help_field="lora_rank")
@_flag("--alpha", "lora_alpha", type=float, help_field="lora_alpha")
@_flag("--dropout", "lora_dropout", type=float, help_field="lora_dropout")
@_flag("--lora-mlp/--no-lora-mlp", help="Also adapt the MLP projections (gate, up, down).")
@_flag("--batch-size", type=int, help_field="batch_size")
@_flag("--grad-accum", type=int, help_field="grad_accum")
@_flag("--max-length", type=int, help_field="max_length")
@_flag("--selfaug", type=float, help_field="selfaug")
@_flag("--turn-weights", metavar="C,N,E", help_field="turn_weights")
@_flag("--turns", metavar="KINDS", help_field="turns")
@_flag("--recognition", type=float, help_field="recognition")
@_flag("--scenes", type=int, help_field="scenes")
@_flag("--views", type=int, help_field="views")
@_flag("--recognition-forms", type=int, help_field="recognition_forms")
@_flag("--anchors", type=int, help_field="anchors")
@_flag("--recognition-answers", metavar="YES,NO", help_field="recognition_answers")
@click.option("--entity", "entities", multiple=True, metavar="NAME", help="Train only on this entity's dialogues (repeatable).")
@click.option("--from-run", metavar="RUN", default=None,
              help="Start from run RUN's adapter (id or name) instead of a fresh LoRA.")
@_flag("--replay", type=float, help_field="replay")
@_flag("--checkpoint-every", type=int, help_field="checkpoint_every")
@_flag("--grad-checkpoint/--no-grad-checkpoint", help_field="grad_checkpoint")
@_flag("--qlora-bits", type=click.Choice(["4", "8"]), help_field="qlora_bits")
@_flag("--seed", type=int, help_field="seed")
@_flag("--name", help="A name for the run (default: run-<id>).")
@click.option("--resume", is_flag=False, flag_value="latest", default=None, metavar="[RUN]",
              help="Continue the newest unfinished run (or run RUN) from its last checkpoint.")
@click.option("--eval-only", is_flag=True,
              help="Only report the weighted loss of the current adapter (or the base model).")
@click.option("--list", "list_runs", is_flag=True, help="List the project's training runs.")
def train_cmd(env: Env, resume, eval_only, list_runs, name, lora_mlp, qlora_bits, entities, from_run, **flags):
    """Train a LoRA adapter on the project's dialogues (SDFT per-turn weights)."""
    store = env.store()
    if list_runs:
        return _list(env, store)
    given = [k for k, v in {**flags, "lora_mlp": lora_mlp, "qlora_bits": qlora_bits, "from_run": from_run,
                            "entities": entities or None}.items() if v is not None]
    if resume is not None and given:
        options = {p.name: p.opts[0] for p in click.get_current_context().command.params}
        raise click.UsageError(f"--resume continues a run with its saved settings; drop "
                               f"{', '.join(options[k] for k in given)}")
    replay = flags.pop("replay")  # checked together with the entities it depends on
    config = _config(store, flags, lora_mlp, qlora_bits)
    config = config.merged(entities=tuple(entities) or None, init_adapter=_from_run(store, from_run),
                           replay=replay)
    if eval_only:
        return _eval_only(env, store, config)
    from ..training import train

    records = train(store, config, resume=_resume_arg(resume), name=name)
    finished = _render(records, quiet=env.json and not sys.stderr.isatty())
    env.emit({"ok": finished.state == "finished", **_finished_dict(finished)},
             lambda: console().print(f"[green]Adapter saved:[/] {esc(finished.adapter_path)}"))


def _config(store, flags: dict, lora_mlp, qlora_bits):
    from ..training.config import ATTENTION_TARGETS, MLP_TARGETS, resolve_config

    if lora_mlp is not None:
        flags["lora_targets"] = ATTENTION_TARGETS + (MLP_TARGETS if lora_mlp else ())
    if qlora_bits is not None:
        flags["qlora_bits"] = int(qlora_bits)
    if flags.get("turn_weights") is not None:
        flags["turn_weights"] = _weights(flags["turn_weights"])
    if flags.get("turns") is not None:
        flags["turns"] = tuple(k.strip() for k in flags["turns"].split(",") if k.strip())
    if flags.get("recognition_answers") is not None:
        flags["recognition_answers"] = tuple(a.strip() for a in flags["recognition_answers"].split(","))
    return resolve_config(store.project.settings, store.project.base_model, **flags)


def _weights(text: str) -> tuple[float, ...]:
    try:
        weights = tuple(float(w) for w in text.split(","))
    except ValueError:
        weights = ()
    if len(weights) != 3:
        raise click.BadParameter(f"{text!r} is not three comma-separated numbers (caption,negative,entity), "
                                 f"e.g. 0.2,0.3,0.5; 0 leaves a turn out", param_hint="--turn-weights")
    return weights


def _from_run(store, run) -> str | None:
    if run is None:
        return None
    from ..training.runs import run_adapter

    return str(run_adapter(store, run)[1])


def _resume_arg(resume):
    if resume is None:
        return False
    if resume == "latest":
        return True
    if not str(resume).isdigit():
        raise click.BadParameter(f"{resume!r} is not a run id; see `sdft train --list`", param_hint="--resume")
    return int(resume)


def _eval_only(env: Env, store, config) -> None:
    from ..training import evaluate

    result = evaluate(store, config)
    env.emit(result, lambda: console().print(
        f"weighted loss {result.loss:.4f} over {result.examples} dialogues "
        f"({', '.join(f'{esc(k)} {v:.4f}' for k, v in result.turn_loss.items())}) — "
        f"{esc('adapter ' + result.adapter if result.adapter else 'base model')}", highlight=False))


def _list(env: Env, store) -> None:
    from ..training.runs import list_runs

    runs = list_runs(store)
    rows = [{"id": r.id, "name": r.name, "state": r.shown_state, "backend": r.backend,
             "steps": r.metrics.get("steps"), "final_loss": r.metrics.get("final_loss"),
             "adapter_path": r.adapter_path,
             **({"hint": f"its process is gone; continue it with `sdft train --resume {r.id}`"}
                if r.owner_gone else {})} for r in runs]
    env.emit({"runs": rows}, lambda: stdout_console().print(table(
        "Runs", ["id", "name", "state", "backend", "steps", "final loss", "adapter"],
        [[r["id"], r["name"], _state_cell(r), r["backend"], r["steps"],
          "" if r["final_loss"] is None else f"{r['final_loss']:.4f}", r["adapter_path"] or ""]
         for r in rows])))


def _state_cell(row: dict) -> str:
    return f"{row['state']} (process gone; sdft train --resume {row['id']})" if "hint" in row else row["state"]


def _render(records, quiet: bool):
    """Show progress on stderr; returns the TrainFinished record."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from ..training.progress import CheckpointSaved, TrainFinished, TrainProgress, TrainStarted

    finished = None
    err = console()
    with Progress(BarColumn(bar_width=16), TextColumn("{task.completed}/{task.total}"),
                  TimeRemainingColumn(), TextColumn("{task.fields[info]}"), console=err,
                  disable=quiet, transient=False) as bar:
        task = None
        try:
            for record in records:
                if isinstance(record, TrainStarted):
                    task = bar.add_task("train", total=record.total_steps, completed=record.start_step, info="")
                    _started(err, record, quiet)
                elif isinstance(record, TrainProgress):
                    bar.update(task, completed=record.step, info=_info(record))
                elif isinstance(record, CheckpointSaved) and not quiet:
                    bar.console.print(f"checkpoint at step {record.step}", style="dim")
                elif isinstance(record, TrainFinished):
                    finished = record
        except KeyboardInterrupt:
            records.close()
            from ..errors import TrainingError

            raise TrainingError("training interrupted; continue it with `sdft train --resume`") from None
    return finished


def _started(err, record, quiet: bool) -> None:
    if quiet:
        return
    resumed = f", resuming at step {record.start_step}" if record.start_step else ""
    err.print(f"run {record.run_id}: {record.examples} dialogues, {record.total_steps} steps on "
              f"{esc(record.backend)}{esc(resumed)}", highlight=False)


def _info(p) -> str:
    turns = " ".join(f"{k[:3]} {v:.2f}" for k, v in p.turn_loss.items())
    kl = f" kl {p.kl:.3f}" if p.kl is not None else ""
    return f"loss {p.loss:.3f} ({turns}){kl} lr {p.lr:.0e} {p.tokens_per_s:.0f} tok/s {p.peak_memory_mb:.0f} MB"


def _finished_dict(record) -> dict:
    from .common import to_jsonable

    return to_jsonable(record)
