"""`sdft init`: create a project and make it the current one."""

from __future__ import annotations

import click

from .common import Env, common_options, stdout_console


@click.command("init")
@click.argument("name")
@click.option("--base-model", "-m", default="tiny-random", show_default=True,
              help="Model id (see `sdft models`) or a local folder with config.json + safetensors.")
@click.option("--heldout-fraction", type=click.FloatRange(0.0, 0.5), default=0.3, show_default=True,
              help="Share of each entity's photos held out for the check.")
@common_options
def init_cmd(env: Env, name: str, base_model: str, heldout_fraction: float):
    """Create a project NAME and make it the current one."""
    from ..store import Store, set_current_project

    store = Store.create(name, base_model, {"heldout_fraction": heldout_fraction})
    set_current_project(store.project.name)
    env.emit(
        {"ok": True, "project": store.project.name, "base_model": base_model, "path": store.root},
        lambda: stdout_console().print(
            f"Created project [bold]{store.project.name}[/] (base model {base_model}) at {store.root}"
        ),
    )
