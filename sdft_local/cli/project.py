"""`sdft init`: create a project and make it the current one, or change its base model."""

from __future__ import annotations

import click

from .common import Env, common_options, console, esc, stdout_console


@click.command("init")
@click.argument("name")
@click.option("--base-model", "-m", default=None,
              help="Model id (see `sdft models`) or a local folder with config.json + safetensors "
                   "[default: demo]. Given for an existing project, it changes that project's base model.")
@click.option("--heldout-fraction", type=click.FloatRange(0.0, 0.5), default=0.3, show_default=True,
              help="Share of each entity's photos held out for the check.")
@common_options
def init_cmd(env: Env, name: str, base_model: str | None, heldout_fraction: float):
    """Create a project NAME and make it the current one (or change its base model)."""
    from ..models.registry import DEMO_ID, check_base_model
    from ..paths import projects_dir
    from ..store import DB_NAME, Store, set_current_project

    note = check_base_model(base_model or DEMO_ID)  # before anything is written
    exists = (projects_dir() / name / DB_NAME).exists()
    if exists and base_model is not None:
        with Store.open(name) as store:
            old = store.project.base_model
            store.set_base_model(base_model)
        verb, shown = "Changed", f"base model {esc(old)} → {esc(base_model)}"
    else:
        store = Store.create(name, base_model or DEMO_ID, {"heldout_fraction": heldout_fraction})
        store.close()
        verb, shown = "Created", f"base model {esc(base_model or DEMO_ID)}"
    set_current_project(name)
    root = projects_dir() / name
    env.emit(
        {"ok": True, "project": name, "base_model": base_model or DEMO_ID, "path": root,
         "changed": exists, **({"note": note} if note else {})},
        lambda: _say(f"{verb} project [bold]{esc(name)}[/] ({shown}) at {esc(root)}", note),
    )


def _say(line: str, note: str | None) -> None:
    stdout_console().print(line)
    if note:
        console().print(f"[yellow]note:[/] {esc(note)}", highlight=False)
