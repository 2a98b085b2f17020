"""`sdft entity add|list|show|remove`: the things a project teaches the model about."""

from __future__ import annotations

import click

from .common import Env, common_options, esc, stdout_console, table


@click.group("entity")
def entity():
    """Add, list, show or remove entities (a pet, a person, a mug)."""


@entity.command("add")
@click.argument("name")
@click.option("--kind", "-k", required=True, help="What it is, e.g. 'dog', 'person', 'mug'.")
@click.option("--fact", "-f", "facts", multiple=True, help="A fact about it (repeatable).")
@common_options
def add(env: Env, name: str, kind: str, facts: tuple[str, ...]):
    """Add an entity NAME of a KIND with optional facts."""
    with env.store() as store:
        ent = store.add_entity(name, kind, facts)
    env.emit({"ok": True, "entity": ent}, lambda: stdout_console().print(
        f"Added [bold]{esc(ent.name)}[/] ({esc(ent.kind)}) with {len(ent.facts)} fact(s)"))


@entity.command("list")
@common_options
def list_(env: Env):
    """List the project's entities with their photo counts."""
    with env.store() as store:
        rows = [_summary(store, e) for e in store.entities()]
    env.emit({"entities": rows}, lambda: stdout_console().print(table(
        "Entities", ["name", "kind", "facts", "train", "held out"],
        [[r["name"], r["kind"], len(r["facts"]), r["train"], r["heldout"]] for r in rows])))


@entity.command("show")
@click.argument("name")
@common_options
def show(env: Env, name: str):
    """Show an entity's facts and photos."""
    with env.store() as store:
        ent = store.entity(name)
        info = {**_summary(store, ent), "photos": store.photos(ent.id)}
    env.emit(info, lambda: _print_entity(info))


@entity.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@common_options
def remove(env: Env, name: str, yes: bool):
    """Remove an entity with its photos and dialogues."""
    if not yes and not env.json:
        click.confirm(f"Remove {name!r} with all its photos and dialogues?", abort=True)
    with env.store() as store:
        freed = store.remove_entity(name)
    env.emit({"ok": True, "removed": name, "files_freed": len(freed)},
             lambda: stdout_console().print(f"Removed {esc(name)}"))


def _summary(store, ent) -> dict:
    photos = store.photos(ent.id)
    heldout = sum(p.split == "heldout" for p in photos)
    return {"name": ent.name, "kind": ent.kind, "facts": list(ent.facts),
            "train": len(photos) - heldout, "heldout": heldout}


def _print_entity(info: dict) -> None:
    out = stdout_console()
    out.print(f"[bold]{esc(info['name'])}[/] ({esc(info['kind'])})")
    for fact in info["facts"]:
        out.print(f"  • {esc(fact)}")
    out.print(table("Photos", ["id", "sha256", "split", "size", "source"], [
        [p.id, p.sha256[:12], p.split, f"{p.width}x{p.height}", p.source_name] for p in info["photos"]]))
