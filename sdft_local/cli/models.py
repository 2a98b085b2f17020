"""`sdft models`: the known model ids and whether each is available locally."""

from __future__ import annotations

import click

from .common import Env, common_options, stdout_console, table


@click.command("models")
@common_options
def models_cmd(env: Env):
    """List known model ids, which backend each is for, and whether it is on disk."""
    from ..models.registry import list_models

    infos = list_models()
    env.emit({"models": infos}, lambda: stdout_console().print(table(
        "Models", ["id", "backend", "local", "description"],
        [[m.id, m.backend, "yes" if m.cached else "no", m.description] for m in infos])))
