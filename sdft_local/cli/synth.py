"""`sdft synth` and `sdft dialogues list|show|edit`: write, review and export SDFT dialogues.

Parses options, resolves settings (flags over project settings over defaults, and flags given to
`synth` are saved to the project, which is how an endpoint gets enabled for it), calls
`sdft_local.synth`, and renders: a progress bar and warnings on stderr, tables or one JSON document
on stdout. Models load only when there is work to do.
"""

from __future__ import annotations

import click

from .common import Env, common_options, console, esc, stdout_console, table

_BACKEND_HELP = ("Turn-3 backend: template, llama-cpp, llama-cpp-vlm, mlx-vlm, transformers or "
                 "openai (default: the project's saved choice, else a local GGUF model found on this "
                 "machine (see `sdft models`), else template).")


@click.command("synth")
@click.argument("entities", nargs=-1)
@click.option("--backend", "-b", "backend_name", metavar="NAME", help=_BACKEND_HELP)
@click.option("--synth-model", metavar="PATH", help="Model for the turn-3 backend (GGUF file or folder).")
@click.option("--mmproj", metavar="PATH", help="Vision projector GGUF for llama-cpp-vlm.")
@click.option("--n-ctx", type=int, help="Context size of llama-cpp backends (default 1024).")
@click.option("--threads", type=int, help="CPU threads of llama-cpp backends.")
@click.option("--endpoint-url", metavar="URL",
              help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8080/v1.")
@click.option("--endpoint-model", metavar="NAME", help="Model name the endpoint serves.")
@click.option("--api-key-env", metavar="VAR",
              help="Environment variable holding the endpoint's API key ('' clears).")
@click.option("--timeout", "timeout_s", type=float, metavar="SECONDS",
              help="Deadline of one endpoint request (default 60).")
@click.option("--retries", type=int, help="Endpoint retries after a timeout, 5xx or bad reply (default 3).")
@click.option("--send-photos/--no-send-photos", default=None,
              help="Allow sending this project's photos to the endpoint (default: text only).")
@click.option("--student-backend", type=click.Choice(["auto", "torch", "mlx"]), default="auto",
              show_default=True, help="Engine running the base model for turns 1-2.")
@click.option("--variants", type=int, help="Dialogues per photo (default 3).")
@click.option("--seed", type=int, help="Seed of all choices (default 0).")
@click.option("--on-invalid", type=click.Choice(["template", "error"]), default="template",
              show_default=True, help="When a model's turn-3 answers never validate.")
@click.option("--regenerate", is_flag=True, help="Rewrite existing dialogues (edited ones are kept).")
@common_options
def synth_cmd(env: Env, entities, backend_name, synth_model, mmproj, n_ctx, threads, endpoint_url,
              endpoint_model, api_key_env, timeout_s, retries, send_photos, student_backend, variants,
              seed, on_invalid, regenerate):
    """Write 3-turn SDFT dialogues for every training photo (of ENTITIES, default all).

    Turns 1-2 come from the project's base model itself, turn 3 from the chosen backend. Options
    given here are saved to the project. Reruns skip finished photos unless --regenerate.
    """
    from ..synth.config import SynthConfig

    backend_flags = {"name": backend_name, "model": synth_model, "mmproj": mmproj,
                     "n_ctx": n_ctx, "n_threads": threads,
                     "endpoint": {"base_url": endpoint_url, "model": endpoint_model,
                                  "api_key_env": api_key_env, "send_photos": send_photos,
                                  "timeout_s": timeout_s, "retries": retries}}
    dialogue_flags = {"variants": variants, "seed": seed}
    with env.store() as store:
        backend_cfg, dialogue_cfg = _resolve(store, backend_flags, dialogue_flags)
        config = SynthConfig(dialogue=dialogue_cfg, on_invalid=on_invalid)
        summary = _run(env, store, config, backend_cfg, list(entities) or None, regenerate,
                       student_backend)
    env.emit(summary, lambda: _print_summary(summary))


def _resolve(store, backend_flags: dict, dialogue_flags: dict):
    """Flags over saved settings; any flag given is saved, so the next run (and the TUI) reuse it."""
    from ..synth.config import (
        backend_from_settings, backend_settings, dialogue_from_settings, dialogue_settings,
    )

    settings = store.project.settings
    backend = backend_from_settings(settings, **backend_flags)
    dialogue = dialogue_from_settings(settings, **dialogue_flags)
    given = [*backend_flags.values(), *backend_flags["endpoint"].values(), *dialogue_flags.values()]
    if any(v is not None and not isinstance(v, dict) for v in given):
        store.update_settings(synth=backend_settings(backend), dialogue=dialogue_settings(dialogue))
    return backend, dialogue


def _run(env: Env, store, config, backend_cfg, entities, regenerate, student_backend) -> dict:
    from ..synth.project import synthesize_project

    retry = lambda line: console().print(f"[yellow]retry:[/] {esc(line)}", highlight=False)
    records = synthesize_project(store, config, backend_cfg, entities=entities, regenerate=regenerate,
                                 student_backend=student_backend, on_retry=retry)
    return _render_progress(records)


def _show_backend(ready) -> None:
    where = "sees the photos" if ready.sees_images else "text only (captions and facts)"
    why = f"; {ready.chosen_because}" if ready.chosen_because else ""
    console().print(f"Turn 3 by [bold]{esc(ready.backend)}[/] — {esc(where)}{esc(why)}", highlight=False)
    for warning in ready.warnings:
        console().print(f"[yellow]warning:[/] {esc(warning)}", highlight=False)


def _render_progress(events) -> dict:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ..synth.project import SynthBackendReady, SynthLoading
    from ..synth.run import SynthFinished, SynthProgressed, SynthStarted

    summary: dict = {"ok": True}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=console(), transient=False) as progress:
        task = None
        for event in events:
            if isinstance(event, SynthBackendReady):
                _show_backend(event)
                summary |= {"backend": event.backend, "warnings": list(event.warnings),
                            "chosen_because": event.chosen_because}
            elif isinstance(event, SynthLoading):
                progress.console.print(esc(event.message), highlight=False)
            elif isinstance(event, SynthStarted):
                task = progress.add_task("Synthesizing", total=event.photos)
                summary |= {"student": event.student}
            elif isinstance(event, SynthProgressed):
                progress.update(task, completed=event.done,
                                description=f"Synthesizing ({event.entity})")
            elif isinstance(event, SynthFinished):
                summary |= {"photos": event.photos, "skipped": event.skipped,
                            "dialogues": event.dialogues, "fallbacks": event.fallbacks,
                            "seconds": round(event.seconds, 2)}
    return summary


def _print_summary(summary: dict) -> None:
    out = stdout_console()
    out.print(f"Wrote {summary['dialogues']} dialogue(s) for {summary['photos']} photo(s); "
              f"{summary['skipped']} photo(s) already done.", highlight=False)
    if summary.get("fallbacks"):
        out.print(f"{summary['fallbacks']} turn(s) fell back to templates; review them with "
                  f"`sdft dialogues list`.", highlight=False)


# --- dialogues ------------------------------------------------------------------------------------


@click.group("dialogues")
def dialogues():
    """List, show, edit, reject, regenerate or export the project's dialogues."""


@dialogues.command("list")
@click.argument("entity", required=False)
@click.option("--status", type=click.Choice(["ok", "edited", "rejected"]), multiple=True,
              help="Only these statuses (repeatable).")
@click.option("--split", type=click.Choice(["train", "heldout"]), default=None)
@click.option("--jsonl", "jsonl", metavar="PATH", type=click.Path(dir_okay=False),
              help="Export the listed dialogues as chat JSONL (default: ok+edited, train split).")
@common_options
def list_cmd(env: Env, entity, status, split, jsonl):
    """List dialogues (of ENTITY), or export them with --jsonl PATH."""
    from ..synth.review import export_jsonl, list_dialogues

    with env.store() as store:
        if jsonl:
            done = export_jsonl(store, jsonl, entity=entity, status=status or ("ok", "edited"),
                                split=split or "train")
            env.emit({"ok": True, "export": done}, lambda: stdout_console().print(
                f"Wrote {done.dialogues} dialogue(s) of {done.photos} photo(s) to {esc(done.path)}"))
            return
        records = list_dialogues(store, entity=entity, status=status or None, split=split)
    env.emit({"dialogues": [_brief(r) for r in records]}, lambda: stdout_console().print(table(
        "Dialogues",
        ["id", "entity", "photo", "variant", "split", "status", "turn 3 by", "turn 3 question"],
        [[r.id, r.entity, r.photo_id, r.variant, r.split, r.status, r.turns[2].source,
          r.turns[2].question] for r in records])))


def _brief(record) -> dict:
    return {"id": record.id, "entity": record.entity, "photo_id": record.photo_id,
            "variant": record.variant, "split": record.split, "status": record.status,
            "sources": [t.source for t in record.turns]}


@dialogues.command("show")
@click.argument("dialogue_id", type=int)
@common_options
def show_cmd(env: Env, dialogue_id):
    """Show one dialogue: every turn with its weight, author and notes."""
    from ..synth.review import get_dialogue

    with env.store() as store:
        record = get_dialogue(store, dialogue_id)
    env.emit(record, lambda: _print_record(record))


def _print_record(record) -> None:
    out = stdout_console()
    out.print(f"[bold]Dialogue {record.id}[/] — {esc(record.entity)}, photo {record.photo_id} "
              f"({esc(record.split)}), variant {record.variant}, status {esc(record.status)}")
    out.print(f"image: {esc(record.image)}", highlight=False)
    for i, turn in enumerate(record.turns, 1):
        out.print(f"\n[bold]{i}. {esc(turn.kind)}[/] (weight {turn.weight}, by {esc(turn.source)})",
                  highlight=False)
        out.print(f"  [cyan]Q:[/] {esc(turn.question)}", highlight=False)
        out.print(f"  [green]A:[/] {esc(turn.answer)}", highlight=False)
        if turn.meta:
            out.print(f"  [dim]{esc(turn.meta)}[/]", highlight=False)


@dialogues.command("edit")
@click.argument("dialogue_id", type=int)
@click.option("--turn", type=click.IntRange(1, 3),
              help="Turn to change (1 caption, 2 negative, 3 entity).")
@click.option("--answer", help="New answer text (without it, --turn opens $EDITOR).")
@click.option("--question", help="New question text.")
@click.option("--reject", is_flag=True, help="Keep this dialogue out of training.")
@click.option("--restore", is_flag=True, help="Undo --reject.")
@click.option("--regenerate", is_flag=True, help="Write this dialogue again with fresh choices.")
@click.option("--student-backend", type=click.Choice(["auto", "torch", "mlx"]), default="auto",
              help="Engine running the base model (for --regenerate).")
@common_options
def edit_cmd(env: Env, dialogue_id, turn, answer, question, reject, restore, regenerate,
             student_backend):
    """Edit a turn of a dialogue, reject or restore it, or regenerate it."""
    from ..errors import ConfigError

    actions = [bool(turn), reject, restore, regenerate]
    if sum(actions) != 1:
        raise ConfigError("give exactly one of --turn N, --reject, --restore, --regenerate")
    with env.store() as store:
        record = _edit(store, dialogue_id, turn, answer, question, reject, regenerate,
                       student_backend)
    env.emit(record, lambda: _print_record(record))


def _edit(store, dialogue_id, turn, answer, question, reject, regenerate, student_backend):
    from ..synth import review

    if turn:
        if answer is None and question is None:
            answer = _from_editor(review.get_dialogue(store, dialogue_id).turns[turn - 1].answer)
        return review.edit_turn(store, dialogue_id, turn, answer=answer, question=question)
    if regenerate:
        return _regenerate(store, dialogue_id, student_backend)
    return review.set_status(store, dialogue_id, "rejected" if reject else "ok")


def _from_editor(text: str) -> str:
    from ..errors import ConfigError

    edited = click.edit(text)
    if edited is None:
        raise ConfigError("the editor closed without saving; nothing changed")
    return edited


def _regenerate(store, dialogue_id, student_backend):
    from ..synth.project import regenerate_one

    return list(regenerate_one(store, dialogue_id, student_backend=student_backend))[-1]
