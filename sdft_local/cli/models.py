"""`sdft models`: the known base models and turn-3 synthesis models, and which are on disk."""

from __future__ import annotations

import click

from .common import Env, common_options, stdout_console, table


@click.command("models")
@common_options
def models_cmd(env: Env):
    """List base models and turn-3 synthesis models, whether each is here, and how to get it.

    A project that names no turn-3 backend uses the first synthesis model found here.
    """
    from ..models.registry import list_models
    from ..synth.local_models import all_models

    infos = list_models()
    synth = [{"id": m.model.id, "backend": m.model.backend, "description": m.model.description,
              "path": str(m.path) if m.path else None, "mmproj": str(m.mmproj) if m.mmproj else None,
              "download": m.model.download} for m in all_models()]

    def show() -> None:
        out = stdout_console()
        out.print(table("Base models", ["id", "backend", "local", "description"],
                        [[m.id, m.backend, "yes" if m.cached else "no", m.description] for m in infos]))
        out.print(table("Turn-3 synthesis models (the first one here is the default)",
                        ["id", "backend", "local", "description"],
                        [[s["id"], s["backend"], "yes" if s["path"] else "no", s["description"]] for s in synth]))
        out.print("Get one with:", highlight=False)
        for s in synth:
            out.print(f"  {s['id']}: {s['download']}", highlight=False, soft_wrap=True)

    env.emit({"models": infos, "synthesis_models": synth}, show)
