"""`sdft photos add|list|remove`: a project's photos, normalized and content-addressed."""

from __future__ import annotations

import click

from .common import Env, common_options, console, esc, stdout_console, table


@click.group("photos")
def photos():
    """Add, list or remove an entity's photos."""


@photos.command("add")
@click.argument("entity")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--max-pixels", type=int, default=None, help="Pixel budget of the stored copy (default 1048576).")
@common_options
def add(env: Env, entity: str, paths: tuple[str, ...], max_pixels: int | None):
    """Add photos (files or folders) to ENTITY; bad files are reported and skipped."""
    from ..errors import PhotoError
    from ..ingest import IngestConfig, ingest_photos

    config = IngestConfig(max_pixels=max_pixels) if max_pixels else IngestConfig()
    with env.store() as store:
        ent = store.entity(entity)
        results = []
        for result in ingest_photos(store, ent, paths, config):
            results.append(result)
            if not env.json:
                _print_result(result)
    rejected = [r for r in results if not r.ok]
    error = (f"{len(rejected)} of {len(results)} file(s) rejected: {', '.join(r.source for r in rejected)}"
             if rejected else None)
    env.emit({"ok": not rejected, "results": results, **({"error": error} if error else {})})
    if rejected:
        raise PhotoError(error)


def _print_result(result) -> None:
    style = {"added": "green", "duplicate": "yellow", "rejected": "red"}[result.status]
    console().print(f"[{style}]{result.status:>9}[/] {esc(result.source)}: {esc(result.message)}",
                    highlight=False)
    for warning in result.warnings:
        console().print(f"          [yellow]warning:[/] {esc(warning)}", highlight=False)


@photos.command("list")
@click.argument("entity", required=False)
@click.option("--split", type=click.Choice(["train", "heldout"]), default=None)
@common_options
def list_(env: Env, entity: str | None, split: str | None):
    """List photos (of one ENTITY, optionally one split)."""
    with env.store() as store:
        ent_id = store.entity(entity).id if entity else None
        names = {e.id: e.name for e in store.entities()}
        rows = [{"id": p.id, "entity": names[p.entity_id], "sha256": p.sha256, "split": p.split,
                 "width": p.width, "height": p.height, "source": p.source_name,
                 "path": str(store.photo_path(p.sha256))} for p in store.photos(ent_id, split)]
    env.emit({"photos": rows}, lambda: stdout_console().print(table(
        "Photos", ["id", "entity", "sha256", "split", "size", "source"],
        [[r["id"], r["entity"], r["sha256"][:12], r["split"], f"{r['width']}x{r['height']}", r["source"]]
         for r in rows])))


@photos.command("remove")
@click.argument("ref")
@common_options
def remove(env: Env, ref: str):
    """Remove a photo by id or sha256 prefix (its dialogues go with it)."""
    with env.store() as store:
        photo = store.remove_photo(ref)
    env.emit({"ok": True, "removed": photo.id, "sha256": photo.sha256},
             lambda: stdout_console().print(f"Removed photo {photo.id} ({esc(photo.sha256[:12])})"))
